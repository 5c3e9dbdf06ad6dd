"""A real browser for the web pages' tests: Debian's Chromium driven by Playwright, the
app served by uvicorn on a free loopback port in this process, and axe-core.

Playwright never downloads a browser here: it launches ``/usr/bin/chromium`` (``apt-get
install -y chromium``; `.ci/run` does) with a fresh profile. axe-core is the npm package,
fetched once with ``npm pack`` into a cache directory and injected into each page it
checks. Without Chromium, npm or the package, the browser tests skip with the reason,
except when ``CI`` is set: then they fail.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tarfile
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Final

import pytest
import uvicorn

from reconciler.commands.listen import bind

CHROMIUM: Final = "/usr/bin/chromium"
CHROMIUM_ARGS: Final = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                        "--no-first-run", "--disable-background-networking",
                        "--disable-component-update", "--disable-sync"]
AXE_VERSION: Final = "4.10.3"
# Read once, before any test clears the environment.
REQUIRED: Final = os.environ.get("CI", "").strip().lower() not in ("", "false", "0")


def unavailable(reason: str) -> None:
    if REQUIRED:
        pytest.fail(f"the browser tests are required when CI is set: {reason}", pytrace=False)
    pytest.skip(f"the browser tests need {reason}")


def chromium() -> str:
    if not os.access(CHROMIUM, os.X_OK):
        unavailable(f"Chromium at {CHROMIUM} (apt-get install -y chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        unavailable("the playwright package (pip install -e '.[test]')")
    return CHROMIUM


def axe_script() -> Path:
    """axe.min.js of ``AXE_VERSION``, from the npm registry once, then from the cache."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    target = cache / "webhooks-reconciler-tests" / f"axe-core-{AXE_VERSION}" / "axe.min.js"
    if target.exists():
        return target
    npm = shutil.which("npm")
    if npm is None:
        unavailable("npm, to fetch axe-core (apt-get install -y npm)")
    with tempfile.TemporaryDirectory() as work:
        done = subprocess.run([str(npm), "pack", f"axe-core@{AXE_VERSION}", "--silent"],
                              cwd=work, capture_output=True, text=True, timeout=180,
                              check=False)
        packed = Path(work) / f"axe-core-{AXE_VERSION}.tgz"
        if done.returncode != 0 or not packed.exists():
            unavailable(f"axe-core from npm (npm pack failed: {done.stderr.strip()[:300]})")
        with tarfile.open(packed) as archive:
            member = archive.extractfile("package/axe.min.js")
            assert member is not None
            data = member.read()
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".part")
        partial.write_bytes(data)
        partial.replace(target)
    return target


class LiveApp:
    """An ASGI app under uvicorn on a free loopback port, in a thread of this process."""

    def __init__(self, app: Any) -> None:
        self.sock = bind("127.0.0.1", 0)
        self.base = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        config = uvicorn.Config(app, log_config=None, log_level="warning", access_log=False,
                                lifespan="off", ws="none", timeout_graceful_shutdown=1)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]},
                                       daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the app did not start")
            time.sleep(0.01)

    def close(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()


AXE_URL: Final = "/__axe-core.js"


def serve_axe(context: Any, script: Path) -> None:
    """Answer ``AXE_URL`` on any origin with axe-core, in the browser itself: the pages'
    Content-Security-Policy allows scripts from their own origin only (an inline copy
    would be refused), and the server under test never learns of it."""
    context.route(f"**{AXE_URL}", lambda route: route.fulfill(
        path=str(script), content_type="text/javascript"))


def axe_violations(page: Any) -> list[str]:
    """The serious and critical violations axe-core finds on the page as it is now
    (its context went through ``serve_axe``)."""
    page.add_script_tag(url=AXE_URL)
    found = page.evaluate("""async () => {
        const result = await axe.run(document, {resultTypes: ["violations"]});
        return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.map(n => n.target.join(" ")).slice(0, 3)}));
    }""")
    return [json.dumps(v) for v in found if v["impact"] in ("serious", "critical")]
