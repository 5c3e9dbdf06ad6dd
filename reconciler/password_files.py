"""Passwords kept in files (``--db-password-file``, ``--smtp-password-file``...), so they
never stand on a command line, where ``ps`` and shell history would show them."""

from __future__ import annotations

from pathlib import Path

from reconciler.errors import ReconcilerError


def read_password_file(option: str, file: Path) -> str:
    """The password in ``file`` (one trailing newline dropped); a one-line error naming
    ``option`` when it cannot be read or is empty. The password is never quoted."""
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or "not UTF-8 text"
        raise ReconcilerError(f"{option}: cannot read {file}: {reason}") from None
    password = text.rstrip("\r\n")
    if not password:
        raise ReconcilerError(f"{option}: {file} is empty")
    return password
