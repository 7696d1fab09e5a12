"""Browser tests: the real app on a free port, demo tenants loaded, driven in Chromium.

The server is started once for the whole browser session (loading the demo
is the slow part); each test gets a fresh browser context (no cookies).
Skipped, with the reason, when Debian's Chromium, Playwright or the built
web bundle is missing.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
BUNDLE = ROOT / "web" / "dist" / "index.html"
#: Screenshots the user guide (docs/user-guide.md) shows.
#: docs/user-guide.md's pictures are rewritten only when asked
#: (``TESSERA_UPDATE_SCREENSHOTS=1``); otherwise a run takes them into a scratch folder.
SCREENSHOTS = (
    ROOT / "docs" / "images"
    if os.environ.get("TESSERA_UPDATE_SCREENSHOTS") == "1"
    else Path(tempfile.gettempdir()) / "tessera-screenshots"
)
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PASSWORD = "tessera-demo"

try:
    from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright
except ImportError:  # pragma: no cover - the test extras install it
    sync_playwright = None


def _skip_reason() -> str | None:
    if sync_playwright is None:
        return "playwright is not installed (pip install -e '.[test]')"
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing (apt-get install -y chromium)"
    if not BUNDLE.exists():
        return f"{BUNDLE} is missing (cd web && npm ci && npm run build)"
    return None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    reason = _skip_reason()
    if reason is None:
        return
    for item in items:
        if "tests/browser" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.skip(reason=reason))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    # A server already running `python -m tests.browser.serve_demo PORT` may be reused.
    running = os.environ.get("TESSERA_BROWSER_BASE_URL")
    if running:
        yield running.rstrip("/")
        return
    port = _free_port()
    db = tmp_path_factory.mktemp("browser") / "demo.db"
    env = {**os.environ, "TESSERA_DATABASE_URL": f"sqlite:///{db}"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.browser.serve_demo", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + 180
    output: list[str] = []
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line and proc.poll() is not None:
            break
        output.append(line)
        if line.strip() == "READY":
            break
    else:
        proc.kill()
    if proc.poll() is not None or not output or output[-1].strip() != "READY":
        proc.kill()
        pytest.fail("the demo server did not start:\n" + "".join(output[-30:]))
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    # Per module, not per session: while sync Playwright is open, an event loop runs in
    # this thread, and the suite's async tests (pytest-asyncio) cannot start their own.
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    ctx = browser.new_context(viewport={"width": 1280, "height": 800}, accept_downloads=True)
    ctx.set_default_timeout(10_000)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


@pytest.fixture(scope="session")
def sessions() -> dict[tuple[str, str], Any]:
    """Browser storage (the session cookies) of each demo user after one real sign-in."""
    return {}


@pytest.fixture
def login(
    browser: Browser, base_url: str, sessions: dict[tuple[str, str], Any]
) -> Iterator[Callable[..., Page]]:
    """``login(tenant, user)``: a page signed in as that demo user (one sign-in per user
    per run, through the login form; the server throttles repeated sign-ins). ``locale``
    is the browser's language (its date pickers, the sign-in page)."""
    opened: list[BrowserContext] = []

    def open_as(
        tenant: str, user: str, width: int = 1280, height: int = 800, locale: str | None = None
    ) -> Page:
        key = (tenant, user)
        ctx = browser.new_context(
            viewport={"width": width, "height": height},
            accept_downloads=True,
            storage_state=sessions.get(key),
            locale=locale,
        )
        ctx.set_default_timeout(10_000)
        opened.append(ctx)
        page = ctx.new_page()
        if key in sessions:
            page.goto(f"{base_url}/t/{tenant}/app/")
            page.get_by_test_id("me").wait_for()
        else:
            sign_in(page, base_url, tenant, user)
            sessions[key] = ctx.storage_state()
        return page

    yield open_as
    for ctx in opened:
        ctx.close()


def sign_in(page: Page, base_url: str, tenant: str, user: str) -> None:
    """Open the tenant's screens and sign in as ``user@tenant.example``."""
    page.goto(f"{base_url}/t/{tenant}/app/")
    page.locator("#login-email").fill(f"{user}@{tenant}.example")
    page.locator("#login-password").fill(PASSWORD)
    page.locator("form button[type=submit]").click()
    page.get_by_test_id("me").wait_for()


def shot(page: Page, name: str, full_page: bool = False) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)
