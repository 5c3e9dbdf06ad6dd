"""Support summaries: one e-mail per support address per period, from the configured sender,
through a real SMTP server on loopback (aiosmtpd) with STARTTLS (a certificate made here)
and AUTH LOGIN or PLAIN; the password never shows in a log or an output."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import ipaddress
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from backoffice import Backoffice
from backoffice.delivery.settings import DeliverySettings
from tests.support.backoffice import Clock, loopback_resolver, url_webhook
from tests.support.env import clean_env
from tests.support.processes import Processes, free_port
from tests.support.receivers import Receiver
from tests.support.secrets import SIBS_SECRET
from tests.support.serve import Server, run_cli, seed

USER = "relay-user"
PASSWORD = "Smtp-sweep-Pw-5e1f9c0a7b"  # a test value; searched for in every output
SENDER = "payments-alerts@shop.example"
PATIENCE = 30.0  # a safety net for a broken server, never a measure of speed


class Inbox:
    """An aiosmtpd handler keeping every message it accepts (from any thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.messages: list[tuple[list[str], EmailMessage]] = []
        self.logins: list[tuple[str, str]] = []  # (mechanism, user) of accepted logins

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        with self._lock:
            self.messages.append((list(envelope.rcpt_tos), parsed))
        return "250 OK"

    def authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str,
                     auth_data: Any) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        user, password = auth_data.login.decode(), auth_data.password.decode()
        if (user, password) != (USER, PASSWORD):
            return AuthResult(success=False, handled=False)
        with self._lock:
            self.logins.append((mechanism, user))
        return AuthResult(success=True)

    def received(self) -> list[tuple[list[str], EmailMessage]]:
        with self._lock:
            return list(self.messages)


def make_certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost: (certificate, key) files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test relay")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"),
                x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = folder / "relay.pem", folder / "relay.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


class Relay:
    """aiosmtpd on a free loopback port: STARTTLS required before AUTH and mail."""

    def __init__(self, folder: Path, *, exclude: tuple[str, ...] = ()) -> None:
        self.inbox = Inbox()
        self.cert, key = make_certificate(folder)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, key)
        self.port = free_port()
        self.controller = Controller(
            self.inbox, hostname="127.0.0.1", port=self.port, tls_context=context,
            require_starttls=True, authenticator=self.inbox.authenticate,
            auth_required=True, auth_require_tls=True, auth_exclude_mechanism=list(exclude))
        self.controller.start()

    def close(self) -> None:
        self.controller.stop()


@pytest.fixture
def relay(tmp_path: Path) -> Iterator[Relay]:
    started = Relay(tmp_path)
    yield started
    started.close()


def wait_for(predicate: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + PATIENCE
    while not predicate():
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.02)


def body_of(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def test_one_summary_per_support_address_from_the_configured_sender(tmp_path: Path) -> None:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    receiver = Receiver(script=["500"])
    try:
        delivery = DeliverySettings(resolver=loopback_resolver, timeout_s=2.0,
                                    allow_private_targets=True, retry_schedule=(),
                                    smtp_url=f"smtp://127.0.0.1:{port}", mail_from=SENDER)
        with Backoffice.open(f"sqlite:///{tmp_path / 'bo.db'}", delivery=delivery,
                             clock=Clock()) as office:
            hooks = [office.webhooks.create_webhook("demo", url_webhook(
                name, url=receiver.url(f"/{name}"), secret=SIBS_SECRET, support_email=support))
                for name, support in [("orders", "ops@shop.example"),
                                      ("refunds", "ops@Shop.Example"),  # the same mailbox
                                      ("payouts", "finance@shop.example"),
                                      ("quiet", None)]]
            office.deliveries.emit_notification("demo", {"terminal": "10001", "type": "mbway"})
            assert office.deliveries.deliver_due() == 4
            assert office.deliveries.send_support_summaries() == 2
            assert office.deliveries.send_support_summaries(force=True) == 0  # all told
    finally:
        receiver.close()
        controller.stop()
    by_address = {tuple(rcpt): message for rcpt, message in inbox.messages}
    assert set(by_address) == {("ops@shop.example",), ("finance@shop.example",)}
    ops, finance = by_address[("ops@shop.example",)], by_address[("finance@shop.example",)]
    assert ops["From"] == finance["From"] == SENDER
    assert ops["Subject"] == "Webhooks orders, refunds: 2 failed deliveries (2 given up)"
    assert finance["Subject"] == "Webhook payouts: 1 failed delivery (1 given up)"
    text = body_of(ops)
    assert hooks[0]["id"] in text and hooks[1]["id"] in text and "HTTP 500" in text
    assert hooks[2]["id"] not in text and hooks[3]["id"] not in text
    assert hooks[2]["id"] in body_of(finance)


def _serve_mail(tmp_path: Path, processes: Processes, relay: Relay, *, args: list[str],
                env: dict[str, str]) -> tuple[Server, list[dict[str, Any]]]:
    """A real serve sending summaries through ``relay``; two failing webhooks share
    one support address, and one notification fails on both."""
    db = tmp_path / "bo.db"
    token, _ = seed(db)
    server = Server(processes, db, tmp_path, env=env, args=[
        "--allow-private-targets", "--retry-schedule", "", "--worker-interval", "0.05",
        "--summary-interval", "1", "--mail-from", SENDER,
        "--smtp-url", f"smtp://{USER}@127.0.0.1:{relay.port}", *args])
    receiver = Receiver(script=["500"])
    hooks = []
    try:
        with httpx.Client(base_url=server.base, timeout=30,
                          headers={"Authorization": f"Bearer {token}"}) as client:
            for name in ("orders", "refunds"):
                created = client.post("/v1/webhooks", json=url_webhook(
                    name, url=receiver.url(f"/{name}"), secret=SIBS_SECRET,
                    support_email="ops@shop.example"))
                assert created.status_code == 201, created.text
                hooks.append(created.json())
            emitted = client.post("/v1/notifications",
                                  json={"terminal": "10001", "type": "mbway"})
            assert emitted.status_code == 201, emitted.text
            wait_for(lambda: len(receiver.received) == 2, "both deliveries attempted")
    finally:
        receiver.close()
    return server, hooks


@pytest.mark.slow
@pytest.mark.parametrize("how", ["environment+PLAIN", "file+LOGIN"])
def test_serve_sends_summaries_over_starttls_with_auth(tmp_path: Path, processes: Processes,
                                                      how: str) -> None:
    source, mechanism = how.split("+")
    relay = Relay(tmp_path, exclude=("LOGIN",) if mechanism == "PLAIN" else ("PLAIN",))
    try:
        if source == "environment":  # the CA from SSL_CERT_FILE, the password from the env
            env = clean_env(WEBHOOKS_SMTP_PASSWORD=PASSWORD, SSL_CERT_FILE=str(relay.cert))
            args = ["--smtp-starttls"]
        else:
            secret_file = tmp_path / "smtp.password"
            secret_file.write_text(PASSWORD + "\n")
            env = clean_env()
            args = ["--smtp-starttls", "--smtp-password-file", str(secret_file),
                    "--smtp-ca-file", str(relay.cert)]
        server, hooks = _serve_mail(tmp_path, processes, relay, args=args, env=env)
        wait_for(lambda: bool(relay.inbox.received()), "a support summary")
        assert server.stop() == 0
    finally:
        relay.close()
    (rcpt, message), = relay.inbox.received()
    assert rcpt == ["ops@shop.example"] and message["From"] == SENDER
    assert message["Subject"] == "Webhooks orders, refunds: 2 failed deliveries (2 given up)"
    text = body_of(message)
    assert all(hook["id"] in text for hook in hooks)
    assert relay.inbox.logins == [(mechanism, USER)]
    log = server.log_text()
    assert "sent 1 support summary" in log
    assert f"smtp+starttls://{USER}@127.0.0.1:{relay.port}" in log  # where mail goes
    assert PASSWORD not in log and PASSWORD not in str(message)
    assert PASSWORD.encode() not in server.db_path.read_bytes()


@pytest.mark.slow
def test_a_wrong_password_is_a_clear_error_that_never_shows_it(
        tmp_path: Path, processes: Processes, relay: Relay) -> None:
    wrong = PASSWORD + "-wrong"
    env = clean_env(WEBHOOKS_SMTP_PASSWORD=wrong)
    server, _ = _serve_mail(tmp_path, processes, relay, env=env,
                            args=["--smtp-starttls", "--smtp-ca-file", str(relay.cert)])
    wait_for(lambda: "support summary for webhook(s)" in server.log_text(),
             "the failed summary logged")
    assert server.stop() == 0
    log = server.log_text()
    assert f"the SMTP relay refused the login of user '{USER}' (535" in log
    assert "check WEBHOOKS_SMTP_PASSWORD or --smtp-password-file" in log
    assert wrong not in log and PASSWORD not in log
    assert relay.inbox.received() == [] and relay.inbox.logins == []


@pytest.mark.slow
@pytest.mark.parametrize(("args", "env", "says"), [
    (["--smtp-url", f"smtp://{USER}@mail.shop.example:587"], {},
     "names the user 'relay-user' but no password was given"),
    (["--smtp-url", f"smtp://{USER}@mail.shop.example:587"], {"WEBHOOKS_SMTP_PASSWORD": PASSWORD},
     "would be sent unencrypted"),
    (["--smtp-url", f"smtp://{USER}:{PASSWORD}@mail.shop.example:587"], {},
     "must not carry a password"),
    (["--smtp-starttls"], {}, "need --smtp-url"),
    (["--mail-from", "not an address"], {}, "--mail-from 'not an address' must be an e-mail"),
    (["--smtp-url", f"smtp+starttls://{USER}@mail.shop.example:587",
      "--smtp-password-file", "missing.password"], {"WEBHOOKS_SMTP_PASSWORD": PASSWORD},
     "the SMTP password is given twice"),
])
def test_serve_refuses_mail_settings_that_do_not_go_together(
        tmp_path: Path, args: list[str], env: dict[str, str], says: str) -> None:
    result = run_cli("serve", "--port", str(free_port()), "--db",
                     f"sqlite:///{tmp_path / 'bo.db'}", *args, env=clean_env(**env),
                     cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert says in result.stderr
    assert PASSWORD not in result.stdout + result.stderr


def test_the_default_sender_on_localhost_may_be_given_again() -> None:
    from reconciler.commands.serve import delivery_settings
    from reconciler.errors import ReconcilerError

    assert delivery_settings(mail_from="webhooks-backoffice@localhost").mail_from == \
        "webhooks-backoffice@localhost"
    with pytest.raises(ReconcilerError, match="--mail-from"):
        delivery_settings(mail_from="not-an-address")
