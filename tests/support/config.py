"""Helpers for the config tests: the repository, the sample configs, writing a config."""

from __future__ import annotations

import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "test_reconciler" / "data"


def write(directory: Path, content: str | bytes, name: str = "webhooks.yaml") -> Path:
    """Write a config (text is dedented; bytes are written as they are); return its path."""
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content if isinstance(content, bytes) else textwrap.dedent(content).encode())
    return path
