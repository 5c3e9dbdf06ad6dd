"""Each package's exception tree is drawn in one docstring; the drawing is the classes."""

from __future__ import annotations

import re
from types import ModuleType

import pytest

import backoffice.errors
import reconciler.errors


def subclasses(root: type) -> set[str]:
    found: set[str] = {root.__name__}
    for sub in root.__subclasses__():
        found |= subclasses(sub)
    return found


def drawn(module: ModuleType) -> list[tuple[int, str]]:
    """(depth, class name) for each line of the tree in the module's docstring."""
    lines = []
    for line in (module.__doc__ or "").splitlines():
        match = re.match(r"^ {4}((?:[│ ] {3})*)(?:[├└]── )?([A-Z][A-Za-z]+)\b", line)
        if match:
            lines.append((len(match.group(1)) // 4 + (1 if "──" in line else 0), match.group(2)))
    return lines


@pytest.mark.parametrize(("module", "root"), [
    (reconciler.errors, reconciler.errors.ReconcilerError),
    (backoffice.errors, backoffice.errors.BackofficeError),
])
def test_the_docstring_draws_every_class_and_only_them(module: ModuleType, root: type) -> None:
    tree = drawn(module)
    assert {name for _, name in tree} == subclasses(root)
    for depth, name in tree:  # each drawn child is a subclass of the line above it
        cls = getattr(module, name)
        parents = [n for d, n in tree[:tree.index((depth, name))] if d == depth - 1]
        if depth:
            assert issubclass(cls, getattr(module, parents[-1])), name
