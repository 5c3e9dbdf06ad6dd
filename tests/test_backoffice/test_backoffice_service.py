"""The service's rules, called in-process as the embedded provider calls them."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from backoffice import Backoffice
from backoffice.db import tables as schema
from backoffice.errors import (
    Conflict,
    Forbidden,
    IdempotencyKeyReused,
    Invalid,
    NameTaken,
    NotFound,
    PreconditionFailed,
    Unauthorized,
)
from contract import catalogue, formats
from contract.formats import secret_problem
from tests.support.backoffice import Clock, email_webhook, url_webhook
from tests.support.secrets import (
    CRED_10001,
    CRED_10002,
    CRED_20001,
    OTHER_SIBS_SECRET,
    SIBS_SECRET,
    WEAK_SIBS,
    WHSEC,
)


def test_demo_merchant_is_seeded_with_its_catalogue(office: Backoffice) -> None:
    assert office.merchants.catalog("demo") == {
        "notification_types": [{"code": n.code, "label": n.label}
                               for n in catalogue.NOTIFICATIONS],
        "stores": [{"code": "LIS-01", "name": "Lisboa Chiado"},
                   {"code": "POR-01", "name": "Porto Baixa"}],
        "terminals": [{"id": "10001", "store": "LIS-01"}, {"id": "10002", "store": "LIS-01"},
                      {"id": "20001", "store": "POR-01"}],
        "credentials": [
            {"client_id": CRED_10001, "terminal": "10001"},
            {"client_id": CRED_10002, "terminal": "10002"},
            {"client_id": CRED_20001, "terminal": "20001"},
        ],
    }
    with pytest.raises(NotFound, match="no merchant 'nobody'"):
        office.merchants.catalog("nobody")


def test_create_fills_defaults_and_generates_a_sibs_secret(office: Backoffice) -> None:
    created = office.webhooks.create_webhook(
        "demo", url_webhook(notifications=["xpay", "mbway", "xpay"]))
    assert re.fullmatch(r"wh_[0-9a-f]{24}", created["id"])
    assert created | {"id": "x", "secret_fingerprint": "x"} == {
        "id": "x", "name": "orders-backend", "type": "url",
        "url": "https://api.shop.example/hooks/sibs", "url_fingerprint": None, "email": None,
        "application": "merchant",
        "notifications": ["mbway", "xpay"], "support_email": None, "format": "sibs",
        "enabled": True, "description": "", "secret_fingerprint": "x", "labels": {},
        "version": 1, "created_at": "2026-11-28T04:00:00Z", "updated_at": "2026-11-28T04:00:00Z",
        "secret_weak": False, "previous_secret_fingerprint": None,
        "previous_secret_valid_until": None, "delivery_secret": "current",
        "applied": None,
    }
    secret = office.webhooks.webhook_secret("demo", created["id"])
    assert secret is not None and secret_problem("sibs", secret) is None
    assert created["secret_fingerprint"] == office_fingerprint(office, secret)
    assert office.webhooks.get_webhook("demo", created["id"]) == created
    assert office.webhooks.find_webhook_by_name("demo", "orders-backend") == created


def office_fingerprint(office: Backoffice, secret: str) -> str:
    """The secret's published fingerprint: keyed with the demo merchant's key."""
    from backoffice import Fingerprints

    fingerprints = office.merchants.fingerprints("demo")
    assert isinstance(fingerprints, Fingerprints)
    return fingerprints.secret(secret)


def test_standard_webhooks_secret_is_generated_in_its_spelling(office: Backoffice) -> None:
    created = office.webhooks.create_webhook("demo", url_webhook(format="standard-webhooks"))
    secret = office.webhooks.webhook_secret("demo", created["id"])
    assert secret is not None and secret.startswith("whsec_")
    assert secret_problem("standard-webhooks", secret) is None


def test_given_secret_is_sealed_and_fingerprinted(office: Backoffice) -> None:
    created = office.webhooks.create_webhook("demo", url_webhook(secret=SIBS_SECRET))
    assert created["secret_fingerprint"] == office_fingerprint(office, SIBS_SECRET)
    assert "secret" not in created
    assert office.webhooks.webhook_secret("demo", created["id"]) == SIBS_SECRET


def test_email_webhook_has_no_secret_and_no_format(office: Backoffice) -> None:
    created = office.webhooks.create_webhook(
        "demo", email_webhook(support_email="ops@shop.example"))
    assert (created["format"], created["secret_fingerprint"], created["url"]) == (None, None, None)
    assert created["application"] == "store:LIS-01"
    assert created["support_email"] == "ops@shop.example"
    assert office.webhooks.webhook_secret("demo", created["id"]) is None


def test_name_is_unique_per_merchant(office: Backoffice) -> None:
    first = office.webhooks.create_webhook("demo", url_webhook())
    with pytest.raises(NameTaken, match=f"named 'orders-backend' already exists .id {first['id']}"):
        office.webhooks.create_webhook("demo", email_webhook(name="orders-backend"))
    other = office.webhooks.create_webhook("acme", url_webhook())  # another merchant may use it
    assert other["id"] != first["id"]


BAD_BODIES: list[tuple[Any, str]] = [
    ("not a dict", "the body must be a JSON object"),
    ({**url_webhook(), "colour": "red"}, "unknown field 'colour'"),
    ({k: v for k, v in url_webhook().items() if k != "name"}, "name is required"),
    (url_webhook(name="Orders"), "name must be lower-case letters, digits"),
    (url_webhook(name="x" * 64), "name is too long"),
    (url_webhook(type="sms"), "type must be 'url' or 'email'"),
    (url_webhook(url=None), "url is required for a url webhook"),
    (url_webhook(url="http://api.shop.example/x"), "url must use https"),
    (url_webhook(url="ftp://api.shop.example/x"), "url must be an absolute https:// URL"),
    (url_webhook(url="https:///nohost"), "url must be an absolute https:// URL"),
    (url_webhook(url="https://a.example/with space"), "url must not contain spaces"),
    (url_webhook(url="https://a.example:99999/"), "url is not a valid URL"),
    (url_webhook(url="https://a.example/" + "x" * 2048), "url is too long"),
    (url_webhook(url=42), "url must be a string"),
    (url_webhook(email="x@shop.example"), "email is only for email webhooks"),
    (email_webhook(secret=SIBS_SECRET), "secret is only for url webhooks"),
    (email_webhook(format="sibs"), "format is only for url webhooks"),
    (email_webhook(url="https://a.example/"), "url is only for url webhooks"),
    (email_webhook(email="not-an-address"), "email must be an e-mail address"),
    (email_webhook(email=None), "email is required for an email webhook"),
    (url_webhook(support_email="nope"), "support_email must be an e-mail address"),
    (url_webhook(application="store:NOPE"),
     "application names an unknown store 'NOPE'; known stores: LIS-01, POR-01"),
    (url_webhook(application="terminal:99999"), "unknown terminal '99999'; known terminals"),
    (url_webhook(application="store:ACM-01"), "unknown store 'ACM-01'"),  # acme's, not demo's
    (url_webhook(application="galaxy"), "application must be 'merchant', 'store:<code>'"),
    (url_webhook(notifications=[]), "notifications must be a non-empty list"),
    (url_webhook(notifications="mbway"), "notifications must be a non-empty list"),
    (url_webhook(notifications=["sms"]), "unknown notification type 'sms'"),
    (url_webhook(format="jwt"), "format must be 'sibs' or 'standard-webhooks'"),
    (url_webhook(enabled="yes"), "enabled must be true or false"),
    (url_webhook(enabled=None), "enabled cannot be null"),
    (url_webhook(description="d" * 1001), "description is too long"),
    (url_webhook(labels={"Owner": "x"}), "labels key 'Owner' must be"),
    (url_webhook(labels={"owner": 1}), "labels.owner must be a string"),
    (url_webhook(labels={f"k{i}": "v" for i in range(33)}), "labels has 33 entries"),
    (url_webhook(labels=["owner"]), "labels must be an object"),
]


@pytest.mark.parametrize(("body", "message"), BAD_BODIES)
def test_invalid_bodies_are_refused_naming_the_field(
        office: Backoffice, body: Any, message: str) -> None:
    with pytest.raises(Invalid) as caught:
        office.webhooks.create_webhook("demo", body)
    assert message in caught.value.detail
    assert caught.value.status == 422
    assert office.webhooks.list_webhooks("demo").data == []


@pytest.mark.parametrize(("fmt", "secret"), [
    ("sibs", WHSEC),
    ("sibs", "c2hvcnQ="),  # base64 of 5 bytes
    ("sibs", SIBS_SECRET.rstrip("=")),  # not canonical base64
    ("standard-webhooks", SIBS_SECRET),
    ("standard-webhooks", "whsec_c2hvcnQ="),
    ("standard-webhooks", "whsec_!!!!"),
])
def test_secret_must_fit_the_format_and_is_never_quoted(
        office: Backoffice, fmt: str, secret: str) -> None:
    with pytest.raises(Invalid) as caught:
        office.webhooks.create_webhook("demo", url_webhook(format=fmt, secret=secret))
    assert f"secret does not fit format {fmt}" in caught.value.detail
    assert secret not in caught.value.detail


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:8080/hook", "http://127.9.9.9/", "http://[::1]:9000/x", "http://localhost/",
    "http://LOCALHOST:1/", "https://user:pass@api.shop.example/x?y=1",
])
def test_http_is_allowed_to_loopback_only(db_url: str, db_path: Path, url: str) -> None:
    # a password, and a query, are never returned
    shown = url.replace(":pass@", ":***@").replace("?y=1", "?***")
    # Loopback is a private target: this backoffice allows them (as the embedded one does).
    with Backoffice.open(db_url, data_dir=db_path.parent, allow_private_targets=True) as office:
        assert office.webhooks.create_webhook("demo", url_webhook(url=url))["url"] == shown


def test_http_loopback_can_be_turned_off(db_path: Path) -> None:
    with (Backoffice.open(f"sqlite:///{db_path}", allow_http_loopback=False) as office,
          pytest.raises(Invalid, match="url must use https")):
        office.webhooks.create_webhook("demo", url_webhook(url="http://127.0.0.1/x"))


def test_labels_are_a_sorted_map(office: Backoffice) -> None:
    labels = {"owner": "payments-team", "managed-by": "webhooks-reconciler",
              "prevent-destroy": "true"}
    created = office.webhooks.create_webhook("demo", url_webhook(labels=labels))
    assert list(created["labels"]) == ["managed-by", "owner", "prevent-destroy"]
    assert created["labels"] == labels


# --- idempotency --------------------------------------------------------------------------


def test_idempotent_create_replays_the_first_result(office: Backoffice) -> None:
    first = office.webhooks.create_webhook("demo", url_webhook(), idempotency_key="k-1")
    again = office.webhooks.create_webhook("demo", url_webhook(), idempotency_key="k-1")
    assert again == first
    assert len(office.webhooks.list_webhooks("demo").data) == 1
    with pytest.raises(IdempotencyKeyReused, match="used with a different body") as caught:
        office.webhooks.create_webhook("demo", url_webhook(name="other"), idempotency_key="k-1")
    assert caught.value.status == 422
    # Keys belong to a merchant: acme's k-1 is a different key.
    assert office.webhooks.create_webhook(
        "acme", url_webhook(), idempotency_key="k-1")["id"] != first["id"]


def test_idempotent_replay_survives_later_changes(office: Backoffice) -> None:
    first = office.webhooks.create_webhook("demo", url_webhook(), idempotency_key="k-2")
    office.webhooks.update_webhook("demo", first["id"], {"description": "changed"})
    assert office.webhooks.create_webhook("demo", url_webhook(), idempotency_key="k-2") == first


def test_idempotency_records_last_24_hours_then_are_purged(
        office: Backoffice, clock: Clock) -> None:
    office.webhooks.create_webhook("demo", url_webhook(name="a"), idempotency_key="k")
    clock.advance(hours=23)
    with pytest.raises(IdempotencyKeyReused):
        office.webhooks.create_webhook("demo", url_webhook(name="b"), idempotency_key="k")
    clock.advance(hours=2)
    office.webhooks.create_webhook("demo", url_webhook(name="c"), idempotency_key="purge-trigger")
    created = office.webhooks.create_webhook("demo", url_webhook(name="b"), idempotency_key="k")
    assert created["name"] == "b"


def test_an_expired_idempotency_record_is_ignored_before_the_next_purge(
        office: Backoffice, clock: Clock) -> None:
    """Creates purge expired records at most once a minute; a key that expired since the
    last purge is a new key all the same (not a replay, nor a conflict on the old row)."""
    office.webhooks.create_webhook("demo", url_webhook(name="a"), idempotency_key="k")
    clock.advance(hours=24, seconds=-30)
    office.webhooks.create_webhook("demo", url_webhook(name="b"), idempotency_key="other")
    clock.advance(seconds=40)  # "k" expired 10 s ago; the last purge was 40 s ago
    created = office.webhooks.create_webhook("demo", url_webhook(name="c"),
                                             idempotency_key="k")
    assert created["name"] == "c"
    with office.db.read() as conn:
        keys = sorted(row.key for row in conn.execute(select(schema.idempotency)))
    assert keys == ["k", "other"]  # the expired record went, the new one is kept


def test_idempotency_record_holds_no_secret(office: Backoffice) -> None:
    office.webhooks.create_webhook("demo", url_webhook(secret=SIBS_SECRET), idempotency_key="k-3")
    with office.db.read() as conn:
        rows = conn.execute(select(schema.idempotency)).all()
    assert len(rows) == 1
    assert SIBS_SECRET not in repr(rows)


def test_invalid_idempotency_key(office: Backoffice) -> None:
    with pytest.raises(Invalid, match="Idempotency-Key must be"):
        office.webhooks.create_webhook("demo", url_webhook(), idempotency_key="has space")


def test_concurrent_creates_with_one_key_create_one_webhook(office: Backoffice) -> None:
    def create(_: int) -> str:
        return str(office.webhooks.create_webhook(
            "demo", url_webhook(), idempotency_key="race")["id"])

    with ThreadPoolExecutor(max_workers=8) as pool:
        ids = set(pool.map(create, range(16)))
    assert len(ids) == 1
    assert len(office.webhooks.list_webhooks("demo").data) == 1


def test_concurrent_creates_of_many_names_all_land(office: Backoffice) -> None:
    def create(i: int) -> str:
        return str(office.webhooks.create_webhook("demo", email_webhook(name=f"w{i:03d}"))["name"])

    with ThreadPoolExecutor(max_workers=8) as pool:
        names = sorted(pool.map(create, range(40)))
    assert names == [f"w{i:03d}" for i in range(40)]
    assert len(office.webhooks.list_webhooks("demo", limit=1000).data) == 40


# --- update and delete ----------------------------------------------------------------------


def test_update_bumps_version_and_updated_at(office: Backoffice, clock: Clock) -> None:
    created = office.webhooks.create_webhook("demo", url_webhook(labels={"owner": "a"}))
    clock.advance(minutes=5)
    updated = office.webhooks.update_webhook("demo", created["id"], {
        "description": "Orders", "enabled": False, "labels": {"team": "b"},
        "notifications": ["xpay"], "application": "terminal:10002",
        "support_email": "ops@shop.example",
    }, if_match=1)
    assert updated["version"] == 2
    assert updated["updated_at"] == "2026-11-28T04:05:00Z"
    assert updated["created_at"] == created["created_at"]
    assert (updated["description"], updated["enabled"], updated["labels"]) == (
        "Orders", False, {"team": "b"})
    assert updated["notifications"] == ["xpay"]
    assert updated["application"] == "terminal:10002"
    cleared = office.webhooks.update_webhook("demo", created["id"], {"support_email": None})
    assert (cleared["support_email"], cleared["version"]) == (None, 3)


def test_update_that_changes_nothing_keeps_the_version(office: Backoffice) -> None:
    created = office.webhooks.create_webhook("demo", url_webhook(secret=SIBS_SECRET))
    same = office.webhooks.update_webhook("demo", created["id"], {
        "url": created["url"], "notifications": ["authorised-payment", "mbway"],
        "secret": SIBS_SECRET, "application": "merchant"})
    assert same == created
    assert office.webhooks.update_webhook("demo", created["id"], {}) == created


def test_if_match_mismatch_is_412(office: Backoffice) -> None:
    created = office.webhooks.create_webhook("demo", url_webhook())
    office.webhooks.update_webhook("demo", created["id"], {"description": "v2"})
    with pytest.raises(PreconditionFailed, match="at version 2, not 1") as caught:
        office.webhooks.update_webhook("demo", created["id"], {"description": "lost"}, if_match=1)
    assert caught.value.status == 412
    with pytest.raises(PreconditionFailed):
        office.webhooks.delete_webhook("demo", created["id"], if_match=1)
    assert office.webhooks.get_webhook("demo", created["id"])["description"] == "v2"


@pytest.mark.parametrize(("patch", "message"), [
    ({"name": "Not A Name"}, "name must be"),
    ({"name": None}, "name cannot be null"),
    ({"type": "email"}, "type cannot change"),
    ({"secret_grace_seconds": 60}, "secret_grace_seconds goes with a new secret"),
    ({"secret": WEAK_SIBS, "secret_grace_seconds": 60}, "is weak: it decodes to printable text"),
    ({"secret": OTHER_SIBS_SECRET, "secret_grace_seconds": 31 * 86400}, "from 0 to 2592000"),
    ({"email": "x@shop.example"}, "email is only for email webhooks"),
    ({"url": None}, "url is required"),
    ({"format": None}, "format cannot be null for a url webhook"),
    ({"secret": None}, "secret cannot be null"),
    ({"description": None}, "description cannot be null"),
    ({"application": "store:NOPE"}, "unknown store 'NOPE'"),
    ({"notifications": ["sms"]}, "unknown notification type 'sms'"),
    ({"format": "standard-webhooks"}, "the current secret does not fit format standard-webhooks"),
    ({"format": "standard-webhooks", "secret": SIBS_SECRET}, "secret does not fit format"),
    ({"bogus": True}, "unknown field 'bogus'"),
])
def test_invalid_patches(office: Backoffice, patch: dict[str, Any], message: str) -> None:
    created = office.webhooks.create_webhook("demo", url_webhook(secret=SIBS_SECRET))
    with pytest.raises(Invalid) as caught:
        office.webhooks.update_webhook("demo", created["id"], patch)
    assert message in caught.value.detail
    assert office.webhooks.get_webhook("demo", created["id"]) == created


def test_patch_of_an_email_webhook_keeps_its_shape(office: Backoffice) -> None:
    created = office.webhooks.create_webhook("demo", email_webhook())
    for patch, message in [({"url": "https://a.example/"}, "url is only for url webhooks"),
                           ({"secret": SIBS_SECRET}, "secret is only for url webhooks"),
                           ({"format": "sibs"}, "format is only for url webhooks")]:
        with pytest.raises(Invalid, match=message):
            office.webhooks.update_webhook("demo", created["id"], patch)
    moved = office.webhooks.update_webhook("demo", created["id"], {"email": "porto@shop.example",
                                                                   "format": None})
    assert (moved["email"], moved["version"]) == ("porto@shop.example", 2)


def test_format_change_with_a_new_secret_and_rotation(office: Backoffice) -> None:
    created = office.webhooks.create_webhook("demo", url_webhook(secret=SIBS_SECRET))
    changed = office.webhooks.update_webhook("demo", created["id"],
                                             {"format": "standard-webhooks", "secret": WHSEC})
    assert changed["format"] == "standard-webhooks"
    assert changed["secret_fingerprint"] == office_fingerprint(office, WHSEC)
    assert office.webhooks.webhook_secret("demo", created["id"]) == WHSEC
    rotated = office.webhooks.update_webhook("demo", created["id"], {"secret": formats.get(
        "standard-webhooks").generate_secret()})
    assert rotated["secret_fingerprint"] != changed["secret_fingerprint"]
    assert rotated["version"] == 3


def test_delete(office: Backoffice) -> None:
    created = office.webhooks.create_webhook("demo", url_webhook())
    office.webhooks.delete_webhook("demo", created["id"], if_match=1)
    with pytest.raises(NotFound):
        office.webhooks.get_webhook("demo", created["id"])
    with pytest.raises(NotFound):
        office.webhooks.delete_webhook("demo", created["id"])
    assert office.webhooks.list_webhooks("demo").data == []


def test_another_merchants_webhook_does_not_exist(office: Backoffice) -> None:
    theirs = office.webhooks.create_webhook("acme", url_webhook())
    for call in (lambda: office.webhooks.get_webhook("demo", theirs["id"]),
                 lambda: office.webhooks.update_webhook("demo", theirs["id"], {"enabled": False}),
                 lambda: office.webhooks.delete_webhook("demo", theirs["id"]),
                 lambda: office.webhooks.find_webhook_by_name("demo", "orders-backend")):
        with pytest.raises(NotFound):
            call()
    assert office.webhooks.get_webhook("acme", theirs["id"]) == theirs


# --- list ---------------------------------------------------------------------------------------


def test_list_pages_with_a_cursor(office: Backoffice) -> None:
    names = [f"hook-{i:02d}" for i in range(7)]
    for name in names:
        office.webhooks.create_webhook("demo", email_webhook(name=name))
    seen, cursor, pages = [], None, 0
    while True:
        page = office.webhooks.list_webhooks("demo", limit=3, cursor=cursor)
        seen += [w["name"] for w in page.data]
        pages += 1
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert (seen, pages) == (names, 3)
    exact = office.webhooks.list_webhooks("demo", limit=7)
    assert len(exact.data) == 7 and exact.next_cursor is None


@pytest.mark.parametrize("kwargs", [
    {"limit": 0}, {"limit": 1001}, {"cursor": "garbage"}, {"cursor": "djE6"},
    {"notification": "sms"}, {"type": "fax"}, {"credential": "unknown-client"},
    {"credential": "acme-client-1"},  # acme's credential is unknown to demo
])
def test_list_refuses_bad_filters(office: Backoffice, kwargs: dict[str, Any]) -> None:
    with pytest.raises(Invalid):
        office.webhooks.list_webhooks("demo", **kwargs)


def test_list_of_an_unknown_merchant(office: Backoffice) -> None:
    with pytest.raises(NotFound):
        office.webhooks.list_webhooks("nobody")


# --- merchants and tokens ------------------------------------------------------------------


def test_merchant_catalogue_management(office: Backoffice) -> None:
    with pytest.raises(Conflict):
        office.merchants.create_merchant("acme", "again")
    with pytest.raises(Conflict):
        office.merchants.add_store("acme", "ACM-01", "again")
    with pytest.raises(NotFound, match="no store 'NOPE'"):
        office.merchants.add_terminal("acme", "90002", "NOPE")
    with pytest.raises(Conflict):
        office.merchants.add_terminal("acme", "90001", "ACM-01")
    with pytest.raises(NotFound, match="no terminal '99'"):
        office.merchants.add_credential("acme", "c-2", "99")
    with pytest.raises(Conflict):
        office.merchants.add_credential("acme", "acme-client-1", "90001")
    with pytest.raises(Invalid):
        office.merchants.create_merchant("bad id!", "x")
    assert office.merchants.catalog("acme")["credentials"] == [
        {"client_id": "acme-client-1", "terminal": "90001"}]


def test_tokens(office: Backoffice) -> None:
    read = office.tokens.create_token("demo", "read")
    manage = office.tokens.create_token("demo", "webhooks:manage")
    assert re.fullmatch(r"wbo_[A-Za-z0-9_-]{43}", read)
    assert office.tokens.authenticate(read).scopes == {"webhooks:read"}
    # manage implies reveal, which implies read
    assert office.tokens.authenticate(manage).scopes == {
        "webhooks:read", "webhooks:reveal", "webhooks:manage"}
    with pytest.raises(Forbidden, match=r"^this token lacks the permission to manage webhooks$"):
        office.tokens.authenticate(read).require("webhooks:manage")
    for bad in ("", "wbo_", read + "x", "wbo_" + "A" * 43, "Bearer " + read):
        with pytest.raises(Unauthorized):
            office.tokens.authenticate(bad)
    with pytest.raises(NotFound):
        office.tokens.create_token("nobody", "read")
    with pytest.raises(Invalid, match="unknown scope"):
        office.tokens.create_token("demo", "admin")
    assert office.tokens.token_count() == 2


def test_memory_database_works(tmp_path: Path) -> None:
    with Backoffice.open("sqlite://") as office:
        created = office.webhooks.create_webhook("demo", url_webhook())
        assert office.webhooks.get_webhook("demo", created["id"]) == created
    assert list(tmp_path.iterdir()) == []
