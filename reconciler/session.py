"""The steps a command strings together, free of any CLI: load, fetch, plan."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import TypeVar

from reconciler.commands import Globals
from reconciler.config import load_config
from reconciler.errors import ConfigError, Problem
from reconciler.model import Config
from reconciler.plan import Plan, build_plan
from reconciler.providers import Provider, open_provider

T = TypeVar("T")


def require_file(config_file: Path) -> None:
    """Fail before touching any backoffice when the config file is not there."""
    if not config_file.is_file():
        what = "is a directory" if config_file.is_dir() else "does not exist"
        raise ConfigError([Problem(str(config_file), 1, 1, f"the config file {what}")])


def with_provider(
    g: Globals, config_file: Path, work: Callable[[Provider], Awaitable[T]]
) -> T:
    """Run ``work`` against the selected provider, closing it whatever happens."""

    async def main() -> T:
        provider = open_provider(g, config_file)
        try:
            return await work(provider)
        finally:
            await provider.aclose()

    return asyncio.run(main())


async def plan_config(
    provider: Provider,
    config_file: Path,
    *,
    targets: Iterable[str] = (),
    adopt: bool = False,
    force: bool = False,
) -> tuple[Config, Plan]:
    """Load the config (checked against the backoffice catalogue) and plan it."""
    catalog = await provider.catalog()
    config = load_config(config_file, secrets="require", catalog=catalog)
    actual = await provider.fetch()
    plan = build_plan(config, actual, fingerprints=await provider.fingerprints(),
                      targets=frozenset(targets), adopt=adopt, force=force)
    return config, plan
