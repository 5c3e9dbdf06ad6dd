"""Helpers for the config tests (a plain module: a tests/conftest.py would put tests/ on
sys.path, where tests/reconciler/ shadows the reconciler package)."""

from __future__ import annotations

import textwrap
from pathlib import Path

DATA = Path(__file__).parent / "data"
REPO = Path(__file__).resolve().parents[2]


def write(directory: Path, content: str | bytes, name: str = "webhooks.yaml") -> Path:
    """Write a config (text is dedented; bytes are written as they are); return its path."""
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content if isinstance(content, bytes) else textwrap.dedent(content).encode())
    return path
