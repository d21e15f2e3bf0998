"""Fixtures for the web gallery's browser tests: the built app, Chromium, and a page.

The gallery is served by the `stack` fixture's ingress from services/web/dist, which the
ingress config reads when the stack starts: `make test` builds it first (`make web`); a
missing build is made here before the stack starts, when npm is on the machine.
Chromium is Debian's (/usr/bin/chromium, or PIXTRACT_CHROMIUM), driven by Python
Playwright without any browser download. Screenshots go to test-artifacts/browser/.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize, expect, sync_playwright

REPO = Path(__file__).resolve().parents[2]
WEB = REPO / "services" / "web"
DIST = WEB / "dist"
ARTIFACTS = REPO / "test-artifacts" / "browser"

CHROMIUM = os.environ.get("PIXTRACT_CHROMIUM", "/usr/bin/chromium")
# Without the background-networking flags Chromium keeps dialling Google's hosts, which
# this machine's closed network refuses; --no-sandbox because the tests may run as root.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP: ViewportSize = {"width": 1280, "height": 860}
STEP_TIMEOUT_MS = 15_000
expect.set_options(timeout=STEP_TIMEOUT_MS)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: drives the web gallery in headless Chromium")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).resolve().parent
    for item in items:
        if here in item.path.resolve().parents:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def web_dist() -> Path:
    """services/web/dist, built now if it is missing (normally `make web` built it)."""
    if (DIST / "index.html").is_file():
        return DIST
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("services/web/dist is not built and npm is not installed: run `make web` first")
    install = "ci" if (WEB / "package-lock.json").is_file() else "install"
    subprocess.run([npm, install, "--no-audit", "--no-fund"], cwd=WEB, check=True)
    subprocess.run([npm, "run", "build"], cwd=WEB, check=True)
    return DIST


@pytest.fixture(scope="session")
def gallery_url(web_dist: Path, stack: Any) -> str:
    """The ingress URL, once it is known to serve the gallery rather than the placeholder."""
    index = httpx.get(f"{stack.base_url}/", timeout=10.0)
    assert index.status_code == 200, index.text
    if 'id="app"' not in index.text:
        pytest.fail(
            "the ingress does not serve the web gallery: the stack started before services/web/dist "
            "was built. Run `make web` (or `make test`, which builds it first)."
        )
    return str(stack.base_url)


# Module scope, not session: while Playwright's sync API is open it keeps its own event loop
# marked as running in this thread, and every asyncio test after it would fail.
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"no Chromium at {CHROMIUM}: `apt-get install chromium` (make test does it as root)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield launched
        launched.close()


class PageProblems:
    """JavaScript errors and console errors a page reported: none are expected."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def watch(self, page: Page) -> None:
        page.on("pageerror", lambda error: self.errors.append(f"page error: {error}"))
        page.on(
            "console",
            lambda message: (
                self.errors.append(f"console {message.type}: {message.text}")
                if message.type == "error" and not _expected_console_error(message.text)
                else None
            ),
        )


def _expected_console_error(text: str) -> bool:
    # The browser logs every non-2xx answer; the tests provoke some on purpose (a wrong
    # password, a refused file, a malformed query, an expired token).
    return "Failed to load resource" in text


@pytest.fixture
def context(browser: Browser, gallery_url: str) -> Iterator[BrowserContext]:
    ctx = browser.new_context(base_url=gallery_url, viewport=DESKTOP, accept_downloads=True)
    ctx.set_default_timeout(STEP_TIMEOUT_MS)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context: BrowserContext) -> Iterator[Page]:
    problems = PageProblems()
    opened = context.new_page()
    problems.watch(opened)
    yield opened
    assert problems.errors == [], "\n".join(problems.errors)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
