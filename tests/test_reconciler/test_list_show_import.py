"""The Webhooks list, details and import, on each provider (embedded and HTTP)."""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.apply import apply_plan
from reconciler.config import load_config, yamlload
from reconciler.details import find, gather
from reconciler.errors import InvalidRequest, NotFound, ReconcilerError
from reconciler.importer import ImportResult, import_config, scalar, write_file
from reconciler.model import Config, RemoteWebhook
from reconciler.plan import Action, Plan, build_plan
from reconciler.providers import ListFilters, Provider
from reconciler.providers.embedded import EmbeddedProvider
from reconciler.render.details import DeliverySummary, Details
from reconciler.render.details import render_text as render_details
from reconciler.render.listing import render_json, render_table
from reconciler.selection import by_name, select_owner
from tests.support.inventory import (
    ALL,
    CRED_URL,
    CRED_URL_REDACTED,
    CRED_URL_VARIABLE,
    OWNED,
    OWNER,
    PASSWORD,
    SECRET,
    TRICKY_DESCRIPTION,
    UNMANAGED,
    seed,
)
from tests.support.plan_samples import FINGERPRINTS
from tests.support.secrets import CRED_20001, OTHER_SIBS_SECRET, WHSEC

pytestmark = pytest.mark.anyio


def assert_no_secret(text: str) -> None:
    for secret in (SECRET, WHSEC, PASSWORD):
        assert secret not in text


async def names(provider: Provider, **filters: str) -> list[str]:
    return sorted(w.name for w in await provider.fetch(ListFilters(**filters)))


# --- list ------------------------------------------------------------------------------------


async def test_each_filter_alone(provider: Provider) -> None:
    await seed(provider)
    assert await names(provider) == ALL
    # terminal 20001 is in POR-01: merchant, store:POR-01 and terminal:20001 webhooks cover it
    assert await names(provider, credential=CRED_20001) == ["legacy", "orders-backend",
                                                            "porto-kiosk"]
    assert await names(provider, notification="mbway") == [
        "10001", "legacy", "lisbon-mail", "orders-backend"]
    assert await names(provider, type="email") == ["10001", "lisbon-mail"]
    assert await names(provider, webhook="shop.example/hook") == ["orders-backend",
                                                                  "porto-kiosk"]


async def test_filters_combine(provider: Provider) -> None:
    await seed(provider)
    assert await names(provider, credential=CRED_20001, notification="mbway") == [
        "legacy", "orders-backend"]
    assert await names(provider, credential=CRED_20001, notification="mbway", type="url",
                       webhook="legacy") == ["legacy"]
    assert await names(provider, type="email", notification="xpay") == []


async def test_owner_filters_read_the_labels(provider: Provider) -> None:
    await seed(provider)
    every = await provider.fetch()
    assert [w.name for w in by_name(select_owner(every, owner=OWNER))] == OWNED
    assert [w.name for w in select_owner(every, owner="kiosk-team")] == ["porto-kiosk"]
    assert [w.name for w in by_name(select_owner(every, unmanaged=True))] == UNMANAGED
    assert [w.name for w in by_name(select_owner(every))] == ALL
    url_only = await provider.fetch(ListFilters(type="url"))
    assert [w.name for w in select_owner(url_only, unmanaged=True)] == ["legacy"]
    with pytest.raises(ValueError, match="mutually exclusive"):
        select_owner(every, owner=OWNER, unmanaged=True)


async def test_unknown_credential_or_notification_is_the_backoffices_error(
    provider: Provider,
) -> None:
    with pytest.raises(InvalidRequest, match="credential 'nope' is not one of this merchant's"):
        await provider.fetch(ListFilters(credential="nope"))
    # the embedded service and the API word it differently; both name the field and choices
    with pytest.raises(InvalidRequest, match=r"notification.*(type 'bogus'|should be 'mbway')"):
        await provider.fetch(ListFilters(notification="bogus"))


async def test_json_is_the_api_shape_without_secrets(provider: Provider) -> None:
    await seed(provider)
    text = render_json(by_name(await provider.fetch()))
    assert_no_secret(text)
    data = json.loads(text)
    assert [d["name"] for d in data] == ALL
    refunds = next(d for d in data if d["name"] == "refunds")
    assert refunds["url"] == CRED_URL_REDACTED
    assert refunds["secret_fingerprint"] == (await provider.fingerprints()).secret(WHSEC)
    assert refunds["labels"]["prevent-destroy"] == "true"
    assert set(refunds) == {
        "id", "name", "type", "url", "email", "application", "notifications", "support_email",
        "format", "enabled", "description", "secret_fingerprint", "labels", "version",
        "created_at", "updated_at", "secret_weak", "previous_secret_fingerprint",
        "previous_secret_valid_until", "delivery_secret"}
    assert refunds["notifications"] == ["xpay"] and refunds["version"] == 1


async def test_table_plain_and_rich(provider: Provider) -> None:
    await seed(provider)
    webhooks = by_name(await provider.fetch())
    plain = render_table(webhooks, rich=False)
    lines = plain.splitlines()
    assert lines[0].split() == ["NAME", "TYPE", "TARGET", "APPLICATION", "NOTIFICATIONS",
                                "ENABLED", "OWNER"]
    assert [line.split()[0] for line in lines[1:]] == ALL
    assert "\x1b[" not in plain
    kiosk = next(line for line in lines if line.startswith("porto-kiosk"))
    assert kiosk.split() == ["porto-kiosk", "url", "https://kiosk.shop.example/hook",
                             "terminal:20001", "key-enter-token", "yes", "kiosk-team"]
    legacy = next(line for line in lines if line.startswith("legacy"))
    assert legacy.rstrip().endswith(" -")  # unmanaged: no owner
    assert CRED_URL_REDACTED in plain
    rich = render_table(webhooks, rich=True, width=100)
    assert "\x1b[" in rich and "porto-kiosk" in rich and "***" in rich
    assert all(len(line) <= 100 for line in _strip_ansi(rich).splitlines())
    for text in (plain, rich):
        assert_no_secret(text)
    assert render_table([], rich=False) == "No webhooks.\n"


def _strip_ansi(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


def test_table_cells_cannot_drive_the_terminal() -> None:
    evil = RemoteWebhook("wh_1", "x", "email", None, "a@b.example", "merchant", ("mbway",),
                         labels={"managed-by": "webhooks-reconciler", "owner": "o\x1b[2J"})
    for rich in (False, True):
        out = render_table([evil], rich=rich)
        assert "\x1b[2J" not in out and "\\x1b[2J" in out


# --- show ------------------------------------------------------------------------------------


async def test_show_every_detail_as_text_and_json(provider: Provider) -> None:
    await seed(provider)
    details = await gather(provider, "refunds")
    assert details.deliveries == ()  # the delivery log is there, and empty
    text = render_details(details)
    assert_no_secret(text)
    assert text.startswith("Webhook refunds\n")
    for expected in (
        f"url:             {CRED_URL_REDACTED}",
        "application:     store:LIS-01 (the terminals of store LIS-01)",
        "notifications:   xpay (XPAY)",
        "format:          standard-webhooks (HMAC-SHA256 signed, Standard Webhooks v1)",
        f"secret:          {(await provider.fingerprints()).secret(WHSEC)} (fingerprint",
        'managed:         by webhooks-reconciler, owner "payments-team"',
        "prevent_destroy: yes",
        "labels:          managed-by=webhooks-reconciler, owner=payments-team, "
        "prevent-destroy=true",
        "version:         1",
    ):
        assert expected in text, expected
    assert "created_at:      20" in text and text.endswith("\nRecent deliveries: none.\n")
    data = details.data
    assert_no_secret(json.dumps(data))
    assert data["name"] == "refunds" and data["url"] == CRED_URL_REDACTED
    assert data["deliveries"] == [] and data["format"] == "standard-webhooks"

    legacy = render_details(await gather(provider, "legacy"))
    assert "description:     on: ${not a ref} \"quoted\" #hash\\nsecond line\\ttab" in legacy
    assert "managed:         no (`webhooks import --include-unmanaged`" in legacy
    mail = render_details(await gather(provider, "lisbon-mail"))
    assert "email:           lisbon@shop.example" in mail and "enabled:         no" in mail
    assert "secret:" not in mail and "format:" not in mail


async def test_show_unknown_name_suggests_close_ones(provider: Provider) -> None:
    await seed(provider)
    with pytest.raises(NotFound, match=r"no webhook named 'order-backend' in the .*"
                                       r"Did you mean 'orders-backend'\?"):
        await gather(provider, "order-backend")
    with pytest.raises(NotFound) as caught:
        await gather(provider, "zzz")
    assert "Did you mean" not in str(caught.value)


def test_find_in_an_empty_backoffice() -> None:
    with pytest.raises(NotFound, match="It has no webhooks at all"):
        find([], "orders", "backoffice")


class LoggingProvider(EmbeddedProvider):
    """The embedded provider plus the delivery-log hook a later release adds for real."""

    async def recent_deliveries(self, webhook_id: str, *, limit: int) -> list[DeliverySummary]:
        return [DeliverySummary("2026-11-28T04:00:00Z", "mbway", "delivered", "HTTP 200"),
                DeliverySummary("2026-11-28T03:00:00Z", "xpay", "failed", "")][:limit]


async def test_show_lists_recent_deliveries_when_the_provider_has_them(tmp_path: Path) -> None:
    plain = EmbeddedProvider.open(tmp_path / ".webhooks")
    provider = LoggingProvider(plain.office)
    try:
        await seed(provider)
        details = await gather(provider, "orders-backend", deliveries=1)
    finally:
        await provider.aclose()
    assert details.deliveries == (
        DeliverySummary("2026-11-28T04:00:00Z", "mbway", "delivered", "HTTP 200"),)
    text = render_details(details)
    assert "Recent deliveries (newest first):\n  2026-11-28T04:00:00Z  mbway  delivered" in text
    assert details.data["deliveries"] == [{"at": "2026-11-28T04:00:00Z",
                                           "notification_type": "mbway",
                                           "status": "delivered", "detail": "HTTP 200"}]
    empty = Details(details.webhook, {}, ())
    assert "Recent deliveries: none." in render_details(empty)


# --- import ----------------------------------------------------------------------------------


async def imported(provider: Provider, **kw: Any) -> ImportResult:
    """``import_config`` of the provider's webhooks, with its fingerprint key."""
    return import_config(await provider.fetch(), fingerprints=await provider.fingerprints(),
                         **kw)


async def planned(provider: Provider, config: Config, **kw: Any) -> Plan:
    """The plan of ``config`` against the provider, with its fingerprint key."""
    return build_plan(config, await provider.fetch(),
                      fingerprints=await provider.fingerprints(), **kw)


def write(tmp_path: Path, result: ImportResult, name: str = "webhooks.yaml") -> Path:
    path = tmp_path / name
    write_file(path, result.text)
    return path


async def test_import_of_an_owner_plans_clean(
    provider: Provider, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await seed(provider)
    result = await imported(provider, owner=OWNER)
    assert result.owner == OWNER
    assert [w.name for w in result.webhooks] == OWNED and result.adoptions == ()
    assert result.url_variables == {CRED_URL_VARIABLE: "refunds"}
    assert_no_secret(result.text)
    path = write(tmp_path, result)

    # without the URL's variable it still loads for validate (a warning), not for plan
    optional = load_config(path, secrets="optional")
    assert [str(w) for w in optional.warnings] == [
        f"{path}:{_line(result.text, 'url: ${env:')}:10: warning: webhooks.refunds.url: "
        f"environment variable "
        f"{CRED_URL_VARIABLE} is not set; not checked (plan and apply need it)"]
    monkeypatch.setenv(CRED_URL_VARIABLE, CRED_URL)
    config = load_config(path, catalog=await provider.catalog())
    plan = await planned(provider, config)
    assert not plan.has_changes and not plan.conflicts and plan.is_safe
    assert plan.unchanged == 3
    assert plan.summary_line().startswith("No changes.")
    assert config.webhooks["refunds"].prevent_destroy is True
    assert config.webhooks["lisbon-mail"].enabled is False
    assert config.webhooks["refunds"].format == "standard-webhooks"


def _line(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


async def test_import_infers_the_owner_or_asks_for_one(provider: Provider) -> None:
    await seed(provider)
    every = await provider.fetch()
    with pytest.raises(ReconcilerError, match=r"holds webhooks of 2 owners \(kiosk-team \(1\), "
                                              r"payments-team \(3\)\) and 2 unmanaged: choose "
                                              r"the config's owner with --owner NAME \(add "
                                              r"--include-unmanaged"):
        import_config(every, fingerprints=FINGERPRINTS)
    # One owner's webhooks beside unmanaged ones: which team's config is it? It asks.
    with pytest.raises(ReconcilerError, match=r"webhooks of 1 owner \(payments-team \(3\)\) "
                                              r"and 2 unmanaged: choose the config's owner"):
        import_config([w for w in every if w.owner != "kiosk-team"], fingerprints=FINGERPRINTS)
    assert import_config([w for w in every if w.owner == OWNER],
                         fingerprints=FINGERPRINTS).owner == OWNER
    assert import_config([w for w in every if w.owner != "kiosk-team"], owner=OWNER,
                         fingerprints=FINGERPRINTS).owner == OWNER
    with pytest.raises(ReconcilerError, match=r"share no owner.*they carry no owner.*--owner"):
        import_config(every, selection="unmanaged", fingerprints=FINGERPRINTS)
    with pytest.raises(ReconcilerError, match=r"owner labels found: kiosk-team, payments-team"):
        import_config(every, selection="all", fingerprints=FINGERPRINTS)
    managed_by_one = [w for w in every if w.owner == OWNER]
    assert import_config(managed_by_one, selection="all", fingerprints=FINGERPRINTS).owner == OWNER
    with pytest.raises(ReconcilerError, match=r'no webhook is managed by owner "nobody" '
                                              r"\(managed owners: kiosk-team, payments-team\)"
                                              r"; 2 webhooks are not managed"):
        import_config(every, owner="nobody", fingerprints=FINGERPRINTS)
    with pytest.raises(ReconcilerError, match="can't be a config's owner"):
        import_config(every, owner="Not An Owner", fingerprints=FINGERPRINTS)
    with pytest.raises(ReconcilerError, match="no webhook is managed by webhooks-reconciler yet"
                                              "; 2 webhooks are not managed"):
        import_config([w for w in every if not w.managed], fingerprints=FINGERPRINTS)
    with pytest.raises(ReconcilerError, match="the backoffice has no webhooks"):
        import_config([], selection="all", owner=OWNER, fingerprints=FINGERPRINTS)
    with pytest.raises(ReconcilerError, match="no webhook that webhooks-reconciler does not"):
        import_config(managed_by_one, selection="unmanaged", owner=OWNER,
                      fingerprints=FINGERPRINTS)


async def test_import_of_unmanaged_webhooks_plans_an_adoption(
    provider: Provider, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await seed(provider)
    result = await imported(provider, selection="unmanaged", owner=OWNER)
    # the owner's own webhooks are in too: left out, the plan would delete them
    assert [w.name for w in result.webhooks] == sorted([*UNMANAGED, *OWNED])
    assert result.adoptions == tuple(UNMANAGED) and result.taken_from_others == ()
    assert result.already_owned == tuple(OWNED)
    assert '\n  "10001":\n' in result.text  # a name YAML would read as a number is quoted
    assert "webhooks plan --adopt" in result.text
    assert_no_secret(result.text)
    path = write(tmp_path, result)
    monkeypatch.setenv(CRED_URL_VARIABLE, CRED_URL)
    config = load_config(path, catalog=await provider.catalog())
    assert config.webhooks["legacy"].description == TRICKY_DESCRIPTION

    refused = await planned(provider, config)
    assert [c.name for c in refused.conflicts] == UNMANAGED and not refused.is_safe

    plan = await planned(provider, config, adopt=True)
    assert [(c.action, c.name, c.adopt) for c in plan.changes] == [
        (Action.UPDATE, "10001", True), (Action.UPDATE, "legacy", True)]
    for change in plan.changes:
        assert {f.field for f in change.fields} == {"managed_by", "owner"}
    assert plan.unchanged == len(OWNED) and plan.is_safe
    report = await apply_plan(plan, provider)
    assert report.ok, report.data
    after = {w.name: w for w in await provider.fetch()}
    assert after["legacy"].labels == {"managed-by": "webhooks-reconciler", "owner": OWNER,
                                      "team": "legacy"}  # others' labels are kept
    again = await planned(provider, config)
    assert not again.has_changes and again.is_safe and again.unchanged == 5
    # now that they are managed, an import of the owner holds them, and nothing is unmanaged
    owned = await imported(provider, owner=OWNER)
    assert [w.name for w in owned.webhooks] == sorted([*OWNED, *UNMANAGED])
    assert owned.adoptions == ()


async def test_unmanaged_import_for_a_new_owner_holds_only_the_unmanaged(
    provider: Provider,
) -> None:
    await seed(provider)
    result = await imported(provider, selection="unmanaged", owner="legacy-team")
    assert [w.name for w in result.webhooks] == UNMANAGED and result.already_owned == ()


async def test_import_all_takes_over_other_owners_only_when_asked(
    provider: Provider, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await seed(provider)
    result = await imported(provider, selection="all", owner=OWNER)
    assert [w.name for w in result.webhooks] == ALL
    assert result.adoptions == ("10001", "legacy", "porto-kiosk")
    assert result.taken_from_others == ("porto-kiosk",)
    assert_no_secret(result.text)
    monkeypatch.setenv(CRED_URL_VARIABLE, CRED_URL)
    config = load_config(write(tmp_path, result))
    plan = await planned(provider, config, adopt=True)
    assert sorted(c.name for c in plan.changes) == ["10001", "legacy", "porto-kiosk"]
    kiosk = next(c for c in plan.changes if c.name == "porto-kiosk")
    assert kiosk.adopted_from == "kiosk-team"
    assert [f.field for f in kiosk.fields] == ["owner"]


async def test_import_is_stable(provider: Provider) -> None:
    await seed(provider)
    first = (await imported(provider, selection="all", owner=OWNER)).text
    shuffled = list(reversed(await provider.fetch()))
    again = import_config(shuffled, selection="all", owner=OWNER, fingerprints=FINGERPRINTS)
    assert again.text == first
    assert first.index("\n  \"10001\":") < first.index("\n  legacy:") < first.index(
        "\n  lisbon-mail:") < first.index("\n  orders-backend:")


async def test_import_text_reads_like_a_hand_written_config(provider: Provider) -> None:
    await seed(provider)
    text = (await imported(provider, owner=OWNER)).text
    block = text[text.index("  orders-backend:"):text.index("  refunds:")]
    assert block == (
        "  orders-backend:\n"
        "    type: url\n"
        "    url: https://api.shop.example/hooks/sibs\n"
        "    application: merchant\n"
        "    notifications: [authorised-payment, mbway]\n"
        "    support_email: oncall@shop.example\n"
        "    description: Order service\n"
        "    # secret: ${env:ORDERS_BACKEND_SECRET}  # the backoffice keeps the current secret;"
        " uncomment to manage it\n\n"
    )
    refunds = text[text.index("  refunds:"):]
    assert "    url: ${env:REFUNDS_URL}\n" in refunds
    assert f"shows as {CRED_URL_REDACTED}\n" in refunds
    assert "    format: standard-webhooks\n" in refunds
    assert "    prevent_destroy: true\n" in refunds
    assert text.startswith("# yaml-language-server: $schema=webhooks.schema.json\n"
                           "# (save the schema beside this file for your editor: "
                           "webhooks schema > webhooks.schema.json)\n")
    assert "\nversion: 1\nowner: payments-team\n\nwebhooks:\n" in text


async def test_uncommenting_the_secret_line_takes_the_secret_under_management(
    provider: Provider, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await seed(provider)
    text = (await imported(provider, owner=OWNER)).text
    text = text.replace("    # secret: ${env:ORDERS_BACKEND_SECRET}  # the backoffice",
                        "    secret: ${env:ORDERS_BACKEND_SECRET}  # the backoffice")
    path = tmp_path / "webhooks.yaml"
    path.write_text(text)
    monkeypatch.setenv(CRED_URL_VARIABLE, CRED_URL)
    monkeypatch.setenv("ORDERS_BACKEND_SECRET", SECRET)  # the secret it already has
    plan = await planned(provider, load_config(path))
    assert not plan.has_changes
    monkeypatch.setenv("ORDERS_BACKEND_SECRET", OTHER_SIBS_SECRET)
    plan = await planned(provider, load_config(path))
    assert [(c.name, [f.field for f in c.fields]) for c in plan.changes] == [
        ("orders-backend", ["secret"])]


# --- the YAML and the file, without a backoffice ------------------------------------------------


def remote(name: str = "w", **kw: object) -> RemoteWebhook:
    fields: dict[str, object] = {
        "id": "wh_1", "name": name, "type": "url", "url": "https://a.example/h",
        "email": None, "application": "merchant", "notifications": ("mbway",),
        "labels": {"managed-by": "webhooks-reconciler", "owner": OWNER}, **kw}
    return RemoteWebhook(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [
    "yes", "No", "on", "OFF", "y", "null", "true", "10001", "0755", "1e3", "1:20",
    "2024-01-01", ".inf", "~", "-x", "a: b", "a #b", "a:", " a", "a ", "#x", "", "@x",
    "multi\nline", "tab\there", "quote\"s", "back\\slash", "NEL\x85", "LS\u2028", "\ufeffbom",
    "emoji 😀", "ctrl\x07", "[list]", "{map}", "*alias", "&anchor", "!tag", "|block", ">fold",
    "%directive", "'single'", "a, b", "plain words", "https://x.example/a?b=c#d",
])
def test_scalars_read_back_as_the_same_string(value: str) -> None:
    for flow in (False, True):
        doc = f"a: [{scalar(value, flow=True)}]\n" if flow else f"a: {scalar(value)}\n"
        want = {"a": [value]} if flow else {"a": value}
        slow = yamlload.load_slow(doc)
        assert not slow.problems and slow.value == want, doc
        if yamlload.fast_path_allowed(doc):
            assert yamlload.load_fast(doc) == want, doc
    assert scalar("plain words") == "plain words"
    assert scalar("yes") == '"yes"'


# Any text a description may hold: no surrogates, and of the control and bidirectional
# characters (contract.rules) only tab and line feed.
_printable_text = st.text(
    st.characters(blacklist_categories=["Cs"], blacklist_characters=[
        chr(c) for c in (*range(0x20), *range(0x7f, 0xa0), 0x61c, 0x200e, 0x200f,
                         *range(0x202a, 0x202f), *range(0x2066, 0x206a)) if chr(c) not in "\t\n"]),
    min_size=1, max_size=60)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(description=_printable_text)
def test_any_description_round_trips(description: str) -> None:
    # import_config loads its text back and plans it: any description that would not
    # survive the trip raises there.
    result = import_config([remote(description=description)], fingerprints=FINGERPRINTS)
    assert result.owner == OWNER and "description:" in result.text


def test_every_literal_dollar_brace_stays_literal() -> None:
    hooks = [remote("a", description="${env:HOME} and $${x} and $", url="https://a.example/${x}"),
             remote("b", type="email", url=None, email="x${y}@a.example")]
    result = import_config(hooks, fingerprints=FINGERPRINTS)
    assert "description: $${env:HOME} and $$${x} and $" in result.text
    # the self-check planned it clean: had ${env:HOME} been read as a reference, it
    # would have differed


def test_env_names_stay_apart() -> None:
    from reconciler.importer import env_names

    assert env_names(["a-b", "a.b", "a_b", "9lives"], "URL") == [
        "A_B_URL", "A_B_2_URL", "A_B_3_URL", "WEBHOOK_9LIVES_URL"]


def test_write_file_is_atomic_and_refuses_to_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "webhooks.yaml"
    write_file(path, "one\n")
    assert path.read_text() == "one\n"
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask
    with pytest.raises(ReconcilerError, match="already exists: nothing was written"):
        write_file(path, "two\n")
    path.chmod(0o640)
    write_file(path, "two\n", force=True)
    assert path.read_text() == "two\n" and stat.S_IMODE(path.stat().st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["webhooks.yaml"]  # no temp left
    with pytest.raises(ReconcilerError, match="it is a directory"):
        write_file(tmp_path, "x", force=True)
    with pytest.raises(ReconcilerError, match="cannot write"):
        write_file(tmp_path / "missing" / "webhooks.yaml", "x")


def test_a_webhook_a_config_cannot_express_is_refused_not_written() -> None:
    # a backoffice whose catalogue grew beyond the config schema's notification types
    with pytest.raises(ReconcilerError, match=r"does not load back, so nothing was written"
                                              r"(.|\n)*line 1\d, col \d+: .*'sms'"):
        import_config([remote(notifications=("sms",))], fingerprints=FINGERPRINTS)


def test_a_long_list_on_a_terminal_is_the_plain_table() -> None:
    from reconciler.render.listing import RICH_MAX_ROWS

    many = [remote(f"w{i:04d}") for i in range(RICH_MAX_ROWS + 1)]
    out = render_table(many, rich=True)
    assert "\x1b[" not in out and len(out.splitlines()) == RICH_MAX_ROWS + 2
