"""The CI examples for real: their shell steps against `webhooks serve` on loopback.

examples/ci/scripts/*.sh are the steps both pipelines run; here they run as they are,
with the `webhooks` console script of this environment, against a backoffice served on
127.0.0.1 with a read and a manage token. The only stand-in is for what is not ours: the
GitHub and GitLab comment APIs, a small recording HTTP server on 127.0.0.1 that the
script's real curl calls reach through GITHUB_API_URL / CI_API_V4_URL.

The workflow files are parsed too, so the examples can't drift from the scripts, and
install.sh installs the tool for real, from a git repository at a commit.
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

from reconciler.render.markdown import MARKER, marker
from tests.support.config import REPO
from tests.support.env import clean_env
from tests.support.processes import Processes, free_port, wait_ready

pytestmark = pytest.mark.slow

CI = REPO / "examples" / "ci"
SCRIPTS = CI / "scripts"
SCRIPT_NAMES = ("install.sh", "validate.sh", "plan-comment.sh", "apply.sh", "drift.sh")
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


def run_script(name: str, *args: str, cwd: Path, timeout: str = "60",
               **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["sh", str(SCRIPTS / name), *args], cwd=cwd, env=job_env(**env),
                          capture_output=True, text=True, timeout=float(timeout), check=False)


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                          text=True, env=job_env()).stdout.strip()


def sample_repo(tmp_path: Path) -> Path:
    """A config repository holding the sample webhooks.yaml (the demo merchant's stores),
    committed on main: a pull request's base."""
    repo = tmp_path / "config-repo"
    repo.mkdir()
    shutil.copy(REPO / "webhooks.yaml", repo / "webhooks.yaml")
    shutil.copytree(REPO / "dev", repo / "dev")  # the sample's development-only secret
    git(repo, "init", "-q", "-b", "main")
    git(repo, "-c", "user.email=ci@shop.example", "-c", "user.name=CI", "add", "-A")
    git(repo, "-c", "user.email=ci@shop.example", "-c", "user.name=CI", "commit", "-q",
        "-m", "the config")
    return repo


# --- the pipeline's steps ------------------------------------------------------------------


def test_validate_step_in_each_format(tmp_path: Path) -> None:
    repo = sample_repo(tmp_path)
    good = run_script("validate.sh", "github", cwd=repo)
    assert good.returncode == 0, good.stderr
    # The sample's local receiver (loopback) is a warning offline: a backoffice that
    # refuses private targets refuses it.
    assert good.stdout == (
        "::warning file=webhooks.yaml,line=51,col=10,title=webhooks validate::"
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

    # The pull request: plan with the read token and no webhook secret, keep plan.json
    # (no comment here); the pipeline downloads it to reviewed/plan.json on main.
    planned = run_script("plan-comment.sh", cwd=repo, COMMENT_ON="none", **read)
    assert planned.returncode == 0, planned.stderr
    assert (repo / "plan.md").read_text().startswith(MARKER + "\n")
    assert "Plan: 5 to create" in (repo / "plan.md").read_text()
    assert "+ secret: not compared (--skip-secrets)" in (repo / "plan.md").read_text()
    (repo / "reviewed").mkdir()
    reviewed = repo / "reviewed" / "plan.json"
    shutil.copy(repo / "plan.json", reviewed)

    # A read token cannot apply, and nothing happens.
    refused = run_script("apply.sh", "reviewed/plan.json", cwd=repo, **read)
    assert refused.returncode == 1
    assert backoffice.read_token not in refused.stdout + refused.stderr
    drift = run_script("drift.sh", cwd=repo, **read)
    assert drift.returncode == 2, drift.stderr

    # The merge: the reviewed plan, with the manage token.
    applied = run_script("apply.sh", "reviewed/plan.json", cwd=repo, **manage)
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

    assert "Changed outside webhooks.yaml since the last apply" in drifted.stdout
    assert "enabled: true -> false" in drifted.stdout

    # The reviewed plan is stale now: apply refuses it whole.
    stale = run_script("apply.sh", "reviewed/plan.json", cwd=repo, **manage)
    assert stale.returncode == 1 and "stale" in stale.stderr
    assert "orders-backend: the plan creates it, but a webhook of that name exists" in stale.stderr
    assert run_script("drift.sh", cwd=repo, **read).returncode == 2

    # Re-plan on main with --out, then apply that saved plan: back in sync.
    replanned = run_script("apply.sh", cwd=repo, **manage)
    assert replanned.returncode == 0, replanned.stderr
    assert "orders-backend" in replanned.stdout and "Apply complete: 1 updated." in replanned.stdout
    assert json.loads((repo / "plan.json").read_text())["changes"][0]["name"] == "orders-backend"
    assert run_script("drift.sh", cwd=repo, **read).returncode == 0

    # A webhook created by hand in the backoffice: no config manages it; the check fails.
    with api(backoffice) as client:
        made = client.post("/v1/webhooks", headers={"Idempotency-Key": "by-hand-1"}, json={
            "name": "by-hand", "type": "email", "email": "ops@shop.example",
            "application": "merchant", "notifications": ["mbway"]})
        assert made.status_code == 201, made.text
    unmanaged = run_script("drift.sh", cwd=repo, **read)
    assert unmanaged.returncode == 2 and "Unmanaged: by-hand." in unmanaged.stdout
    with api(backoffice) as client:
        assert client.delete(f"/v1/webhooks/{made.json()['id']}").status_code == 204
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


CONFIG_PATHS = {"webhooks.yaml", "examples/ci/scripts/**"}


def test_the_github_workflow_runs_the_scripts() -> None:
    text = (CI / "github" / "webhooks.yml").read_text()
    doc = yaml.safe_load(text)
    triggers = doc.get("on", doc.get(True))  # YAML 1.1 reads a bare `on` as true
    assert {"push", "pull_request", "schedule"} <= set(triggers)
    assert triggers["schedule"][0]["cron"]
    # apply (and validate, plan) only when the config changed: the paths filter
    for event in ("push", "pull_request"):
        assert set(triggers[event]["paths"]) >= CONFIG_PATHS, event
    assert triggers["push"]["branches"] == ["main"]
    jobs = doc["jobs"]
    runs = {name: [s["run"] for s in job["steps"] if "run" in s] for name, job in jobs.items()}
    assert {name: script_calls(commands) for name, commands in runs.items()} == {
        "validate": {"install.sh", "validate.sh"}, "plan": {"install.sh", "plan-comment.sh"},
        "apply-sandbox": {"install.sh", "apply.sh"},
        "apply-production": {"install.sh", "apply.sh"},
        "drift": {"install.sh", "drift.sh"},
    }
    assert "validate.sh github" in " ".join(runs["validate"])
    assert "pull_request" in jobs["plan"]["if"] and "schedule" in jobs["drift"]["if"]
    assert doc["permissions"] == {"contents": "read"}
    # the validate job sets no backoffice URL (validate --offline); nor does the workflow
    assert "WEBHOOKS_API_URL" not in doc["env"] and "env" not in jobs["validate"]
    # installed from the tool's repository at a commit, never a name no index has
    assert doc["env"]["WEBHOOKS_RECONCILER_GIT"] == "${{ vars.WEBHOOKS_RECONCILER_GIT }}"
    assert doc["env"]["WEBHOOKS_RECONCILER_COMMIT"] == "${{ vars.WEBHOOKS_RECONCILER_COMMIT }}"
    assert "pip install" not in text and "==0.1.0" not in text

    # the plan: per environment, read tokens only, the base, one comment at a time
    plan = jobs["plan"]
    assert [e["environment"] for e in plan["strategy"]["matrix"]["include"]] == [
        "sandbox", "production"]
    assert plan["concurrency"] == {
        "group": "webhooks-plan-${{ github.event.pull_request.number }}-"
                 "${{ matrix.environment }}", "cancel-in-progress": True}
    assert plan["permissions"]["pull-requests"] == "write"
    assert plan["env"]["WEBHOOKS_BASE"] == "${{ github.event.pull_request.base.sha }}"
    assert plan["env"]["WEBHOOKS_ENVIRONMENT"] == "${{ matrix.environment }}"
    assert "READ_TOKEN" in plan["env"]["WEBHOOKS_API_TOKEN"]
    checkout = next(s for s in plan["steps"] if s.get("uses", "").startswith("actions/checkout"))
    assert checkout["with"]["fetch-depth"] == 0
    uploads = [s for s in plan["steps"] if "upload-artifact" in s.get("uses", "")]
    assert uploads[0]["with"] == {"name": "webhooks-plan-${{ matrix.environment }}",
                                  "path": "plan.json", "if-no-files-found": "ignore"}
    assert "drift" in jobs and "READ_TOKEN" in jobs["drift"]["env"]["WEBHOOKS_API_TOKEN"]

    # apply: sandbox, then production; the manage token of each environment only
    assert jobs["apply-production"]["needs"] == "apply-sandbox"
    for environment in ("sandbox", "production"):
        job = jobs[f"apply-{environment}"]
        assert "refs/heads/main" in job["if"] and job["environment"] == f"webhooks-{environment}"
        assert job["concurrency"] == {"group": f"webhooks-apply-{environment}",
                                      "cancel-in-progress": False}
        assert job["env"]["WEBHOOKS_API_TOKEN"] == "${{ secrets.WEBHOOKS_MANAGE_TOKEN }}"
        assert job["env"]["WEBHOOKS_ENVIRONMENT"] == environment
        # the reviewed plan: downloaded to reviewed/, applied and kept from reviewed/plan.json
        fetch = next(s for s in job["steps"] if "gh run download" in s.get("run", ""))
        assert '--name "webhooks-plan-$WEBHOOKS_ENVIRONMENT" --dir reviewed' in fetch["run"]
        apply_step = next(s["run"] for s in job["steps"] if "apply.sh" in s.get("run", ""))
        assert "[ -f reviewed/plan.json ]" in apply_step
        assert "apply.sh reviewed/plan.json" in apply_step
        upload = next(s for s in job["steps"] if "upload-artifact" in s.get("uses", ""))
        assert upload["with"]["path"].split() == ["plan.json", "reviewed/plan.json"]
    assert text.count("secrets.WEBHOOKS_MANAGE_TOKEN }}") == 2 and "wbo_" not in text


def test_the_gitlab_pipeline_runs_the_scripts() -> None:
    text = (CI / "gitlab" / ".gitlab-ci.yml").read_text()
    doc = yaml.safe_load(text)
    jobs = {k: v for k, v in doc.items() if isinstance(v, dict) and "script" in v
            and not k.startswith(".")}
    assert {name: script_calls(job["script"]) for name, job in jobs.items()} == {
        "validate": {"validate.sh"}, "plan": {"plan-comment.sh"},
        "apply-sandbox": {"apply.sh"}, "apply-production": {"apply.sh"},
        "drift": {"drift.sh"},
    }
    assert script_calls(doc["default"]["before_script"]) == {"install.sh"}
    assert "validate.sh gitlab" in " ".join(jobs["validate"]["script"])
    assert jobs["validate"]["artifacts"]["reports"]["codequality"] == "gl-code-quality-report.json"
    assert "WEBHOOKS_API_URL" not in doc["variables"]
    assert not any("WEBHOOKS_API_URL" in line for line in jobs["validate"]["script"])
    assert "pip install" not in text and "==0.1.0" not in text

    def rules(job: str) -> str:
        return " ".join(str(r.get("if", "")) for r in jobs[job]["rules"])

    def changes(job: str) -> set[str]:
        return {c for r in jobs[job]["rules"] for c in r.get("changes", ())}

    assert "merge_request_event" in rules("plan")
    assert "schedule" in rules("drift")
    # apply (and validate, plan) only when the config changed
    for job in ("validate", "plan", "apply-sandbox", "apply-production"):
        assert {"webhooks.yaml", "examples/ci/scripts/**/*"} <= changes(job), job
    plan = jobs["plan"]
    assert [e["WEBHOOKS_ENVIRONMENT"] for e in plan["parallel"]["matrix"]] == [
        "sandbox", "production"]
    assert plan["resource_group"] == "webhooks-plan-$CI_MERGE_REQUEST_IID-$WEBHOOKS_ENVIRONMENT"
    assert plan["interruptible"] is True
    assert plan["variables"] == {"GIT_DEPTH": 0,
                                 "WEBHOOKS_BASE": "$CI_MERGE_REQUEST_DIFF_BASE_SHA"}
    assert any("_READ_TOKEN" in line for line in plan["script"])
    assert "plan.json" in plan["artifacts"]["paths"]
    assert jobs["apply-production"]["needs"] == ["apply-sandbox"]
    for environment in ("sandbox", "production"):
        job = jobs[f"apply-{environment}"]
        assert "$CI_DEFAULT_BRANCH" in rules(f"apply-{environment}")
        assert job["resource_group"] == f"webhooks-apply-{environment}"
        assert job["variables"]["WEBHOOKS_ENVIRONMENT"] == environment
        assert any("_MANAGE_TOKEN" in line for line in job["script"])
    assert "wbo_" not in text


def test_install_takes_a_repository_at_a_commit_and_nothing_else(tmp_path: Path) -> None:
    head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], check=True,
                          capture_output=True, text=True).stdout.strip()
    for repo, commit, why in (
            ("", head, "WEBHOOKS_RECONCILER_GIT is not set"),
            ("https://github.com/shop/webhooks-reconciler", "", "COMMIT is not set"),
            ("https://github.com/shop/webhooks-reconciler", "main", "not a branch or tag"),
            ("https://github.com/shop/webhooks-reconciler", "v0.1.0", "not a branch or tag"),
            ("https://github.com/shop/webhooks-reconciler", head[:12], "40 or 64 hex digits"),
            ("webhooks-reconciler==0.1.0", head, "https://, ssh:// or file:// URL"),
            ("https://x.example/a;id", head, "characters a repository URL does not"),
            ("https://x.example/a", head.upper(), "not a branch or tag")):
        result = run_script("install.sh", cwd=tmp_path, WEBHOOKS_RECONCILER_GIT=repo,
                            WEBHOOKS_RECONCILER_COMMIT=commit)
        assert result.returncode == 64 and why in result.stderr, (repo, commit, result.stderr)
    # What it hands pip: the repository at the commit, nothing else. (pip itself is not
    # ours, and a real install would fetch its build tools from an index; a stand-in
    # python records the arguments.) The commit is one git can fetch from that repository.
    recorder = tmp_path / "python"
    recorder.write_text('#!/bin/sh\nprintf "%s\\n" "$@" > "$(dirname "$0")/pip-args"\n')
    recorder.chmod(0o755)
    done = run_script("install.sh", cwd=tmp_path, WEBHOOKS_RECONCILER_GIT=f"file://{REPO}",
                      WEBHOOKS_RECONCILER_COMMIT=head, PYTHON=str(recorder))
    assert done.returncode == 0, done.stderr
    assert f"Installing webhooks-reconciler from file://{REPO} at {head}." in done.stdout
    assert (tmp_path / "pip-args").read_text().splitlines() == [
        "-m", "pip", "install", "--quiet", f"git+file://{REPO}@{head}"]
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", "--no-checkout", f"file://{REPO}", str(clone)],
                   check=True, capture_output=True, env=job_env())
    assert git(clone, "cat-file", "-t", head) == "commit"
    assert (git(clone, "show", f"{head}:pyproject.toml").find('name = "webhooks-reconciler"')
            >= 0)


def test_the_pull_requests_plan_marks_its_own_changes(backoffice: Backoffice,
                                                      tmp_path: Path) -> None:
    repo = sample_repo(tmp_path)
    base = git(repo, "rev-parse", "HEAD")
    git(repo, "checkout", "-q", "-b", "pr")
    with (repo / "webhooks.yaml").open("a") as config:  # the pull request adds a webhook
        config.write("  pr-added:\n    type: email\n    email: pr@shop.example\n"
                     "    application: merchant\n    notifications: [mbway]\n")
    env = {"WEBHOOKS_API_URL": backoffice.url, "WEBHOOKS_API_TOKEN": backoffice.read_token,
           "WEBHOOKS_BASE": base, "WEBHOOKS_ENVIRONMENT": "", "COMMENT_ON": "none"}
    planned = run_script("plan-comment.sh", cwd=repo, **env)
    assert planned.returncode == 0, planned.stderr
    comment = (repo / "plan.md").read_text()
    assert f"Compared with webhooks.yaml at {base} ({base[:12]})" in comment
    assert "| new webhook (this PR) |" in comment
    assert json.loads((repo / "plan.json").read_text())["base"]["commit"] == base


def test_pre_commit_instructions_pin_a_commit() -> None:
    for text in ((REPO / "README.md").read_text(), (REPO / ".pre-commit-hooks.yaml").read_text()):
        revs = re.findall(r"rev: (\S+)", text)
        assert revs and all(rev == "<full" for rev in revs), revs
        assert "v0.1.0" not in text and "commit" in text


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
    script = (SCRIPTS / "plan-comment.sh").read_text()
    assert f"marker='{marker(None)}'" in script
    assert f'marker="{marker("$WEBHOOKS_ENVIRONMENT")}"' in script
