"""Secrets at rest: the server key ring and sealing (AES-256-GCM).

A webhook URL's credentials (``https://user:pass@host/...``, or a query string) are a
secret too: the stored and returned URL is redacted (``https://user:***@host/...?***``),
the full one is sealed like a secret, and the API shows ``url_fingerprint`` in its place
(the rules and fingerprints are the contract's: ``contract.urls``,
``contract.fingerprints``). Each merchant's fingerprint key is sealed the same way.

Values are sealed with the server key before they reach the database and bound to
their row (the AEAD's associated data), so a ciphertext copied onto another row does not
open. The key lives in ``<data dir>/server.key`` (0600, created on first use) unless
``WEBHOOKS_SERVER_KEY`` gives it (base64 of 32 bytes).

**The key ring.** ``server.key`` may hold several keys, one per line: the first seals,
every one opens (``WEBHOOKS_SERVER_KEY`` likewise, comma-separated). A sealed value
names the key that sealed it (format 2: ``0x02``, the key's 8-byte id, a 12-byte nonce,
the ciphertext and tag; format 1, from before key rings, is ``0x01``, nonce, ciphertext,
and opens with whichever key of the ring fits). A running server re-reads the file when
it changes (it looks before every seal, and when it meets a key id it does not know), so
``webhooks backoffice rotate-key`` can put a new key first, re-seal every value under it
and drop the old one while servers keep serving: a key once read stays in the server's
memory until it stops, so a value read just before its re-sealing still opens.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import secrets
import stat
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from backoffice.errors import SetupError
from contract import private_files
from contract.formats.base import b64_canonical

KEY_FILE_NAME: Final = "server.key"
ENV_SERVER_KEY: Final = "WEBHOOKS_SERVER_KEY"

_SEAL_V1: Final = b"\x01"  # no key id: sealed before key rings
_SEAL_V2: Final = b"\x02"  # the sealing key's id follows
_SEAL_AAD: Final = b"webhooks-backoffice/secret/v1\x00"
_NONCE_BYTES: Final = 12
_ID_BYTES: Final = 8
log = logging.getLogger("backoffice.keys")


def key_id(key: bytes) -> str:
    """A key's public id (16 hex digits): recorded in the database and in sealed values."""
    return hashlib.sha256(b"webhooks-backoffice/key-id/v1\x00" + key).hexdigest()[:16]


def decode_server_key(text: str, source: str) -> bytes:
    raw = b64_canonical(text.strip())
    if raw is None or len(raw) != 32:
        raise SetupError(f"{source} must hold the standard base64 of exactly 32 random bytes")
    return raw


def parse_ring(text: str, source: str, *, separator: str | None = None) -> list[bytes]:
    """The keys of a ring, the sealing one first: one per line (or per ``separator``);
    blank lines are skipped. Errors name the line, never its content."""
    parts = text.split(separator) if separator else text.splitlines()
    keys = []
    for number, part in enumerate(parts, 1):
        if part.strip():
            where = source if len(parts) == 1 else f"{source} (key {number})"
            keys.append(decode_server_key(part, where))
    if not keys:
        raise SetupError(f"{source} holds no key")
    return keys


def encode_ring(keys: Sequence[bytes]) -> bytes:
    """The text of a key file: one standard base64 key per line, the sealing one first."""
    return b"".join(base64.b64encode(key) + b"\n" for key in keys)


def load_server_key(data_dir: Path | None, env: Mapping[str, str] | None = None) -> bytes:
    """The key that seals: from the environment, else ``data_dir/server.key`` (created
    when absent)."""
    return load_ring(data_dir, env).primary_key()


def key_file(data_dir: Path | None, env: Mapping[str, str] | None = None) -> Path | None:
    """The key file the ring is read from, or None when the environment gives the keys."""
    env = os.environ if env is None else env
    if env.get(ENV_SERVER_KEY) or data_dir is None:
        return None
    return data_dir / KEY_FILE_NAME


def load_ring(data_dir: Path | None, env: Mapping[str, str] | None = None) -> KeyRing:
    """The ring from ``WEBHOOKS_SERVER_KEY``, else ``data_dir/server.key`` (created with
    one new key when absent, and re-read by the ring whenever it changes)."""
    env = os.environ if env is None else env
    if env.get(ENV_SERVER_KEY):
        return KeyRing(parse_ring(env[ENV_SERVER_KEY], ENV_SERVER_KEY, separator=","))
    if data_dir is None:
        raise SetupError(
            f"no server key: set {ENV_SERVER_KEY} (base64 of 32 bytes) or give a data directory"
        )
    path = data_dir / KEY_FILE_NAME
    if not path.exists():
        _create_key_file(path)
    keys, signature = read_key_file(path)
    return KeyRing(keys, path=path, signature=signature)


def read_key_file(path: Path) -> tuple[list[bytes], tuple[int, ...]]:
    """The keys of a key file and what identifies this version of the file; refuses a
    file others may read."""
    with path.open("rb") as handle:
        info = os.fstat(handle.fileno())
        mode = stat.S_IMODE(info.st_mode)
        if mode & 0o077:
            raise SetupError(f"the server key {path} is readable by others (mode {mode:o}); "
                             f"run: chmod 600 {path}")
        text = handle.read(64 * 1024).decode("ascii", errors="replace")
    return (parse_ring(text, f"the server key {path}"),
            (info.st_ino, info.st_size, info.st_mtime_ns))


def write_key_file(path: Path, keys: Sequence[bytes]) -> None:
    """Replace the key file at once (a private temp file, synced, renamed over it): a
    reader sees the old ring or the new one, never half of one."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        try:
            os.fchmod(fd, 0o600)
            os.write(fd, encode_ring(keys))
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


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


class KeyRing:
    """The server's keys by id: the first of the source seals, every key ever read opens.

    With a key file, the ring looks at the file (one ``stat``) before each seal and when
    a value names an unknown key, and re-reads it when it changed: the file's first key
    then seals, and the keys it no longer lists still open here (they stay in memory).
    """

    def __init__(self, keys: Sequence[bytes], *, path: Path | None = None,
                 signature: tuple[int, ...] | None = None) -> None:
        if not keys or any(len(k) != 32 for k in keys):
            raise SetupError("the server key must be 32 bytes")
        self._path = path
        self._signature = signature
        self._lock = threading.Lock()
        self._keys: dict[bytes, tuple[bytes, AESGCM]] = {}
        self._primary = b""
        self._install(keys)

    def __repr__(self) -> str:
        return f"KeyRing(sealing={self.primary_id!r}, keys={len(self._keys)})"

    def _install(self, keys: Sequence[bytes]) -> None:
        known = dict(self._keys)
        for key in keys:
            known.setdefault(bytes.fromhex(key_id(key)), (key, AESGCM(key)))
        self._keys = known
        self._primary = bytes.fromhex(key_id(keys[0]))

    @property
    def path(self) -> Path | None:
        """The key file the ring follows (None: keys given by the environment or a caller)."""
        return self._path

    @property
    def primary_id(self) -> str:
        """The id of the key that seals."""
        return self._primary.hex()

    @property
    def ids(self) -> frozenset[str]:
        """The ids of every key this ring opens with."""
        return frozenset(k.hex() for k in self._keys)

    def primary_key(self) -> bytes:
        return self._keys[self._primary][0]

    def refresh(self) -> bool:
        """Re-read the key file if it changed since the last look; True when it did.

        A file that cannot be read or holds no valid key now leaves the ring as it was
        (the server keeps serving with the keys it has) and is logged."""
        if self._path is None:
            return False
        try:
            info = os.stat(self._path)
        except OSError:
            return False
        if (info.st_ino, info.st_size, info.st_mtime_ns) == self._signature:
            return False
        with self._lock:
            try:
                keys, signature = read_key_file(self._path)
            except (OSError, SetupError) as exc:
                log.warning("the server key file changed but cannot be used (%s); "
                            "keeping the keys read before", getattr(exc, "detail", exc))
                return False
            if signature != self._signature:
                self._install(keys)
                self._signature = signature
        return True

    def sealer(self) -> tuple[bytes, AESGCM]:
        """(id, cipher) of the key that seals now."""
        self.refresh()
        primary = self._primary
        return primary, self._keys[primary][1]

    def opener(self, raw_id: bytes) -> AESGCM | None:
        """The cipher of one key by its raw id, re-reading the file when it is unknown."""
        found = self._keys.get(raw_id)
        if found is None and self.refresh():
            found = self._keys.get(raw_id)
        return None if found is None else found[1]

    def openers(self) -> list[AESGCM]:
        """Every cipher, the sealing key's first (for values of format 1)."""
        keys = self._keys
        return [keys[self._primary][1], *(c for i, (_, c) in keys.items()
                                          if i != self._primary)]


class SecretBox:
    """Seals and opens values with the server key ring; never shows a key."""

    def __init__(self, key: bytes | KeyRing) -> None:
        self.ring = key if isinstance(key, KeyRing) else KeyRing([key])

    @property
    def key_id(self) -> str:
        """The id of the key that seals now (recorded in the database, so a different key
        is caught at start, not at delivery)."""
        return self.ring.primary_id

    def __repr__(self) -> str:
        return f"SecretBox(key_id={self.key_id!r})"

    def seal(self, secret: str, *, context: str) -> bytes:
        raw_id, aead = self.ring.sealer()
        nonce = os.urandom(_NONCE_BYTES)
        sealed = aead.encrypt(nonce, secret.encode("utf-8"), _SEAL_AAD + context.encode())
        return _SEAL_V2 + raw_id + nonce + sealed

    def open(self, blob: bytes, *, context: str) -> str:
        aad = _SEAL_AAD + context.encode()
        if blob[:1] == _SEAL_V2:
            aead = self.ring.opener(blob[1:1 + _ID_BYTES])
            if aead is None:
                raise SetupError(
                    f"a stored secret was sealed with server key {blob[1:1 + _ID_BYTES].hex()}, "
                    "which this server does not have: give it the current server.key")
            start = 1 + _ID_BYTES
            candidates = [aead]
        elif blob[:1] == _SEAL_V1:
            start, candidates = 1, self.ring.openers()
        else:
            raise SetupError("a stored secret has an unknown encryption version")
        nonce, sealed = blob[start:start + _NONCE_BYTES], blob[start + _NONCE_BYTES:]
        for aead in candidates:
            try:
                return aead.decrypt(nonce, sealed, aad).decode("utf-8")
            except InvalidTag:
                continue
        raise SetupError("a stored secret does not open with the server key")

    def sealed_with(self, blob: bytes) -> str | None:
        """The id of the key that sealed ``blob`` (None for format 1, which names none)."""
        return blob[1:1 + _ID_BYTES].hex() if blob[:1] == _SEAL_V2 else None

    def current(self, blob: bytes) -> bool:
        """Whether ``blob`` is sealed with the key that seals now (nothing to re-seal)."""
        return self.sealed_with(blob) == self.ring.primary_id
