"""Secrets at rest: the server key and sealing (AES-256-GCM).

A webhook URL's credentials (``https://user:pass@host/...``) are a secret too: the
stored and returned URL is redacted (``https://user:***@host/...``), the full one is
sealed like a secret, and the API shows ``url_fingerprint`` in its place (the rules
and fingerprints are the contract's: ``contract.urls``, ``contract.fingerprints``).

Webhook secrets are sealed with the server key before they reach the database and
bound to their webhook id (the AEAD's associated data), so a ciphertext copied onto
another row does not open. The key lives in ``<data dir>/server.key`` (0600, created
on first use) unless ``WEBHOOKS_SERVER_KEY`` gives it (base64 of 32 bytes).
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from backoffice.errors import SetupError
from contract import private_files
from contract.formats.base import b64_canonical

KEY_FILE_NAME: Final = "server.key"
ENV_SERVER_KEY: Final = "WEBHOOKS_SERVER_KEY"

_SEAL_VERSION: Final = b"\x01"
_SEAL_AAD: Final = b"webhooks-backoffice/secret/v1\x00"
_NONCE_BYTES: Final = 12


def decode_server_key(text: str, source: str) -> bytes:
    raw = b64_canonical(text.strip())
    if raw is None or len(raw) != 32:
        raise SetupError(f"{source} must hold the standard base64 of exactly 32 random bytes")
    return raw


def load_server_key(data_dir: Path | None, env: Mapping[str, str] | None = None) -> bytes:
    """The key from the environment, else ``data_dir/server.key`` (created when absent)."""
    env = os.environ if env is None else env
    if env.get(ENV_SERVER_KEY):
        return decode_server_key(env[ENV_SERVER_KEY], ENV_SERVER_KEY)
    if data_dir is None:
        raise SetupError(
            f"no server key: set {ENV_SERVER_KEY} (base64 of 32 bytes) or give a data directory"
        )
    path = data_dir / KEY_FILE_NAME
    if not path.exists():
        _create_key_file(path)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise SetupError(
            f"the server key {path} is readable by others (mode {mode:o}); run: chmod 600 {path}"
        )
    return decode_server_key(path.read_text("ascii", errors="replace"), f"the server key {path}")


def _create_key_file(path: Path) -> None:
    """Write the key to a private temp file, then link it into place: two processes
    starting at once never see a half-written key, and the loser reads the winner's."""
    private_files.make_folder(path.parent)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    private_files.write_file(tmp, base64.b64encode(secrets.token_bytes(32)) + b"\n", sync=True)
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink()


class SecretBox:
    """Seals and opens webhook secrets with the server key; never shows the key."""

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise SetupError("the server key must be 32 bytes")
        self._aead = AESGCM(key)
        # Recorded in the database so a different key is caught at start, not at delivery.
        self.key_id = hashlib.sha256(b"webhooks-backoffice/key-id/v1\x00" + key).hexdigest()[:16]

    def __repr__(self) -> str:
        return f"SecretBox(key_id={self.key_id!r})"

    def seal(self, secret: str, *, context: str) -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, secret.encode("utf-8"), _SEAL_AAD + context.encode())
        return _SEAL_VERSION + nonce + sealed

    def open(self, blob: bytes, *, context: str) -> str:
        if blob[:1] != _SEAL_VERSION:
            raise SetupError("a stored secret has an unknown encryption version")
        nonce, sealed = blob[1:1 + _NONCE_BYTES], blob[1 + _NONCE_BYTES:]
        try:
            plain = self._aead.decrypt(nonce, sealed, _SEAL_AAD + context.encode())
        except InvalidTag:
            raise SetupError("a stored secret does not open with the server key") from None
        return plain.decode("utf-8")
