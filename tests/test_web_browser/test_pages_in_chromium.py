"""The web pages in a real browser: Debian's Chromium driven by Playwright, against the
app served by uvicorn on a free loopback port, with JavaScript and the
Content-Security-Policy on. Every page visited is checked by axe-core (no serious or
critical violation) and must not trip the Content-Security-Policy.

One browser and one server for the module; each test has a browser context of its own
(its own cookies). See tests/support/browser.py for what these need and why they skip.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete

from backoffice import Backoffice
from backoffice.auth import token_hash
from backoffice.db import tables as t
from backoffice.http.api import create_app
from tests.support.backoffice import email_webhook, url_webhook
from tests.support.browser import (
    CHROMIUM_ARGS,
    LiveApp,
    axe_script,
    axe_violations,
    chromium,
    serve_axe,
)
from tests.support.receivers import Receiver
from tests.support.secrets import CRED_20001, SIBS_SECRET

pytestmark = pytest.mark.slow
MANAGED = {"managed-by": "webhooks-reconciler", "owner": "payments-team"}


@dataclass
class Site:
    office: Backoffice
    base: str
    browser: Any
    manage: str
    read: str
    receiver: Receiver
    ids: dict[str, str] = field(default_factory=dict)

    def hook(self, name: str, **fields: Any) -> str:
        made = self.office.webhooks.create_webhook("demo", url_webhook(name, **fields))
        self.ids[name] = made["id"]
        return str(made["id"])


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    executable = chromium()
    axe = axe_script()
    from playwright.sync_api import sync_playwright

    folder = tmp_path_factory.mktemp("browser")
    receiver = Receiver(delay_s=0.4)
    office = Backoffice.open(f"sqlite:///{folder / 'bo.db'}", allow_private_targets=True)
    live = LiveApp(create_app(office))
    driver = sync_playwright().start()
    # A fresh temporary profile for each launch; never a browser Playwright downloads.
    browser = driver.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS,
                                     headless=True)
    browser.axe = axe
    found = Site(office, live.base, browser, office.tokens.create_token("demo", "manage"),
                 office.tokens.create_token("demo", "read"), receiver)
    found.hook("orders-backend", url=receiver.url("/orders"), secret=SIBS_SECRET,
               labels=MANAGED)
    found.hook("loyalty", url="https://loyalty.shop.example/hooks", notifications=["xpay"],
               application="store:POR-01")
    mail = office.webhooks.create_webhook("demo", email_webhook("lisbon-mail"))
    found.ids["lisbon-mail"] = mail["id"]
    try:
        yield found
    finally:
        browser.close()
        driver.stop()
        live.close()
        office.close()
        receiver.close()


class Visit:
    """One browser context (its own cookies) and page; records what the CSP refused."""

    def __init__(self, site: Site, *, locale: str = "en-US") -> None:
        self.site = site
        self.context = site.browser.new_context(locale=locale)
        serve_axe(self.context, site.browser.axe)
        self.page = self.context.new_page()
        self.page.set_default_timeout(10_000)
        self.console: list[str] = []
        self.page.on("console", lambda m: self.console.append(m.text)
                     if m.type in ("error", "warning") else None)

    def go(self, path: str) -> Any:
        return self.page.goto(self.site.base + path)

    def sign_in(self, token: str) -> None:
        self.go("/login")
        self.page.get_by_label("API token").fill(token)
        self.page.get_by_role("button", name="Sign in").click()
        self.page.wait_for_url("**/webhooks")

    def accessible(self) -> None:
        """axe-core finds no serious or critical violation on the page as it is."""
        assert axe_violations(self.page) == [], self.page.url

    def text(self) -> str:
        return str(self.page.inner_text("main"))

    def close(self) -> None:
        self.context.close()
        refused = [m for m in self.console if "Content Security Policy" in m]
        assert refused == [], refused


@pytest.fixture
def visit(site: Site) -> Iterator[Visit]:
    opened = Visit(site)
    yield opened
    opened.close()


def expect(locator: Any) -> Any:
    """Playwright's waiting assertions (imported late: without Playwright, the module's
    tests skip rather than fail to import)."""
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


def rows(visit: Visit) -> list[str]:
    return [str(n) for n in
            visit.page.locator("table.list tbody summary span:not(.hook)").all_inner_texts()]


def test_the_list_and_each_filter_kept_in_the_address(visit: Visit, site: Site) -> None:
    page = visit.page
    visit.go("/webhooks")
    assert page.url.endswith("/login?next=/webhooks")
    visit.accessible()
    visit.sign_in(site.manage)
    assert rows(visit) == ["orders-backend", "loyalty", "lisbon-mail"]
    visit.accessible()
    filters: list[tuple[str, str, list[str], str]] = [
        ("Type", "email", ["lisbon-mail"], "type=email"),
        ("Notification", "xpay", ["loyalty"], "notification=xpay"),
        ("Credential", CRED_20001, ["orders-backend", "loyalty"], f"credential={CRED_20001}"),
    ]
    for label, value, expected, query in filters:
        visit.go("/webhooks")
        page.get_by_label(label, exact=True).select_option(value)
        page.get_by_role("button", name="Filter").click()
        page.wait_for_url(re.compile(re.escape(query)))
        assert rows(visit) == expected, label
    visit.go("/webhooks")
    page.get_by_label("Webhook", exact=True).fill("loyalty.shop")
    page.get_by_label("Webhook", exact=True).press("Enter")  # the keyboard submits
    page.wait_for_url(re.compile(r"webhook=loyalty\.shop"))
    assert rows(visit) == ["loyalty"]
    # Combined, and a bookmark of the address gives the same view.
    visit.go(f"/webhooks?credential={CRED_20001}&type=url&notification=mbway")
    assert rows(visit) == ["orders-backend"]
    assert page.get_by_label("Type", exact=True).input_value() == "url"
    visit.accessible()
    # The row's webhook icon offers details and, for a URL webhook, a test: by keyboard.
    visit.go("/webhooks")
    summary = page.locator("summary", has_text="loyalty")
    summary.focus()
    page.keyboard.press("Enter")
    menu = page.locator("details.menu[open]")
    assert menu.get_by_role("link").all_inner_texts() == ["Details", "Test"]
    menu.get_by_role("link", name="Details").focus()
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/webhooks/{site.ids['loyalty']}")
    assert "Not managed by any config." in visit.text()
    visit.go("/webhooks")
    page.locator("summary", has_text="lisbon-mail").click()
    assert page.locator("details.menu[open]").get_by_role("link").all_inner_texts() == \
        ["Details"]  # an e-mail webhook has no test


def test_the_six_step_wizard_creates_a_webhook_and_shows_its_secret_once(
        visit: Visit, site: Site) -> None:
    page = visit.page
    visit.context.grant_permissions(["clipboard-read", "clipboard-write"])
    visit.sign_in(site.manage)
    page.get_by_role("link", name="Add new webhook").click()
    assert page.locator("h2").inner_text() == "Step 1: Select Webhook type (mandatory)"
    visit.accessible()
    page.get_by_label("URL", exact=True).check()
    page.get_by_label("Webhook name").fill("from-chromium")
    page.get_by_role("button", name="Next").click()
    page.get_by_label("URL", exact=True).fill("https://hooks.shop.example/chromium")
    visit.accessible()
    page.get_by_role("button", name="Next").click()
    page.get_by_label("Application").select_option("store:LIS-01")
    visit.accessible()
    page.get_by_role("button", name="Next").click()
    page.get_by_label("XPAY").check()
    page.get_by_label("MB WAY").check()
    visit.accessible()
    page.get_by_role("button", name="Next").click()
    assert page.locator("h2").inner_text() == "Step 5: Webhook secret (mandatory)"
    assert page.get_by_label(re.compile("Generate a secret for me")).is_checked()
    visit.accessible()
    page.get_by_role("button", name="Next").click()
    page.get_by_label("Support e-mail").fill("ops@shop.example")
    visit.accessible()
    page.get_by_role("button", name="Back").click()  # back and forth keeps the choices
    assert page.get_by_label(re.compile("Generate a secret for me")).is_checked()
    page.get_by_role("button", name="Next").click()
    page.get_by_label("Support e-mail").fill("ops@shop.example")
    with page.expect_response(re.compile(r"/webhooks/new$")) as created:
        page.get_by_role("button", name="Create webhook").click()
    assert created.value.status == 201 and created.value.headers["cache-control"] == "no-store"
    secret = page.locator("#generated-secret").inner_text()
    assert len(secret) == 44  # sibs: the base64 of 32 bytes
    copy = page.get_by_role("button", name="Copy")
    copy.click()  # the script shows the button and copies
    expect(page.locator(".copy-status")).to_have_text("Copied.")
    assert page.evaluate("navigator.clipboard.readText()") == secret
    visit.accessible()
    page.get_by_role("link", name="See its details").click()
    assert "from-chromium" in visit.text() and secret not in page.content()
    page.go_back()  # the secret's page is not kept for the back button
    assert secret not in page.content()


def test_edit_with_the_pencil_and_save_asks_once_more_for_a_managed_webhook(
        visit: Visit, site: Site) -> None:
    page = visit.page
    wid = site.hook("edit-me", labels=MANAGED)
    visit.sign_in(site.manage)
    visit.go(f"/webhooks/{wid}")
    assert ("Managed in webhooks.yaml by payments-team: a change here is drift that the next "
            "apply reverts.") in visit.text()
    visit.accessible()
    page.get_by_role("link", name="Edit").click()
    page.get_by_label("Description").fill("changed in the browser")
    visit.accessible()
    page.get_by_role("button", name="Save").click()
    assert page.url.endswith("/edit")  # the required confirmation stopped it
    confirm = page.get_by_label(re.compile("I understand: payments-team manages"))
    confirm.focus()
    page.keyboard.press("Space")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url("**?done=saved")
    assert "The changes were saved." in visit.text()
    assert "changed in the browser" in visit.text()
    assert site.office.webhooks.get_webhook("demo", wid)["version"] == 2


def test_delete_asks_in_a_pop_up_that_the_keyboard_drives(visit: Visit, site: Site) -> None:
    page = visit.page
    wid = site.hook("delete-me")
    visit.sign_in(site.manage)
    visit.go(f"/webhooks/{wid}")
    delete_link = page.get_by_role("link", name="Delete")
    dialog = page.get_by_role("dialog")
    delete_link.focus()
    page.keyboard.press("Enter")
    assert dialog.is_visible() and "Delete delete-me?" in dialog.inner_text()
    visit.accessible()
    page.keyboard.press("Escape")
    assert not dialog.is_visible()
    assert site.office.webhooks.get_webhook("demo", wid)["version"] == 1
    delete_link.click()
    dialog.get_by_role("link", name="Cancel").click()
    assert not dialog.is_visible() and page.url.endswith(wid)
    delete_link.click()
    dialog.get_by_role("button", name="Delete").focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**/webhooks?done=deleted")
    assert "The webhook was deleted." in visit.text()
    assert "delete-me" not in rows(visit)
    # Without the pop-up (a browser without JavaScript), the link's page asks instead.
    other = site.hook("delete-me-too")
    visit.go(f"/webhooks/{other}/delete")
    assert "Delete delete-me-too?" in visit.text()
    visit.accessible()


def test_the_test_page_shows_what_was_sent_and_the_answer(visit: Visit, site: Site) -> None:
    page = visit.page
    visit.sign_in(site.manage)
    visit.go(f"/webhooks/{site.ids['orders-backend']}")
    page.get_by_role("link", name="Test", exact=True).click()
    visit.accessible()
    page.get_by_label("Notification type").select_option("authorised-payment")
    before = len(site.receiver.received)
    # Hold the submission once, to see what the page says while it waits.
    page.eval_on_selector("form[data-busy]", """form => form.addEventListener(
        "submit", event => event.preventDefault(), {once: true})""")
    page.get_by_role("button", name="Test", exact=True).focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name=re.compile("Testing"))).to_be_disabled()
    expect(page.locator(".live")).to_have_text(re.compile("waiting for the receiver"))
    page.eval_on_selector("form[data-busy]", "form => form.submit()")
    page.locator("#test-outcome").wait_for()
    assert page.locator("#test-outcome").inner_text().startswith("Delivered:")
    sent = site.receiver.received[before]
    assert sent.nid is not None and sent.nid in visit.text()
    assert '"paymentStatus"' in visit.text()
    assert page.get_by_label("Notification type").input_value() == "authorised-payment"
    assert "x-initialization-vector" in visit.text().lower()
    assert page.locator("#test-status").inner_text() == "200"
    visit.accessible()
    page.get_by_role("link", name="Deliveries and their attempts").click()
    assert "1 attempt(s)" in visit.text()
    page.get_by_text("1 attempt(s)").first.click()
    assert "HTTP 200" in visit.text()
    visit.accessible()


def test_a_read_only_user_sees_no_controls_and_is_refused(visit: Visit, site: Site) -> None:
    page = visit.page
    visit.sign_in(site.read)
    assert "read only" in page.inner_text("header")
    assert page.get_by_role("link", name="Add new webhook").count() == 0
    visit.go(f"/webhooks/{site.ids['orders-backend']}")
    for name in ("Edit", "Delete", "Test"):
        assert page.get_by_role("link", name=name, exact=True).count() == 0
    visit.accessible()
    refused = visit.go("/webhooks/new")
    assert refused.status == 403
    assert "Your token lacks the permission to manage webhooks" in visit.text()
    visit.accessible()


def test_a_forged_form_is_refused(visit: Visit, site: Site) -> None:
    page = visit.page
    wid = site.hook("forged")
    visit.sign_in(site.manage)
    visit.go(f"/webhooks/{wid}/edit")
    page.eval_on_selector("form[action$='/edit'] input[name=csrf]", "e => e.value = 'forged'")
    page.get_by_label("Description").fill("should not land")
    with page.expect_response(re.compile("/edit$")) as answer:
        page.get_by_role("button", name="Save").click()
    assert answer.value.status == 403
    assert "This form expired or came from another site" in visit.text()
    assert site.office.webhooks.get_webhook("demo", wid)["version"] == 1


def test_polish_from_the_browser_and_the_switch(site: Site) -> None:
    visit = Visit(site, locale="pl-PL")
    try:
        page = visit.page
        visit.go("/login")
        assert page.get_by_role("heading", level=1).inner_text() == "Zaloguj się"
        page.get_by_label("Token API").fill(site.manage)
        page.get_by_role("button", name="Zaloguj").click()
        page.wait_for_url("**/webhooks")
        assert page.locator("html").get_attribute("lang") == "pl"
        assert page.get_by_role("link", name="Dodaj nowy webhook").is_visible()
        assert page.get_by_label("Poświadczenie").is_visible()
        visit.accessible()
        page.get_by_role("link", name="Dodaj nowy webhook").click()
        assert page.locator("h2").inner_text() == "Krok 1: Wybierz typ Webhook (obowiązkowe)"
        visit.go(f"/webhooks/{site.ids['orders-backend']}")
        assert "Zarządzany w webhooks.yaml przez payments-team" in visit.text()
        page.get_by_label("Język").select_option("en")
        page.get_by_role("button", name="Zmień").click()
        page.wait_for_url(f"**/webhooks/{site.ids['orders-backend']}")
        assert page.locator("html").get_attribute("lang") == "en"
        visit.go("/webhooks")  # the choice is kept (a cookie), over Accept-Language
        assert page.get_by_role("link", name="Add new webhook").is_visible()
    finally:
        visit.close()


def test_sign_out_ends_the_session(visit: Visit, site: Site) -> None:
    page = visit.page
    visit.sign_in(site.read)
    page.get_by_role("button", name="Sign out").click()
    assert "You are signed out." in visit.text()
    visit.accessible()
    visit.go("/webhooks")
    assert "/login" in page.url


def test_a_revoked_token_ends_its_session(visit: Visit, site: Site) -> None:
    page = visit.page
    token = site.office.tokens.create_token("demo", "manage")
    visit.sign_in(token)
    visit.go("/webhooks")
    assert "Add new webhook" in visit.text()
    # What a revocation does: the token's row goes (and this process forgets it at once).
    with site.office.db.write() as conn:
        conn.execute(delete(t.tokens).where(t.tokens.c.hash == token_hash(token)))
    site.office.tokens.forget(token)
    visit.go("/webhooks")
    assert "/login" in page.url
    with site.office.db.read() as conn:
        left = conn.execute(t.web_sessions.select().where(
            t.web_sessions.c.token_hash == token_hash(token))).all()
    assert left == []


def test_the_deliveries_and_an_error_page_are_accessible(visit: Visit, site: Site,
                                                       tmp_path: Path) -> None:
    visit.sign_in(site.manage)
    visit.go(f"/webhooks/{site.ids['lisbon-mail']}")
    visit.accessible()
    visit.go(f"/webhooks/{site.ids['lisbon-mail']}/deliveries")
    assert "No deliveries yet." in visit.text()
    visit.accessible()
    missing = visit.go("/webhooks/wh_nothing_here")
    assert missing.status == 404 and "No such webhook" in visit.text()
    visit.accessible()
