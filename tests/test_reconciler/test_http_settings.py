"""The HTTP provider's settings from the environment: API URL and timeout, refused clearly."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.cli import main
from reconciler.commands import Globals
from reconciler.providers import http_timeout, open_provider
from reconciler.providers.http import HttpProvider

BAD_URLS = {
    "http://ops:Pw-settings-1@127.0.0.1:notaport": "its port is not a number",
    "http://ops:Pw-settings-1@[::1": "it cannot be parsed",
    "http://127.0.0.1:99999": "its port is not a number",
    "ftp://127.0.0.1:21": "use http(s)://HOST[:PORT]",
    "not-a-url": "use http(s)://HOST[:PORT]",
    "not a url": "is not valid: use http(s)://HOST[:PORT]",
    # Before the fix, httpx's InvalidURL escaped as "Internal error" (exit 3).
    "http://ops:Pw-settings-1@a\u202eb.example": "an invisible text-direction character",
    "http://ops:Pw-settings-1@x\x01y:80": "a control character (U+0001",
}


@pytest.mark.parametrize(("url", "reason"), BAD_URLS.items(), ids=range(len(BAD_URLS)))
def test_an_unusable_api_url_is_a_clear_error_without_its_password(
        url: str, reason: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    # Before the fix, a port that is not a number (or a broken [IPv6]) was "Internal
    # error ... this is a bug" (exit 3) and a crash log.
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("WEBHOOKS_API_URL", url)
    (tmp_path / "webhooks.yaml").write_text("version: 1\nowner: o\nwebhooks: {}\n")
    assert main(["plan", "-f", str(tmp_path / "webhooks.yaml")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("Error: the API URL (--api-url or WEBHOOKS_API_URL) is not valid: ")
    assert reason in err and "Pw-settings-1" not in err
    assert not (tmp_path / "cache").exists()


@pytest.mark.anyio
async def test_the_timeout_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch,
                                                      tmp_path: Path) -> None:
    monkeypatch.delenv("WEBHOOKS_HTTP_TIMEOUT", raising=False)
    assert http_timeout() == 15.0
    monkeypatch.setenv("WEBHOOKS_HTTP_TIMEOUT", "2.5")
    provider = open_provider(Globals(color=False, api_url="http://127.0.0.1:9"),
                             tmp_path / "webhooks.yaml")
    try:
        assert isinstance(provider, HttpProvider)
        assert provider._client.timeout.read == 2.5
    finally:
        await provider.aclose()


@pytest.mark.parametrize("value", ["abc", "0", "-1", "nan", "inf", "3601"])
def test_a_bad_timeout_is_refused(value: str, monkeypatch: pytest.MonkeyPatch,
                                  tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("WEBHOOKS_HTTP_TIMEOUT", value)
    monkeypatch.setenv("WEBHOOKS_API_URL", "http://127.0.0.1:9")
    (tmp_path / "webhooks.yaml").write_text("version: 1\nowner: o\nwebhooks: {}\n")
    assert main(["plan", "-f", str(tmp_path / "webhooks.yaml")]) == 1
    assert "WEBHOOKS_HTTP_TIMEOUT must be a number of seconds between 0 and 3600" in (
        capsys.readouterr().err)
