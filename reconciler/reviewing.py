"""What a plan is made for beyond the diff, and the reading it needs: the environment,
the pull request's base (the config at a git revision), secrets left unread, unmanaged
webhooks that fail a check. ``finish`` turns a plan into one that says all that
(``reconciler.plan.review``), with each change's origin (``reconciler.plan.drift``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from contract.fingerprints import Fingerprints
from reconciler import gitbase
from reconciler.config.loader import read_config_bytes
from reconciler.model import Config, WebhookSpec
from reconciler.plan import Plan, drift, skip_secrets
from reconciler.plan.review import BaseRevision, PlanContext


@dataclass(frozen=True)
class ReviewOptions:
    """``plan``'s options about review: ``--environment``, ``--base``, ``--skip-secrets``
    and ``--fail-on-unmanaged``."""

    environment: str | None = None
    base: str | None = None
    skip_secrets: bool = False
    fail_on_unmanaged: bool = False



NO_REVIEW = ReviewOptions()


def base_webhooks(config_file: Path, revision: str, environment: str | None
                  ) -> tuple[BaseRevision, dict[str, WebhookSpec] | None, list[str]]:
    """The config's webhooks at ``revision`` (empty when it was not there), and notes.

    A base config that does not load (another layout, an environment it lacks) labels
    nothing: its webhooks are None and a note says why.
    """
    found = gitbase.config_at(revision, config_file)
    base = BaseRevision(revision, found.commit, found.data is not None)
    if found.data is None:
        return base, {}, []
    report = read_config_bytes(config_file, found.data, secrets="optional",
                               environment=environment)
    if report.config is None:
        errors = report.errors
        first = errors[0].message if errors else "it does not load"
        return base, None, [
            f"note: {config_file.name} at {revision} ({found.commit[:12]}) does not load "
            f"({len(errors)} problem{'s' if len(errors) != 1 else ''}; first: {first}): "
            "the plan does not tell the pull request's changes from the base's"]
    return base, report.config.webhooks, []


def finish(plan: Plan, config: Config, options: ReviewOptions,
           fingerprints: Fingerprints) -> tuple[Plan, list[str]]:
    """``plan`` (made with the merchant's ``fingerprints``) with its context, its
    changes' origins, its drift and, with ``--skip-secrets``, the secrets it did not
    compare; and notes for standard error."""
    notes: list[str] = []
    base: BaseRevision | None = None
    webhooks: dict[str, WebhookSpec] | None = None
    if options.base is not None:
        base, webhooks, notes = base_webhooks(config.path, options.base, config.environment)
    context = PlanContext(
        config_name=config.path.name, environment=config.environment,
        revision=gitbase.revision(config.path), base=base,
        thresholds=config.safety, list_unmanaged=options.fail_on_unmanaged)
    plan = dataclasses.replace(plan, context=context)
    plan = drift.annotate(plan, fingerprints, base=webhooks)
    if options.skip_secrets:
        plan = skip_secrets.mark(plan)
    return plan, notes
