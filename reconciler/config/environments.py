"""``environments:``: one config for sandbox and production, with per-environment fields.

```yaml
environments:
  sandbox:
    webhooks:
      orders-backend:            # a webhook declared under the top-level `webhooks`
        url: https://sandbox.shop.example/hooks/sibs
        enabled: false
```

An environment's fields replace the webhook's own (``defaults`` still fill what neither
sets), and the result is checked as a whole webhook, its problems placed at the line that
set them. ``plan`` and ``apply`` work on one environment at a time (``--environment NAME``
or ``WEBHOOKS_ENVIRONMENT``): a config that declares environments needs one named, so
the base values are never applied by accident. ``validate`` checks every environment.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from reconciler.config.findings import Finding, did_you_mean
from reconciler.config.yamlnodes import YamlPath

ENV_VARIABLE = "WEBHOOKS_ENVIRONMENT"
KEY = "environments"


def declared(doc: dict[str, Any]) -> list[str]:
    """The environments the document declares, in file order."""
    block = doc.get(KEY)
    return [name for name in block if isinstance(name, str)] if isinstance(block, dict) else []


def _overrides(doc: dict[str, Any], name: str) -> dict[str, dict[str, Any]]:
    entry = (doc.get(KEY) or {}).get(name)
    hooks = entry.get("webhooks") if isinstance(entry, dict) else None
    return {k: v for k, v in hooks.items() if isinstance(v, dict)} if isinstance(
        hooks, dict) else {}


def choice_findings(doc: dict[str, Any], requested: str | None) -> list[Finding]:
    """Why ``requested`` can't be used with this document (none when it can)."""
    names = declared(doc)
    where: YamlPath = (KEY,) if KEY in doc else ()
    if requested is None:
        if not names:
            return []
        return [Finding(where, f"the config declares environments ({', '.join(names)}): "
                               f"choose one with --environment NAME or {ENV_VARIABLE}",
                        at_key=True)]
    if requested in names:
        return []
    shown = requested[:64].encode("unicode_escape").decode("ascii")
    if not names:
        return [Finding((), f"environment {shown!r} (--environment or {ENV_VARIABLE}): "
                            "the config declares no environments")]
    hint = did_you_mean(requested, names) or f" (declared: {', '.join(names)})"
    return [Finding(where, f"unknown environment {shown!r} (--environment or {ENV_VARIABLE})"
                           f"{hint}", at_key=True)]


def unknown_webhooks(doc: dict[str, Any]) -> Iterator[Finding]:
    """Overrides of webhooks the top level does not declare."""
    hooks = doc.get("webhooks")
    known = [n for n in hooks if isinstance(n, str)] if isinstance(hooks, dict) else []
    for env in declared(doc):
        for name in _overrides(doc, env):
            if name not in known:
                yield Finding(
                    (KEY, env, "webhooks", name),
                    f"no webhook named {name!r} under the top-level `webhooks` (an "
                    "environment changes the fields of declared webhooks)"
                    f"{did_you_mean(name, known)}", at_key=True)


@dataclass(frozen=True)
class Overlay:
    """The document as one environment sees it, and where its overridden fields came from."""

    name: str
    doc: dict[str, Any]
    moved: dict[YamlPath, YamlPath] = field(default_factory=dict)

    def locate(self, finding: Finding) -> Finding:
        """The finding at the environment's line when the field it names came from there."""
        path = finding.path
        for length in range(min(len(path), 3), 2, -1):
            origin = self.moved.get(path[:length])
            if origin is not None:
                return Finding((*origin, *path[length:]), finding.message, finding.severity,
                               finding.at_key)
        return finding


def overlay(doc: dict[str, Any], name: str) -> Overlay:
    """``doc`` with environment ``name``'s fields put over its webhooks."""
    merged = {k: v for k, v in doc.items() if k != KEY}
    hooks = doc.get("webhooks")
    if not isinstance(hooks, dict):
        return Overlay(name, merged)
    merged["webhooks"] = dict(hooks)
    moved: dict[YamlPath, YamlPath] = {}
    for webhook, fields in _overrides(doc, name).items():
        base = hooks.get(webhook)
        if not isinstance(base, dict):
            continue
        merged["webhooks"][webhook] = {**base, **copy.deepcopy(fields)}
        for key in fields:
            moved[("webhooks", webhook, key)] = (KEY, name, "webhooks", webhook, key)
    return Overlay(name, merged, moved)
