"""The web pages in-process (the real app over httpx.ASGITransport): signing in, the
list and its filters, the six-step wizard without JavaScript, edit, delete, test, the
deliveries, config-as-code awareness, permissions, anti-forgery tokens, hostile input,
escaping, the security headers and the two languages."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest

from backoffice import Backoffice
from backoffice.http.api import create_app
from backoffice.web.guard import FAILURES_PER_ADDRESS
from backoffice.web.headers import CSP
from tests.support.backoffice import delivering_backoffice, email_webhook, url_webhook
from tests.support.receivers import Receiver
from tests.support.secrets import CRED_20001, SIBS_SECRET
from tests.support.web import Signed, get, post, session_for, sign_in, state_of, text_of

pytestmark = [pytest.mark.anyio, pytest.mark.sqlite_only(
    "the pages call the parts, whose storage the backoffice's suites run on both")]
MANAGED = {"managed-by": "webhooks-reconciler", "owner": "payments-team"}


@pytest.fixture
async def web(office: Backoffice) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(office))
    async with httpx.AsyncClient(transport=transport, base_url="http://backoffice.test") as c:
        yield c


@pytest.fixture
def manage(office: Backoffice) -> Signed:
    return session_for(office, office.tokens.create_token("demo", "manage"))


@pytest.fixture
def read(office: Backoffice) -> Signed:
    return session_for(office, office.tokens.create_token("demo", "read"))


def hook(office: Backoffice, name: str = "orders", **fields: object) -> dict[str, object]:
    return office.webhooks.create_webhook("demo", url_webhook(name, **fields))


# --- signing in --------------------------------------------------------------------------------

async def test_signing_in_gives_a_strict_http_only_cookie_secure_under_tls(
        office: Backoffice) -> None:
    token = office.tokens.create_token("demo", "read")
    for base, secure in (("http://backoffice.test", False), ("https://backoffice.test", True)):
        transport = httpx.ASGITransport(app=create_app(office))
        async with httpx.AsyncClient(transport=transport, base_url=base) as client:
            assert (await client.get("/webhooks")).headers["location"] == \
                "/login?next=/webhooks"
            signed = await sign_in(client, token)
            assert signed.status_code == 303 and signed.headers["location"] == "/webhooks"
            cookie = next(v for k, v in signed.headers.multi_items()
                          if k == "set-cookie" and v.startswith("webhooks_session="))
            assert "HttpOnly" in cookie and "SameSite=strict" in cookie
            assert "Max-Age=43200" in cookie and ("Secure" in cookie) == secure
            listed = await client.get("/webhooks")
            assert listed.status_code == 200 and "Webhooks" in listed.text


async def test_a_wrong_token_is_refused_and_never_echoed(web: httpx.AsyncClient) -> None:
    guess = "wbo_" + "G" * 43
    refused = await sign_in(web, guess)
    assert refused.status_code == 401 and "That token does not work" in refused.text
    assert guess not in refused.text and "webhooks_session=" not in str(refused.headers)


async def test_failed_sign_ins_are_bounded_per_address(web: httpx.AsyncClient,
                                                       office: Backoffice) -> None:
    for _ in range(FAILURES_PER_ADDRESS):
        assert (await sign_in(web, "wbo_" + "B" * 43)).status_code == 401
    bounded = await sign_in(web, office.tokens.create_token("demo", "manage"))
    assert bounded.status_code == 429 and int(bounded.headers["retry-after"]) > 0
    assert "Too many attempts" in bounded.text


async def test_the_one_time_link_works_once(office: Backoffice) -> None:
    app = create_app(office)
    code = app.state.web_codes.issue(office.tokens.create_token("demo", "manage"))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        first = await client.get("/login/link", params={"code": code})
        assert first.status_code == 200 and first.headers["cache-control"] == "no-store"
        assert 'http-equiv="refresh" content="0;url=/webhooks"' in first.text
        assert (await client.get("/webhooks")).status_code == 200
        client.cookies.clear()
        again = await client.get("/login/link", params={"code": code})
        assert again.status_code == 401 and "used already or has expired" in again.text
        assert (await client.get("/webhooks")).status_code == 303


async def test_sign_out_removes_the_session_everywhere(web: httpx.AsyncClient,
                                                       manage: Signed, office: Backoffice) -> None:
    assert (await get(web, "/webhooks", manage)).status_code == 200
    out = await post(web, "/logout", manage, {})
    assert out.status_code == 200 and "You are signed out" in out.text
    assert "webhooks_session=\"\"" in out.headers["set-cookie"] or \
        "Max-Age=0" in out.headers["set-cookie"]
    assert (await get(web, "/webhooks", manage)).status_code == 303
    with office.db.read() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM web_sessions "
                                    "WHERE token_hash IS NOT NULL").scalar() == 0


# --- what every page sends ---------------------------------------------------------------------

async def test_every_page_has_the_security_headers_and_nothing_inline_or_foreign(
        web: httpx.AsyncClient, manage: Signed, office: Backoffice) -> None:
    wid = hook(office)["id"]
    mail = office.webhooks.create_webhook("demo", email_webhook())["id"]
    paths = ["/login", "/webhooks", "/webhooks?type=url", "/webhooks/new", f"/webhooks/{wid}",
             f"/webhooks/{wid}/edit", f"/webhooks/{wid}/delete", f"/webhooks/{wid}/test",
             f"/webhooks/{wid}/deliveries", f"/webhooks/{mail}", "/webhooks/wh_nope"]
    assert "'unsafe-inline'" not in CSP and "frame-ancestors 'none'" in CSP
    for path in paths:
        page = await get(web, path, manage)
        assert page.status_code in (200, 404), path
        assert page.headers["content-security-policy"] == CSP
        assert page.headers["x-content-type-options"] == "nosniff"
        assert page.headers["referrer-policy"] == "no-referrer"
        assert page.headers["content-type"].startswith("text/html")
        assert not re.search(r"<script(?![^>]*\bsrc=\"/static/)", page.text), path
        assert not re.search(r"<style|\sstyle=|\son[a-z]+=", page.text), path
        assert not re.search(r"(?:src|href|action)=\"(?!/|#)", page.text), path
    api = await web.get("/v1/webhooks")
    assert api.headers["x-content-type-options"] == "nosniff"


# --- the list ------------------------------------------------------------------------------

async def test_the_four_filters_combine_and_stay_in_the_address(
        web: httpx.AsyncClient, read: Signed, office: Backoffice) -> None:
    hook(office, "a-url", notifications=["mbway"])
    hook(office, "b-xpay", notifications=["xpay"], url="https://xpay.shop.example/h")
    hook(office, "c-porto", notifications=["xpay"], application="store:POR-01")
    office.webhooks.create_webhook("demo", email_webhook("d-mail", notifications=["xpay"]))

    async def names(**params: str) -> list[str]:
        page = await get(web, "/webhooks", read, **params)
        assert page.status_code == 200, page.text
        return re.findall(r"<summary>.*?<span>([^<]+)</span>", page.text)

    assert await names() == ["a-url", "b-xpay", "c-porto", "d-mail"]
    assert await names(type="email") == ["d-mail"]
    assert await names(notification="xpay") == ["b-xpay", "c-porto", "d-mail"]
    assert await names(notification="xpay", type="url") == ["b-xpay", "c-porto"]
    assert await names(credential=CRED_20001) == ["a-url", "b-xpay", "c-porto"]
    assert await names(credential=CRED_20001, webhook="xpay.shop") == ["b-xpay"]
    assert await names(webhook="lisbon@") == ["d-mail"]
    page = await get(web, "/webhooks", read, notification="xpay", limit="2")
    nxt = re.search(r'href="(/webhooks\?[^"]+)">Next page', page.text)
    assert nxt and "notification=xpay" in nxt.group(1) and "limit=2" in nxt.group(1)
    second = await web.get(nxt.group(1).replace("&amp;", "&"), headers=read.headers)
    assert re.findall(r"<summary>.*?<span>([^<]+)</span>", second.text) == ["d-mail"]
    bad = await get(web, "/webhooks", read, credential="nobody's")
    assert bad.status_code == 422 and "is not one of this merchant's" in text_of(bad.text)


# --- the wizard ----------------------------------------------------------------------------

async def step(web: httpx.AsyncClient, signed: Signed, page: httpx.Response, number: int,
               **fields: object) -> httpx.Response:
    return await post(web, "/webhooks/new", signed, {"state": state_of(page.text),
                                                     "step": str(number), "action": "next",
                                                     **fields})


async def test_the_six_steps_create_a_url_webhook_and_show_its_generated_secret_once(
        web: httpx.AsyncClient, manage: Signed, office: Backoffice) -> None:
    page = await get(web, "/webhooks/new", manage)
    assert "Step 1: Select Webhook type (mandatory)" in page.text
    page = await step(web, manage, page, 1, type="url", name="from-the-pages")
    assert "Step 2: Add URL (mandatory)" in text_of(page.text)
    page = await step(web, manage, page, 2, url="https://hooks.shop.example/new")
    page = await step(web, manage, page, 3, application="store:LIS-01")
    page = await step(web, manage, page, 4, notifications=["xpay", "mbway"])
    assert "Step 5: Webhook secret (mandatory)" in page.text
    assert "Generate a secret for me" in page.text
    page = await step(web, manage, page, 5, format="sibs", secret_mode="generate")
    assert "Step 6: Webhook support e-mail" in page.text and "Create webhook" in page.text
    created = await step(web, manage, page, 6, support_email="ops@shop.example")
    assert created.status_code == 201 and created.headers["cache-control"] == "no-store"
    secret = re.search(r'id="generated-secret" class="secret-value">([^<]+)<', created.text)
    assert secret is not None
    [made] = office.webhooks.list_webhooks("demo").data
    assert made["name"] == "from-the-pages" and made["application"] == "store:LIS-01"
    assert made["notifications"] == ["mbway", "xpay"]
    assert made["support_email"] == "ops@shop.example"
    fingerprints = office.merchants.fingerprints("demo")
    assert made["secret_fingerprint"] == fingerprints.secret(secret.group(1))
    for path in ("/webhooks", f"/webhooks/{made['id']}", f"/webhooks/{made['id']}/edit"):
        assert secret.group(1) not in (await get(web, path, manage)).text


async def test_an_own_secret_and_a_url_password_never_come_back_in_a_page(
        web: httpx.AsyncClient, manage: Signed, office: Backoffice) -> None:
    password = "Pw-wizard-93c1d0e2"
    pages = [await get(web, "/webhooks/new", manage)]
    pages.append(await step(web, manage, pages[-1], 1, type="url", name="own"))
    pages.append(await step(web, manage, pages[-1], 2,
                            url=f"https://shop:{password}@hooks.shop.example/own"))
    pages.append(await step(web, manage, pages[-1], 3, application="merchant"))
    pages.append(await step(web, manage, pages[-1], 4, notifications=["mbway"]))
    pages.append(await step(web, manage, pages[-1], 5, format="sibs", secret_mode="own",
                            secret="not-base64!"))
    assert pages[-1].status_code == 422 and "secret does not fit format sibs" in pages[-1].text
    pages.append(await step(web, manage, pages[-1], 5, format="sibs", secret_mode="own",
                            secret=SIBS_SECRET))
    assert "your own (not shown)" in pages[-1].text and "shop:***@" in pages[-1].text
    pages.append(await step(web, manage, pages[-1], 6, support_email=""))
    assert pages[-1].status_code == 201 and "generated-secret" not in pages[-1].text
    [made] = office.webhooks.list_webhooks("demo").data
    assert made["secret_fingerprint"] == office.merchants.fingerprints("demo").secret(SIBS_SECRET)
    assert office.webhooks.webhook_secret("demo", made["id"]) == SIBS_SECRET
    for page in pages:
        assert SIBS_SECRET not in page.text and password not in page.text


async def test_an_email_webhook_passes_over_the_secret_step(
        web: httpx.AsyncClient, manage: Signed, office: Backoffice) -> None:
    page = await step(web, manage, await get(web, "/webhooks/new", manage), 1,
                      type="email", name="mailer")
    assert "Step 2: Add e-mail" in page.text
    page = await step(web, manage, page, 2, email="ops@shop.example")
    page = await step(web, manage, page, 3, application="terminal:10001")
    page = await step(web, manage, page, 4, notifications=["mbway"])
    assert "Step 6: Webhook support e-mail" in page.text
    back = await post(web, "/webhooks/new", manage, {"state": state_of(page.text),
                                                     "step": "6", "action": "back"})
    assert "Step 4: Select notification types" in back.text
    created = await step(web, manage, page, 6)
    assert created.status_code == 201
    [made] = office.webhooks.list_webhooks("demo").data
    assert made["type"] == "email" and made["secret_fingerprint"] is None


async def test_a_step_names_the_field_it_refuses_and_a_tampered_state_starts_over(
        web: httpx.AsyncClient, manage: Signed, office: Backoffice) -> None:
    start = await get(web, "/webhooks/new", manage)
    for name in ("Bad Name", "a\u202eb", "a\x00b", "x" * 5000, ""):
        refused = await step(web, manage, start, 1, type="url", name=name)
        assert refused.status_code == 422
        assert re.search(r'role="alert" id="step-problem">name (must|is too long)', refused.text)
    page = await step(web, manage, start, 1, type="url", name="ok")
    bad_url = await step(web, manage, page, 2, url="ftp://files.example/x")
    assert bad_url.status_code == 422 and "url " in text_of(bad_url.text)
    tampered = await post(web, "/webhooks/new", manage, {"state": "AAAA" + state_of(page.text),
                                                         "step": "2", "action": "next",
                                                         "url": "https://x.example/"})
    assert tampered.status_code == 422 and "start again" in tampered.text
    other = session_for(office, office.tokens.create_token("demo", "manage"))
    stolen = await post(web, "/webhooks/new", other, {"state": state_of(page.text),
                                                      "step": "2", "action": "next",
                                                      "url": "https://x.example/"})
    assert stolen.status_code == 422 and "start again" in stolen.text
    assert office.webhooks.list_webhooks("demo").data == []


# --- details, edit, delete -----------------------------------------------------------------

async def test_edit_saves_what_changed_and_refuses_a_stale_version(
        web: httpx.AsyncClient, manage: Signed, office: Backoffice) -> None:
    made = hook(office, url="https://u:pw-hidden-1@hooks.shop.example/x", secret=SIBS_SECRET)
    form = await get(web, f"/webhooks/{made['id']}/edit", manage)
    assert "pw-hidden-1" not in form.text and "u:***@" in form.text
    fields = {"version": "1", "url": "https://u:***@hooks.shop.example/x", "format": "sibs",
              "application": "merchant", "notifications": ["mbway", "xpay"],
              "support_email": "", "description": "now <b>bold</b>", "enabled": "on"}
    saved = await post(web, f"/webhooks/{made['id']}/edit", manage, fields)
    assert saved.status_code == 303 and saved.headers["location"].endswith("?done=saved")
    now = office.webhooks.get_webhook("demo", str(made["id"]))
    assert now["notifications"] == ["mbway", "xpay"] and now["version"] == 2
    assert now["url_fingerprint"] == made["url_fingerprint"]  # the redacted URL kept it
    details = await web.get(saved.headers["location"], headers=manage.headers)
    assert "The changes were saved." in details.text
    assert "now &lt;b&gt;bold&lt;/b&gt;" in details.text and "<b>bold" not in details.text
    stale = await post(web, f"/webhooks/{made['id']}/edit", manage,
                       {**fields, "description": "late"})
    assert stale.status_code == 412 and "changed this webhook since you opened it" in stale.text
    assert office.webhooks.get_webhook("demo", str(made["id"]))["description"] == \
        "now <b>bold</b>"
    bad = await post(web, f"/webhooks/{made['id']}/edit", manage,
                     {**fields, "version": "2", "support_email": "not an address"})
    assert bad.status_code == 422 and "support_email" in bad.text


async def test_a_managed_webhook_names_its_owner_and_asks_once_more(
        web: httpx.AsyncClient, manage: Signed, office: Backoffice) -> None:
    managed = hook(office, "managed", labels=MANAGED)
    loose = hook(office, "loose")
    details = text_of((await get(web, f"/webhooks/{managed['id']}", manage)).text)
    assert ("Managed in webhooks.yaml by payments-team: a change here is drift that the "
            "next apply reverts.") in details
    loose_page = text_of((await get(web, f"/webhooks/{loose['id']}", manage)).text)
    assert "Not managed by any config." in loose_page and "webhooks import --unmanaged" in \
        loose_page
    fields = {"version": "1", "url": "https://api.shop.example/hooks/sibs", "format": "sibs",
              "application": "merchant", "notifications": ["mbway"], "description": "drift"}
    asked = await post(web, f"/webhooks/{managed['id']}/edit", manage, fields)
    assert asked.status_code == 409 and "payments-team" in asked.text
    assert office.webhooks.get_webhook("demo", str(managed["id"]))["version"] == 1
    done = await post(web, f"/webhooks/{managed['id']}/edit", manage,
                      {**fields, "drift_ok": "yes"})
    assert done.status_code == 303
    asked = await post(web, f"/webhooks/{managed['id']}/delete", manage, {"version": "2"})
    assert asked.status_code == 409 and "creates it again" in text_of(asked.text)
    gone = await post(web, f"/webhooks/{managed['id']}/delete", manage,
                      {"version": "2", "drift_ok": "yes"})
    assert gone.status_code == 303 and gone.headers["location"] == "/webhooks?done=deleted"
    assert [w["name"] for w in office.webhooks.list_webhooks("demo").data] == ["loose"]


async def test_delete_has_a_page_for_browsers_without_javascript(
        web: httpx.AsyncClient, manage: Signed, office: Backoffice) -> None:
    made = hook(office)
    details = await get(web, f"/webhooks/{made['id']}", manage)
    assert f'href="/webhooks/{made["id"]}/delete" data-dialog="delete-dialog"' in details.text
    assert '<dialog id="delete-dialog"' in details.text
    confirm = await get(web, f"/webhooks/{made['id']}/delete", manage)
    assert "Delete orders?" in confirm.text
    stale = await post(web, f"/webhooks/{made['id']}/delete", manage, {"version": "7"})
    assert stale.status_code == 412
    deleted = await post(web, f"/webhooks/{made['id']}/delete", manage, {"version": "1"})
    assert deleted.status_code == 303
    listed = await web.get(deleted.headers["location"], headers=manage.headers)
    assert "The webhook was deleted." in listed.text and "No webhooks yet." in listed.text


async def test_writes_from_the_pages_are_audited_as_the_signed_in_token(
        web: httpx.AsyncClient, office: Backoffice) -> None:
    token, shown = office.tokens.issue("demo", "manage", name="web-user")
    signed = session_for(office, token)
    made = hook(office)
    deleted = await post(web, f"/webhooks/{made['id']}/delete", signed, {"version": "1"})
    assert deleted.status_code == 303
    [entry] = [e for e in office.audit.list_entries("demo")["data"]
               if e["action"] == "webhook.delete"]
    assert (entry["actor"], entry["actor_token_id"]) == ("web-user", shown["id"])


# --- who may do what -----------------------------------------------------------------------

async def test_a_read_session_sees_no_controls_and_the_server_refuses_them(
        web: httpx.AsyncClient, read: Signed, office: Backoffice) -> None:
    made = hook(office)
    listed = await get(web, "/webhooks", read)
    assert "Add new webhook" not in listed.text and "/test" not in listed.text
    assert "read only" in listed.text
    details = await get(web, f"/webhooks/{made['id']}", read)
    for control in ("/edit", "/delete", "/test", "<dialog"):
        assert control not in details.text
    for path in ("/webhooks/new", f"/webhooks/{made['id']}/edit",
                 f"/webhooks/{made['id']}/delete", f"/webhooks/{made['id']}/test"):
        refused = await get(web, path, read)
        assert refused.status_code == 403, path
        assert "lacks the permission to manage webhooks" in refused.text
        assert (await post(web, path, read, {"version": "1", "description": "x",
                                             "drift_ok": "yes"})).status_code == 403
    assert office.webhooks.get_webhook("demo", str(made["id"]))["version"] == 1


async def test_forms_without_the_right_token_change_nothing(
        web: httpx.AsyncClient, manage: Signed, office: Backoffice) -> None:
    made = hook(office)
    other = session_for(office, office.tokens.create_token("demo", "manage"))
    for token in ("", "x", other.csrf, manage.csrf + "x"):
        refused = await post(web, f"/webhooks/{made['id']}/delete", manage, {"version": "1"},
                             csrf=token)
        assert refused.status_code == 403
        assert "came from another site" in refused.text
    assert (await post(web, "/login", None, {"token": "x"}, csrf="forged")).status_code == 403
    assert office.webhooks.get_webhook("demo", str(made["id"]))["version"] == 1


async def test_hostile_forms_are_refused_cleanly(web: httpx.AsyncClient, manage: Signed,
                                                 office: Backoffice) -> None:
    made = hook(office)
    path = f"/webhooks/{made['id']}/edit"
    base = {"csrf": manage.csrf, "version": "1", "url": "https://api.shop.example/hooks/sibs",
            "format": "sibs", "application": "merchant", "notifications": "mbway"}
    raw = "&".join(f"{k}={v}" for k, v in base.items()).encode()
    form = {"Content-Type": "application/x-www-form-urlencoded", **manage.headers}
    not_utf8 = await web.post(path, content=raw + b"&description=%ff%fe",
                              headers=form)
    assert not_utf8.status_code == 400
    json_body = await web.post(path, json=base, headers=manage.headers)
    assert json_body.status_code == 400
    many = await web.post(path, content=raw + b"&x=1" * 300, headers=form)
    assert many.status_code == 400
    for value in ("\u202ehttps://evil.example", "https://a\x00b.example/",
                  "https://" + "a" * 5000 + ".example/"):
        refused = await post(web, path, manage, {**base, "url": value})
        assert refused.status_code == 422 and "url" in refused.text
    huge = await post(web, path, manage, {**base, "description": "d" * 100_000})
    assert huge.status_code == 422 and "description is too long" in huge.text
    twice = await post(web, path, manage, {**base, "application": ["merchant", "store:X"]})
    assert twice.status_code == 303  # the first of a repeated field counts
    assert (await get(web, "/webhooks/%00%0a<script>", manage)).status_code == 404
    odd = await get(web, "/webhooks", manage, webhook="<script>alert(1)</script>",
                    limit="99999999999999999999", cursor="\u202e")
    assert odd.status_code == 422 and "<script>alert" not in odd.text


# --- test-fire and deliveries ----------------------------------------------------------------

@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


async def test_the_test_page_shows_the_sent_notification_headers_and_answer(
        tmp_path: Path, receiver: Receiver) -> None:
    office = delivering_backoffice(tmp_path / "bo.db")
    try:
        made = hook(office, url=receiver.url("/sibs"), secret=SIBS_SECRET)
        signed = session_for(office, office.tokens.create_token("demo", "manage"))
        transport = httpx.ASGITransport(app=create_app(office))
        async with httpx.AsyncClient(transport=transport, base_url="http://bo.test") as web:
            form = await get(web, f"/webhooks/{made['id']}/test", signed)
            assert form.status_code == 200 and ">Test</button>" in form.text
            fired = await post(web, f"/webhooks/{made['id']}/test", signed,
                               {"notification": "authorised-payment"})
            assert fired.status_code == 200 and fired.headers["cache-control"] == "no-store"
            [got] = receiver.received
            shown = text_of(fired.text)
            assert "Delivered:" in shown and got.nid is not None and got.nid in shown
            assert '"paymentStatus"' in shown and "authorised-payment" in shown  # the choice
            assert "x-initialization-vector" in shown.lower()
            assert re.search(r'id="test-status">200<', fired.text)
            assert "notificationID" in shown and SIBS_SECRET not in fired.text
            log = await get(web, f"/webhooks/{made['id']}/deliveries", signed)
            assert "test" in log.text and "1 attempt(s)" in log.text
            assert "HTTP 200" in log.text
            mail = office.webhooks.create_webhook("demo", email_webhook())
            refused = await get(web, f"/webhooks/{mail['id']}/test", signed)
            assert refused.status_code == 422 and "e-mail webhook has no test" in refused.text
    finally:
        office.close()


# --- languages -----------------------------------------------------------------------------

async def test_polish_from_the_browser_and_from_the_switch(
        web: httpx.AsyncClient, manage: Signed, office: Backoffice) -> None:
    hook(office)
    polish = await web.get("/webhooks", headers={**manage.headers,
                                                 "Accept-Language": "pl-PL,pl;q=0.9,en;q=0.5"})
    assert '<html lang="pl">' in polish.text and "Dodaj nowy webhook" in polish.text
    assert "Poświadczenie" in polish.text and "Szczegóły" in polish.text
    english = await web.get("/webhooks", headers={**manage.headers,
                                                  "Accept-Language": "de, en;q=0.1"})
    assert '<html lang="en">' in english.text
    switched = await post(web, "/language", manage, {"lang": "pl", "next": "/webhooks/new"})
    assert switched.status_code == 303 and switched.headers["location"] == "/webhooks/new"
    assert "webhooks_lang=pl" in switched.headers["set-cookie"]
    cookies = {"Cookie": f"{manage.headers['Cookie']}; webhooks_lang=pl"}
    wizard = await web.get("/webhooks/new", headers=cookies)
    assert "Krok 1: Wybierz typ Webhook (obowiązkowe)" in wizard.text
    away = await post(web, "/language", manage, {"lang": "xx", "next": "https://evil.example/"})
    assert away.headers["location"] == "/webhooks"
    assert "webhooks_lang" not in away.headers.get("set-cookie", "")


async def test_kept_rows_follow_each_change_language_and_permission(
        web: httpx.AsyncClient, manage: Signed, read: Signed, office: Backoffice) -> None:
    made = hook(office)
    first = await get(web, "/webhooks", manage)
    assert f"/webhooks/{made['id']}/test" in first.text
    assert f"/webhooks/{made['id']}/test" not in (await get(web, "/webhooks", read)).text
    office.webhooks.update_webhook("demo", str(made["id"]),
                                   {"url": "https://moved.shop.example/h"})
    moved = await get(web, "/webhooks", manage)
    assert "moved.shop.example" in moved.text and "api.shop.example" not in moved.text
    polish = await web.get("/webhooks", headers={**manage.headers, "Accept-Language": "pl"})
    assert ">Szczegóły<" in polish.text and ">Details<" not in polish.text


async def test_a_kept_list_page_is_shown_only_while_its_rows_are_the_same(
        web: httpx.AsyncClient, manage: Signed, office: Backoffice) -> None:
    """The joined rows of a page are kept per query and spliced into the page; a filter
    value that looks like the splice point is only ever text."""
    made = hook(office, "first")
    before = await get(web, "/webhooks", manage)
    assert (await get(web, "/webhooks", manage)).text == before.text  # kept, the same
    hook(office, "second")
    office.webhooks.delete_webhook("demo", str(made["id"]))
    after = (await get(web, "/webhooks", manage)).text
    assert ">second<" in after and ">first<" not in after
    hostile = "<!--spliced-0000000000000000-->"
    found = (await get(web, "/webhooks?" + urlencode({"webhook": hostile}), manage)).text
    assert hostile not in found and "&lt;!--spliced-0000000000000000--&gt;" in found
    assert found.count("<tbody>") == 1 and ">second<" not in found  # filtered out
