"""The README's Guarantees section names tests that exist: a promise keeps its proof."""

from __future__ import annotations

import re
from pathlib import Path

from tests.support.config import REPO


def test_every_test_the_guarantees_name_exists() -> None:
    readme = (REPO / "README.md").read_text()
    section = readme.split("\n## Guarantees\n", 1)[1].split("\n## ", 1)[0]
    checked = 0
    current: Path | None = None
    for ref in re.findall(r"`([\w/.]*\.py)?(?:::(\w+))?`", section):
        path, name = ref
        if path:
            current = REPO / path if path.startswith("tests/") else REPO / "tests" / path
            assert current.is_file(), f"README names {path}, which is not a file"
        if name:
            assert current is not None, f"::{name} names no file"
            assert re.search(rf"^(async )?def {name}\(", current.read_text(), re.M), (
                f"README names {current.name}::{name}, which does not exist")
            checked += 1
    assert checked >= 15
