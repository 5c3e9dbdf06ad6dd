"""Commands that a later release fills."""

from __future__ import annotations

from typing import NoReturn

from reconciler.errors import NotImplementedYet


def not_yet(command: str) -> NoReturn:
    raise NotImplementedYet(command)
