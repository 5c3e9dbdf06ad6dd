"""References cannot leak, and no file that is not a config is quoted back.

The fourth problem of issue 14: ``description: "${file:/etc/shadow}"`` (or
``/proc/self/environ``, holding ``WEBHOOKS_API_TOKEN``) put the file into the plan, the
Markdown comment, the plan file, validate's messages and CI annotations; a config that
is a symlink to a file outside the repository was echoed line by line; a ``${file:}``
naming a FIFO hung forever. Each is reproduced here and shown refused, quoting nothing.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from reconciler.cli import main
from reconciler.config import read_config
from reconciler.config.references import refused_variable
from tests.support.env import clean_env
from tests.support.secrets import SIBS_SECRET

MARKER = "Leak-marker-5b1e0c9d"  # what a referenced file holds: must never come out
TOKEN = "wbo_" + "Leak" * 10 + "XYZ"
FORMATS = (["--format", "text"], ["--format", "json"], ["--format", "github"],
           ["--format", "gitlab"])


def config(field_lines: str, hook_type: str = "email") -> str:
    target = ("    email: ops@shop.example\n" if hook_type == "email"
              else "    url: https://hooks.shop.example/x\n")
    return ("version: 1\nowner: leak-team\nwebhooks:\n  orders:\n"
            f"    type: {hook_type}\n{target}    application: merchant\n"
            f"    notifications: [mbway]\n{field_lines}")


def every_output(capfd: pytest.CaptureFixture[str], cfg: Path,
                 extra: tuple[str, ...] = ()) -> list[tuple[int, str]]:
    """validate in each format, plan in each format and into a plan file, apply."""
    runs = [["validate", "-f", str(cfg), *fmt] for fmt in FORMATS]
    runs += [["plan", "-f", str(cfg), "--format", fmt] for fmt in ("text", "markdown", "json")]
    runs += [["plan", "-f", str(cfg), "--out", str(cfg.parent / "plan.json")],
             ["apply", "-f", str(cfg), "--auto-approve"]]
    results = []
    for args in runs:
        code = main(["--no-color", *extra, *args])
        out, err = capfd.readouterr()
        results.append((code, out + err))
    return results


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path


@pytest.mark.parametrize("field", ["description", "email", "support_email"])
def test_a_file_reference_outside_secret_and_url_is_refused_unread(
        field: str, work: Path, capfd: pytest.CaptureFixture[str]) -> None:
    (work / "shadow").write_text(f"root:{MARKER}:19000:0:99999:7:::\n")
    line = f"    {field}: \"${{file:{work / 'shadow'}}}\"\n"
    cfg = work / "webhooks.yaml"
    cfg.write_text(config(line).replace("    email: ops@shop.example\n", "")
                   if field == "email" else config(line))
    for code, output in every_output(capfd, cfg):
        assert code == 1, output
        assert MARKER not in output
    code = main(["validate", "-f", str(cfg)])
    out, _ = capfd.readouterr()
    assert code == 1
    assert f"webhooks.orders.{field}: references (${{env:...}}, ${{file:...}}) are allowed " \
           "only in a webhook's secret and url" in out
    assert f"{cfg}:{8 if field == 'email' else 9}:" in out  # file and line
    assert not (work / "plan.json").exists() and not (work / ".webhooks").exists()
    assert not (work / "cache").exists()  # no crash log


@pytest.mark.parametrize("field", ["description", "secret", "url"])
def test_proc_self_environ_is_refused_wherever_it_is(
        field: str, work: Path, monkeypatch: pytest.MonkeyPatch,
        capfd: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("WEBHOOKS_API_TOKEN", TOKEN)  # what /proc/self/environ would give
    cfg = work / "webhooks.yaml"
    if field == "url":
        cfg.write_text(config('    url: "${file:/proc/self/environ}"\n', "url")
                       .replace("    url: https://hooks.shop.example/x\n", "", 1))
    else:
        cfg.write_text(config(f'    {field}: "${{file:/proc/self/environ}}"\n', "url"))
    for code, output in every_output(capfd, cfg, ("--embedded",)):
        assert code == 1 and TOKEN not in output and "WEBHOOKS_API_TOKEN=" not in output
    main(["validate", "--offline", "-f", str(cfg)])
    out, _ = capfd.readouterr()
    if field == "description":
        assert "are allowed only in a webhook's secret and url" in out
    else:
        assert "file '/proc/self/environ' is under /proc, which holds no regular files" in out


@pytest.mark.parametrize("name", ["WEBHOOKS_API_TOKEN", "WEBHOOKS_API_URL", "WEBHOOKS_DB_URL",
                                  "WEBHOOKS_SERVER_KEY", "GITHUB_TOKEN", "CI_JOB_TOKEN",
                                  "CI_JOB_JWT_V2", "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
                                  "BITBUCKET_STEP_OIDC_TOKEN"])
def test_env_references_may_not_read_tool_credentials_or_ci_tokens(
        name: str, work: Path, monkeypatch: pytest.MonkeyPatch,
        capfd: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv(name, SIBS_SECRET)  # a value that would pass as a secret
    cfg = work / "webhooks.yaml"
    cfg.write_text(config(f"    secret: ${{env:{name}}}\n", "url"))
    for code, output in every_output(capfd, cfg, ("--embedded",)):
        assert code == 1 and SIBS_SECRET not in output
    main(["validate", "--offline", "-f", str(cfg)])
    out, _ = capfd.readouterr()
    assert f"{cfg}:9:13: webhooks.orders.secret: {name} is " in out
    assert "a reference may not read it" in out


def test_a_merchants_own_variables_stay_usable() -> None:
    for name in ("ORDERS_WEBHOOK_SECRET", "GITHUB_WEBHOOK_SECRET", "WEBHOOKS_LISTEN_SECRET",
                 "WEBHOOKS_ORDERS_SECRET", "CI_ORDERS_URL"):
        assert refused_variable(name) is None, name


def test_a_fifo_is_refused_without_hanging(work: Path) -> None:
    os.mkfifo(work / "secret.fifo")
    cfg = work / "webhooks.yaml"
    cfg.write_text(config("    secret: ${file:secret.fifo}\n", "url"))
    started = time.monotonic()
    # A process of its own, with a timeout: a hang fails the test instead of the suite.
    result = subprocess.run(
        [sys.executable, "-m", "reconciler", "--no-color", "validate", "--offline", "-f",
         str(cfg)], env=clean_env(), cwd=work, capture_output=True, text=True, timeout=30,
        check=False)
    assert time.monotonic() - started < 20
    assert result.returncode == 1, result.stdout + result.stderr
    assert "file 'secret.fifo' (at " in result.stdout
    assert "is not a regular file" in result.stdout


@pytest.mark.parametrize(("target", "problem"), [
    ("/dev/zero", "is under /dev, which holds no regular files"),
    ("/sys/kernel/uevent_helper", "is under /sys, which holds no regular files"),
    (".", "is a directory"),
    ("big.key", "is larger than 64 KiB"),
])
def test_only_small_regular_files_are_read(target: str, problem: str, work: Path) -> None:
    (work / "big.key").write_text("x" * (64 * 1024 + 1))
    cfg = work / "webhooks.yaml"
    cfg.write_text(config(f"    secret: ${{file:{target}}}\n", "url"))
    messages = [p.message for p in read_config(cfg, secrets="optional").errors]
    assert len(messages) == 1 and problem in messages[0], messages


def test_a_referenced_url_is_never_quoted_and_is_sensitive_in_plans(
        work: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("HOOK_PASS", MARKER)
    monkeypatch.setenv("HOOK_URL", f"http://ops:{MARKER}@plain.example/x")
    cfg = work / "webhooks.yaml"
    cfg.write_text(config("", "url").replace(
        "    url: https://hooks.shop.example/x\n", "    url: ${env:HOOK_URL}\n"))
    code = main(["--no-color", "validate", "--offline", "-f", str(cfg)])
    out, _ = capfd.readouterr()
    assert code == 1 and "webhooks.orders.url: must use https" in out
    assert MARKER not in out and "plain.example" not in out
    cfg.write_text(config("", "url").replace(
        "    url: https://hooks.shop.example/x\n",
        "    url: https://ops:${env:HOOK_PASS}@hooks.shop.example/x\n"))
    outputs = every_output(capfd, cfg)
    assert [code for code, _ in outputs] == [0] * len(outputs)
    for _, output in outputs:
        assert MARKER not in output
    assert '"https://ops:***@hooks.shop.example/x"' in outputs[4][1]  # the text plan
    assert '"source": "https://ops:${env:HOOK_PASS}@hooks.shop.example/x"' in outputs[6][1]
    assert MARKER not in (work / "plan.json").read_text()


@pytest.mark.parametrize("url", [
    "https://${env:HOST}/x", "https://hooks.example/${file:token}", "${env:SCHEME}://h/x",
    "https://hooks.example:${env:PORT}/x", "https://hooks.example/x?token=${env:T}",
])
def test_a_reference_in_a_url_is_only_the_whole_url_or_its_credentials(
        url: str, work: Path) -> None:
    cfg = work / "webhooks.yaml"
    cfg.write_text(config("", "url").replace("https://hooks.shop.example/x", url))
    messages = [p.message for p in read_config(cfg, secrets="optional").errors]
    assert messages == ["webhooks.orders.url: a reference in url must be the whole URL "
                        "(url: ${env:NAME}) or lie within its credentials "
                        "(https://${env:USER}:${env:PASS}@host/path), not in its scheme, host, "
                        "port, path or query: put the whole URL in the variable or file"]


# --- config files that are not configs, or lead out of the working tree ---------------------


def test_a_symlinked_config_out_of_the_tree_is_refused_without_echo(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capfd: pytest.CaptureFixture[str]) -> None:
    repo, outside = tmp_path / "repo", tmp_path / "outside"
    (repo / ".git").mkdir(parents=True)
    outside.mkdir()
    (outside / "secrets.yaml").write_text(f"{MARKER}_KEY: {MARKER}\nother: {MARKER}\n")
    (repo / "webhooks.yaml").symlink_to(outside / "secrets.yaml")
    monkeypatch.chdir(repo)
    for args in (["validate", "--offline"], ["validate", "--offline", "--format", "github"],
                 ["--embedded", "plan"]):
        code = main(["--no-color", *args])
        out, err = capfd.readouterr()
        assert code == 1 and MARKER not in out + err, out + err
        assert "the config file is a symlink to a file outside the working tree" in out + err
    # A symlink inside the tree is fine; and from a subdirectory of the tree too.
    (repo / "real.yaml").write_text("version: 1\nowner: t\nwebhooks: {}\n")
    (repo / "webhooks.yaml").unlink()
    (repo / "webhooks.yaml").symlink_to(repo / "real.yaml")
    (repo / "sub").mkdir()
    monkeypatch.chdir(repo / "sub")
    assert main(["validate", "--offline", "-f", "../webhooks.yaml"]) == 0
    # Without a git work tree, the current directory is the tree.
    (outside / "link.yaml").symlink_to(outside / "secrets.yaml")
    monkeypatch.chdir(tmp_path / "repo")
    code = main(["--no-color", "validate", "--offline", "-f", str(outside / "link.yaml")])
    out, _ = capfd.readouterr()
    assert code == 1 and "outside the working tree" in out and MARKER not in out


@pytest.mark.parametrize(("content", "problem"), [
    (f"root:x:0:0:{MARKER}:/root:/bin/bash\ndaemon:x:1:1::/:/sbin/nologin\n",
     "1:1: the top level must be a mapping with version, owner and webhooks, not text"),
    (f"{MARKER}_TOKEN: abc\n{MARKER}_TOKEN: def\nkey: [1\n",
     "YAML syntax error"),
    (f"{MARKER}_TOKEN: abc\n{MARKER}_TOKEN: def\n",
     "1:1: not a webhooks config: the top level has none of version, owner and webhooks"),
    (f"- {MARKER}\n- yes\n", "1:1: the top level must be a mapping with version, owner and "
                             "webhooks, not a list"),
    (b"\x7fELF\x02\x01\x01" + MARKER.encode() + b"\xff\xfe",
     "1:28: not valid UTF-8 (at byte offset 27); save the file as UTF-8"),
    (f"{MARKER}: !!binary aGVsbG8=\n", "not a webhooks config"),
])
def test_a_file_that_is_not_a_config_is_never_quoted(
        content: str | bytes, problem: str, work: Path,
        capfd: pytest.CaptureFixture[str]) -> None:
    cfg = work / "passwd"
    cfg.write_bytes(content if isinstance(content, bytes) else content.encode())
    for fmt in FORMATS:
        code = main(["--no-color", "validate", "--offline", "-f", str(cfg), *fmt])
        out, err = capfd.readouterr()
        assert code == 1 and MARKER not in out + err, out + err
        assert "yes" not in out and "ELF" not in out
    code = main(["--no-color", "validate", "--offline", "-f", str(cfg)])
    out, _ = capfd.readouterr()
    assert problem in out, out
