"""The CI examples for real: their shell steps against `webhooks serve` on loopback.

examples/ci/scripts/*.sh are the steps both pipelines run; here they run as they are,
with the `webhooks` console script of this environment, against a backoffice served on
127.0.0.1 with a read and a manage token. The only stand-in is for what is not ours: the
GitHub and GitLab comment APIs, a small recording HTTP server on 127.0.0.1 that the
script's real curl calls reach through GITHUB_API_URL / CI_API_V4_URL.

The workflow files are parsed too, so the examples can't drift from the scripts.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import yaml

from reconciler.render.markdown import MARKER
from tests.support.config import REPO
from tests.support.env import clean_env
from tests.support.processes import Processes, free_port, wait_ready

pytestmark = pytest.mark.slow

CI = REPO / "examples" / "ci"
SCRIPTS = CI / "scripts"
SCRIPT_NAMES = ("validate.sh", "plan-comment.sh", "apply.sh", "drift.sh")
BIN = Path(sys.executable).parent  # this environment's bin, where `webhooks` is installed
CI_VARIABLES = ("WEBHOOKS_", "GITHUB_", "GITLAB_", "CI_", "RUNNER_", "COMMENT_ON", "PR_NUMBER",
                "COMMIT_SHA", "CODE_QUALITY_REPORT", "NO_COLOR")


# --- the backoffice, served ----------------------------------------------------------------


def job_env(**extra: str) -> dict[str, str]:
    """The environment of a CI job: ours, without the CI variables of whoever runs the tests."""
    env = clean_env(drop=CI_VARIABLES)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env.update(extra)
    return env


@dataclass
class Backoffice:
    url: str
    read_token: str
    manage_token: str
    process: subprocess.Popen[bytes]


def token(db_url: str, scope: str, cwd: Path) -> str:
    result = subprocess.run([str(BIN / "webhooks"), "token", "create", "--scope", scope,
                             "--db", db_url], cwd=cwd, env=job_env(), capture_output=True,
                            text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def backoffice(tmp_path_factory: pytest.TempPathFactory,
               module_processes: Processes) -> Iterator[Backoffice]:
    if shutil.which("webhooks", path=str(BIN)) is None:
        pytest.fail(f"no `webhooks` console script in {BIN}: pip install -e '.[test]'")
    workdir = tmp_path_factory.mktemp("backoffice")
    db_url = f"sqlite:///{workdir / 'backoffice.db'}"
    read, manage = token(db_url, "read", workdir), token(db_url, "manage", workdir)
    port = free_port()
    log = workdir / "serve.log"
    with log.open("wb") as out:
        process = module_processes.popen(
            # The sample's local receiver is a loopback URL: a backoffice takes it only when
            # it allows private targets.
            [str(BIN / "webhooks"), "serve", "--host", "127.0.0.1", "--port", str(port),
             "--db", db_url, "--allow-private-targets"], cwd=workdir, env=job_env(),
            stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    wait_ready(process, url + "/healthz", "webhooks serve", log)
    yield Backoffice(url, read, manage, process)
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=30)


def run_script(name: str, *args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["sh", str(SCRIPTS / name), *args], cwd=cwd, env=job_env(**env),
                          capture_output=True, text=True, timeout=60, check=False)


def sample_repo(tmp_path: Path) -> Path:
    """A config repository holding the sample webhooks.yaml (the demo merchant's stores)."""
    repo = tmp_path / "config-repo"
    repo.mkdir()
    shutil.copy(REPO / "webhooks.yaml", repo / "webhooks.yaml")
    shutil.copytree(REPO / "dev", repo / "dev")  # the sample's development-only secret
    return repo


# --- the pipeline's steps ------------------------------------------------------------------


def test_validate_step_in_each_format(tmp_path: Path) -> None:
    repo = sample_repo(tmp_path)
    good = run_script("validate.sh", "github", cwd=repo)
    assert good.returncode == 0, good.stderr
    # The sample's local receiver (loopback) is a warning offline: a backoffice that
    # refuses private targets refuses it.
    assert good.stdout == (
        "::warning file=webhooks.yaml,line=47,col=10,title=webhooks validate::"
        "webhooks.local-receiver.url: 127.0.0.1 is loopback: a backoffice that refuses "
        "private targets (webhooks serve without --allow-private-targets) refuses this URL; "
        "the embedded one accepts it\n"
        "webhooks.yaml: valid (5 webhooks, 1 warning)\n")

    (repo / "webhooks.yaml").write_text(
        "version: 1\nowner: payments-team\nwebhooks:\n  orders:\n    type: url\n"
        "    url: https://hooks.shop.example/orders\n    application: merchant\n"
        "    notifications: [mbway, mb-way]\n"
    )
    bad = run_script("validate.sh", "github", cwd=repo)
    assert bad.returncode == 1
    assert bad.stdout.startswith(
        "::error file=webhooks.yaml,line=8,col=28,title=webhooks validate::"
        "webhooks.orders.notifications[1]: 'mb-way' is not a notification type"
    )
    gitlab = run_script("validate.sh", "gitlab", cwd=repo,
                        CODE_QUALITY_REPORT="codequality.json")
    assert gitlab.returncode == 1
    assert "webhooks.yaml:8:28: webhooks.orders.notifications[1]" in gitlab.stdout  # the log
    [issue] = json.loads((repo / "codequality.json").read_text())
    assert issue["location"] == {"path": "webhooks.yaml", "lines": {"begin": 8}}
    assert issue["severity"] == "major" and issue["check_name"] == "webhooks-validate/notifications"
    assert run_script("validate.sh", "junit", cwd=repo).returncode == 64


def api(backoffice: Backoffice) -> httpx.Client:
    return httpx.Client(base_url=backoffice.url, timeout=10,
                        headers={"Authorization": f"Bearer {backoffice.manage_token}"})


def test_reviewed_plan_applies_then_drift_is_caught(backoffice: Backoffice, tmp_path: Path) -> None:
    repo = sample_repo(tmp_path)
    read = {"WEBHOOKS_API_URL": backoffice.url, "WEBHOOKS_API_TOKEN": backoffice.read_token}
    manage = {**read, "WEBHOOKS_API_TOKEN": backoffice.manage_token}

    # The pull request: plan with the read token, keep plan.json (no comment here).
    planned = run_script("plan-comment.sh", cwd=repo, COMMENT_ON="none", **read)
    assert planned.returncode == 0, planned.stderr
    assert (repo / "plan.md").read_text().startswith(MARKER + "\n")
    assert "Plan: 5 to create" in (repo / "plan.md").read_text()
    reviewed = repo / "reviewed.json"
    shutil.copy(repo / "plan.json", reviewed)

    # A read token cannot apply, and nothing happens.
    refused = run_script("apply.sh", str(reviewed), cwd=repo, **read)
    assert refused.returncode == 1
    assert backoffice.read_token not in refused.stdout + refused.stderr
    drift = run_script("drift.sh", cwd=repo, **read)
    assert drift.returncode == 2, drift.stderr

    # The merge: the reviewed plan, with the manage token.
    applied = run_script("apply.sh", str(reviewed), cwd=repo, **manage)
    assert applied.returncode == 0, applied.stderr
    assert "Applying the reviewed plan" in applied.stdout
    assert "Apply complete: 5 created." in applied.stdout
    in_sync = run_script("drift.sh", cwd=repo, **read)
    assert in_sync.returncode == 0, in_sync.stderr
    assert "No drift: the backoffice matches webhooks.yaml." in in_sync.stdout

    # Someone changes a webhook in the backoffice, out of band.
    with api(backoffice) as client:
        [hook] = client.get("/v1/webhooks", params={"webhook": "hooks.shop.example/sibs/orders"}
                            ).json()["data"]
        etag = client.get(f"/v1/webhooks/{hook['id']}").headers["ETag"]
        changed = client.patch(f"/v1/webhooks/{hook['id']}", json={"enabled": False},
                               headers={"If-Match": etag})
        assert changed.status_code == 200, changed.text
    drifted = run_script("drift.sh", cwd=repo, **read)
    assert drifted.returncode == 2
    assert "orders-backend" in drifted.stdout and "enabled" in drifted.stdout
    assert "Drift: the backoffice no longer matches webhooks.yaml" in drifted.stderr
    on_github = run_script("drift.sh", cwd=repo, GITHUB_ACTIONS="true", **read)
    assert on_github.returncode == 2
    assert "::error title=Webhooks drift::Drift: the backoffice" in on_github.stdout

    # The reviewed plan is stale now: apply refuses it whole.
    stale = run_script("apply.sh", str(reviewed), cwd=repo, **manage)
    assert stale.returncode == 1 and "stale" in stale.stderr
    assert run_script("drift.sh", cwd=repo, **read).returncode == 2

    # Re-plan on main with --out, then apply that saved plan: back in sync.
    replanned = run_script("apply.sh", cwd=repo, **manage)
    assert replanned.returncode == 0, replanned.stderr
    assert "orders-backend" in replanned.stdout and "Apply complete: 1 updated." in replanned.stdout
    assert json.loads((repo / "plan.json").read_text())["changes"][0]["name"] == "orders-backend"
    assert run_script("drift.sh", cwd=repo, **read).returncode == 0


def test_drift_check_that_cannot_run_fails(backoffice: Backoffice, tmp_path: Path) -> None:
    repo = sample_repo(tmp_path)
    result = run_script("drift.sh", cwd=repo, WEBHOOKS_API_URL=backoffice.url,
                        WEBHOOKS_API_TOKEN="wbo_not-a-token")
    assert result.returncode == 1
    assert "The drift check failed: webhooks plan exited with 1" in result.stderr
    assert "Drift:" not in result.stderr and "wbo_not-a-token" not in result.stderr


# --- the comment: one per pull request, edited in place ------------------------------------


@dataclass
class CommentApi:
    """A stand-in for GitHub's issue comments or GitLab's merge request notes (not ours)."""

    platform: str
    token: str
    comments: list[dict[str, Any]] = field(default_factory=list)
    calls: list[tuple[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.platform == "github":
            self.list_path = "/repos/shop/webhooks-config/issues/7/comments"
            self.edit_prefix, self.update = "/repos/shop/webhooks-config/issues/comments/", "PATCH"
            self.auth = ("Authorization", f"Bearer {self.token}")
        else:
            self.list_path = "/api/v4/projects/42/merge_requests/7/notes"
            self.edit_prefix, self.update = self.list_path + "/", "PUT"
            self.auth = ("PRIVATE-TOKEN", self.token)
        # a busy pull request: the plan comment will be on the second page
        self.comments = [{"id": i, "body": f"looks good {i}"} for i in range(1, 101)]
        self.comments.append({"id": 101, "body": f"quoting {MARKER} is not the plan"})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    @property
    def plan_comments(self) -> list[dict[str, Any]]:
        return [c for c in self.comments if c["body"].startswith(MARKER)]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _answer(self, status: int, data: object) -> None:
                body = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _handle(self) -> None:
                url = urlsplit(self.path)
                api.calls.append((self.command, url.path))
                if self.headers.get(api.auth[0]) != api.auth[1]:
                    return self._answer(401, {"message": "Bad credentials"})
                size = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(size)) if size else None
                if self.command == "GET" and url.path == api.list_path:
                    query = parse_qs(url.query)
                    per_page, page = int(query["per_page"][0]), int(query["page"][0])
                    return self._answer(200, api.comments[(page - 1) * per_page:][:per_page])
                if self.command == "POST" and url.path == api.list_path:
                    assert body is not None and set(body) == {"body"}
                    comment = {"id": max(c["id"] for c in api.comments) + 1, "body": body["body"]}
                    api.comments.append(comment)
                    return self._answer(201, comment)
                if self.command == api.update and url.path.startswith(api.edit_prefix):
                    wanted = int(url.path.removeprefix(api.edit_prefix))
                    for comment in api.comments:
                        if comment["id"] == wanted:
                            assert body is not None
                            comment["body"] = body["body"]
                            return self._answer(200, comment)
                return self._answer(404, {"message": "Not Found"})

            do_GET = do_POST = do_PATCH = do_PUT = _handle

        return Handler

    def env(self) -> dict[str, str]:
        if self.platform == "github":
            return {"GITHUB_ACTIONS": "true", "GITHUB_API_URL": self.base,
                    "GITHUB_REPOSITORY": "shop/webhooks-config", "PR_NUMBER": "7",
                    "GITHUB_TOKEN": self.token, "GITHUB_RUN_ID": "555",
                    "GITHUB_SERVER_URL": "https://github.example",
                    "COMMIT_SHA": "0123abcd"}
        return {"GITLAB_CI": "true", "CI_API_V4_URL": self.base + "/api/v4",
                "CI_PROJECT_ID": "42", "CI_MERGE_REQUEST_IID": "7",
                "GITLAB_COMMENT_TOKEN": self.token, "CI_COMMIT_SHA": "0123abcd",
                "CI_JOB_URL": "https://gitlab.example/shop/webhooks-config/-/jobs/555"}


def review_config(repo: Path, *names: str) -> None:
    hooks = {n: {"type": "email", "email": f"{n}@shop.example", "notifications": ["mbway"]}
             for n in names}
    (repo / "webhooks.yaml").write_text(yaml.safe_dump(
        {"version": 1, "owner": "review-team", "defaults": {"application": "merchant"},
         "webhooks": hooks}))


@pytest.fixture(params=["github", "gitlab"])
def comment_api(request: pytest.FixtureRequest) -> Iterator[CommentApi]:
    api = CommentApi(request.param, token=f"{request.param}-comment-token-0b7e")
    yield api
    api.server.shutdown()
    api.server.server_close()


def test_the_plan_is_one_comment_updated_on_every_push(
    backoffice: Backoffice, comment_api: CommentApi, tmp_path: Path
) -> None:
    repo = tmp_path / "review"
    repo.mkdir()
    env = {"WEBHOOKS_API_URL": backoffice.url, "WEBHOOKS_API_TOKEN": backoffice.read_token,
           **comment_api.env()}

    review_config(repo, "first-hook")
    first = run_script("plan-comment.sh", cwd=repo, **env)
    assert first.returncode == 0, first.stderr
    assert first.stdout == "Posted the plan comment.\n"
    [posted] = comment_api.plan_comments
    assert posted["body"] == (repo / "comment.md").read_text()
    assert posted["body"].startswith(MARKER + "\n### Webhooks plan for `review-team`")
    assert "**Plan: 1 to create," in posted["body"]
    job = ("https://github.example/shop/webhooks-config/actions/runs/555"
           if comment_api.platform == "github"
           else "https://gitlab.example/shop/webhooks-config/-/jobs/555")
    assert posted["body"].endswith(f"<sub>Commit 0123abcd, [pipeline job]({job}). "
                                   "This comment is updated on every push.</sub>\n")
    assert json.loads((repo / "plan.json").read_text())["changes"][0]["name"] == "first-hook"

    # Another push: the same comment, edited; the second page of comments was read.
    review_config(repo, "first-hook", "second-hook")
    second = run_script("plan-comment.sh", cwd=repo, **env)
    assert second.returncode == 0, second.stderr
    assert second.stdout == f"Updated the plan comment ({posted['id']}).\n"
    assert len(comment_api.comments) == 102
    [updated] = comment_api.plan_comments
    assert updated["id"] == posted["id"] and "**Plan: 2 to create," in updated["body"]
    assert (comment_api.update, comment_api.edit_prefix + str(posted["id"])) in comment_api.calls

    # A push whose plan fails replaces the comment: no reviewer reads a stale plan.
    failed = run_script("plan-comment.sh", cwd=repo,
                        **{**env, "WEBHOOKS_API_TOKEN": "wbo_revoked-token-value"})
    assert failed.returncode == 1
    [replaced] = comment_api.plan_comments
    assert replaced["id"] == posted["id"] and len(comment_api.comments) == 102
    assert "### Webhooks plan failed" in replaced["body"]
    assert "Plan:" not in replaced["body"]
    for text in (replaced["body"], first.stdout + first.stderr, failed.stdout + failed.stderr):
        assert comment_api.token not in text and backoffice.read_token not in text
        assert "wbo_revoked-token-value" not in text
    methods = [method for method, _ in comment_api.calls]
    assert methods.count("POST") == 1 and methods.count(comment_api.update) == 2


def test_a_comment_api_that_refuses_fails_the_job(backoffice: Backoffice, tmp_path: Path) -> None:
    api = CommentApi("github", token="the-right-token")
    try:
        repo = tmp_path / "review"
        repo.mkdir()
        review_config(repo, "first-hook")
        env = {**api.env(), "GITHUB_TOKEN": "a-wrong-token",
               "WEBHOOKS_API_URL": backoffice.url, "WEBHOOKS_API_TOKEN": backoffice.read_token}
        result = run_script("plan-comment.sh", cwd=repo, **env)
    finally:
        api.server.shutdown()
        api.server.server_close()
    assert result.returncode != 0
    assert "401" in result.stderr and "a-wrong-token" not in result.stdout + result.stderr
    assert api.plan_comments == []


# --- the pipeline files call those very steps ----------------------------------------------


def script_calls(commands: list[str]) -> set[str]:
    found = set()
    for command in commands:
        found |= set(re.findall(r"\bsh examples/ci/scripts/([\w-]+\.sh)\b", command))
    return found


def test_the_github_workflow_runs_the_scripts() -> None:
    doc = yaml.safe_load((CI / "github" / "webhooks.yml").read_text())
    triggers = doc.get("on", doc.get(True))  # YAML 1.1 reads a bare `on` as true
    assert {"push", "pull_request", "schedule"} <= set(triggers)
    assert triggers["schedule"][0]["cron"]
    jobs = doc["jobs"]
    runs = {name: [s["run"] for s in job["steps"] if "run" in s] for name, job in jobs.items()}
    assert {name: script_calls(commands) for name, commands in runs.items()} == {
        "validate": {"validate.sh"}, "plan": {"plan-comment.sh"}, "apply": {"apply.sh"},
        "drift": {"drift.sh"},
    }
    assert "validate.sh github" in " ".join(runs["validate"])
    assert "pull_request" in jobs["plan"]["if"] and "refs/heads/main" in jobs["apply"]["if"]
    assert "schedule" in jobs["drift"]["if"]
    assert jobs["plan"]["permissions"]["pull-requests"] == "write"
    assert doc["permissions"] == {"contents": "read"}
    # Tokens only from the secret store: read for plan and drift, manage only for apply.
    assert jobs["plan"]["env"]["WEBHOOKS_API_TOKEN"] == "${{ secrets.WEBHOOKS_READ_TOKEN }}"
    assert jobs["drift"]["env"]["WEBHOOKS_API_TOKEN"] == "${{ secrets.WEBHOOKS_READ_TOKEN }}"
    assert jobs["apply"]["env"]["WEBHOOKS_API_TOKEN"] == "${{ secrets.WEBHOOKS_MANAGE_TOKEN }}"
    assert jobs["apply"]["environment"] and jobs["apply"]["concurrency"]
    assert doc["env"]["WEBHOOKS_API_URL"] == "${{ vars.WEBHOOKS_API_URL }}"
    text = (CI / "github" / "webhooks.yml").read_text()
    assert text.count("WEBHOOKS_MANAGE_TOKEN }}") == 1 and "wbo_" not in text
    uploads = [s for s in jobs["plan"]["steps"] if "upload-artifact" in s.get("uses", "")]
    assert uploads and uploads[0]["with"]["path"] == "plan.json"


def test_the_gitlab_pipeline_runs_the_scripts() -> None:
    doc = yaml.safe_load((CI / "gitlab" / ".gitlab-ci.yml").read_text())
    jobs = {k: v for k, v in doc.items() if isinstance(v, dict) and "script" in v}
    assert {name: script_calls(job["script"]) for name, job in jobs.items()} == {
        "validate": {"validate.sh"}, "plan": {"plan-comment.sh"}, "apply": {"apply.sh"},
        "drift": {"drift.sh"},
    }
    assert "validate.sh gitlab" in " ".join(jobs["validate"]["script"])
    assert jobs["validate"]["artifacts"]["reports"]["codequality"] == "gl-code-quality-report.json"

    def rules(job: str) -> str:
        return " ".join(str(r.get("if", "")) for r in jobs[job]["rules"])

    assert "merge_request_event" in rules("plan")
    assert "$CI_DEFAULT_BRANCH" in rules("apply") and "schedule" in rules("drift")
    assert jobs["plan"]["variables"]["WEBHOOKS_API_TOKEN"] == "$WEBHOOKS_READ_TOKEN"
    assert jobs["drift"]["variables"]["WEBHOOKS_API_TOKEN"] == "$WEBHOOKS_READ_TOKEN"
    assert jobs["apply"]["variables"]["WEBHOOKS_API_TOKEN"] == "$WEBHOOKS_MANAGE_TOKEN"
    assert jobs["apply"]["resource_group"]
    assert "plan.json" in jobs["plan"]["artifacts"]["paths"]
    assert "wbo_" not in (CI / "gitlab" / ".gitlab-ci.yml").read_text()


def test_the_scripts_are_posix_and_agree_with_the_renderer() -> None:
    assert sorted(p.name for p in SCRIPTS.glob("*.sh")) == sorted(SCRIPT_NAMES)
    for name in SCRIPT_NAMES:
        script = SCRIPTS / name
        assert script.read_text().startswith("#!/bin/sh\n") and os.access(script, os.X_OK)
        for shell in ("sh", "dash"):
            if shutil.which(shell):
                checked = subprocess.run([shell, "-n", str(script)], capture_output=True,
                                         text=True, check=False)
                assert checked.returncode == 0, f"{shell} -n {name}: {checked.stderr}"
    # plan-comment.sh finds its comment by the renderer's marker: the two must agree
    assert f"marker='{MARKER}'" in (SCRIPTS / "plan-comment.sh").read_text()
