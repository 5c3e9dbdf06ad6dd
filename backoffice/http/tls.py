"""TLS for ``webhooks serve``: the certificate and key files checked before the server
starts (a file that is missing, unreadable, not PEM, or a key of another certificate is
named in one line), and the options handed to uvicorn.

TLS 1.2 at least (Python's default for servers), and for TLS 1.2 only forward-secret
AEAD ciphers; TLS 1.3 chooses its own.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any, Final

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization

# ECDHE key exchange with AES-GCM or ChaCha20-Poly1305, for RSA and ECDSA keys alike.
CIPHERS: Final = "ECDHE+AESGCM:ECDHE+CHACHA20"
MAX_PEM_BYTES: Final = 1 << 20


def _read(path: Path, what: str) -> bytes | str:
    """The file's bytes, or why it cannot be read (a sentence naming it)."""
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_PEM_BYTES + 1)
    except FileNotFoundError:
        return f"{what} {path} does not exist"
    except IsADirectoryError:
        return f"{what} {path} is a directory, not a file"
    except OSError as exc:
        return f"{what} {path} cannot be read: {exc.strerror or exc}"
    if len(data) > MAX_PEM_BYTES:
        return f"{what} {path} is over 1 MiB: it is not a PEM file"
    return data


def _public(key: Any) -> bytes:
    return bytes(key.public_bytes(serialization.Encoding.DER,
                                  serialization.PublicFormat.SubjectPublicKeyInfo))


def files_problem(cert: Path, key: Path) -> str | None:
    """Why ``cert`` and ``key`` cannot serve TLS (naming the file at fault), or None."""
    cert_data = _read(cert, "--tls-cert")
    if isinstance(cert_data, str):
        return cert_data
    key_data = _read(key, "--tls-key")
    if isinstance(key_data, str):
        return key_data
    try:
        chain = x509.load_pem_x509_certificates(cert_data)
    except ValueError:
        return (f"--tls-cert {cert} holds no PEM certificate (-----BEGIN CERTIFICATE-----): "
                "give the server's certificate, then any intermediate ones")
    try:
        private = serialization.load_pem_private_key(key_data, password=None)
    except TypeError:
        return (f"--tls-key {key} is encrypted: give the key without a passphrase "
                "(openssl pkey -in KEY -out KEY.plain), readable by this user only")
    except ValueError:
        return f"--tls-key {key} holds no PEM private key (-----BEGIN PRIVATE KEY-----)"
    except UnsupportedAlgorithm:
        return f"--tls-key {key} is a kind of key this server's OpenSSL cannot use"
    if _public(private.public_key()) != _public(chain[0].public_key()):
        return (f"--tls-key {key} is not the key of the certificate in --tls-cert {cert}: "
                "give the pair that belongs together")
    try:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(cert), str(key))
    except (ssl.SSLError, OSError) as exc:
        return f"--tls-cert {cert} and --tls-key {key} cannot serve TLS: {exc}"
    return None


def uvicorn_options(cert: Path, key: Path) -> dict[str, Any]:
    """What ``uvicorn.Config`` takes to serve TLS with these files."""
    return {"ssl_certfile": str(cert), "ssl_keyfile": str(key), "ssl_ciphers": CIPHERS}
