"""The three renderers: golden files, schema conformance, and no secret in any output.

Golden files live in tests/reconciler/golden/; after a deliberate change, regenerate them
with ``UPDATE_GOLDEN=1 pytest tests/reconciler/test_render.py`` and review the diff.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import replace
from pathlib import Path

import jsonschema
import pytest

from reconciler.plan import Plan
from reconciler.plan.planfile import schema_path
from reconciler.render import FORMATS, render
from reconciler.render.json_ import render_json
from reconciler.render.markdown import BUDGET, MARKER, render_markdown
from reconciler.render.text import render_text
from reconciler.target import Target
from tests.support.plan_samples import (
    FORBIDDEN,
    OWNER,
    URL_PASSWORD,
    build_plan,
    config,
    remote_for,
    representative,
    secret,
    spec,
)

GOLDEN = Path(__file__).parent / "golden"
ANSI = re.compile(r"\x1b\[[0-9;]*m")


BACKOFFICE = Target("http", "https://backoffice.example", token=True)


def representative_plan() -> Plan:
    cfg, actual = representative()
    return build_plan(cfg, actual, backoffice=BACKOFFICE)


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8"), f"{name} differs; see the module docstring"


def validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(json.loads(schema_path().read_text()))


def all_outputs(plan: Plan) -> list[str]:
    return [
        render_text(plan, color=False),
        render_text(plan, color=True),
        render_markdown(plan),
        render_json(plan),
    ]


def test_text_golden() -> None:
    check_golden("plan.txt", render_text(representative_plan(), color=False))


def test_markdown_golden() -> None:
    check_golden("plan.md", render_markdown(representative_plan()))


def test_json_golden() -> None:
    check_golden("plan.json", render_json(representative_plan()))


def test_json_validates_against_the_schema() -> None:
    cfg, actual = representative()
    v = validator()
    for plan in (
        build_plan(cfg, actual),
        build_plan(cfg, actual, adopt=True, force=True),
        build_plan(cfg, []),
        build_plan(config(), actual),
    ):
        errors = [e.message for e in v.iter_errors(json.loads(render_json(plan)))]
        assert errors == []


def test_schema_rejects_a_secret_value_in_place_of_a_marker() -> None:
    data = json.loads(render_json(representative_plan()))
    data["changes"][1]["after"]["secret"] = {"sensitive": True, "fingerprint": "sha256:00",
                                             "value": "x"}
    assert not validator().is_valid(data)


def test_no_secret_or_url_password_in_any_output() -> None:
    cfg, actual = representative()
    plans = [build_plan(cfg, actual), build_plan(cfg, actual, adopt=True),
             build_plan(config(), actual), build_plan(cfg, [])]
    for plan in plans:
        for out in all_outputs(plan):
            for value in FORBIDDEN:
                assert value not in out
    assert "refunds:***@hooks.shop.example" in render_text(plans[0], color=False)


def test_color_is_the_plain_text_plus_ansi() -> None:
    plan = representative_plan()
    colored = render_text(plan, color=True)
    assert "\x1b[" in colored
    assert ANSI.sub("", colored) == render_text(plan, color=False)
    assert "\x1b[" not in render_text(plan, color=False)


def test_text_field_lines() -> None:
    out = render_text(representative_plan(), color=False)
    assert "    ~ notifications: [+ xpay, - mbway]\n" in out
    assert "    ~ secret:        (sensitive value changed)\n" in out
    assert '    ~ enabled:     true -> false\n' in out
    assert "  -/+ replace terminal-10001 (url -> email)\n" in out
    assert "  - delete old-hook (url)  [blocked: prevent_destroy]\n" in out
    assert out.endswith(representative_plan().summary_line() + "\n")
    assert "re-run with --adopt" in out.lower()


def test_password_only_change_is_called_out() -> None:
    s = spec("w", url=f"https://bob:{URL_PASSWORD}@hooks.shop.example/x")
    remote = remote_for(spec("w", url="https://bob:other@hooks.shop.example/x"))
    plan = build_plan(config(s), [remote])
    text = render_text(plan, color=False)
    assert '~ url: "https://bob:***@hooks.shop.example/x" (sensitive value changed)' in text
    assert '! url: "https://bob:***@hooks.shop.example/x" (sensitive value changed)' in (
        render_markdown(plan)
    )


def test_adoption_renders_as_adopt() -> None:
    remote = remote_for(spec("w"), owner="ops-team")
    plan = build_plan(config(spec("w")), [remote], adopt=True)
    text = render_text(plan, color=False)
    assert '  ~ adopt w (url), owned by "ops-team" until now\n' in text
    assert '    ~ owner: "ops-team" -> "payments-team"\n' in text
    assert "| `~` adopt | `w` |" in render_markdown(plan)
    assert json.loads(render_json(plan))["changes"][0]["adopt"] is True


def test_forced_threshold_is_a_warning_not_an_error() -> None:
    remotes = [remote_for(spec(f"w{i:02d}")) for i in range(10)]
    plan = build_plan(config(), remotes, force=True)
    text = render_text(plan, color=False)
    assert "Warning: allowed by --force" in text and "Error:" not in text
    md = render_markdown(plan)
    assert "[!WARNING]" in md and "[!CAUTION]" not in md
    unforced = render_text(build_plan(config(), remotes), color=False)
    assert "10 of 10 managed webhooks (100%)" in unforced and "re-run with --force" in unforced


def test_no_changes() -> None:
    s = spec("a")
    plan = build_plan(config(s), [remote_for(s)])
    assert render_text(plan, color=False) == (
        "No changes. The backoffice matches the config (1 webhook).\n"
    )
    md = render_markdown(plan)
    assert md.startswith(MARKER + "\n") and "| action |" not in md
    assert "**No changes. The backoffice matches the config (1 webhook).**" in md


def test_markdown_layout() -> None:
    md = render_markdown(representative_plan())
    lines = md.splitlines()
    assert lines[0] == MARKER
    caution, summary, table = (md.index("[!CAUTION]"), md.index("**Plan:"),
                               md.index("| action | name | type | target | changes |"))
    assert caution < summary < table < md.index("<details>")
    assert md.count("<details>") == md.count("</details>") == 8  # 7 changes + left alone
    assert md.count("```diff") == 7


def test_markdown_escapes_table_cells_and_fences() -> None:
    s = spec("m", type="email", email="we|ird`@shop.example", description="```\n<b>x</b>")
    md = render_markdown(build_plan(config(s), []))
    row = next(line for line in md.splitlines() if line.startswith("| `+`"))
    assert row.count(" | ") == 4  # the pipe in the address did not add a column
    assert "we\\|ird" in row
    assert "````diff" in md  # a fence longer than the backticks inside


def test_markdown_stays_under_the_comment_limit() -> None:
    specs = [spec(f"hook-{i:05d}", secret=secret()) for i in range(3000)]
    md = render_markdown(build_plan(config(*specs), []))
    assert len(md) < BUDGET + 2000
    assert "more changes not listed" in md and "changes not shown" in md
    assert md.rstrip().endswith("</details>") or "comment size limit" in md


def test_render_dispatch() -> None:
    plan = representative_plan()
    assert render(plan, "json") == render_json(plan)
    assert render(plan, "markdown") == render_markdown(plan)
    assert render(plan, "text", color=True) == render_text(plan, color=True)
    assert FORMATS == ("text", "markdown", "json")
    with pytest.raises(ValueError, match="unknown plan format"):
        render(plan, "yaml")  # type: ignore[arg-type]


def test_json_carries_preconditions_and_fingerprints() -> None:
    data = json.loads(render_json(representative_plan()))
    by_name = {c["name"]: c for c in data["changes"]}
    assert by_name["orders-backend"]["precondition"] == {"absent": True}
    assert by_name["stale-hook"]["precondition"]["version"] == 3
    secret_marker = by_name["orders-backend"]["after"]["secret"]
    assert secret_marker["sensitive"] is True and secret_marker["fingerprint"].startswith("sha256:")
    url = by_name["refunds-hook"]["after"]["url"]
    assert url["redacted"] == "https://refunds:***@hooks.shop.example/v2/refunds"
    assert data["owner"] == OWNER and data["safe"] is False
    assert [c["name"] for c in data["conflicts"]] == ["shared-alerts"]


def test_renderers_do_not_depend_on_input_order() -> None:
    cfg, actual = representative()
    shuffled = replace(cfg, webhooks=dict(reversed(list(cfg.webhooks.items()))))
    a, b = build_plan(cfg, actual), build_plan(shuffled, list(reversed(actual)))
    assert render_json(a) == render_json(b)


def test_bidirectional_controls_and_invisible_marks_print_as_escapes() -> None:
    from reconciler.render.terminal import printable

    shown = printable("gpj\u202e.exe \u2066x\u2069 \ufeffy \u200bz \x1b[2J")
    assert shown == "gpj\\u202e.exe \\u2066x\\u2069 \\ufeffy \\u200bz \\x1b[2J"
    assert printable("Lisboa Chiado é ç") == "Lisboa Chiado é ç"
