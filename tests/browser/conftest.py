"""The browser suite: the console in headless Chromium (Playwright for Python, Debian's chromium).

It runs whenever a Chromium is found (ROSTERSYNC_CHROMIUM, /usr/bin/chromium, or chromium on
PATH) and Playwright is installed; otherwise every test here is skipped with the reason.
Playwright's own browser download cannot be used here, so the browser is launched by path.

Screenshots of each step, at phone (375 px) and desktop width, go to .rostersync/screenshots/
(git-ignored).
"""

import os
import re
import shutil
from pathlib import Path

import pytest

from rostersync_tools.local.stack import LocalStack
from rostersync_tools.sandbox_sis import SandboxConfig, SandboxSIS
from tests.browser.audit import audit
from tests.fixtures.sandbox import SMALL_DISTRICT

SCREENSHOTS = Path(__file__).resolve().parents[2] / ".rostersync" / "screenshots"
PHONE = {"width": 375, "height": 760}
DESKTOP = {"width": 1280, "height": 900}
SIS_SECRET = "browser-sandbox-secret-5d2c"


def chromium_path() -> str | None:
    for candidate in (
        os.environ.get("ROSTERSYNC_CHROMIUM"),
        "/usr/bin/chromium",
        shutil.which("chromium"),
        shutil.which("chromium-browser"),
    ):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def pytest_collection_modifyitems(config, items):
    reason = None
    if chromium_path() is None:
        reason = "browser suite skipped: no Chromium found (apt-get install chromium, or set ROSTERSYNC_CHROMIUM)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            reason = "browser suite skipped: playwright is not installed (pip install -e '.[dev]')"
    if reason:
        here = Path(__file__).parent
        for item in items:
            if here in Path(str(item.fspath)).parents:
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="module")  # closed once the module's tests are done, not at the session's end
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path(),
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def sandbox():
    sis = SandboxSIS(SandboxConfig(**{**SMALL_DISTRICT, "client_secret": SIS_SECRET}))
    yield sis  # started (and stopped) by the stack


@pytest.fixture
def console_stack(clean_aws, sandbox, tmp_path):
    """The local stack with the sandbox SIS and the console, every server on a free port."""
    stack = LocalStack(
        aws=clean_aws, api_port=0, sis=sandbox, sis_port=0, console_port=0, state_dir=tmp_path / "rostersync-state"
    )
    stack.start()
    try:
        yield stack
    finally:
        stack.stop()


def axe_problems(page) -> list[str]:
    """axe-core's serious and critical violations on the page as it is (the axe-playwright-python
    package bundles axe-core; it runs inside the page, no network)."""
    from axe_playwright_python.sync_playwright import Axe

    violations = Axe().run(page).response["violations"]
    return [
        f"axe {v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in violations
        if v.get("impact") in ("serious", "critical")
    ]


class Screens:
    """Screenshots of the page at desktop and phone width, named in order; at each, the page is
    audited (contrast, labels, one h1, no sideways scrolling; and axe-core's serious and critical
    rules) and problems are collected."""

    def __init__(self, page, name: str):
        self.page = page
        self.folder = SCREENSHOTS / name
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.count = 0
        self.problems: list[str] = []

    def shoot(self, label: str) -> None:
        self.count += 1
        for size_name, size in (("phone", PHONE), ("desktop", DESKTOP)):
            self.page.set_viewport_size(size)
            if not self.page.locator("dialog[open]").count():
                self.problems += [f"{label} ({size_name}): {p}" for p in audit(self.page)]
            self.problems += [f"{label} ({size_name}): {p}" for p in axe_problems(self.page)]
            self.page.screenshot(path=str(self.folder / f"{self.count:02d}-{label}-{size_name}.png"), full_page=True)
        self.page.set_viewport_size(DESKTOP)


class ConsoleWatch:
    """JavaScript errors and console errors of a page. Chromium logs every 4xx answer to fetch as
    a console error ("Failed to load resource"): the console expects those (404 not_connected,
    422 for a wrong secret, 409 already running) and shows them on the page; anything else is a bug."""

    def __init__(self, page):
        self.errors: list[str] = []
        page.on("pageerror", lambda error: self.errors.append(f"pageerror: {error}"))
        page.on("console", self._console)

    def _console(self, message) -> None:
        if message.type != "error":
            return
        if message.text.startswith("Failed to load resource: the server responded with a status of 4"):
            return
        self.errors.append(f"console: {message.text}")


@pytest.fixture
def new_page(browser):
    contexts = []

    def make():
        context = browser.new_context(viewport=DESKTOP)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        return page, ConsoleWatch(page)

    yield make
    for context in contexts:
        context.close()


def sign_in_locally(page, console_url: str, role: str, district_name: str | None = None) -> None:
    """The local stack's sign-in form, as an admin fills it in."""
    page.goto(console_url)
    page.get_by_label("Sign in as").select_option(role)
    if district_name:
        district = page.get_by_label("District", exact=True)
        district.select_option(district.locator("option", has_text=district_name).get_attribute("value"))
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name="Sign out").wait_for()


def focus_ring_visible(page) -> bool:
    """Whether the focused element shows the console's focus outline (visible focus)."""
    style = page.evaluate(
        "() => { const s = getComputedStyle(document.activeElement); return [s.outlineStyle, s.outlineWidth]; }"
    )
    return style[0] != "none" and float(re.sub("[^0-9.]", "", style[1]) or 0) >= 2
