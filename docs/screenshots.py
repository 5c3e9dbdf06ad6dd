"""Take the screenshots of the web pages that the README shows (docs/screenshots/*.png).

Run from the repository's root, with Debian's Chromium installed (`apt-get install -y
chromium`) and the test extra (Playwright):

    .venv/bin/python docs/screenshots.py

It makes a throwaway backoffice with sample webhooks, a `webhooks listen` receiver on
loopback for the test page, serves the pages on a free loopback port, and drives the
system's Chromium (Playwright never downloads a browser here). Nothing leaves this
machine; the screenshots are overwritten.
"""

from __future__ import annotations

import base64
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import uvicorn
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from backoffice import Backoffice  # noqa: E402
from backoffice.http.api import create_app  # noqa: E402
from reconciler.commands.listen import bind  # noqa: E402
from reconciler.receiver import create_receiver  # noqa: E402

OUT = ROOT / "docs" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SECRET = base64.b64encode(bytes(range(40, 72))).decode()  # a sample key, for this run only
MANAGED = {"managed-by": "webhooks-reconciler", "owner": "payments-team"}


def start(app: Any) -> tuple[uvicorn.Server, str]:
    sock = bind("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, log_level="warning",
                                           access_log=False, lifespan="off", ws="none"))
    threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True).start()
    while not server.started:
        time.sleep(0.01)
    return server, f"http://127.0.0.1:{sock.getsockname()[1]}"


def seed(office: Backoffice, receiver: str) -> dict[str, str]:
    def url(name: str, target: str, notifications: list[str], **more: Any) -> str:
        made = office.webhooks.create_webhook("demo", {
            "name": name, "type": "url", "url": target, "application": "merchant",
            "notifications": notifications, **more})
        return str(made["id"])

    ids = {
        "orders": url("orders-backend", receiver, ["mbway", "mb-reference",
                                                   "authorised-payment"],
                      secret=SECRET, labels=MANAGED, support_email="payments-oncall@shop.example",
                      description="Order state changes for the shop's backend"),
        "loyalty": url("loyalty-points", "https://loyalty.shop.example/hooks/sibs", ["xpay"],
                       application="store:POR-01"),
    }
    url("refunds-ledger", "https://ledger:***@finance.shop.example/webhooks", ["mbway"],
        labels=MANAGED, format="standard-webhooks")
    office.webhooks.create_webhook("demo", {
        "name": "lisbon-store-mail", "type": "email", "email": "lisbon@shop.example",
        "application": "store:LIS-01", "notifications": ["mbway"], "labels": MANAGED})
    return ids


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        office = Backoffice.open(f"sqlite:///{work}/backoffice.db", allow_private_targets=True)
        listen, listen_base = start(create_receiver(SECRET, fmt="sibs", path="/hooks",
                                                    out=lambda _: None, err=lambda _: None))
        ids = seed(office, listen_base + "/hooks")
        token = office.tokens.create_token("demo", "manage")
        pages, base = start(create_app(office))
        with sync_playwright() as driver:
            browser = driver.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            context = browser.new_context(viewport={"width": 1200, "height": 760},
                                          locale="en-US")
            page = context.new_page()
            page.goto(base + "/login")
            page.get_by_label("API token").fill(token)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url("**/webhooks")
            page.locator("summary", has_text="orders-backend").click()
            page.screenshot(path=str(OUT / "list.png"), full_page=True)
            page.goto(f"{base}/webhooks?type=url&notification=mbway")
            page.screenshot(path=str(OUT / "list-filtered.png"), full_page=True)
            page.goto(f"{base}/webhooks/{ids['orders']}")
            page.screenshot(path=str(OUT / "details.png"), full_page=True)
            page.get_by_role("link", name="Delete").click()
            page.screenshot(path=str(OUT / "delete.png"))
            page.goto(f"{base}/webhooks/new")
            for fields in ({"Webhook name": "new-hook"},
                           {"URL": "https://hooks.shop.example/new"}, {}, {"MB WAY": True}):
                for label, value in fields.items():
                    field = page.get_by_label(label, exact=True)
                    field.check() if value is True else field.fill(str(value))
                page.get_by_role("button", name="Next").click()
            page.screenshot(path=str(OUT / "wizard.png"), full_page=True)
            page.goto(f"{base}/webhooks/{ids['orders']}/test")
            page.get_by_role("button", name="Test", exact=True).click()
            page.locator("#test-outcome").wait_for()
            page.screenshot(path=str(OUT / "test.png"), full_page=True)
            page.goto(f"{base}/webhooks/{ids['orders']}/deliveries")
            page.locator("details summary").first.click()
            page.screenshot(path=str(OUT / "deliveries.png"), full_page=True)
            polish = browser.new_context(viewport={"width": 1200, "height": 760},
                                         locale="pl-PL")
            polish.add_cookies(context.cookies())
            pl = polish.new_page()
            pl.goto(f"{base}/webhooks")
            pl.screenshot(path=str(OUT / "list-pl.png"), full_page=True)
            browser.close()
        pages.should_exit = True
        listen.should_exit = True
        time.sleep(0.3)
        office.close()
    for shot in sorted(OUT.glob("*.png")):
        print(shot.relative_to(ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
