"""Secrets: the server key, encryption at rest (AES-256-GCM), fingerprints, generation.

A webhook URL's credentials (``https://user:pass@host/...``) are a secret too: the
stored and returned URL is redacted (``https://user:***@host/...``), the full one is
sealed like a secret, and the API shows ``url_fingerprint`` in its place.

Webhook secrets are sealed with the server key before they reach the database and
bound to their webhook id (the AEAD's associated data), so a ciphertext copied onto
another row does not open. The key lives in ``<data dir>/server.key`` (0600, created
on first use) unless ``WEBHOOKS_SERVER_KEY`` gives it (base64 of 32 bytes).
"""

from __future__ import annotations

import base64
import binascii
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

KEY_FILE_NAME: Final = "server.key"
ENV_SERVER_KEY: Final = "WEBHOOKS_SERVER_KEY"
SECRET_FORMATS: Final = ("sibs", "standard-webhooks")

_SEAL_VERSION: Final = b"\x01"
_SEAL_AAD: Final = b"webhooks-backoffice/secret/v1\x00"
_NONCE_BYTES: Final = 12
_WHSEC: Final = "whsec_"


def secret_fingerprint(secret: str) -> str:
    """The public fingerprint of a secret (the reconciler computes the same formula)."""
    digest = hashlib.sha256(b"webhooks-reconciler/secret/v1\x00" + secret.encode("utf-8"))
    return "sha256:" + digest.hexdigest()[:16]


# The URL fingerprint: PBKDF2-HMAC-SHA256 of the whole URL as given, salt
# b"webhooks-reconciler/url/v1", 20,000 rounds, shown as "sha256:" + 16 hex digits. The
# reconciler computes the same documented formula (a test checks they agree). Iterated,
# unlike the secret's: a URL password may be weak, and the fingerprint is public.
_URL_FINGERPRINT_SALT: Final = b"webhooks-reconciler/url/v1"
_URL_FINGERPRINT_ROUNDS: Final = 20_000


def _url_userinfo(url: str) -> tuple[str, str, str] | None:
    """``(before the userinfo, the userinfo, from the host on)``, or None without one."""
    sep = url.find("://")
    if sep <= 0:
        return None
    start = sep + 3
    end = len(url)
    for ch in "/?#":
        i = url.find(ch, start, end)
        if i != -1:
            end = i
    at = url.rfind("@", start, end)
    if at == -1:
        return None
    return url[:start], url[start:at], url[at + 1:]


def url_has_credentials(url: str | None) -> bool:
    """True when the URL carries userinfo (``user[:password]@``): it is then sealed."""
    return url is not None and "@" in url and _url_userinfo(url) is not None


def redact_url(url: str) -> str:
    """The URL with its password (or a bare user, often a token) replaced by ``***``.

    The same rule as the reconciler's: ``user:***@`` when there is a user and a
    password, else ``***@``.
    """
    parts = _url_userinfo(url)
    if parts is None:
        return url
    head, userinfo, rest = parts
    user, colon, _ = userinfo.partition(":")
    shown = f"{user}:***" if colon and user else "***"
    return f"{head}{shown}@{rest}"


def url_fingerprint(url: str) -> str:
    """The public fingerprint of a URL with credentials (the reconciler's formula)."""
    digest = hashlib.pbkdf2_hmac("sha256", url.encode("utf-8"), _URL_FINGERPRINT_SALT,
                                 _URL_FINGERPRINT_ROUNDS)
    return "sha256:" + digest.hex()[:16]


def _b64_strict(text: str) -> bytes | None:
    """Standard base64 in canonical form only, so one key has one spelling (and fingerprint)."""
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        return None
    return raw if base64.b64encode(raw).decode("ascii") == text else None


def secret_problem(fmt: str, secret: str) -> str | None:
    """Why ``secret`` does not fit delivery format ``fmt`` (never quoting it), or None."""
    if fmt == "sibs":
        raw = _b64_strict(secret)
        if raw is None or len(raw) != 32:
            return ("a sibs secret must be the standard base64 of exactly 32 bytes "
                    "(an AES-256 key: 44 characters ending in '=')")
        return None
    if fmt == "standard-webhooks":
        raw = _b64_strict(secret[len(_WHSEC):]) if secret.startswith(_WHSEC) else None
        if raw is None or not 24 <= len(raw) <= 64:
            return ("a standard-webhooks secret must be 'whsec_' followed by the "
                    "standard base64 of 24 to 64 bytes")
        return None
    return f"unknown format {fmt!r}"


def generate_secret(fmt: str) -> str:
    """A fresh random secret of 32 bytes in the spelling ``fmt`` expects."""
    encoded = base64.b64encode(secrets.token_bytes(32)).decode("ascii")
    return _WHSEC + encoded if fmt == "standard-webhooks" else encoded


def decode_server_key(text: str, source: str) -> bytes:
    raw = _b64_strict(text.strip())
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
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, base64.b64encode(secrets.token_bytes(32)) + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
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
