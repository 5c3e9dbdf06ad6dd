"""A real receiver for delivery tests: our own `webhooks listen` app, served by uvicorn on a
free 127.0.0.1 port in a background thread, keeping every line it printed."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import uvicorn

from backoffice.facade import Backoffice
from reconciler.commands.listen import bind
from reconciler.receiver import Format, create_receiver

SIBS_SECRET = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
OTHER_SIBS_SECRET = "HxcbGhkYFxYVFBMSERAPDg0MCwoJCAcGBQQDAgEAAAA="
WHSEC = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
OTHER_WHSEC = "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd"
SECRETS = (SIBS_SECRET, OTHER_SIBS_SECRET, WHSEC, OTHER_WHSEC)


class Receiver:
    """One `webhooks listen` app on loopback; ``out``/``err`` hold what it printed."""

    def __init__(self, secret: str, fmt: Format, path: str = "/hooks") -> None:
        self.out: list[str] = []
        self.err: list[str] = []
        app = create_receiver(secret, fmt=fmt, path=path, out=self.out.append,
                              err=self.err.append)
        sock = bind("127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}{path}"
        config = uvicorn.Config(app, log_config=None, log_level="warning", access_log=False,
                                lifespan="off", ws="none", timeout_graceful_shutdown=1)
        self.server = uvicorn.Server(config)
        self._sock = sock
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]},
                                       daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the receiver did not start")
            time.sleep(0.01)

    @property
    def printed(self) -> str:
        return "\n".join(self.out + self.err)

    def close(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self._sock.close()


def delivering_backoffice(path: Path) -> Backoffice:
    """A backoffice (for the HTTP API in-process) that may deliver to loopback receivers."""
    return Backoffice.open(f"sqlite:///{path}", allow_private_targets=True)


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in text
            assert secret.removeprefix("whsec_") not in text
