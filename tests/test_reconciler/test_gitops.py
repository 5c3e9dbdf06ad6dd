"""GitOps fit: CI annotation formats, several files, the pre-commit hook, schema, completion."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from reconciler.cli import main
from reconciler.errors import Problem
from reconciler.render.ci_annotations import (
    escape_data,
    escape_property,
    github_annotation,
    gitlab_code_quality,
    repo_path,
)
from tests.support.config import REPO, write
from tests.support.env import clean_env

BIN = Path(sys.executable).parent
GOOD = """\
    version: 1
    owner: payments-team
    webhooks:
      orders:
        type: email
        email: orders@shop.example
        application: merchant
        notifications: [mbway]
    """
BAD = """\
    version: 1
    owner: payments-team
    webhooks:
      orders:
        type: url
        url: https://hooks.shop.example/orders
        application: merchant
        notifications: [mbway, mb-way]
        secret: ${env:ORDERS_SECRET_UNSET}
        a%b: 1
    """


def validate(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["validate", "--offline", *args])
    out, err = capsys.readouterr()
    return code, out, err


# --- GitHub workflow commands ----------------------------------------------------------------


def parse_workflow_command(line: str) -> tuple[str, dict[str, str], str]:
    """Read a workflow command back as GitHub's runner does (ActionCommand.TryParse)."""
    assert line.startswith("::")
    head, message = line[2:].split("::", 1)
    command, _, props = head.partition(" ")

    def unescape(text: str, prop: bool) -> str:
        pairs = [("%0D", "\r"), ("%0A", "\n")] + ([("%3A", ":"), ("%2C", ",")] if prop else [])
        for code, char in [*pairs, ("%25", "%")]:
            text = text.replace(code, char)
        return text

    properties = {}
    for item in props.split(","):
        key, _, value = item.partition("=")
        properties[key] = unescape(value, True)
    return command, properties, unescape(message, False)


def test_escaping_follows_githubs_documented_rules() -> None:
    assert escape_data("100% done\r\nnext: a,b") == "100%25 done%0D%0Anext: a,b"
    assert escape_property("a,b:c%d\ne") == "a%2Cb%3Ac%25d%0Ae"
    problem = Problem("dir,x/web:hooks.yaml", 3, 7, "bad\nvalue: 50%, really")
    assert github_annotation(problem) == (
        "::error file=dir%2Cx/web%3Ahooks.yaml,line=3,col=7,title=webhooks validate"
        "::bad%0Avalue: 50%25, really"
    )
    warning = Problem("webhooks.yaml", 9, 13, "variable X is not set", "warning")
    assert github_annotation(warning).startswith("::warning file=webhooks.yaml,line=9,col=13,")


@given(st.text(), st.text(min_size=1), st.integers(1, 10**6), st.integers(1, 1000))
def test_an_annotation_reads_back_as_it_was(message: str, file: str, line: int, col: int) -> None:
    command, props, text = parse_workflow_command(
        github_annotation(Problem(file, line, col, message))
    )
    assert "\n" not in github_annotation(Problem(file, line, col, message))
    assert command == "error" and text == message
    assert props == {"file": repo_path(file, None), "line": str(line), "col": str(col),
                     "title": "webhooks validate"}


def test_paths_are_relative_to_the_repository_root(tmp_path: Path) -> None:
    inside = tmp_path / "teams" / "ops" / "webhooks.yaml"
    assert repo_path(str(inside), str(tmp_path)) == "teams/ops/webhooks.yaml"
    assert repo_path("./webhooks.yaml", None) == "webhooks.yaml"
    outside = tmp_path.parent / "elsewhere.yaml"
    assert repo_path(str(outside), str(tmp_path)) == str(outside)


def test_validate_format_github(capsys, tmp_path, monkeypatch):
    monkeypatch.delenv("ORDERS_SECRET_UNSET", raising=False)
    bad = write(tmp_path / "a,b:c", BAD)
    monkeypatch.setenv("GITHUB_WORKSPACE", str(tmp_path))
    code, out, err = validate(capsys, "--format", "github", str(bad))
    assert code == 1 and err == ""
    lines = out.splitlines()
    assert lines == [
        "::error file=a%2Cb%3Ac/webhooks.yaml,line=8,col=28,title=webhooks validate::"
        "webhooks.orders.notifications[1]: 'mb-way' is not a notification type; "
        "did you mean 'mbway'?",
        "::warning file=a%2Cb%3Ac/webhooks.yaml,line=9,col=13,title=webhooks validate::"
        "webhooks.orders.secret: environment variable ORDERS_SECRET_UNSET is not set; "
        "not checked (plan and apply need it)",
        "::error file=a%2Cb%3Ac/webhooks.yaml,line=10,col=5,title=webhooks validate::"
        "webhooks.orders.a%25b: unknown key 'a%25b' (allowed: type, url, email, application, "
        "notifications, secret, support_email, format, enabled, description, prevent_destroy, "
        "test_on_apply, secret_grace, renamed_from)",
        f"{bad}: 2 errors, 1 warning",
    ]
    _, props, message = parse_workflow_command(lines[2])
    assert props["file"] == "a,b:c/webhooks.yaml" and "'a%b'" in message


# --- GitLab Code Quality ---------------------------------------------------------------------

CODE_QUALITY_ISSUE = {
    "type": "object",
    "required": ["description", "check_name", "fingerprint", "severity", "location"],
    "properties": {
        "description": {"type": "string", "minLength": 1},
        "check_name": {"type": "string", "minLength": 1},
        "fingerprint": {"type": "string", "minLength": 1},
        "severity": {"enum": ["info", "minor", "major", "critical", "blocker"]},
        "location": {
            "type": "object",
            "required": ["path", "lines"],
            "properties": {
                "path": {"type": "string", "pattern": "^[^/]"},
                "lines": {"type": "object", "required": ["begin"],
                          "properties": {"begin": {"type": "integer", "minimum": 1}}},
            },
        },
    },
}


def test_validate_format_gitlab(capsys, tmp_path, monkeypatch):
    monkeypatch.delenv("ORDERS_SECRET_UNSET", raising=False)
    monkeypatch.setenv("CI_PROJECT_DIR", str(tmp_path))
    bad = write(tmp_path / "teams", BAD)
    good = write(tmp_path, GOOD)
    code, out, err = validate(capsys, "--format", "gitlab", str(bad), str(good))
    assert code == 1
    report = json.loads(out)  # stdout is only the report; people read stderr
    jsonschema.validate(report, {"type": "array", "items": CODE_QUALITY_ISSUE})
    assert [(i["location"]["path"], i["location"]["lines"]["begin"], i["severity"],
             i["check_name"]) for i in report] == [
        ("teams/webhooks.yaml", 8, "major", "webhooks-validate/notifications"),
        ("teams/webhooks.yaml", 9, "minor", "webhooks-validate/secret"),
        ("teams/webhooks.yaml", 10, "major", "webhooks-validate/a%b"),
    ]
    assert len({i["fingerprint"] for i in report}) == 3
    assert err == f"{bad}: 2 errors, 1 warning\n{good}: valid (1 webhook)\n"
    # The fingerprint names the problem, not its line: moving it keeps it the same issue.
    bad.write_text("# a comment that moves every line\n" + bad.read_text())
    _, moved, _ = validate(capsys, "--format", "gitlab", str(bad))
    assert [i["fingerprint"] for i in json.loads(moved)] == [i["fingerprint"] for i in report]
    assert [i["location"]["lines"]["begin"] for i in json.loads(moved)] == [9, 10, 11]
    code, out, _ = validate(capsys, "--format", "gitlab", str(good))
    assert (code, json.loads(out)) == (0, [])


def test_identical_problems_get_distinct_fingerprints() -> None:
    same = Problem("webhooks.yaml", 1, 1, "the file is empty")
    report = gitlab_code_quality([same, same])
    assert report[0]["fingerprint"] != report[1]["fingerprint"]


# --- several files ---------------------------------------------------------------------------


def test_several_files_at_once(capsys, tmp_path, monkeypatch):
    monkeypatch.delenv("ORDERS_SECRET_UNSET", raising=False)
    good = write(tmp_path / "a", GOOD)
    bad = write(tmp_path / "b", BAD)
    code, out, _ = validate(capsys, str(good), str(bad))
    assert code == 1
    assert out.splitlines()[0] == f"{good}: valid (1 webhook)"
    assert out.splitlines()[-1] == f"{bad}: 2 errors, 1 warning"
    assert validate(capsys, str(good), str(good))[0] == 0  # duplicates are checked once
    assert capsys.readouterr().out == ""
    # -f still works, alone or with FILES
    code, out, _ = validate(capsys, "-f", str(good), str(bad))
    assert code == 1 and f"{good}: valid" in out and f"{bad}: 2 errors" in out
    code, out, _ = validate(capsys, "-f", str(good))
    assert (code, out) == (0, f"{good}: valid (1 webhook)\n")
    # JSON: one shape for one file or several: an object with every file's report
    _, out, _ = validate(capsys, "--format", "json", str(good), str(bad))
    whole = json.loads(out)
    assert whole["valid"] is False and [r["valid"] for r in whole["files"]] == [True, False]
    _, out, _ = validate(capsys, "--format", "json", str(good))
    assert json.loads(out)["valid"] is True and len(json.loads(out)["files"]) == 1
    # no file at all: webhooks.yaml
    monkeypatch.chdir(tmp_path / "a")
    assert validate(capsys) == (0, "webhooks.yaml: valid (1 webhook)\n", "")


# --- the pre-commit hook ---------------------------------------------------------------------


def test_the_pre_commit_hook_runs_on_a_repository(tmp_path: Path) -> None:
    [hook] = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
    assert hook["id"] == "webhooks-validate" and hook["language"] == "python"
    assert hook["pass_filenames"] is True
    repo = tmp_path / "config-repo"
    write(repo, GOOD)
    write(repo / "teams" / "ops", BAD.replace("mb-way", "xpay"), "webhooks.yml")
    write(repo, "not: a config\n", "other.yaml")
    write(repo, "ignored\n", "webhooks.yaml.orig")
    env = clean_env(drop=("GIT_",))
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env.pop("ORDERS_SECRET_UNSET", None)
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True, env=env)
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True, env=env)
    staged = subprocess.run(["git", "ls-files"], cwd=repo, check=True, env=env,
                            capture_output=True, text=True).stdout.split()

    def run_hook() -> subprocess.CompletedProcess[str]:
        # as pre-commit runs it: the entry, then the matching file names
        files = [f for f in staged if re.search(hook["files"], f)]
        assert files == ["teams/ops/webhooks.yml", "webhooks.yaml"]
        return subprocess.run([*shlex.split(hook["entry"]), *files], cwd=repo, env=env,
                              capture_output=True, text=True, timeout=60, check=False)

    failed = run_hook()
    assert failed.returncode == 1
    assert failed.stdout.splitlines() == [
        "teams/ops/webhooks.yml:9:13: warning: webhooks.orders.secret: environment variable "
        "ORDERS_SECRET_UNSET is not set; not checked (plan and apply need it)",
        "teams/ops/webhooks.yml:10:5: webhooks.orders.a%b: unknown key 'a%b' (allowed: type, "
        "url, email, application, notifications, secret, support_email, format, enabled, "
        "description, prevent_destroy, test_on_apply, secret_grace, renamed_from)",
        "teams/ops/webhooks.yml: 1 error, 1 warning",
        "webhooks.yaml: valid (1 webhook)",
    ]
    fixed = repo / "teams" / "ops" / "webhooks.yml"
    fixed.write_text(fixed.read_text().replace("    a%b: 1\n", ""))
    passed = run_hook()
    assert passed.returncode == 0, passed.stdout
    assert not (repo / ".webhooks").exists()  # offline: no backoffice was created


# --- editor support: schema and completion ---------------------------------------------------


def test_schema_prints_the_config_and_plan_schemas(capsys):
    assert main(["schema"]) == 0
    printed = capsys.readouterr().out
    assert printed == (REPO / "schemas" / "webhooks.schema.json").read_text()
    sample = yaml.safe_load((REPO / "webhooks.yaml").read_text())
    jsonschema.Draft202012Validator(json.loads(printed)).validate(sample)
    assert main(["schema", "--plan"]) == 0
    assert capsys.readouterr().out == (REPO / "schemas" / "plan.schema.json").read_text()


def test_every_sample_names_the_schema_for_the_yaml_language_server():
    for config in [REPO / "webhooks.yaml", *sorted((REPO / "examples").glob("*/webhooks.yaml"))]:
        first = config.read_text().splitlines()[0]
        assert first.startswith("# yaml-language-server: $schema=")
        target = (config.parent / first.split("=", 1)[1]).resolve()
        assert target == (REPO / "schemas" / "webhooks.schema.json").resolve()


@pytest.mark.parametrize(("shell", "expected"), [
    ("bash", "complete -o nosort -F _webhooks_completion webhooks"),
    ("zsh", "#compdef webhooks"),
    ("fish", "complete --no-files --command webhooks"),
])
def test_shell_completion_scripts_generate(capsys, monkeypatch, shell, expected):
    monkeypatch.setenv("_WEBHOOKS_COMPLETE", f"{shell}_source")
    with pytest.raises(SystemExit) as exit_:
        main([])
    assert exit_.value.code == 0
    assert expected in capsys.readouterr().out


def test_completion_completes_commands_and_options(capsys, monkeypatch):
    monkeypatch.setenv("_WEBHOOKS_COMPLETE", "bash_complete")
    cases = (("webhooks sch", "1", "plain,schema"),
             ("webhooks validate --form", "2", "plain,--format"),
             ("webhooks validate --format gi", "3", "plain,github\nplain,gitlab"))
    for words, cword, want in cases:
        monkeypatch.setenv("COMP_WORDS", words)
        monkeypatch.setenv("COMP_CWORD", cword)
        with pytest.raises(SystemExit):
            main([])
        assert capsys.readouterr().out.strip() == want
