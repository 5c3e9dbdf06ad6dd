"""`webhooks validate` from the command line: listings, JSON, exit codes, hostile files."""

from __future__ import annotations

import base64
import json
import re
import shutil
import time
from pathlib import Path

import pytest

from reconciler import providers
from reconciler.cli import main
from tests.support.config import DATA, REPO, write
from tests.support.secrets import SIBS_SECRET, WHSEC, strong_sibs

SECRETS = {
    "ORDERS_WEBHOOK_SECRET": SIBS_SECRET,
    "LISBON_WEBHOOK_SECRET": strong_sibs(1),
    "PORTO_WEBHOOK_SECRET": strong_sibs(2),
    "TERMINAL_10002_WEBHOOK_SECRET": strong_sibs(3),
    "BILLING_WEBHOOK_SECRET": WHSEC,
}
EXAMPLES = sorted((REPO / "examples").glob("*/webhooks.yaml"))


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["validate", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_the_sample_is_valid_with_no_environment(capsys, monkeypatch):
    for name in SECRETS:
        monkeypatch.delenv(name, raising=False)
    sample = REPO / "webhooks.yaml"
    code, out, err = run(capsys, "-f", str(sample), "--offline")
    # Offline, the local receiver's loopback URL is a warning (a backoffice that refuses
    # private targets refuses it; the embedded one, which the sample is for, takes it).
    assert (code, err) == (0, "")
    assert out == (f"{sample}:51:10: warning: webhooks.local-receiver.url: 127.0.0.1 is "
                   "loopback: a backoffice that refuses private targets (webhooks serve "
                   "without --allow-private-targets) refuses this URL; the embedded one "
                   f"accepts it\n{sample}: valid (5 webhooks, 1 warning)\n")
    text = sample.read_text()
    assert text.startswith("# yaml-language-server: $schema=schemas/webhooks.schema.json\n")
    # No environment needed: the one secret is a committed development-only key file.
    references = re.findall(r"\$\{[^}]*\}", text)
    assert references == ["${file:dev/local-receiver.secret}"]
    assert (REPO / "dev" / "local-receiver.secret").is_file()


def test_the_examples_are_listed_and_point_at_the_schema():
    assert [p.parent.name for p in EXAMPLES] == [
        "environments",
        "merchant-sibs",
        "standard-webhooks",
        "stores-and-email",
    ]
    readme = (REPO / "examples" / "README.md").read_text()
    for example in EXAMPLES:
        assert f"]({example.parent.name}/webhooks.yaml)" in readme
        first = example.read_text().splitlines()[0]
        assert first == "# yaml-language-server: $schema=../../schemas/webhooks.schema.json"
        assert (example.parent / first.split("=", 1)[1]).resolve() == (
            REPO / "schemas" / "webhooks.schema.json"
        )


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.parent.name)
def test_every_example_is_valid_with_its_secrets(capsys, monkeypatch, example):
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    code, out, err = run(capsys, "-f", str(example), "--offline")
    assert code == 0 and out.startswith(f"{example}: valid (") and err == ""
    assert "warning" not in out


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.parent.name)
def test_every_example_validates_without_secrets_with_warnings(capsys, monkeypatch, example):
    for name in SECRETS:
        monkeypatch.delenv(name, raising=False)
    code, out, _ = run(capsys, "-f", str(example), "--offline")
    assert code == 0 and "warning: " in out and "is not set" in out


def test_invalid_config_lists_every_problem_and_exits_1(capsys):
    path = DATA / "problems.yaml"
    code, out, err = run(capsys, "-f", str(path), "--offline")
    expected = (DATA / "problems.expected").read_text().replace("problems.yaml", str(path))
    assert (code, out, err) == (1, expected, "")


def test_json_output(capsys, tmp_path):
    code, out, err = run(capsys, "-f", str(DATA / "problems.yaml"), "--offline", "--format", "json")
    whole = json.loads(out)
    assert (whole["valid"], whole["strict"], len(whole["files"])) == (False, False, 1)
    [report] = whole["files"]
    assert code == 1 and err == ""
    assert (report["valid"], report["file"], report["webhooks"]) == (
        False,
        str(DATA / "problems.yaml"),
        4,
    )
    assert (report["errors"], report["warnings"]) == (18, 1)
    first = report["problems"][0]
    assert first == {
        "file": str(DATA / "problems.yaml"),
        "line": 1,
        "col": 10,
        "severity": "error",
        "path": ["version"],
        "message": "version: unsupported version 2; this tool reads version 1",
    }

    code, out, _ = run(capsys, "-f", str(REPO / "webhooks.yaml"), "--offline", "--format", "json")
    assert code == 0 and json.loads(out) == {"valid": True, "strict": False, "files": [{
        "valid": True,
        "file": str(REPO / "webhooks.yaml"),
        "webhooks": 5,
        "errors": 0,
        "warnings": 1,
        "problems": [{
            "file": str(REPO / "webhooks.yaml"), "line": 51, "col": 10, "severity": "warning",
            "path": ["webhooks", "local-receiver", "url"],
            "message": "webhooks.local-receiver.url: 127.0.0.1 is loopback: a backoffice that "
                       "refuses private targets (webhooks serve without "
                       "--allow-private-targets) refuses this URL; the embedded one accepts it",
        }],
    }]}


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_missing_file_and_directory_are_problems_not_usage_errors(capsys, tmp_path, fmt):
    for target, message in (
        (tmp_path / "none.yaml", "no such file"),
        (tmp_path, "is a directory, not a config file"),
    ):
        code, out, err = run(capsys, "-f", str(target), "--offline", "--format", fmt)
        assert code == 1 and err == ""
        if fmt == "json":
            [report] = json.loads(out)["files"]
            assert report["problems"][0]["message"] == message
            assert report["webhooks"] is None
        else:
            assert out.splitlines() == [
                f"{target}:1:1: {message}",
                f"{target}: 1 error, 0 warnings",
            ]


HOSTILE = {
    "unknown key": (
        "version: 1\nowner: t\nwebhooks: {}\nwebhook: {}\n",
        ":4:1: webhook: unknown key 'webhook'; did you mean 'webhooks'?",
    ),
    "wrong type": ("version: 1\nowner: t\nwebhooks: [a]\n", ":3:11: webhooks: expected"),
    "duplicate name": (
        "version: 1\nowner: t\nwebhooks:\n  a: {type: url}\n  a: {type: url}\n",
        ":5:3: webhooks.a: duplicate key 'a'",
    ),
    "missing field": (
        "version: 1\nowner: t\nwebhooks:\n  a: {type: email}\n",
        ":4:3: webhooks.a: missing required key 'application'",
    ),
    "literal secret": (
        "version: 1\nowner: t\nwebhooks:\n  a: {type: url, secret: s3cr3t}\n",
        ":4:26: webhooks.a.secret: a literal secret is not allowed",
    ),
    "unset variable": (
        "version: 1\nowner: t\nwebhooks:\n  a: {type: url, url: '${env:NOPE_X}'}\n",
        ":4:23: warning: webhooks.a.url: environment variable NOPE_X",
    ),
    "missing file": (
        "version: 1\nowner: t\nwebhooks:\n  a: {type: url, url: '${file:none}'}\n",
        ":4:23: warning: webhooks.a.url: file 'none' (at ",
    ),
    "tabs": ((DATA / "tabs.yaml").read_text(), ":4:1: YAML syntax error:"),
    "not utf-8": ((DATA / "latin1.yaml").read_bytes(),
                  ":7:21: not valid UTF-8 (at byte offset 114)"),
    "empty": ("", ":1:1: the file is empty"),
    "top-level list": ("- version: 1\n", ":1:1: the top level must be a mapping"),
    "top-level scalar": ("webhooks\n", ":1:1: the top level must be a mapping"),
    "two documents": ("version: 1\n---\nowner: t\n", ":2:1: only one YAML document"),
    "alias bomb": (
        (DATA / "billion-laughs.yaml").read_text(),
        ":5:7: lol4[0][8]: aliases expand to more than 100,000 nodes",
    ),
    "syntax error": ("version: 1\nowner: {t\n", ":3:1: YAML syntax error:"),
    "deep nesting": ("x: " + "[" * 2000 + "]" * 2000 + "\n", ":1:"),
    "yaml 1.1 boolean": (
        "version: 1\nowner: t\nwebhooks: {}\non: true\n",
        ":4:1: on: 'on' is a boolean in YAML 1.1",
    ),
}


@pytest.mark.parametrize("case", HOSTILE, ids=list(HOSTILE))
def test_hostile_files_exit_1_with_a_located_message(capsys, tmp_path, case):
    content, expected = HOSTILE[case]
    path = write(tmp_path, content)
    started = time.monotonic()
    code, out, err = run(capsys, "-f", str(path), "--offline")
    assert time.monotonic() - started < 2
    assert code == 1 and err == "" and "Traceback" not in out
    assert f"{path}{expected}" in out, out
    assert out.splitlines()[-1].startswith(f"{path}: ")


def test_a_10_mib_file_is_refused_before_parsing(capsys, tmp_path):
    path = tmp_path / "webhooks.yaml"
    path.write_bytes(b"# padding\n" * (1024 * 1024))
    started = time.monotonic()
    code, out, _ = run(capsys, "-f", str(path), "--offline")
    assert code == 1 and time.monotonic() - started < 1
    assert out.startswith(f"{path}:1:1: the file is 10.0 MiB; a config may be at most 8 MiB")


def test_secret_values_never_reach_the_output(capsys, tmp_path, monkeypatch):
    leaky = base64.b64encode(b"this-secret-is-31-bytes-long!!!").decode()
    monkeypatch.setenv("LEAKY_SECRET", leaky)
    text = (
        "version: 1\nowner: t\nwebhooks:\n"
        "  a: {type: url, url: 'https://x.example/', application: merchant,\n"
        "      notifications: [mbway], secret: '${env:LEAKY_SECRET}'}\n"
        f"  b: {{type: url, url: 'https://x.example/', secret: '{leaky}'}}\n"
    )
    path = write(tmp_path, text)
    for fmt in ("text", "json"):
        code, out, err = run(capsys, "-f", str(path), "--offline", "--format", fmt)
        assert code == 1 and "decodes to 31 bytes" in out
        assert leaky not in out + err and leaky[:16] not in out + err


def test_checks_references_against_the_backoffice_catalogue(capsys, tmp_path):
    """Without --offline, the embedded backoffice beside the config has the demo merchant."""
    text = (
        "version: 1\nowner: t\ndefaults:\n  notifications: [mbway]\nwebhooks:\n"
        "  a: {type: email, email: a@b.example, application: 'store:LIS-01'}\n"
        "  b: {type: email, email: b@b.example, application: 'store:LIS-1'}\n"
        "  c: {type: email, email: c@b.example, application: 'terminal:20001'}\n"
    )
    path = write(tmp_path, text)
    code, out, err = run(capsys, "-f", str(path))
    assert (code, err) == (1, "")
    assert out.splitlines() == [
        f"{path}:7:53: webhooks.b.application: the backoffice has no store 'LIS-1'; "
        "did you mean 'LIS-01'?",
        f"{path}: 1 error, 0 warnings",
    ]


def test_without_a_catalogue_loader_it_checks_offline_and_says_so(capsys, tmp_path, monkeypatch):
    monkeypatch.delattr(providers, "load_catalog")
    path = write(tmp_path, "version: 1\nowner: t\nwebhooks: {}\n")
    code, out, err = run(capsys, "-f", str(path))
    assert (code, out) == (0, f"{path}: valid (0 webhooks)\n")
    assert err.startswith("warning: the backoffice catalogue is unavailable (")
    assert err.rstrip().endswith("checked offline: stores and terminals were not checked")
    assert not (tmp_path / ".webhooks").exists()


def test_help_mentions_the_format(capsys):
    assert main(["validate", "--help"]) == 0
    assert "FILE:LINE:COL: message" in capsys.readouterr().out


def test_paths_are_reported_as_given(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("webhooks.yaml").write_text("version: 1\nowner: t\nwebhooks: {}\nextra: 1\n")
    code, out, _ = run(capsys, "--offline")
    assert code == 1 and out.startswith("webhooks.yaml:4:1: extra: unknown key 'extra'")


@pytest.mark.parametrize(
    "example", [*EXAMPLES, REPO / "webhooks.yaml"], ids=lambda p: p.parent.name
)
def test_every_sample_names_only_what_the_demo_merchant_has(capsys, monkeypatch, tmp_path, example):
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    copy = tmp_path / "webhooks.yaml"
    copy.write_bytes(example.read_bytes())
    if (example.parent / "dev").is_dir():  # the sample's development-only secret file
        shutil.copytree(example.parent / "dev", tmp_path / "dev")
    code, out, err = run(capsys, "-f", str(copy))  # against the embedded demo backoffice
    assert (code, err) == (0, "") and out.startswith(f"{copy}: valid (")
