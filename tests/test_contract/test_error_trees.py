"""Each package's exception tree is drawn in one docstring; the drawing is the classes."""

from __future__ import annotations

import importlib
import pkgutil
import re
from types import ModuleType

import pytest

import backoffice.errors
import reconciler.errors


def import_all(package: ModuleType) -> None:
    """Import every module of the package, so that every subclass is defined."""
    for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        if not info.name.endswith("__main__"):
            importlib.import_module(info.name)


def subclasses(root: type) -> set[str]:
    found: set[str] = {root.__name__}
    for sub in root.__subclasses__():
        found |= subclasses(sub)
    return found


def drawn(module: ModuleType) -> list[tuple[int, str]]:
    """(depth, class name) for each line of the tree in the module's docstring."""
    lines = []
    for line in (module.__doc__ or "").splitlines():
        match = re.match(r"^ {4}((?:[│ ] {3})*)(?:[├└]── )?([A-Z][A-Za-z]+)\b", line)
        if match:
            lines.append((len(match.group(1)) // 4 + (1 if "──" in line else 0), match.group(2)))
    return lines


@pytest.mark.parametrize(("module", "root"), [
    (reconciler.errors, reconciler.errors.ReconcilerError),
    (backoffice.errors, backoffice.errors.BackofficeError),
])
def test_the_docstring_draws_every_class_and_only_them(module: ModuleType, root: type) -> None:
    import_all(importlib.import_module(module.__name__.split(".")[0]))
    tree = drawn(module)
    assert {name for _, name in tree} == subclasses(root)
    for depth, name in tree:  # each drawn child is a subclass of the line above it
        cls = next(c for c in _all(root) if c.__name__ == name)
        parents = [n for d, n in tree[:tree.index((depth, name))] if d == depth - 1]
        if depth:
            parent = next(c for c in _all(root) if c.__name__ == parents[-1])
            assert issubclass(cls, parent), name


def _all(root: type) -> list[type]:
    return [root, *(c for sub in root.__subclasses__() for c in _all(sub))]
