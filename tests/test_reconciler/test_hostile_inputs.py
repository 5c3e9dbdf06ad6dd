"""Hostile values in every input of the CLI: the environment (API URL, token, database URL,
SSL_CERT_FILE, SMTP password), the config, plan files and serve's TLS files. Each is a
clear error (exit 1) that names what is wrong and never repeats a secret, never "Internal
error" (exit 3) with a crash log.

The CLI runs in-process (``main``), as the real command; non-UTF-8 bytes in the
environment reach Python as lone surrogates (``\\udcff``), which is how they are given
here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.cli import main
from tests.support.tls import make_tls_files

CONFIG = ("version: 1\nowner: hostile-team\nwebhooks:\n  orders:\n    type: url\n"
          "    url: https://hooks.shop.example/orders\n    application: merchant\n"
          "    notifications: [mbway]\n")
PASSWORD = "Pw-hostile-5e1f"
TOKEN = "wbo_HostileToken0123456789abcdef"


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("WEBHOOKS_HTTP_TIMEOUT", "2")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "webhooks.yaml").write_text(CONFIG)
    yield tmp_path
    # Never a bug: no crash log was written by any of it.
    assert not (tmp_path / "cache").exists(), list((tmp_path / "cache").rglob("*"))


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["--no-color", *args])
    out, err = capsys.readouterr()
    return code, out + err


API_URLS = {
    "a control character": ("http://127.0.0.1:9/\x01", "must not contain a control character "
                            "(U+0001 at character 20)"),
    "a line feed": ("http://127.0.0.1:9/a\nb", "(U+000A at character 21)"),
    "DEL": ("http://127.0.0.1:9/\x7f", "(U+007F at character 20)"),
    "a control character in the host": ("http://127.0.0.1\x01:9/", "(U+0001 at character 17)"),
    "U+202E": ("https://hooks\u202e.example/", "an invisible text-direction character"),
    "non-UTF-8 bytes": ("http://127.0.0.1:9/\udcff", "a lone surrogate (not valid Unicode"),
    "a space": ("http://127.0.0.1:9/a b", "must not contain spaces"),
    "user and password": (f"http://ops:{PASSWORD}@127.0.0.1:9",
                          "must not hold credentials (user:password@ or token@)"),
    "a token as the user": (f"https://{TOKEN}@hooks.shop.example",
                            "put it in WEBHOOKS_API_TOKEN"),
    "plain http beyond loopback": (f"http://backoffice.example:8080/{TOKEN}",
                                   "uses plain http to backoffice.example, which is not this "
                                   "machine: the API token and webhook secrets would cross "
                                   "the network in clear"),
    "plain http to a private address": ("http://10.0.0.5:8080", "--insecure-http"),
}


@pytest.mark.parametrize(("url", "said"), API_URLS.values(), ids=API_URLS.keys())
def test_a_hostile_api_url_is_a_clear_error(url: str, said: str, work: Path,
                                            monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("WEBHOOKS_API_URL", url)
    for command in (["plan"], ["list"], ["validate"]):
        code, printed = run(capsys, *command)
        # validate too: a backoffice was named, so it does not fall back to offline checks
        assert code == 1, printed
        assert printed.startswith("Error: the API URL (--api-url or WEBHOOKS_API_URL) ")
        assert said in printed, printed
        assert PASSWORD not in printed and TOKEN not in printed


@pytest.mark.parametrize("how", ["--insecure-http", "WEBHOOKS_INSECURE_HTTP=1"])
def test_insecure_http_lets_plain_http_go_elsewhere(how: str, work: Path,
                                                    monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    # Allowed, then refused by nothing but the network: nothing listens on port 9 of this
    # address (TEST-NET-1 is never routed), so it is a connection error, still exit 1.
    monkeypatch.setenv("WEBHOOKS_HTTP_TIMEOUT", "0.5")
    flags = ["--insecure-http"] if how == "--insecure-http" else []
    if how.startswith("WEBHOOKS"):
        monkeypatch.setenv("WEBHOOKS_INSECURE_HTTP", "1")
    code, printed = run(capsys, *flags, "--api-url", "http://192.0.2.1:9", "list")
    assert code == 1 and "cannot reach the backoffice at http://192.0.2.1:9" in printed


@pytest.mark.parametrize("token", ["tökén", "wbo_abc\udcff", "wbo_a\nb", "wbo_a b", "wbo_\x01",
                                   "wbo_\x7f", "wbo_\u202eabc"])
def test_a_token_that_no_header_can_carry_is_a_clear_error(
        token: str, work: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("WEBHOOKS_API_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("WEBHOOKS_API_TOKEN", token)
    code, printed = run(capsys, "list")
    assert code == 1
    assert printed.startswith("Error: WEBHOOKS_API_TOKEN is not an API token: character ")
    assert "is not a visible ASCII character" in printed
    assert token not in printed and token.strip("\udcff") not in printed


def test_a_token_with_a_trailing_newline_is_used_without_it(
        work: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("WEBHOOKS_API_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("WEBHOOKS_API_TOKEN", TOKEN + "\n")  # read from a file
    code, printed = run(capsys, "list")
    assert code == 1 and "cannot reach the backoffice at http://127.0.0.1:9" in printed


def _yaml(body: str) -> str:
    return ("version: 1\nowner: hostile-team\nwebhooks:\n  orders:\n    type: url\n"
            "    url: https://hooks.shop.example/orders\n    application: merchant\n"
            f"    notifications: [mbway]\n{body}")


CONFIGS = {
    "a 5,000-digit integer": (_yaml("    description: " + "9" * 5000 + "\n"),
                              "webhooks.yaml:9:18: webhooks.orders.description: a number of "
                              "5,000 characters is longer than any field takes"),
    "a 5,000-digit integer as version": ("version: " + "1" * 5000 + "\nowner: o\nwebhooks: {}\n",
                                         "webhooks.yaml:1:10: version: a number of 5,000 "
                                         "characters"),
    "a negative one": (_yaml("    enabled: -" + "7" * 4400 + "\n"), "a number of 4,401"),
    "a long hexadecimal one": ("version: 0x" + "f" * 6000 + "\nowner: o\nwebhooks: {}\n",
                               "version: a number of 6,002 characters"),
    "a huge float": (_yaml("    enabled: 1e999999\n"), "webhooks.orders.enabled:"),
    "a float of 5,000 digits": (_yaml("    enabled: " + "9" * 5000 + ".5\n"),
                                "webhooks.orders.enabled:"),
    "deep flow nesting": ("version: 1\nowner: o\nwebhooks: " + "[" * 3000 + "]" * 3000 + "\n",
                          "webhooks.yaml:3:"),
    "deep block nesting": ("version: 1\nowner: o\nwebhooks:\n" + "".join(
        "  " * i + f"k{i}:\n" for i in range(1, 200)) + "  " * 200 + "v: 1\n",
        "nested deeper than 32 levels"),
    "a control character": (_yaml('    description: "a\\x01b"\n'),
                            "webhooks.orders.description: must not contain a control "
                            "character (U+0001 at character 2)"),
    "U+202E in a URL": (_yaml("").replace("orders\n    app", "or\u202eders\n    app"),
                        "webhooks.orders.url: must not contain an invisible text-direction "
                        "character (U+202E at character 30)"),
    "a bidirectional isolate": (_yaml('    description: "pay \\u2067ments"\n'),
                                "(U+2067 at character 5)"),
    "a duplicate key": (_yaml("    type: email\n"), "duplicate key 'type' (first at line 5)"),
}


@pytest.mark.parametrize(("text", "said"), CONFIGS.values(), ids=CONFIGS.keys())
def test_a_hostile_config_is_a_clear_error(text: str, said: str, work: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    (work / "webhooks.yaml").write_text(text, encoding="utf-8")
    for command in (["validate", "--offline"], ["validate", "--format", "json"], ["plan"]):
        code, printed = run(capsys, *command, "-f", "webhooks.yaml")
        assert code == 1, printed
        assert said in (printed if "json" not in command else
                        "\n".join(f"{p['file']}:{p['line']}:{p['col']}: {p['message']}"
                                  for f in json.loads(printed)["files"]
                                  for p in f["problems"])), printed


@pytest.mark.parametrize(("value", "field", "said"), [
    ("https://hooks.shop.example/\udcff", "url", "a lone surrogate"),
    ("https://hooks.shop.example/\x1b[2J", "url", "a control character"),
])
def test_non_utf8_and_control_bytes_from_a_reference_are_refused(
        value: str, field: str, said: str, work: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("HOSTILE_VALUE", value)
    text = CONFIG if field == "url" else _yaml(f"    {field}: ${{env:HOSTILE_VALUE}}\n")
    if field == "url":
        text = text.replace("https://hooks.shop.example/orders", "${env:HOSTILE_VALUE}")
    (work / "webhooks.yaml").write_text(text)
    for command in (["validate", "--offline"], ["plan"]):
        code, printed = run(capsys, *command, "-f", "webhooks.yaml")
        assert code == 1 and f"webhooks.orders.{field}: " in printed, printed
        assert f"must not contain {said}" in printed, printed


PLAN_FILES = {
    "a 5,000-digit number": ('{"format_version": ' + "9" * 5000 + "}",
                             "a number too long or nesting too deep to read"),
    "deep nesting": ("[" * 100_000 + "]" * 100_000, "a number too long or nesting too deep"),
    "a duplicate key": ('{"format_version": "1", "changes": [], "changes": []}',
                        "the key 'changes' is given twice in one object"),
    "not UTF-8": (b"\xff\xfe{}", "not UTF-8 text"),
}


@pytest.mark.parametrize(("content", "said"), PLAN_FILES.values(), ids=PLAN_FILES.keys())
def test_a_hostile_plan_file_is_a_clear_error(content: str | bytes, said: str, work: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    plan = work / "plan.json"
    plan.write_bytes(content if isinstance(content, bytes) else content.encode())
    code, printed = run(capsys, "apply", str(plan), "-f", "webhooks.yaml")
    assert code == 1 and printed.startswith(f"Error: {plan}: not a plan file ("), printed
    assert said in printed


@pytest.mark.parametrize(("variable", "value", "args", "said"), [
    ("WEBHOOKS_DB_URL", "sqlite:///data\udcff/b.db", ["token", "create", "--scope", "read"],
     "the database URL is not valid: it must not contain a lone surrogate"),
    ("WEBHOOKS_DB_URL", f"postgresql+psycopg://u:{PASSWORD}\x01@db/x",
     ["token", "create", "--scope", "read"], "(U+0001 at character 39)"),
    ("WEBHOOKS_COPY_FROM", "sqlite:///x\udcff/b.db", ["backoffice", "copy", "--to",
                                                      "sqlite:///copy/b.db"], "--from:"),
    ("WEBHOOKS_SMTP_PASSWORD", "pässwörd", ["serve", "--smtp-url",
                                            "smtp+starttls://u@127.0.0.1:25", "--port", "0"],
     "the SMTP password holds characters beyond ASCII"),
    ("WEBHOOKS_SERVER_KEY", "\udcff", ["token", "create", "--scope", "read"],
     "WEBHOOKS_SERVER_KEY must hold the standard base64 of exactly 32 random bytes"),
    ("WEBHOOKS_HTTP_TIMEOUT", "9" * 5000, ["--api-url", "http://127.0.0.1:9", "list"],
     "WEBHOOKS_HTTP_TIMEOUT must be a number of seconds"),
    ("SSL_CERT_FILE", "/nonexistent/ca.pem", ["--api-url", "https://127.0.0.1:9", "list"],
     "SSL_CERT_FILE (/nonexistent/ca.pem) cannot be read"),
])
def test_hostile_settings_from_the_environment(variable: str, value: str, args: list[str],
                                               said: str, work: Path,
                                               monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv(variable, value)
    code, printed = run(capsys, *args)
    assert code == 1, printed
    assert said in printed and PASSWORD not in printed
    assert "pässwörd" not in printed


def test_serve_refuses_bad_tls_files_naming_them(work: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    tls = make_tls_files(work)
    (work / "empty.pem").write_text("")
    cases = [
        ([str(work / "missing.crt"), str(tls.key)], f"--tls-cert {work}/missing.crt does not "
                                                    "exist"),
        ([str(tls.cert), str(work / "missing.key")], f"--tls-key {work}/missing.key does not "
                                                     "exist"),
        ([str(work), str(tls.key)], f"--tls-cert {work} is a directory"),
        ([str(tls.key), str(tls.key)], f"--tls-cert {tls.key} holds no PEM certificate"),
        ([str(tls.cert), str(tls.cert)], f"--tls-key {tls.cert} holds no PEM private key"),
        ([str(tls.cert), str(work / "empty.pem")], f"--tls-key {work}/empty.pem holds no PEM "
                                                    "private key"),
        ([str(tls.cert), str(tls.other_key)], f"--tls-key {tls.other_key} is not the key of "
                                              f"the certificate in --tls-cert {tls.cert}"),
    ]
    for (cert, key), said in cases:
        code, printed = run(capsys, "serve", "--port", "0", "--db", "sqlite:///bo/b.db",
                            "--tls-cert", cert, "--tls-key", key)
        assert code == 1 and printed.startswith(f"Error: {said}"), printed
    code, printed = run(capsys, "serve", "--tls-cert", str(tls.cert))
    assert code == 1 and "--tls-cert and --tls-key go together" in printed
    assert not (work / "bo").exists()  # refused before anything was opened
