"""Renderers beside the plan: text for terminals, Markdown for reviews, JSON for machines.

Each is a plain function of a ``Plan``; ``render`` picks one by its ``--format`` name.
"""

from __future__ import annotations

from typing import Literal

from reconciler.plan import Plan
from reconciler.render.json_ import render_json
from reconciler.render.markdown import render_markdown
from reconciler.render.text import render_text

Format = Literal["text", "markdown", "json"]
FORMATS: tuple[Format, ...] = ("text", "markdown", "json")


def render(plan: Plan, fmt: Format, *, color: bool = False) -> str:
    """The plan in one of FORMATS (``color`` only affects text)."""
    if fmt == "text":
        return render_text(plan, color=color)
    if fmt == "markdown":
        return render_markdown(plan)
    if fmt == "json":
        return render_json(plan)
    raise ValueError(f"unknown plan format {fmt!r}")  # the CLI offers only FORMATS


__all__ = ["FORMATS", "Format", "render", "render_json", "render_markdown", "render_text"]
