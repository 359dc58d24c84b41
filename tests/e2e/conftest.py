"""Browser tests: headless Chromium, driven by Playwright, against pytest-django's live server.

They skip, with the reason shown, when Playwright or Chromium is missing, except
where ``SECRETVAULT_E2E_REQUIRED=1`` (CI sets it): there a missing browser fails. The
browser is ``$SECRETVAULT_E2E_CHROMIUM`` (default ``/usr/bin/chromium``, Debian's
package); ``playwright install`` is not needed. Screenshots of the main pages land
in ``test-artifacts/screenshots/<test>/``.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Collection, Iterator
from importlib.util import find_spec
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page, Response

CHROMIUM = os.environ.get("SECRETVAULT_E2E_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
TIMEOUT_MS = 15_000
PASSWORD = "pw"  # the password tests/conftest.py gives its users


def missing_browser() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if find_spec("playwright") is None:
        return "Playwright is not installed (pip install playwright)"
    if not os.access(CHROMIUM, os.X_OK):
        return f"no Chromium at {CHROMIUM} (apt-get install chromium, or set SECRETVAULT_E2E_CHROMIUM)"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reason = missing_browser()
    if reason is None:
        return
    if os.environ.get("SECRETVAULT_E2E_REQUIRED") == "1":
        raise pytest.UsageError(f"browser tests are required here, but {reason}")
    skip = pytest.mark.skip(reason=f"browser tests: {reason}")
    for item in items:
        if "e2e" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop running in this thread, which trips
    # Django's async-safety check on every ORM call the test makes (fixtures, asserts,
    # the database flush). The calls really are synchronous; allow them while it runs.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    playwright = sync_playwright().start()
    try:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield launched
        finally:
            launched.close()
    finally:
        playwright.stop()
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


class AdminBrowser:
    """One browser session (its own cookies) that checks every page it loads.

    ``forbidden`` holds the secret values and raw tokens of the test: no page's
    HTML may contain them, except where a step names them in ``may_show`` (the
    reveal view and the one-time token page). Each main step is screenshotted.
    """

    def __init__(
        self, context: BrowserContext, base_url: str, forbidden: set[str], shots: Path, label: str
    ) -> None:
        self.context = context
        self.page: Page = context.new_page()
        self.page.set_default_timeout(TIMEOUT_MS)
        self.base_url = base_url.rstrip("/")
        self.forbidden = forbidden
        self.shots = shots
        self.label = label
        self.pages_checked = 0
        self._documents: list[Response] = []
        self.page.on("response", self._seen)

    def _seen(self, response: Response) -> None:
        if response.request.resource_type == "document":
            self._documents.append(response)

    # -- navigation, each step checked -------------------------------------------

    def goto(self, path: str, step: str, *, may_show: Collection[str] = ()) -> Response:
        response = self.page.goto(self.base_url + path)
        assert response is not None
        self.check(step, may_show=may_show)
        return response

    def submit(self, action: Callable[[], Any], step: str, *, may_show: Collection[str] = ()) -> Response:
        """Run ``action`` (a click that submits or follows a link) and check where it lands."""
        with self.page.expect_navigation() as navigation:
            action()
        self.check(step, may_show=may_show)
        return navigation.value

    def click(self, selector: str, step: str, *, may_show: Collection[str] = ()) -> Response:
        return self.submit(lambda: self.page.locator(selector).first.click(), step, may_show=may_show)

    def check(self, step: str, *, may_show: Collection[str] = ()) -> None:
        """No forbidden string in the DOM or in any document the server sent since the last check."""
        self.page.wait_for_load_state("load")
        bodies = [("dom", self.page.content())]
        for response in self._documents:
            if 300 <= response.status < 400:
                continue  # redirects carry no page
            bodies.append((response.url, response.text()))
        self._documents.clear()
        for where, body in bodies:
            for value in self.forbidden:
                if value not in may_show:
                    assert value not in body, f"{self.label}/{step}: a secret value is in the HTML of {where}"
        self.pages_checked += 1
        self.screenshot(step)

    def screenshot(self, step: str) -> None:
        self.shots.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9_.-]+", "-", f"{self.pages_checked:02d}-{self.label}-{step}")
        self.page.screenshot(path=str(self.shots / f"{name}.png"), full_page=True)

    # -- common steps ------------------------------------------------------------

    def login(self, username: str, password: str = PASSWORD) -> None:
        self.goto("/admin/login/", "login")
        self.page.fill("#id_username", username)
        self.page.fill("#id_password", password)
        self.click("input[type=submit]", "index")
        assert self.page.url.endswith("/admin/"), f"login as {username} failed"

    def messages(self) -> str:
        return " ".join(self.page.locator("ul.messagelist li").all_inner_texts())

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def admin_browser(
    browser: Browser, live_server: Any, request: pytest.FixtureRequest
) -> Iterator[Callable[..., AdminBrowser]]:
    """``open_session(label, forbidden)``: a fresh browser session on the live server."""
    sessions: list[AdminBrowser] = []
    shots = SCREENSHOTS / request.node.name
    shutil.rmtree(shots, ignore_errors=True)  # this run's pictures only

    def open_session(label: str, forbidden: set[str]) -> AdminBrowser:
        context = browser.new_context(viewport={"width": 1440, "height": 900})
        session = AdminBrowser(context, live_server.url, forbidden, shots, label)
        sessions.append(session)
        return session

    yield open_session
    for session in sessions:
        session.close()
