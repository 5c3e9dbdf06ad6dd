"""The checks a schema cannot make: references resolved, e-mail addresses, secrets that
suit their delivery format, and (with a catalogue) stores, terminals and notification
types the backoffice knows.

Every check returns ``Finding``s naming the field. No message ever carries a secret
value: secret findings name the secret's source, never its content.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contract import formats, rules
from contract import secrets as secret_rules
from contract.addresses import literal_target
from contract.catalogue import NOTIFICATION_TYPES
from contract.times import parse_duration
from contract.urls import url_problem
from reconciler.config.findings import Finding, did_you_mean
from reconciler.config.reference_places import has_reference
from reconciler.config.references import SECRET_REFERENCE, References, SecretsMode
from reconciler.config.yamlnodes import YamlPath
from reconciler.model import Catalog, Secret

WEBHOOK_FIELDS = (
    "type",
    "url",
    "email",
    "application",
    "notifications",
    "secret",
    "support_email",
    "format",
    "enabled",
    "description",
    "prevent_destroy",
    "test_on_apply",
    "secret_grace",
    "renamed_from",
)
DEFAULT_FIELDS = (
    "application",
    "notifications",
    "support_email",
    "format",
    "enabled",
    "test_on_apply",
    "secret_grace",
)
URL_ONLY_FIELDS = ("url", "secret", "format", "test_on_apply", "secret_grace")


@dataclass(frozen=True)
class Context:
    """Where references are read from, how missing ones count, the catalogue, and which
    environment's webhooks are read (``every_environment``: check them all)."""

    base_dir: Path
    secrets: SecretsMode
    catalog: Catalog | None
    environment: str | None = None
    every_environment: bool = False


class Checker:
    """The checks a schema cannot make, with references resolved along the way."""

    def __init__(self, context: Context, bad: set[YamlPath], findings: list[Finding]) -> None:
        self.context = context
        self.catalog = context.catalog
        self.bad = bad
        self.findings = findings
        self.references = References(context.base_dir, context.secrets)

    def usable(self, parent: YamlPath, key: str, raw: dict[str, Any]) -> bool:
        """Whether ``raw[key]`` is there and has no problem reported yet."""
        return key in raw and (*parent, key) not in self.bad

    def error(self, path: YamlPath, message: str | None, *, at_key: bool = False) -> None:
        if message is not None:
            self.findings.append(Finding(path, message, at_key=at_key))

    def text(self, parent: YamlPath, key: str, raw: dict[str, Any]) -> str | None:
        """The field's text with references resolved; None when unusable or unavailable."""
        value = raw.get(key)
        if not self.usable(parent, key, raw) or not isinstance(value, str):
            return None
        resolved, findings = self.references.text((*parent, key), value)
        self.findings.extend(findings)
        return resolved

    def shared(self, path: YamlPath, raw: dict[str, Any]) -> dict[str, Any]:
        """Checks of the fields defaults and webhooks share; returns resolved values."""
        if self.catalog is not None and self.usable(path, "application", raw):
            problem = application_problem(raw["application"], self.catalog)
            self.error((*path, "application"), problem)
        if self.catalog is not None and self.usable(path, "notifications", raw):
            self.findings.extend(
                notification_findings(
                    (*path, "notifications"), raw["notifications"], self.catalog
                )
            )
        support = self.text(path, "support_email", raw)
        if support is None:
            return {}
        self.error((*path, "support_email"), email_problem(support))
        return {"support_email": support}

    def defaults(self, raw: dict[str, Any]) -> dict[str, Any]:
        # Values with problems stay: the problem is reported once, here, not per webhook.
        merged = {k: v for k, v in raw.items() if k in DEFAULT_FIELDS}
        merged.update(self.shared(("defaults",), raw))
        self.grace(("defaults",), raw)
        return merged

    def grace(self, parent: YamlPath, raw: dict[str, Any]) -> None:
        """``secret_grace`` is a duration of at most 30 days (the schema checked its form)."""
        if self.usable(parent, "secret_grace", raw):
            self.error((*parent, "secret_grace"), grace_problem(raw["secret_grace"]))

    def webhook(self, name: str, raw: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
        """Check one webhook; return its fields with defaults merged and references resolved."""
        path: YamlPath = ("webhooks", name)
        kind = raw.get("type")
        merged = {
            k: v for k, v in defaults.items() if kind == "url" or k not in URL_ONLY_FIELDS
        }
        merged.update(raw)
        for key, where in (
            ("application", "set it here or in defaults"),
            ("notifications", "list them here or in defaults"),
        ):
            if key not in merged:
                self.error(path, f"missing required key {key!r} ({where})", at_key=True)
        merged.update(self.shared(path, raw))
        self.grace(path, raw)
        merged["secret_grace"] = grace_seconds(merged.get("secret_grace"))
        for key in ("url", "email", "description"):
            value = self.text(path, key, raw)
            referenced = key == "url" and isinstance(raw.get(key), str) \
                and has_reference(raw[key])
            if referenced:
                merged["url_source"] = raw[key]
            if value is not None:
                merged[key] = value
                if key == "url" and kind == "url":  # a URL read from a reference: unquoted
                    problem = url_problem(value, quote=not referenced)
                    self.error((*path, key), problem)
                    if problem is None:
                        self.target((*path, key), value, quote=not referenced)
                elif key == "email" and kind == "email":
                    self.error((*path, key), email_problem(value))
                elif key == "description":  # checked again once references are resolved
                    self.error((*path, key), rules.description_problem(value))
        merged["secret"] = None
        if self.usable(path, "secret", raw) and isinstance(raw["secret"], str):
            fmt = merged.get("format", formats.DEFAULT)
            merged["secret"] = self.secret((*path, "secret"), raw["secret"], fmt)
        return merged

    def target(self, path: YamlPath, url: str, *, quote: bool = True) -> None:
        """A URL whose host is a literal private address: an error when the backoffice
        refuses private targets, a warning when it is not known whether it does.
        ``quote=False`` (a URL read from a reference) names none of it, not even the host."""
        allowed = None if self.catalog is None else self.catalog.private_targets
        if allowed is True:
            return
        what = literal_target(url)
        if what is not None and not quote:
            what = "its host is a literal address that is not public"
        if allowed is False:
            if what is not None:
                self.error(path, f"must point at a public address: {what} (this backoffice "
                           "refuses private targets: SSRF guard)")
            return
        if what is not None:
            self.findings.append(Finding(path, (
                f"{what}: a backoffice that refuses private targets (webhooks serve "
                "without --allow-private-targets) refuses this URL; the embedded one "
                "accepts it"), severity="warning"))

    def secret(self, path: YamlPath, raw: str, delivery_format: object) -> Secret | None:
        if SECRET_REFERENCE.match(raw) is None:  # the schema says so too; never echo it
            self.error(path, "a literal secret is not allowed: write ${env:NAME} or ${file:PATH}")
            return None
        source = raw[2:-1]
        if self.context.secrets == "skip":  # plan --skip-secrets: not read, not compared
            return Secret(source=source, value=None)
        value, findings = self.references.text(path, raw)
        self.findings.extend(findings)
        if value is not None and (*path[:-1], "format") not in self.bad:
            fmt = delivery_format if isinstance(delivery_format, str) else formats.DEFAULT
            self.error(path, secret_problem(value, fmt, source))
        return Secret(source=source, value=value)


# --- the check helpers ---------------------------------------------------------------------


def email_problem(address: str) -> str | None:
    """Why ``address`` is not an e-mail address, quoting it (it is never a secret)."""
    problem = rules.email_problem(address)
    return None if problem is None else f"{address[:80]!r} {problem}"


def secret_problem(secret: str, delivery_format: str, source: str) -> str | None:
    """Why ``secret`` does not suit ``delivery_format`` or is weak (the backoffice refuses
    both: ``contract.secrets``), or None; names only the source."""
    return secret_rules.secret_problem(delivery_format, secret, f"the secret from {source}")


def grace_problem(value: object) -> str | None:
    """Why ``value`` is not a grace period (0 s to 30 days), or None."""
    if not isinstance(value, str):
        return None  # seconds as a number: the schema bounds them
    try:
        seconds = parse_duration(value).total_seconds()
    except ValueError as exc:
        return str(exc)
    if seconds > secret_rules.MAX_GRACE_S:
        return f"{value.strip()[:30]!r} is too long: {secret_rules.GRACE_RULE}"
    return None


def grace_seconds(value: object) -> int:
    """The grace in whole seconds (the default when absent or not a valid duration,
    which was reported already)."""
    if isinstance(value, str) and grace_problem(value) is None:
        return int(parse_duration(value).total_seconds())
    if isinstance(value, int) and not isinstance(value, bool) \
            and 0 <= value <= secret_rules.MAX_GRACE_S:
        return value
    return secret_rules.DEFAULT_GRACE_S


def rename_findings(webhooks: Mapping[str, object]) -> Iterator[Finding]:
    """``renamed_from``: never the webhook itself nor another declared webhook (so no
    cycle either), and each old name at most once in the whole config."""
    claimed: dict[str, str] = {}
    for name, raw in webhooks.items():
        olds = raw.get("renamed_from") if isinstance(raw, dict) else None
        if not isinstance(olds, list):
            continue
        for index, old in enumerate(olds):
            path: YamlPath = ("webhooks", name, "renamed_from", index)
            if not isinstance(old, str):
                continue
            if old == name:
                yield Finding(path, f"{old!r} is this webhook's own name: renamed_from lists "
                                    "the names it had before")
            elif old in webhooks:
                yield Finding(path, f"{old!r} is a webhook this config declares: a webhook "
                                    "cannot be renamed from one that still exists (remove "
                                    f"the {old!r} block, or this entry)")
            elif old in claimed and claimed[old] != name:
                yield Finding(path, f"{old!r} is in the renamed_from of {claimed[old]!r} too: "
                                    "an old name can become one new name only")
            else:
                claimed[old] = name


def application_problem(application: str, catalog: Catalog) -> str | None:
    """Why ``application`` names no store or terminal of the catalogue, or None."""
    kind, _, ref = application.partition(":")
    if kind == "store" and ref not in catalog.stores:
        hint = did_you_mean(ref, catalog.stores) or _known("stores", catalog.stores)
        return f"the backoffice has no store {ref!r}{hint}"
    if kind == "terminal" and ref not in catalog.terminals:
        hint = did_you_mean(ref, catalog.terminals) or _known("terminals", catalog.terminals)
        return f"the backoffice has no terminal {ref!r}{hint}"
    return None


def _known(what: str, names: Iterable[str]) -> str:
    ordered = sorted(names)
    if not ordered:
        return f" (it has no {what})"
    shown = ", ".join(ordered[:10]) + (", ..." if len(ordered) > 10 else "")
    return f" (known {what}: {shown})"


def notification_findings(
    path: YamlPath, notifications: object, catalog: Catalog
) -> Iterator[Finding]:
    """Notification types the catalogue does not offer (the schema checked the rest)."""
    if not isinstance(notifications, list):
        return
    known: Mapping[str, str] = catalog.notification_types
    for index, item in enumerate(notifications):
        if isinstance(item, str) and item in NOTIFICATION_TYPES and item not in known:
            yield Finding(
                (*path, index),
                f"{item!r} is not offered by the backoffice"
                f"{did_you_mean(item, known) or _known('types', known)}",
            )
