"""Every view of the reconciler, as plain functions that return text; nothing here prints.

The plan has three renderers (text for terminals, Markdown for reviews, JSON for
machines), registered by their ``--format`` name in ``PLAN_RENDERERS``: ``render``
picks one, and the CLI offers exactly these names. The other views: ``listing`` (the
Webhooks list), ``details`` (``show``), ``deliveries`` (``emit`` and the delivery log),
``testfire`` (``test``), ``ci_annotations`` (config problems as GitHub and GitLab read
them) and ``terminal`` (making text safe to print).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from reconciler.plan import Plan


class PlanRenderer(Protocol):
    def __call__(self, plan: Plan, *, color: bool) -> str: ...


# Each renderer is imported when first used: the CLI reads the names at start-up, and
# rich (the text renderer) or jsonschema (via the plan file) would slow every command.
def _text(plan: Plan, *, color: bool) -> str:
    from reconciler.render.text import render_text

    return render_text(plan, color=color)


def _markdown(plan: Plan, *, color: bool) -> str:
    from reconciler.render.markdown import render_markdown

    return render_markdown(plan)  # a pull-request comment has no colours


def _json(plan: Plan, *, color: bool) -> str:
    from reconciler.render.json_ import render_json

    return render_json(plan)


PLAN_RENDERERS: dict[str, PlanRenderer] = {
    "text": _text,
    "markdown": _markdown,
    "json": _json,
}
FORMATS: tuple[str, ...] = tuple(PLAN_RENDERERS)


def render(plan: Plan, fmt: str, *, color: bool = False) -> str:
    """The plan in one of FORMATS (``color`` only affects text)."""
    renderer = PLAN_RENDERERS.get(fmt)
    if renderer is None:
        raise ValueError(f"unknown plan format {fmt!r}")  # the CLI offers only FORMATS
    return renderer(plan, color=color)


__all__ = ["FORMATS", "PLAN_RENDERERS", "PlanRenderer", "render"]
