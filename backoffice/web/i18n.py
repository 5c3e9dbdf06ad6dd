"""The pages' languages: English and Polish message catalogues, and choosing one.

Every string a page shows comes from ``messages/<lang>.json`` through ``translate``
(``t`` in the templates): a key missing from a catalogue is a bug a test finds, never a
silent fallback. The language is the ``webhooks_lang`` cookie (the switch in the header),
else the best of the browser's Accept-Language, else English. Problem details of the API
stay English; a page shows such a detail as it came, under a translated heading.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Final

LANGUAGES: Final = ("en", "pl")
DEFAULT: Final = "en"
COOKIE: Final = "webhooks_lang"


@cache
def catalogue(lang: str) -> dict[str, str]:
    text = resources.files("backoffice.web").joinpath(f"messages/{lang}.json").read_text("utf-8")
    found: dict[str, str] = json.loads(text)
    return found


def translate(lang: str, key: str, **values: object) -> str:
    """The message ``key`` in ``lang``, with ``{name}`` places filled from ``values``."""
    message = catalogue(lang)[key]
    return message.format_map(values) if values else message


def from_accept_language(header: str | None) -> str | None:
    """The supported language the browser prefers most (q-values honoured), or None."""
    best: tuple[float, int, str] | None = None
    for position, part in enumerate((header or "")[:500].split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        primary = tag.strip().split("-")[0].lower()
        weight = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                weight = float(params[2:])
            except ValueError:
                continue
        if primary in LANGUAGES and 0 < weight <= 1:
            key = (weight, -position, primary)
            best = key if best is None or key > best else best
    return None if best is None else best[2]


def choose(cookie: str | None, accept_language: str | None) -> str:
    if cookie in LANGUAGES:
        return str(cookie)
    return from_accept_language(accept_language) or DEFAULT
