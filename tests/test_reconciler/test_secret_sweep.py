"""Known secrets pushed through every command and output; none may come out in clear.

The secrets: two SIBS keys, two whsec_ secrets (each rotated once, so the first is the
previous secret during the grace), the secrets the backoffice generated (one of them
rotated by `secret rotate`: its current and previous secrets), two URL passwords (one a
whole URL from ${env:}, one the credentials of a URL from ${file:}), two tokens in a
URL's query string, a wrong-sized key (refused, and not echoed), a manage token, a read
token, an unknown token, the server's SMTP password (WEBHOOKS_SMTP_PASSWORD), the
merchant's fingerprint key (which the providers fetch to compare fingerprints: in no
output, file or log, and sealed in the database), and what a config must not be able to
read through a reference (a file read from a description, the API token itself). They
go through validate (--strict too), plan (every format, --skip-secrets, plan files),
apply (text and JSON; each writes a last-applied record in the database), list, show,
import, `secret rotate`, the delivery commands (emit --wait, deliveries, deliver,
recover, resend), `secret reveal`, `audit` and the token commands, on the embedded
backoffice (the CLI in-process) and over HTTP (CLI processes against `webhooks --debug
serve`), and then we read everything that was written: command output, plan and import
files, the server's
log, any crash log under XDG_CACHE_HOME, and the database file with its WAL (the audit
log among its tables). Two commands print a secret by design: `secret reveal` prints the
secret it was asked for, and only that, and the value appears nowhere else (not in the
audit log's record of the reveal); `secret generate` prints its own fresh one, which
appears in its output and nowhere else.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from backoffice.facade import Backoffice
from reconciler.cli import main
from tests.support.processes import Processes, free_port
from tests.support.secrets import strong_sibs, strong_whsec
from tests.support.serve import Server, api_env, run_cli, seed

SIBS = [strong_sibs(s) for s in (101, 151)]
WHSEC = [strong_whsec(s) for s in (7, 57)]
URL_PASSWORDS = ["Pw-sweep-7c1d9e3f0a", "Pw-sweep-44b8e2d1c9"]
QUERY_TOKENS = ["Qt-sweep-2f6a0c9e4b", "Qt-sweep-d81b37e5a0"]
BAD_KEY = base64.b64encode(bytes(range(201, 232))).decode()  # 31 bytes: refused
UNKNOWN_TOKEN = "wbo_" + "Sweep" * 8 + "ABC"  # well-formed, issued to nobody
SMTP_PASSWORD = "Smtp-sweep-0d4c7e9a21"  # the server's relay password (from its environment)
REF_PASSWORD = "Pw-sweep-ref-2b7f1a"  # the credentials of a URL, from ${file:cred.pass}
LEAKED_FILE = "Leak-sweep-3e9c5d71"  # a file a description tries to read (refused)
SECRETS = [*SIBS, *WHSEC, *URL_PASSWORDS, *QUERY_TOKENS, REF_PASSWORD, LEAKED_FILE, BAD_KEY,
           UNKNOWN_TOKEN]
RAW_KEYS = [base64.b64decode(s) for s in SIBS] + [base64.b64decode(s[6:]) for s in WHSEC]

CONFIG = """\
version: 1
owner: sweep-team
defaults:
  application: merchant
webhooks:
  sibs-hook:
    type: url
    url: https://hooks.shop.example/sibs
    notifications: [mbway]
    secret: ${env:SWEEP_SIBS}
  std-hook:
    type: url
    url: https://hooks.shop.example/std
    format: standard-webhooks
    notifications: [mbway, xpay]
    secret: ${file:std.secret}
  basic-auth-hook:
    type: url
    url: ${env:SWEEP_URL}
    notifications: [authorised-payment]
  cred-hook:
    type: url
    url: https://ops:${file:cred.pass}@hooks.shop.example/cred
    notifications: [mbway]
  query-token-hook:
    type: url
    url: ${env:SWEEP_QUERY_URL}
    notifications: [qr-code]
  mail-hook:
    type: email
    email: ops@shop.example
    notifications: [mbway]
"""
NAMES = ["sibs-hook", "std-hook", "basic-auth-hook", "cred-hook", "query-token-hook",
         "mail-hook"]
# References that try to read what a config must not: a file from a description, the
# API token from a secret. Refused everywhere, and never quoted.
LEAKING = """\
version: 1
owner: sweep-team
webhooks:
  leak-hook:
    type: url
    url: https://hooks.shop.example/leak
    application: merchant
    notifications: [mbway]
    description: ${file:leak.txt}
  token-hook:
    type: url
    url: https://hooks.shop.example/token
    application: merchant
    notifications: [mbway]
    secret: ${env:WEBHOOKS_API_TOKEN}
"""


def use_secrets(work: Path, generation: int) -> dict[str, str]:
    """Point the config at generation 0 or 1 of the secrets; returns the environment."""
    (work / "std.secret").write_text(WHSEC[generation] + "\n")
    (work / "cred.pass").write_text(REF_PASSWORD + "\n")
    (work / "leak.txt").write_text(LEAKED_FILE + "\n")
    (work / "leak.yaml").write_text(LEAKING)
    return {"SWEEP_SIBS": SIBS[generation],
            "SWEEP_URL": f"https://ops:{URL_PASSWORDS[generation]}@hooks.shop.example/basic",
            "SWEEP_QUERY_URL": f"https://hooks.shop.example/in?token={QUERY_TOKENS[generation]}"}


def key_forms(key: bytes) -> list[str]:
    """The fingerprint key as any output could spell it."""
    return [base64.b64encode(key).decode(), base64.urlsafe_b64encode(key).decode(), key.hex()]


def assert_clean(where: str, text: str | bytes, secrets: list[str]) -> None:
    data = text.encode() if isinstance(text, str) else text
    leaked = [i for i, s in enumerate(secrets) if s.encode() in data]
    assert not leaked, f"{where} holds secret(s) #{leaked} in clear"


def assert_no_key_bytes(where: str, data: bytes) -> None:
    assert not [k for k in RAW_KEYS if k in data], f"{where} holds a raw key"


def held_secrets(db: Path) -> list[str]:
    """Every secret the backoffice holds now, current and previous (read behind the API's
    back with the server key beside the database): the generated ones included."""
    with Backoffice.open(f"sqlite:///{db}") as office:
        records = [office.webhooks._get("demo", id=hook["id"])
                   for hook in office.webhooks.list_webhooks("demo").data]
        held = [office.sealing.webhook_secret(r) for r in records]
        held += [office.sealing.previous_secret(r) for r in records]
    return [s for s in held if s is not None]


def generate_secrets(outputs: list[tuple[list[str], str]]) -> list[str]:
    """`secret generate` in each format: each prints one secret, and nothing else."""
    made = []
    for fmt in ("sibs", "standard-webhooks"):
        done = subprocess.run([sys.executable, "-m", "reconciler", "secret", "generate",
                               "--format", fmt], capture_output=True, text=True, timeout=60,
                              check=False)
        assert done.returncode == 0 and done.stderr == "", done.stderr
        made.append(done.stdout.strip())
        assert done.stdout == made[-1] + "\n"
    for secret in made:  # the only output where a secret shows is the one that made it
        for args, out in outputs:
            assert secret not in out, f"{' '.join(args)} shows a generated secret"
    return made


def crash_logs(cache: Path) -> list[Path]:
    return sorted((cache / "webhooks").glob("*")) if (cache / "webhooks").exists() else []


# The commands both providers run, with the exit code each must give. {dir} is the work
# directory; the secrets come from the environment and std.secret, never the arguments.
def commands(generation: int) -> list[tuple[list[str], int]]:
    cfg = ["-f", "{dir}/webhooks.yaml"]
    shows = [(["show", name, *cfg, *fmt], 0) for name in NAMES
             for fmt in ([], ["--format", "json"])]
    if generation == 0:
        return [
            (["validate", *cfg], 0), (["validate", *cfg, "--format", "json"], 0),
            (["plan", *cfg], 0), (["plan", *cfg, "--format", "markdown"], 0),
            (["plan", *cfg, "--format", "json"], 0),
            (["plan", *cfg, "--out", "{dir}/plan0.json"], 0),
            (["apply", "{dir}/plan0.json", *cfg], 0),
            (["list"], 0), (["list", "--format", "json"], 0), *shows,
        ]
    return [
        (["validate", *cfg, "--format", "json"], 0),
        (["validate", *cfg, "--strict", "--format", "json"], 0),
        # without the secrets (the markers say where they were not compared), then with them
        (["plan", *cfg, "--skip-secrets"], 0),
        (["plan", *cfg, "--skip-secrets", "--format", "markdown"], 0),
        (["plan", *cfg, "--skip-secrets", "--format", "json", "--out", "{dir}/plan-skip.json"],
         0),
        (["plan", *cfg, "--format", "markdown"], 0), (["plan", *cfg, "--format", "json"], 0),
        (["plan", *cfg, "--out", "{dir}/plan1.json"], 0),
        (["apply", *cfg, "--auto-approve", "--format", "json"], 0),
        (["apply", *cfg, "--auto-approve"], 0),  # nothing left to do
        (["list", "--format", "json"], 0), *shows,
        (["import", *cfg, "--owner", "sweep-team"], 0),
        (["import", *cfg, "--owner", "sweep-team", "-o", "{dir}/imported.yaml"], 0),
    ]


def delivery_commands(work: Path) -> list[tuple[list[str], int]]:
    """emit --wait (it fails: exit 1), the log in each format, deliver, recover, resend."""
    cfg = ["-f", str(work / "webhooks.yaml")]
    return [
        (["apply", *cfg, "--auto-approve"], 0),
        (["emit", "--terminal", "10001", "--type", "authorised-payment", "--wait",
          "--wait-seconds", "20", *cfg], 1),
        (["emit", "--terminal", "10001", "--type", "authorised-payment", "--wait",
          "--format", "json", *cfg], 1),
        (["emit", "--terminal", "10001", "--scenario", "mbway-authorised-cancel",
          "--format", "json", *cfg], 0),
        (["emit", "--list-scenarios", *cfg], 0),
        (["deliveries", *cfg], 0), (["deliveries", "--format", "json", *cfg], 0),
        (["deliveries", "basic-auth-hook", "--status", "failed", "--since", "1h",
          "--limit", "1", "--format", "json", *cfg], 0),
        (["deliver", *cfg], 0), (["recover", "basic-auth-hook", "--since", "1h", *cfg], 0),
    ]


BAD_SECRET_COMMANDS: list[tuple[list[str], int]] = [
    (["validate", "-f", "{dir}/webhooks.yaml"], 1),
    (["validate", "-f", "{dir}/webhooks.yaml", "--format", "json"], 1),
    (["plan", "-f", "{dir}/webhooks.yaml"], 1),
    (["apply", "-f", "{dir}/webhooks.yaml", "--auto-approve", "--format", "json"], 1),
    *[(["validate", "-f", "{dir}/leak.yaml", *fmt], 1)
      for fmt in ([], ["--format", "json"], ["--format", "github"], ["--format", "gitlab"])],
    (["plan", "-f", "{dir}/leak.yaml", "--format", "markdown"], 1),
    (["plan", "-f", "{dir}/leak.yaml", "--out", "{dir}/leak-plan.json"], 1),
    (["apply", "-f", "{dir}/leak.yaml", "--auto-approve"], 1),
]


def fill(args: list[str], work: Path) -> list[str]:
    return [a.replace("{dir}", str(work)) for a in args]


def written_files(work: Path) -> dict[str, str]:
    return {name: (work / name).read_text()
            for name in ("plan0.json", "plan1.json", "plan-skip.json", "imported.yaml")}


def test_embedded_outputs_files_crash_logs_and_database_hold_no_secret(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capfd: pytest.CaptureFixture[str]) -> None:
    work = tmp_path
    (work / "webhooks.yaml").write_text(CONFIG)
    # Commands given no -f (`list`) read ./webhooks.yaml and its embedded backoffice:
    # this test's own, never the checkout's.
    monkeypatch.chdir(work)
    monkeypatch.setenv("XDG_CACHE_HOME", str(work / "cache"))
    # Ignored with --embedded, and never shown (leak.yaml tries to read it as a secret).
    monkeypatch.setenv("WEBHOOKS_API_TOKEN", UNKNOWN_TOKEN)
    outputs = []
    for generation, todo in ((0, commands(0)), (1, commands(1)), (1, BAD_SECRET_COMMANDS)):
        for name, value in use_secrets(work, generation).items():
            monkeypatch.setenv(name, value)
        if todo is BAD_SECRET_COMMANDS:
            monkeypatch.setenv("SWEEP_SIBS", BAD_KEY)
        for args, code in todo:
            got = main(["--no-color", "--embedded", *fill(args, work)])
            out, err = capfd.readouterr()
            assert got == code, f"{args}: exit {got}\n{out}\n{err}"
            outputs.append((args, out + err))

    # The delivery commands, with deliveries that failed: the URL with a password points
    # at a closed loopback port now (the embedded backoffice delivers to loopback).
    monkeypatch.setenv("SWEEP_URL", f"http://ops:{URL_PASSWORDS[1]}@127.0.0.1:9/basic")
    monkeypatch.setenv("SWEEP_SIBS", SIBS[1])
    for args, code in delivery_commands(work):
        got = main(["--no-color", "--embedded", *args])
        out, err = capfd.readouterr()
        assert got == code, f"{args}: exit {got}\n{out}\n{err}"
        outputs.append((args, out + err))
        if args[0] == "deliveries" and "json" in args and "basic-auth-hook" in args:
            [failed] = json.loads(out)
            assert failed["history"][0]["error"]  # not vacuous: an error was recorded
            got = main(["--no-color", "--embedded", "resend", failed["id"], "-f", args[-1]])
            out, err = capfd.readouterr()
            assert got == 0, out + err
            outputs.append((["resend"], out + err))
    # A secret the backoffice generated, rotated, and shown during its grace.
    cfg = ["-f", str(work / "webhooks.yaml")]
    for args in (["secret", "rotate", "basic-auth-hook", *cfg],
                 ["secret", "rotate", "basic-auth-hook", "--format", "json", *cfg],
                 ["show", "basic-auth-hook", *cfg], ["show", "std-hook", "--format", "json", *cfg],
                 ["plan", *cfg], ["list", "--format", "json"]):
        got = main(["--no-color", "--embedded", *args])
        out, err = capfd.readouterr()
        assert got == 0, f"{args}: exit {got}\n{out}\n{err}"
        outputs.append((args, out + err))

    # secret reveal prints the secret asked for, alone; the audit log records the reveal.
    revealed = []
    for name, want in (("sibs-hook", SIBS[1]), ("std-hook", WHSEC[1])):
        got = main(["--no-color", "--embedded", "secret", "reveal", name, *cfg])
        out, err = capfd.readouterr()
        assert (got, out, err) == (0, want + "\n", ""), name
        revealed.append((want, out))
    for args, code in ((["secret", "reveal", "mail-hook"], 1), (["audit"], 0),
                       (["audit", "--format", "json", "--limit", "1000"], 0)):
        got = main(["--no-color", "--embedded", *args, *cfg])
        out, err = capfd.readouterr()
        assert got == code, f"{args}: exit {got}\n{out}\n{err}"
        outputs.append((args, out + err))
    audit_log = json.loads(outputs[-1][1])
    assert [e["target_name"] for e in audit_log if e["action"] == "secret.reveal"] == [
        "std-hook", "sibs-hook"]

    text = "\n".join(out for _, out in outputs)
    # Not vacuous: the secrets' places were shown, as fingerprints and redactions.
    assert "(sensitive value changed)" in text and "sha256:" in text
    assert "ops:***@hooks.shop.example" in text and "hooks.shop.example/in?***" in text
    assert "previous secret: sha256:" in text
    assert "secret does not fit" in text or "32 bytes" in text
    assert "are allowed only in a webhook's secret and url" in text  # leak.yaml refused
    assert "WEBHOOKS_API_TOKEN is one of this tool's own credentials" in text
    assert not (work / "leak-plan.json").exists()
    held = held_secrets(data_db := work / ".webhooks" / "backoffice.db")
    assert len(held) == 8  # 5 current (the e-mail webhook has none), 3 previous
    generated = generate_secrets(outputs)
    with Backoffice.open(f"sqlite:///{data_db}") as office:
        key = office.merchants.fingerprints("demo").reveal_key()
    for args, out in outputs:
        assert_clean(" ".join(args), out, [*SECRETS, *held, *generated, *key_forms(key)])
    for want, out in revealed:
        assert_clean("secret reveal", out, [s for s in [*SECRETS, *held, *generated,
                                                         *key_forms(key)] if s != want])
    for name, written in written_files(work).items():
        assert_clean(name, written, [*SECRETS, *key_forms(key)])
    assert crash_logs(work / "cache") == []
    for path in sorted(data_db.parent.glob("backoffice.db*")):
        content = path.read_bytes()
        assert_clean(path.name, content, [*SIBS, *WHSEC, *URL_PASSWORDS, *QUERY_TOKENS,
                                          REF_PASSWORD, UNKNOWN_TOKEN, *held, *key_forms(key)])
        assert_no_key_bytes(path.name, content)
        assert key not in content


# One process runs the CLI many times (main() per command, each with its own changes to
# the environment): the real HTTP provider and the real environment, at the cost of one
# interpreter start rather than one per command.
DRIVER = """
import json, os, sys
from reconciler.cli import main
base = dict(os.environ)
for args, code, env in json.loads(sys.argv[1]):
    os.environ.clear()
    os.environ.update({**base, **env})
    print("=== webhooks", args[0], flush=True)
    got = main(["--no-color", *args])
    sys.stdout.flush(); sys.stderr.flush()
    print(f"=== exit {got} (want {code})", flush=True)
"""
Step = tuple[list[str], int, dict[str, str]]


def drive(todo: list[Step], work: Path, env: dict[str, str]) -> str:
    """Run the steps in one driver process; returns its output (stdout and stderr)."""
    payload = json.dumps([(fill(args, work), code, extra) for args, code, extra in todo])
    result = subprocess.run([sys.executable, "-c", DRIVER, payload], env=env, cwd=work,
                            capture_output=True, text=True, timeout=120, check=False)
    codes = [line for line in result.stdout.splitlines() if line.startswith("=== exit")]
    wanted = [f"=== exit {code} (want {code})" for _, code, _ in todo]
    assert codes == wanted, result.stdout[-4000:] + result.stderr[-4000:]
    return result.stdout + result.stderr


@pytest.mark.slow
def test_http_outputs_server_log_crash_logs_and_database_hold_no_secret(
        tmp_path: Path, processes: Processes) -> None:
    work = tmp_path
    (work / "webhooks.yaml").write_text(CONFIG)
    db = work / "bo.db"
    manage, read = seed(db)
    secrets = [*SECRETS, manage, read, SMTP_PASSWORD]
    cache = {"XDG_CACHE_HOME": str(work / "cache")}
    # A relay that logs in (nothing listens there: e-mail deliveries fail, and are logged).
    server = Server(processes, db, work, debug=True,
                    env=api_env("", "", WEBHOOKS_SMTP_PASSWORD=SMTP_PASSWORD, **cache),
                    args=["--smtp-url", f"smtp+starttls://sweep@127.0.0.1:{free_port()}"])
    env = api_env(server.base, manage, **cache)
    outputs: list[str] = []

    outputs.append(drive([(a, c, {}) for a, c in commands(0)], work,
                         {**env, **use_secrets(work, 0)}))
    # The rotation through CLI processes of their own, then the rest through the driver:
    # generation 1, a wrong-sized key, and a read token (which may look but not apply).
    env = {**env, **use_secrets(work, 1)}
    for args in (["plan"], ["apply", "--auto-approve", "--format", "json"]):
        own = run_cli(*args, "-f", str(work / "webhooks.yaml"), env=env, cwd=work)
        assert own.returncode == 0, own.stderr
        outputs.append(own.stdout + own.stderr)
    (work / "changed.yaml").write_text(CONFIG.replace("[mbway, xpay]", "[xpay]"))
    as_reader = {"WEBHOOKS_API_TOKEN": read}
    output = drive([
        *[(a, c, {}) for a, c in commands(1)],
        *[(a, c, {"SWEEP_SIBS": BAD_KEY}) for a, c in BAD_SECRET_COMMANDS],
        (["plan", "-f", "{dir}/changed.yaml"], 0, as_reader), (["list"], 0, as_reader),
        (["show", "sibs-hook", "-f", "{dir}/changed.yaml"], 0, as_reader),
        (["apply", "-f", "{dir}/changed.yaml", "--auto-approve"], 1, as_reader),
        (["deliveries"], 0, as_reader), (["deliveries", "--format", "json"], 0, as_reader),
        (["recover", "sibs-hook", "--since", "1h"], 1, as_reader), (["deliver"], 0, {}),
        (["emit", "--terminal", "10001", "--type", "mb-reference", "--wait"], 0, {}),
        (["emit", "--terminal", "10001", "--scenario", "multibanco-reference-generation",
          "--wait", "--format", "json"], 0, {}),
        (["secret", "rotate", "basic-auth-hook"], 1, as_reader),
        (["secret", "rotate", "basic-auth-hook"], 0, {}),
        (["show", "basic-auth-hook"], 0, {}), (["show", "sibs-hook", "--format", "json"], 0, {}),
    ], work, env)
    assert "lacks the permission to manage webhooks" in output
    assert "`webhooks apply` needs a manage token" in output
    assert "WEBHOOKS_API_TOKEN is one of this tool's own credentials" in output
    outputs.append(output)
    # secret reveal: the secret asked for on stdout, alone; refused to a read token.
    revealed = run_cli("secret", "reveal", "std-hook", "-f", str(work / "webhooks.yaml"),
                       env=env, cwd=work)
    assert (revealed.returncode, revealed.stdout, revealed.stderr) == (0, WHSEC[1] + "\n", "")
    assert_clean("secret reveal", revealed.stdout, [s for s in secrets if s != WHSEC[1]])
    output = drive([
        (["secret", "reveal", "sibs-hook"], 1, as_reader),
        (["audit"], 0, as_reader), (["audit", "--format", "json"], 0, {}),
        (["token", "list", "--db", str(server.db_url)], 0, {}),
        (["token", "list", "--format", "json", "--db", str(server.db_url)], 0, {}),
    ], work, env)
    assert "secret.reveal" in output and "lacks the permission to reveal secrets" in output
    outputs.append(output)
    # An unknown token is refused, and not echoed.
    stranger = run_cli("plan", "-f", str(work / "webhooks.yaml"),
                       env={**env, "WEBHOOKS_API_TOKEN": UNKNOWN_TOKEN}, cwd=work)
    assert stranger.returncode == 1 and "rejected the API token" in stranger.stderr
    outputs.append(stranger.stdout + stranger.stderr)

    # Requests carrying secrets where a careless server would log them: the query, a
    # refused body, a bad token, a wrong-sized key.
    with httpx.Client(base_url=server.base, timeout=10,
                      headers={"Authorization": f"Bearer {manage}"}) as client:
        listed = client.get("/v1/webhooks", params={"webhook": SIBS[0]})
        assert listed.status_code == 200 and listed.json()["data"] == []
        hook_id = {w["name"]: w["id"]
                   for w in client.get("/v1/webhooks").json()["data"]}["sibs-hook"]
        assert client.patch(f"/v1/webhooks/{hook_id}",
                            json={"secret": BAD_KEY}).status_code == 422
        assert client.post("/v1/webhooks", json={
            "name": "refused", "type": "email", "email": "x@shop.example",
            "application": "merchant", "notifications": ["mbway"],
            "secret": WHSEC[0]}).status_code == 422
        assert client.get("/v1/webhooks", headers={
            "Authorization": f"Bearer {UNKNOWN_TOKEN}"}).status_code == 401
        assert client.patch(f"/v1/webhooks/{hook_id}", json={"secret": SIBS[0]},
                            headers={"If-Match": '"1"'}).status_code in (200, 412)
        # A token made and revoked over the API: shown once, in that answer only.
        made = client.post("/v1/tokens", json={"name": "sweep", "scope": "read"})
        assert made.status_code == 201
        api_token = made.json()["token"]
        secrets.append(api_token)
        assert client.delete(f"/v1/tokens/{made.json()['id']}").status_code == 200
        audit_log = client.get("/v1/audit", params={"limit": 1000}).text
        assert "token.create" in audit_log and "secret.reveal" in audit_log
        outputs.append(audit_log)
        # The key the providers fetched: in no output, log or file below.
        key = base64.b64decode(client.get("/v1/fingerprint-key").json()["key"])
        assert len(key) == 32

    # The database and its WAL while the server runs, then again after it stopped.
    at_rest = {p.name: p.read_bytes() for p in sorted(work.glob("bo.db*"))}
    assert "bo.db-wal" in at_rest
    assert server.stop() == 0
    at_rest["bo.db (after stop)"] = db.read_bytes()
    log = server.log_text()
    held = held_secrets(db)
    assert len(held) == 8  # 5 current (the e-mail webhook has none), 3 previous
    secrets += held
    secrets += generate_secrets([([f"output #{i}"], out) for i, out in enumerate(outputs)])

    text = "\n".join(outputs)
    assert "(sensitive value changed)" in text and "ops:***@hooks.shop.example" in text
    assert "hooks.shop.example/in?***" in text
    assert "Rotated the secret of basic-auth-hook: sha256:" in text
    assert "POST /v1/webhooks 201" in log and "PATCH /v1/webhooks/" in log
    assert "GET /v1/fingerprint-key 200" in log  # not vacuous: the providers fetched it
    assert "/secret:rotate 200" in log
    secrets += key_forms(key)
    for i, out in enumerate(outputs):
        assert_clean(f"output #{i}", out, secrets)
    for name, written in written_files(work).items():
        assert_clean(name, written, secrets)
    assert_clean("server log", log, secrets)
    assert crash_logs(work / "cache") == []
    for name, content in at_rest.items():
        assert_clean(name, content, [*SIBS, *WHSEC, *URL_PASSWORDS, *QUERY_TOKENS, REF_PASSWORD,
                                     BAD_KEY, UNKNOWN_TOKEN, manage, read, SMTP_PASSWORD,
                                     api_token, *held, *key_forms(key)])
        assert_no_key_bytes(name, content)
        assert key not in content


def test_a_url_password_is_not_stored_in_clear(tmp_path: Path) -> None:
    office = Backoffice.open(f"sqlite:///{tmp_path / 'bo.db'}")
    try:
        office.webhooks.create_webhook("demo", {
            "name": "basic", "type": "url", "application": "merchant",
            "url": f"https://ops:{URL_PASSWORDS[0]}@hooks.shop.example/basic",
            "notifications": ["mbway"]})
    finally:
        office.close()
    content = b"".join(p.read_bytes() for p in tmp_path.glob("bo.db*"))
    assert_clean("database", content, [URL_PASSWORDS[0]])


# --- the web pages -----------------------------------------------------------------------------

def test_every_web_page_holds_no_secret(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Every page, as a manage and as a read session, after secrets went through the
    wizard, the edit form and a test-fire: none shows a secret, a URL password, a token or
    a session id. The one secret a page shows is the one the wizard generated, once, on
    its no-store page, and on no other."""
    import asyncio
    import re

    from backoffice.http.api import create_app
    from tests.support.receivers import Receiver
    from tests.support.web import get, post, session_for, state_of

    receiver = Receiver(sibs_secret=SIBS[0], whsec=WHSEC[0])
    office = Backoffice.open(f"sqlite:///{tmp_path / 'bo.db'}", allow_private_targets=True)
    manage_token = office.tokens.create_token("demo", "manage")
    read_token = office.tokens.create_token("demo", "read")
    manage = session_for(office, manage_token)
    read = session_for(office, read_token)
    secrets = [*SECRETS, manage_token, read_token, manage.cookie, read.cookie]
    with_password = f"https://ops:{URL_PASSWORDS[0]}@hooks.shop.example/basic"
    std = office.webhooks.create_webhook("demo", {
        "name": "std", "type": "url", "url": receiver.url("/std"), "format": "standard-webhooks",
        "secret": WHSEC[0], "application": "merchant", "notifications": ["mbway"]})
    basic = office.webhooks.create_webhook("demo", {
        "name": "basic", "type": "url", "url": with_password, "secret": SIBS[0],
        "application": "merchant", "notifications": ["mbway"],
        "labels": {"managed-by": "webhooks-reconciler", "owner": "sweep-team"}})
    pages: dict[str, str] = {}
    generated: list[str] = []

    async def visit() -> None:
        transport = httpx.ASGITransport(app=create_app(office))
        async with httpx.AsyncClient(transport=transport, base_url="http://bo.test") as web:
            async def step(page: httpx.Response, n: int, **fields: object) -> httpx.Response:
                return await post(web, "/webhooks/new", manage, {
                    "state": state_of(page.text), "step": str(n), "action": "next", **fields})

            # The wizard twice: the user's own secret and URL password, then a generated one.
            for own in (True, False):
                page = await get(web, "/webhooks/new", manage)
                steps = [page]
                page = await step(page, 1, type="url", name="own" if own else "gen")
                steps.append(page)
                page = await step(page, 2, url=with_password.replace("basic", "w"))
                steps.append(page)
                page = await step(page, 3, application="merchant")
                page = await step(page, 4, notifications=["mbway"])
                page = await step(page, 5, format="standard-webhooks",
                                  secret_mode="own" if own else "generate",
                                  secret=WHSEC[1] if own else "")
                steps.append(page)
                page = await step(page, 6, support_email="ops@shop.example")
                assert page.status_code == 201, page.text
                if not own:
                    found = re.search(r'id="generated-secret" class="secret-value">([^<]+)<',
                                      page.text)
                    assert found and page.headers["cache-control"] == "no-store"
                    generated.append(found.group(1))
                    pages["the created page"] = page.text.replace(found.group(1), "")
                for i, shown in enumerate(steps):
                    pages[f"wizard {own} step {i}"] = shown.text
            # A new secret through the edit form: refused (wrong size), then accepted.
            edit = f"/webhooks/{basic['id']}/edit"
            form = {"version": "1", "url": "https://ops:***@hooks.shop.example/basic",
                    "format": "sibs", "application": "merchant", "notifications": ["mbway"],
                    "drift_ok": "yes", "enabled": "on"}
            pages["edit refused"] = (await post(web, edit, manage,
                                                {**form, "secret": BAD_KEY})).text
            pages["edit saved"] = (await post(web, edit, manage,
                                              {**form, "secret": SIBS[1]})).text
            pages["test-fire"] = (await post(web, f"/webhooks/{std['id']}/test", manage,
                                             {"notification": "mbway"})).text
            assert "Delivered:" in pages["test-fire"]
            pages["failed sign-in"] = (await web.post("/login", data={
                "csrf": "x", "token": UNKNOWN_TOKEN})).text
            ids = [w["id"] for w in office.webhooks.list_webhooks("demo").data]
            for who, signed in (("manage", manage), ("read", read)):
                for path in ["/login", "/webhooks", "/webhooks/new",
                             *(f"/webhooks/{i}{tail}" for i in ids
                               for tail in ("", "/edit", "/delete", "/test", "/deliveries"))]:
                    pages[f"{who} {path}"] = (await get(web, path, signed)).text

    try:
        asyncio.run(visit())
    finally:
        receiver.close()
        office.close()
    assert len(generated) == 1 and len(pages) > 40
    assert "ops:***@hooks.shop.example" in pages["manage /webhooks"]  # not vacuous
    for name, text in pages.items():
        assert_clean(name, text, [*secrets, *generated])
    assert_clean("the log", caplog.text, [*secrets, *generated])
    content = b"".join(p.read_bytes() for p in tmp_path.glob("bo.db*"))
    assert_clean("database", content, [*secrets, *generated])
def test_refused_api_settings_and_private_targets_never_echo_a_secret(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capfd: pytest.CaptureFixture[str]) -> None:
    # The refusals strict inputs added: credentials in the API URL (which once replaced the
    # bearer token), plain http beyond loopback, a token no header can carry, and a URL
    # with a password at a private address (a warning offline, an error from a backoffice
    # that refuses private targets, a 422 from it).
    work = tmp_path
    monkeypatch.setenv("XDG_CACHE_HOME", str(work / "cache"))
    (work / "webhooks.yaml").write_text(CONFIG)
    private = f"https://ops:{URL_PASSWORDS[0]}@10.0.0.5/basic"
    for name, value in {**use_secrets(work, 0), "SWEEP_URL": private}.items():
        monkeypatch.setenv(name, value)
    cfg = ["-f", str(work / "webhooks.yaml")]
    runs: list[tuple[list[str], dict[str, str], int]] = [
        (["list"], {"WEBHOOKS_API_URL": f"https://ops:{URL_PASSWORDS[1]}@127.0.0.1:9"}, 1),
        (["list"], {"WEBHOOKS_API_URL": f"https://{UNKNOWN_TOKEN}@hooks.shop.example"}, 1),
        (["list"], {"WEBHOOKS_API_URL": f"http://hooks.shop.example/{UNKNOWN_TOKEN}"}, 1),
        (["plan", *cfg], {"WEBHOOKS_API_URL": "http://127.0.0.1:9",
                          "WEBHOOKS_API_TOKEN": UNKNOWN_TOKEN + "é"}, 1),
        (["validate", "--offline", *cfg], {}, 0),
        (["validate", *cfg], {}, 0),  # the embedded backoffice allows private targets
    ]
    outputs = []
    for args, env, code in runs:
        with monkeypatch.context() as scoped:
            for name, value in env.items():
                scoped.setenv(name, value)
            got = main(["--no-color", *args])
        out, err = capfd.readouterr()
        assert got == code, f"{args} {env}: exit {got}\n{out}\n{err}"
        outputs.append(out + err)
    text = "\n".join(outputs)
    assert "must not hold credentials" in text and "is not an API token" in text
    # Not vacuous: the offline warning was given, naming nothing of a URL from a reference
    # (not even its host).
    assert "its host is a literal address that is not public" in text
    assert "10.0.0.5" not in text
    office = Backoffice.open(f"sqlite:///{work / 'refusing.db'}")  # refuses private targets
    try:
        from backoffice.errors import Invalid

        with pytest.raises(Invalid) as refused:
            office.webhooks.create_webhook("demo", {
                "name": "basic", "type": "url", "url": private, "application": "merchant",
                "notifications": ["mbway"]})
        outputs.append(refused.value.detail)
    finally:
        office.close()
    for i, out in enumerate(outputs):
        assert_clean(f"output #{i}", out, [*SECRETS, UNKNOWN_TOKEN + "é"])
    assert crash_logs(work / "cache") == []
