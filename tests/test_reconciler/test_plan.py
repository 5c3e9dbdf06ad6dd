"""The diff engine: normalisation, changes, ownership, safety, targeting."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contract.urls import has_credentials as url_has_credentials
from contract.urls import redact_url
from reconciler.errors import PlanError, ProviderError, UnsafePlan
from reconciler.model import RemoteWebhook, WebhookSpec
from reconciler.plan import (
    Action,
    Create,
    Delete,
    Plan,
    Replace,
    Sensitive,
    Update,
)
from reconciler.plan.normalize import (
    FIELDS,
    actual_state,
    as_dict,
    desired_labels,
    desired_state,
    normalize_email,
    normalize_url,
)
from tests.support.plan_samples import (
    FINGERPRINTS,
    FORBIDDEN,
    OWNER,
    SECRET_VALUE,
    build_plan,
    config,
    remote_for,
    representative,
    secret,
    secret_fingerprint,
    spec,
)


def actions(plan: Plan) -> list[tuple[str, str]]:
    return [(str(c.action), c.name) for c in plan.changes]


# --- normalisation -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given_url", "expected"),
    [
        ("https://api.shop.example/hooks", "https://api.shop.example/hooks"),
        ("HTTPS://API.Shop.Example/Hooks?Token=AbC", "https://api.shop.example/Hooks?Token=AbC"),
        ("https://api.shop.example:443/x", "https://api.shop.example/x"),
        ("http://127.0.0.1:80/x", "http://127.0.0.1/x"),
        ("https://api.shop.example:8443/x", "https://api.shop.example:8443/x"),
        ("https://api.shop.example", "https://api.shop.example/"),
        ("https://api.shop.example?a=1", "https://api.shop.example/?a=1"),
        ("  https://api.shop.example/x  ", "https://api.shop.example/x"),
        ("https://User:PassWord@API.shop.example/x", "https://User:PassWord@api.shop.example/x"),
        ("http://[::1]:80/x", "http://[::1]/x"),
        ("http://[::1]:8080/x", "http://[::1]:8080/x"),
        ("", None),
        (None, None),
    ],
)
def test_normalize_url(given_url: str | None, expected: str | None) -> None:
    assert normalize_url(given_url) == expected


def test_redact_url_keeps_everything_but_the_password() -> None:
    assert redact_url("https://user:s3cret@host.example:8443/p?q=1") == (
        "https://user:***@host.example:8443/p?***"  # a query string is a credential too
    )
    # A bare user in a URL is usually a token: hidden whole.
    assert redact_url("https://ghp_token@host.example/p") == "https://***@host.example/p"
    assert redact_url("https://host.example/p") == "https://host.example/p"
    assert url_has_credentials("https://u:p@h/") and not url_has_credentials("https://h/@x")


def test_normalize_email_lowers_the_domain_only() -> None:
    assert normalize_email(" Ops.Team@Shop.EXAMPLE ") == "Ops.Team@shop.example"
    assert normalize_email("") is None
    assert normalize_email(None) is None


def test_states_follow_the_field_order() -> None:
    s = spec("a", support_email="s@x.example", description="d", prevent_destroy=True,
             secret=secret())
    d = as_dict(desired_state(s, OWNER, FINGERPRINTS))
    assert list(d) == list(FIELDS)
    assert d["support_email"] == "s@x.example" and d["description"] == "d"
    assert d["prevent_destroy"] is True and d["secret"] == secret_fingerprint(SECRET_VALUE)
    assert d["owner"] == OWNER and d["managed_by"] == "webhooks-reconciler"
    r = as_dict(actual_state(remote_for(s), FINGERPRINTS))
    assert r == d


def test_desired_labels_keep_other_labels() -> None:
    labels = desired_labels(OWNER, False, {"team": "x", "prevent-destroy": "true", "owner": "o"})
    assert labels == {"team": "x", "managed-by": "webhooks-reconciler", "owner": OWNER}
    assert desired_labels(OWNER, True)["prevent-destroy"] == "true"


# --- the remote model ----------------------------------------------------------------


def test_remote_from_api_and_labels() -> None:
    r = RemoteWebhook.from_api({
        "id": "wh_1", "name": "a", "type": "url", "url": "https://u:pw-123@h.example/x",
        "email": None, "application": "merchant", "notifications": ["xpay", "mbway"],
        "support_email": None, "format": "sibs", "enabled": True, "description": "",
        "secret_fingerprint": "sha256:0123456789abcdef",
        "labels": {"managed-by": "webhooks-reconciler", "owner": "t", "prevent-destroy": "true"},
        "version": 4, "created_at": "2026-11-28T04:00:00Z", "updated_at": "2026-11-28T05:00:00Z",
    })
    assert r.notifications == ("xpay", "mbway") and r.version == 4
    assert r.managed and r.owner == "t" and r.prevent_destroy
    assert "pw-123" not in repr(r) and "h.example" in repr(r)


def test_remote_from_api_malformed_is_a_provider_error() -> None:
    with pytest.raises(ProviderError, match="malformed webhook 'a': missing field 'id'"):
        RemoteWebhook.from_api({"name": "a"})
    with pytest.raises(ProviderError, match="malformed"):
        RemoteWebhook.from_api({"id": "x", "name": "a", "type": "url", "application": "m",
                                "version": "three"})


def test_remote_managed_needs_both_labels() -> None:
    s = spec("a")
    assert not remote_for(s, owner=None).managed
    assert not remote_for(s, managed=False).managed
    assert remote_for(s).managed


# --- plans ---------------------------------------------------------------------------


def test_fresh_backoffice_plans_all_creates() -> None:
    cfg = config(spec("b", secret=secret()), spec("a"), spec("c", type="email"))
    plan = build_plan(cfg, [])
    assert actions(plan) == [("create", "a"), ("create", "b"), ("create", "c")]
    assert all(isinstance(c, Create) and c.precondition.absent for c in plan.changes)
    b = plan.changes[1]
    assert b.after is not None and b.before is None
    assert b.after["secret"] == Sensitive(secret_fingerprint(SECRET_VALUE),
                                          source="env:ORDERS_WEBHOOK_SECRET")
    assert plan.changes[0].after is not None and plan.changes[0].after["secret"] is None
    assert plan.summary_line() == (
        "Plan: 3 to create, 0 to update, 0 to replace, 0 to delete; 0 unchanged."
    )
    assert plan.has_changes and plan.is_safe
    assert b.spec is not None and b.spec.secret is not None  # apply gets the real spec


def test_equal_state_plans_no_changes() -> None:
    specs = [spec("a", secret=secret()), spec("b", type="email", support_email="s@x.example")]
    plan = build_plan(config(*specs), [remote_for(s) for s in specs])
    assert not plan.has_changes and plan.unchanged == 2 and plan.is_safe
    assert plan.summary_line() == "No changes. The backoffice matches the config (2 webhooks)."


def test_loose_spelling_plans_no_changes() -> None:
    canonical = spec("a", url="https://api.shop.example/hooks/Sibs?Key=V",
                     notifications=("mbway", "xpay"), support_email="ops@shop.example")
    loose = replace(
        canonical,
        url="HTTPS://API.Shop.Example:443/hooks/Sibs?Key=V",
        notifications=("xpay", "mbway", "xpay"),
        support_email="ops@SHOP.example",
    )
    remote = remote_for(canonical, notifications=("mbway", "xpay", "mbway"))
    assert not build_plan(config(loose), [remote]).has_changes
    mail = spec("m", type="email", email="Lisbon@Shop.Example", description="")
    remote = remote_for(mail, email="Lisbon@shop.example", description=None,
                        support_email="")
    assert not build_plan(config(mail), [remote]).has_changes


@given(
    st.permutations(["mbway", "xpay", "qr-code"]),
    st.sampled_from(["https", "HTTPS", "Https"]),
    st.sampled_from(["api.shop.example", "API.SHOP.EXAMPLE", "Api.Shop.Example"]),
    st.sampled_from(["", ":443"]),
    st.booleans(),
)
def test_spelling_never_makes_a_diff(
    notes: list[str], scheme: str, host: str, port: str, repeat: bool
) -> None:
    s = spec("a", url=f"{scheme}://{host}{port}/Hooks", notifications=tuple(notes))
    if repeat:
        s = replace(s, notifications=(*s.notifications, notes[0]))
    remote = remote_for(spec("a", url="https://api.shop.example/Hooks",
                             notifications=("mbway", "qr-code", "xpay")))
    assert not build_plan(config(s), [remote]).has_changes


FIELD_CASES = [
    ("url", spec("w", url="https://new.shop.example/x"), "https://new.shop.example/x"),
    ("application", spec("w", application="store:LIS-01"), "store:LIS-01"),
    ("notifications", spec("w", notifications=("mbway", "xpay")), ("mbway", "xpay")),
    ("support_email", spec("w", support_email="help@shop.example"), "help@shop.example"),
    ("format", spec("w", format="standard-webhooks"), "standard-webhooks"),
    ("enabled", spec("w", enabled=False), False),
    ("description", spec("w", description="new"), "new"),
    ("prevent_destroy", spec("w", prevent_destroy=True), True),
]


@pytest.mark.parametrize(("field", "changed", "after"), FIELD_CASES,
                         ids=[c[0] for c in FIELD_CASES])
def test_each_field_change_alone(field: str, changed: WebhookSpec, after: object) -> None:
    remote = remote_for(spec("w"), version=7)
    plan = build_plan(config(changed), [remote])
    assert actions(plan) == [("update", "w")]
    change = plan.changes[0]
    assert isinstance(change, Update) and not change.adopt
    assert [f.field for f in change.fields] == [field]
    assert change.fields[0].after == after
    assert change.precondition.data == {"id": remote.id, "version": 7}


def test_email_change() -> None:
    remote = remote_for(spec("m", type="email", email="a@shop.example"))
    plan = build_plan(config(spec("m", type="email", email="b@shop.example")), [remote])
    assert [(f.field, f.before, f.after) for f in plan.changes[0].fields] == [
        ("email", "a@shop.example", "b@shop.example")
    ]


def test_notifications_change_lists_added_and_removed() -> None:
    remote = remote_for(spec("w", notifications=("mbway", "qr-code")))
    plan = build_plan(config(spec("w", notifications=("qr-code", "xpay"))), [remote])
    fc = plan.changes[0].fields[0]
    assert (fc.added, fc.removed) == (("xpay",), ("mbway",))


def test_secret_compares_by_fingerprint_and_is_left_alone_when_unset() -> None:
    remote = remote_for(spec("w", secret=secret("old-secret-value")))
    assert not build_plan(config(spec("w")), [remote]).has_changes  # no secret: left alone
    same = spec("w", secret=secret("old-secret-value"))
    assert not build_plan(config(same), [remote]).has_changes
    plan = build_plan(config(spec("w", secret=secret())), [remote])
    fc = plan.changes[0].fields[0]
    assert fc.field == "secret" and fc.sensitive
    assert fc.before == Sensitive(secret_fingerprint("old-secret-value"))
    assert fc.after == Sensitive(
        secret_fingerprint(SECRET_VALUE), source="env:ORDERS_WEBHOOK_SECRET"
    )


def test_secret_without_value_is_left_alone() -> None:
    """validate may hand over a Secret whose env var is unset: no diff, no crash."""
    remote = remote_for(spec("w", secret=secret("old-secret-value")))
    unset = spec("w", secret=replace(secret(), value=None))
    assert not build_plan(config(unset), [remote]).has_changes


def test_url_credentials_never_reach_plan_data() -> None:
    old = "https://bob:old-pass-1@hooks.shop.example/x"
    new = "https://bob:new-pass-2@hooks.shop.example/x"
    plan = build_plan(config(spec("w", url=new)), [remote_for(spec("w", url=old))])
    fc = plan.changes[0].fields[0]
    assert isinstance(fc.before, Sensitive) and isinstance(fc.after, Sensitive)
    assert fc.before.redacted == fc.after.redacted == "https://bob:***@hooks.shop.example/x"
    assert fc.before.fingerprint != fc.after.fingerprint
    text = repr(plan) + str(plan.data)
    assert "old-pass-1" not in text and "new-pass-2" not in text


def test_other_labels_and_false_prevent_destroy_make_no_diff() -> None:
    s = spec("w")
    labels = {**desired_labels(OWNER, False), "team": "checkout", "prevent-destroy": "false"}
    assert not build_plan(config(s), [remote_for(s, labels=labels)]).has_changes


def test_type_change_is_a_replace() -> None:
    remote = remote_for(spec("w"), version=5)
    plan = build_plan(config(spec("w", type="email", email="w@shop.example")), [remote])
    (change,) = plan.changes
    assert isinstance(change, Replace) and change.action is Action.REPLACE
    assert [f.field for f in change.fields] == ["type", "url", "email", "format", "secret"]
    assert change.after is not None and change.after["secret"] is None  # a new one is generated
    assert change.precondition.data == {"id": remote.id, "version": 5}
    assert plan.is_safe


def test_removed_block_deletes_only_own_webhooks() -> None:
    own = remote_for(spec("gone"), version=2)
    others = remote_for(spec("theirs"), owner="ops-team")
    manual = remote_for(spec("manual"), owner=None)
    half = remote_for(spec("half"), managed=False)
    plan = build_plan(config(), [own, others, manual, half])
    assert actions(plan) == [("delete", "gone")]
    assert isinstance(plan.changes[0], Delete)
    assert plan.changes[0].precondition.data == {"id": own.id, "version": 2}
    assert [r.name for r in plan.unmanaged] == ["half", "manual"]
    assert [(r.name, r.owner) for r in plan.foreign] == [("theirs", "ops-team")]
    assert plan.summary_line() == (
        "Plan: 0 to create, 0 to update, 0 to replace, 1 to delete; 0 unchanged; "
        "2 unmanaged and 1 owned by other owners not shown."
    )


def test_no_changes_line_mentions_what_is_not_shown() -> None:
    s = spec("a")
    plan = build_plan(config(s), [remote_for(s), remote_for(spec("m"), owner=None)])
    assert plan.summary_line() == (
        "No changes. The backoffice matches the config (1 webhook). 1 unmanaged not shown."
    )


@pytest.mark.parametrize(("owner", "managed", "whose"), [
    (None, True, "not managed by webhooks-reconciler"),
    ("ops-team", True, 'owned by "ops-team"'),
    (OWNER, False, f'labelled owner "{OWNER}" but not managed'),
])
def test_same_name_is_a_conflict(owner: str | None, managed: bool, whose: str) -> None:
    remote = remote_for(spec("w"), owner=owner, managed=managed)
    plan = build_plan(config(spec("w")), [remote])
    assert not plan.has_changes and not plan.is_safe
    assert [c.name for c in plan.conflicts] == ["w"] and whose in plan.conflicts[0].message
    assert [r.kind for r in plan.unsafe] == ["conflict"]
    assert "--adopt" in plan.unsafe[0].hint
    assert not plan.unmanaged and not plan.foreign  # reported once, as the conflict
    assert "1 conflict" in plan.summary_line()
    with pytest.raises(UnsafePlan, match="--adopt"):
        plan.raise_if_unsafe()


def test_adopt_turns_a_conflict_into_a_label_update() -> None:
    unmanaged = remote_for(spec("w"), owner=None, version=9)
    plan = build_plan(config(spec("w")), [unmanaged], adopt=True)
    (change,) = plan.changes
    assert isinstance(change, Update) and change.adopt and change.adopted_from is None
    assert [(f.field, f.before, f.after) for f in change.fields] == [
        ("managed_by", None, "webhooks-reconciler"), ("owner", None, OWNER)
    ]
    assert plan.is_safe and change.precondition.data == {"id": unmanaged.id, "version": 9}

    foreign = remote_for(spec("w", description="theirs"), owner="ops-team")
    change = build_plan(config(spec("w")), [foreign], adopt=True).changes[0]
    assert change.adopt and change.adopted_from == "ops-team"
    assert [f.field for f in change.fields] == ["description", "owner"]


def test_prevent_destroy_label_blocks_delete_even_with_force() -> None:
    protected = remote_for(spec("keep", prevent_destroy=True))
    for force in (False, True):
        plan = build_plan(config(), [protected], force=force)
        assert actions(plan) == [("delete", "keep")] and plan.changes[0].protected
        assert not plan.is_safe
        (reason,) = plan.unsafe
        assert reason.kind == "prevent_destroy" and reason.names == ("keep",)
        assert "prevent_destroy: false" in reason.hint and "--force does not" in reason.hint


def test_prevent_destroy_in_config_blocks_replace() -> None:
    remote = remote_for(spec("w", prevent_destroy=True))
    changed = spec("w", type="email", email="w@shop.example", prevent_destroy=True)
    plan = build_plan(config(changed), [remote], force=True)
    assert plan.changes[0].protected and not plan.is_safe
    assert "Set prevent_destroy: false and apply first" in plan.unsafe[0].hint


def test_prevent_destroy_label_blocks_replace_after_the_flag_is_dropped() -> None:
    remote = remote_for(spec("w", prevent_destroy=True))
    changed = spec("w", type="email", email="w@shop.example")  # flag gone, type changed
    plan = build_plan(config(changed), [remote])
    assert plan.changes[0].protected and not plan.is_safe
    assert "still protects it" in plan.unsafe[0].message
    # The way out: same type, flag off -> an update that clears the label; safe.
    clearing = build_plan(config(spec("w")), [remote])
    assert [f.field for f in clearing.changes[0].fields] == ["prevent_destroy"]
    assert clearing.is_safe


def _managed(n: int) -> list[RemoteWebhook]:
    return [remote_for(spec(f"w{i:02d}")) for i in range(n)]


@pytest.mark.parametrize(("managed", "deleted", "safe"), [
    (10, 3, True),  # exactly 30%: allowed
    (10, 4, False),  # 40%
    (9, 9, True),  # under 10 managed webhooks the threshold does not apply
    (20, 6, True),
    (20, 7, False),
])
def test_bulk_delete_threshold(managed: int, deleted: int, safe: bool) -> None:
    remotes = _managed(managed)
    keep = [spec(r.name) for r in remotes[deleted:]]
    plan = build_plan(config(*keep), remotes)
    assert plan.summary.delete == deleted
    assert plan.is_safe is safe
    if not safe:
        (reason,) = plan.unsafe
        assert reason.kind == "threshold" and "--force" in reason.hint
        assert f"{deleted} of {managed} managed webhooks" in reason.message
        forced = build_plan(config(*keep), remotes, force=True)
        assert forced.is_safe and [r.overridden for r in forced.reasons] == [True]


def test_replaces_count_toward_the_threshold() -> None:
    remotes = _managed(10)
    specs = [spec(r.name) for r in remotes]
    specs[:4] = [spec(s.name, type="email", email=f"{s.name}@shop.example") for s in specs[:4]]
    plan = build_plan(config(*specs), remotes)
    assert plan.summary.replace == 4 and not plan.is_safe
    assert plan.unsafe[0].kind == "threshold"


def test_other_owners_do_not_count_toward_the_threshold() -> None:
    remotes = _managed(10) + [remote_for(spec(f"o{i}"), owner="ops") for i in range(30)]
    plan = build_plan(config(*[spec(r.name) for r in remotes[4:10]]), remotes)
    assert plan.summary.delete == 4 and plan.managed == 10 and not plan.is_safe


def test_targets_limit_the_plan() -> None:
    cfg, actual = representative()
    plan = build_plan(cfg, actual, targets={"refunds-hook", "stale-hook"})
    assert actions(plan) == [("update", "refunds-hook"), ("delete", "stale-hook")]
    assert plan.unchanged == 0 and not plan.conflicts and not plan.unmanaged
    assert plan.options.targets == frozenset({"refunds-hook", "stale-hook"})


def test_unknown_target_suggests_close_names() -> None:
    cfg, actual = representative()
    close = r"unknown target 'refund-hook'.*did you mean 'refunds-hook'"
    with pytest.raises(PlanError, match=close):
        build_plan(cfg, actual, targets=["refund-hook"])
    with pytest.raises(PlanError, match=r"unknown target 'zzz': not in the config nor the \w+$"):
        build_plan(cfg, actual, targets=["zzz"])


def test_duplicate_remote_names_are_an_error() -> None:
    s = spec("w")
    with pytest.raises(PlanError, match="more than one webhook named w"):
        build_plan(config(s), [remote_for(s), remote_for(s)])


def test_representative_plan_order_and_summary() -> None:
    cfg, actual = representative()
    plan = build_plan(cfg, actual)
    assert actions(plan) == [
        ("create", "lisbon-store-mail"),
        ("create", "orders-backend"),
        ("create", "stale-alerts"),
        ("update", "billing-v2"),
        ("update", "porto-mail"),
        ("update", "refunds-hook"),
        ("replace", "terminal-10001"),
        ("delete", "old-hook"),
        ("delete", "stale-hook"),
    ]
    s = plan.summary
    assert (s.create, s.update, s.replace, s.delete, s.unchanged) == (3, 3, 1, 2, 3)
    assert (s.unmanaged, s.foreign, s.conflicts) == (2, 1, 1)
    assert [r.kind for r in plan.unsafe] == ["conflict", "prevent_destroy"]
    assert [(w.kind, w.names) for w in plan.warnings] == [
        ("rename", ("stale-hook", "stale-alerts")), ("weak_secret", ("steady-0",))]
    assert plan.managed == 9


def test_plan_repr_and_data_hold_no_secret() -> None:
    cfg, actual = representative()
    plan = build_plan(cfg, actual, adopt=True)
    text = repr(plan) + repr(plan.data)
    for value in FORBIDDEN:
        assert value not in text
