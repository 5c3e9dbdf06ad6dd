"""The steps a command strings together, free of any CLI: load, fetch, plan."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import TypeVar

from reconciler.commands import Globals
from reconciler.config import load_config
from reconciler.errors import ConfigError, PermissionDenied, Problem
from reconciler.model import Config
from reconciler.plan import Plan, build_plan
from reconciler.providers import Provider, open_provider
from reconciler.reviewing import NO_REVIEW, ReviewOptions, finish
from reconciler.target import ENV_API_TOKEN

T = TypeVar("T")


def require_file(config_file: Path) -> None:
    """Fail before touching any backoffice when the config file is not there."""
    if not config_file.is_file():
        what = "is a directory" if config_file.is_dir() else "does not exist"
        raise ConfigError([Problem(str(config_file), 1, 1, f"the config file {what}")])


def with_provider(
    g: Globals, config_file: Path, work: Callable[[Provider], Awaitable[T]], *,
    read_only: bool = False,
) -> T:
    """Run ``work`` against the selected provider, closing it whatever happens.
    ``read_only``: the command only reads (an embedded backoffice is not created)."""

    async def main() -> T:
        provider = open_provider(g, config_file, read_only=read_only)
        try:
            return await work(provider)
        finally:
            await provider.aclose()

    return asyncio.run(main())


async def require_manage(provider: Provider, command: str) -> None:
    """Stop before any write when the token may only read: one message saying a manage
    token is needed (a backoffice that cannot say lets the writes answer for themselves)."""
    identity = await provider.whoami()
    if identity is None or identity.can_manage:
        return
    raise PermissionDenied(
        f"the token in {ENV_API_TOKEN} lacks the permission to manage webhooks (it may "
        f"only read those of merchant {identity.merchant!r} at {provider.target.location}): "
        f"`webhooks {command}` needs a manage token (webhooks token create --scope manage); "
        "nothing was changed", status=403)


async def plan_config(
    provider: Provider,
    config_file: Path,
    *,
    targets: Iterable[str] = (),
    adopt: bool = False,
    force: bool = False,
    review: ReviewOptions = NO_REVIEW,
    notes: list[str] | None = None,
) -> tuple[Config, Plan]:
    """Load the config (checked against the backoffice catalogue) and plan it; ``review``
    says for which environment, against which base, with or without secrets (``notes``
    receives what standard error should say about it)."""
    catalog = await provider.catalog()
    config = load_config(config_file, secrets="skip" if review.skip_secrets else "require",
                         catalog=catalog, environment=review.environment)
    actual = await provider.fetch()
    fingerprints = await provider.fingerprints()
    plan = build_plan(config, actual, fingerprints=fingerprints, targets=frozenset(targets),
                      adopt=adopt, force=force, backoffice=provider.target,
                      thresholds=config.safety)
    plan, said = finish(plan, config, review, fingerprints)
    if notes is not None:
        notes.extend(said)
    return config, plan
