"""Bugs that came from two copies of one rule drifting apart, each fixed by the contract."""

from __future__ import annotations

import asyncio
import base64
import socket
from pathlib import Path

import pytest

from reconciler.cli import main
from reconciler.providers.http import HttpProvider
from tests.support.secrets import strong_key


def free_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


TOKEN = "wbo_SECRETTOKENVALUE"


@pytest.mark.parametrize("url", [
    f"http://{TOKEN}@127.0.0.1:8080", f"http://{TOKEN}:@127.0.0.1:8080",
    f"http://u:{TOKEN}@127.0.0.1:8080", f"http://{TOKEN}@[::1]@127.0.0.1:8080",
    f"http://127.0.0.1:8080/{TOKEN}?token={TOKEN}#{TOKEN}",
])
def test_the_provider_names_its_backoffice_without_any_token(url: str) -> None:
    provider = HttpProvider(url, None)
    assert provider.description == "backoffice at http://127.0.0.1:8080"
    asyncio.run(provider.aclose())


def test_a_token_anywhere_in_the_api_url_is_never_printed(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    monkeypatch.setenv("WEBHOOKS_HTTP_TIMEOUT", "2")
    monkeypatch.chdir(tmp_path)
    token = TOKEN
    port = free_port()
    url = f"http://127.0.0.1:{port}/{token}?token={token}#{token}"
    code = main(["--no-color", "--api-url", url, "list"])
    out, err = capsys.readouterr()
    assert code == 1
    assert token not in out + err
    assert f"the backoffice at http://127.0.0.1:{port}:" in err  # where, and nothing more
    # In the userinfo, where it once replaced the bearer token: refused before any request.
    code = main(["--no-color", "--api-url", f"http://{token}:@127.0.0.1:{port}/", "list"])
    out, err = capsys.readouterr()
    assert code == 1 and token not in out + err
    assert "must not hold credentials" in err and "WEBHOOKS_API_TOKEN" in err


def test_the_provider_names_an_ipv6_backoffice_with_its_brackets() -> None:
    provider = HttpProvider("http://wbo_TOKEN@[::1]:8080/base?token=wbo_TOKEN", None)
    assert provider.description == "backoffice at http://[::1]:8080"
    asyncio.run(provider.aclose())


ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def _config(folder: Path, body: str) -> Path:
    path = folder / "webhooks.yaml"
    path.write_text(f"version: 1\nowner: payments\nwebhooks:\n{body}", encoding="utf-8")
    return path


def test_validate_refuses_a_sibs_secret_in_non_canonical_base64(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    key = strong_key(31)
    canonical = base64.b64encode(key).decode()
    # decodes to the same key (the last character's unused bits differ); refused
    twin = next(canonical[:-2] + c + "=" for c in ALPHABET if c != canonical[-2]
                and base64.b64decode(canonical[:-2] + c + "=") == key)
    (tmp_path / "key").write_text(twin)
    config = _config(tmp_path, "  orders:\n    type: url\n    url: https://h.example/\n"
                               "    application: merchant\n    notifications: [mbway]\n"
                               "    secret: ${file:key}\n")
    code = main(["--no-color", "validate", "-f", str(config), "--offline"])
    out, err = capsys.readouterr()
    assert code == 1
    assert "webhooks.orders.secret: a sibs secret must be the standard base64" in out + err
    assert "canonical" in out + err and twin not in out + err
    (tmp_path / "key").write_text(canonical)
    assert main(["validate", "-f", str(config), "--offline"]) == 0


def test_validate_refuses_an_email_with_a_nul(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    config = _config(tmp_path, '  mail:\n    type: email\n    email: "ops\\0x@shop.example"\n'
                               "    application: merchant\n    notifications: [mbway]\n")
    code = main(["--no-color", "validate", "-f", str(config), "--offline"])
    out, err = capsys.readouterr()
    assert code == 1
    assert "webhooks.mail.email:" in out + err
    assert "must not contain a control character (U+0000 at character 4)" in out + err


def test_an_id_is_one_path_segment_and_cannot_reach_another_endpoint(tmp_path: Path) -> None:
    from reconciler.errors import NotFound
    from tests.support.backoffice import url_webhook
    from tests.support.providers import HttpBackoffice

    backoffice = HttpBackoffice(tmp_path / "bo.db")
    hook = backoffice.office.webhooks.create_webhook("demo", url_webhook("orders"))

    async def attempt() -> None:
        provider = backoffice.provider()
        try:
            for crafted in (f"../webhooks/{hook['id']}/test?", "x?y=1", "../x", "a/b"):
                with pytest.raises(NotFound):
                    await provider.resend(crafted)
        finally:
            await provider.aclose()

    try:
        asyncio.run(attempt())
        assert backoffice.office.deliveries.list_deliveries("demo", hook["id"]) == []  # no fire
    finally:
        backoffice.office.close()


def test_moments_before_the_year_1000_keep_four_digits() -> None:
    from datetime import UTC, datetime

    from contract import times

    old = datetime(999, 1, 1, tzinfo=UTC)
    assert times.iso_seconds(old) == "0999-01-01T00:00:00Z"
    assert times.iso_millis(old) == "0999-01-01T00:00:00.000Z"
    assert times.parse_moment(times.iso_millis(old)) == old
