"""Running the CLI in-process while keeping every byte it printed (for secret checks)."""

from __future__ import annotations

import pytest

from reconciler.cli import main


class Run:
    """Runs the CLI and keeps every byte it printed, to check no secret ever leaks."""

    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self.capsys = capsys
        self.printed: list[str] = []

    def __call__(self, *args: str) -> tuple[int, str, str]:
        code = main(["--no-color", *args])
        captured = self.capsys.readouterr()
        self.printed += [captured.out, captured.err]
        return code, captured.out, captured.err
