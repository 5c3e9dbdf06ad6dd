"""How the CLI reaches a backoffice over HTTP, checked before any request: the API URL,
the API token and the certificates that TLS trusts.

Every refusal is one line (exit 1) that never repeats a token or a URL's credentials:

* the API URL must be ``http(s)://HOST[:PORT]`` of visible characters, without credentials
  (the backoffice takes a bearer token, ``WEBHOOKS_API_TOKEN``), and plain ``http://``
  only to this machine (loopback) unless ``--insecure-http``: elsewhere the token and
  webhook secrets would cross the network in clear;
* the token must be visible ASCII (an HTTP header cannot carry anything else);
* TLS trusts ``SSL_CERT_FILE`` (or ``SSL_CERT_DIR``) when set, as httpx and OpenSSL do,
  else the certifi bundle; a file that cannot be read is said so, by name.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from urllib.parse import urlsplit

from contract.rules import unsafe_character_problem
from contract.urls import is_loopback_host, split_url
from reconciler.errors import ReconcilerError

URL_SOURCE = "the API URL (--api-url or WEBHOOKS_API_URL)"
TOKEN_ENV = "WEBHOOKS_API_TOKEN"
INSECURE_HTTP_ENV = "WEBHOOKS_INSECURE_HTTP"
CA_FILE_ENV = "SSL_CERT_FILE"
CA_DIR_ENV = "SSL_CERT_DIR"


def check_api_url(url: str, *, insecure_http: bool = False) -> None:
    """Refuse an API URL that cannot or should not be used, without echoing it."""
    invalid = f"{URL_SOURCE} is not valid"
    if (problem := unsafe_character_problem(url)) is not None:
        raise ReconcilerError(f"{invalid}: it {problem}")
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises on a port that is not a number or out of range
    except ValueError as exc:
        reason = ("its port is not a number from 0 to 65535" if "Port" in str(exc)
                  else "it cannot be parsed")
        raise ReconcilerError(f"{invalid}: {reason}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ReconcilerError(f"{invalid}: use http(s)://HOST[:PORT], "
                              "e.g. https://backoffice.example or http://127.0.0.1:8080")
    if any(c.isspace() for c in url):
        raise ReconcilerError(f"{invalid}: it must not contain spaces")
    split = split_url(url)
    if split is not None and split[1]:
        raise ReconcilerError(
            f"{URL_SOURCE} must not hold credentials (user:password@ or token@): the "
            f"backoffice takes a bearer token: put it in {TOKEN_ENV} and remove it from the URL")
    host = split[2] if split is not None else parts.hostname
    if parts.scheme == "http" and not is_loopback_host(host) and not insecure_http:
        raise ReconcilerError(
            f"{URL_SOURCE} uses plain http to {host[:100]}, which is not this machine: the "
            "API token and webhook secrets would cross the network in clear. Use https://, "
            f"or --insecure-http ({INSECURE_HTTP_ENV}=1) on a network you trust")
    import httpx

    try:
        httpx.URL(url)
    except httpx.InvalidURL:
        raise ReconcilerError(f"{invalid}: it cannot be parsed") from None


def checked_token(value: str | None) -> str | None:
    """``WEBHOOKS_API_TOKEN`` as sent (surrounding whitespace dropped); None when unset.

    Refused, never quoted, when it holds anything but visible ASCII: a header cannot carry
    it, and such a value was never a token (a paste gone wrong, a wrong variable)."""
    token = (value or "").strip()
    if not token:
        return None
    for index, char in enumerate(token):
        if not "\x21" <= char <= "\x7e":
            raise ReconcilerError(
                f"{TOKEN_ENV} is not an API token: character {index + 1} is not "
                "a visible ASCII character (tokens look like wbo_...): set it to what "
                "`webhooks token create` printed")
    return token


def tls_context(env: Mapping[str, str]) -> ssl.SSLContext:
    """The certificates TLS connections trust: ``SSL_CERT_FILE``, else ``SSL_CERT_DIR``,
    else certifi's bundle (what httpx itself would choose), with hostname checks."""
    ca_file = env.get(CA_FILE_ENV) or None
    ca_dir = None if ca_file else env.get(CA_DIR_ENV) or None
    if ca_file is None and ca_dir is None:
        import certifi

        return ssl.create_default_context(cafile=certifi.where())
    source = f"{CA_FILE_ENV} ({ca_file})" if ca_file else f"{CA_DIR_ENV} ({ca_dir})"
    try:
        return ssl.create_default_context(cafile=ca_file, capath=ca_dir)
    except ssl.SSLError as exc:
        raise ReconcilerError(f"{source} holds no usable certificate: "
                              f"{exc.reason or exc}; it must be PEM certificates") from None
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise ReconcilerError(f"{source} cannot be read: {reason}") from None


def tls_failure(exc: BaseException) -> str | None:
    """What went wrong in a TLS handshake behind a connection error, for people; None when
    the error was not TLS's. A certificate problem does not heal: it is not retried."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            reason = seen.verify_message or seen.reason or "certificate verify failed"
            if "hostname" in str(reason).lower() or "ip address mismatch" in str(reason).lower():
                return (f"its TLS certificate is not valid for this host ({reason}): use the "
                        "name the certificate was issued for")
            return (f"its TLS certificate is not trusted ({reason}): if a private CA signed "
                    f"it, set {CA_FILE_ENV} to that CA's certificate (a PEM file)")
        if isinstance(seen, ssl.SSLError):
            reason = seen.reason or str(seen)
            return (f"the TLS handshake failed ({reason}): is it an https server, "
                    "speaking TLS 1.2 or later?")
        seen = seen.__cause__ or seen.__context__
    return None
