"""The pages' message catalogues: English and Polish say the same things, every key a
page or a route uses exists in both, and the language is chosen as browsers expect."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest

from backoffice.web import i18n

WEB = Path(i18n.__file__).parent


def used_keys() -> set[str]:
    """The literal keys the templates and the routes translate."""
    keys: set[str] = set()
    for source in [*WEB.glob("templates/*.html"), *WEB.glob("*.py")]:
        text = source.read_text()
        keys |= set(re.findall(r"""\bt\(\s*["']([a-z0-9_.]+)["']""", text))
        keys |= set(re.findall(r"""key=["']([a-z0-9_.]+)["']""", text))
        keys |= set(re.findall(r'"(error\.[a-z_]+)"(?!\s*,\s*status)', text))
    # A key's start joined to a value ("type." ~ w.type) is checked below, whole.
    return {k for k in keys if not k.endswith((".", ".step", ".html"))}


def test_both_catalogues_have_the_same_keys_and_places() -> None:
    english, polish = i18n.catalogue("en"), i18n.catalogue("pl")
    assert set(english) == set(polish)
    for key, message in english.items():
        assert message.strip() and polish[key].strip(), key
        places = {f for _, f, _, _ in string.Formatter().parse(message) if f}
        assert places == {f for _, f, _, _ in string.Formatter().parse(polish[key]) if f}, key


def test_every_key_used_exists() -> None:
    used = used_keys()
    assert len(used) > 100  # not vacuous
    # Keys built from a value: "type.url", "status.gave_up", "lang.pl", "wizard.step5_email"
    built = {f"type.{k}" for k in ("url", "email")} | {f"lang.{k}" for k in i18n.LANGUAGES}
    built |= {f"status.{k}" for k in ("pending", "delivered", "failed", "gave_up")}
    built |= {f"wizard.step{n}" for n in range(1, 7)} | {"wizard.step2_email",
                                                         "wizard.step5_email"}
    missing = sorted((used | built) - set(i18n.catalogue("en")))
    assert missing == []


def test_the_guide_s_words_in_polish() -> None:
    polish = i18n.catalogue("pl")
    assert polish["list.add"] == "Dodaj nowy webhook"
    assert polish["wizard.step1"] == "Krok 1: Wybierz typ Webhook (obowiązkowe)"
    assert polish["wizard.step6"] == "Krok 6: Wiadomość e-mail Webhook dla pomocy technicznej"
    assert polish["wizard.create"] == "Utwórz webhook"
    assert polish["action.delete"] == "Usuń" and polish["action.details"] == "Szczegóły"


@pytest.mark.parametrize(("cookie", "header", "chosen"), [
    (None, None, "en"),
    (None, "pl-PL,pl;q=0.9,en-US;q=0.8", "pl"),
    (None, "en-GB, pl;q=0.9", "en"),
    (None, "de-DE, pl;q=0.5, en;q=0.4", "pl"),
    (None, "pl;q=0, en;q=0.1", "en"),
    (None, "pl;q=abc, fr", "en"),
    (None, "\u202e\x00" * 300, "en"),
    ("pl", "en", "pl"),
    ("xx", "pl", "pl"),
    ("", None, "en"),
])
def test_choosing_the_language(cookie: str | None, header: str | None, chosen: str) -> None:
    assert i18n.choose(cookie, header) == chosen
