"""Fixtures of the browser tests: one console server and one headless Chromium for the package, a fresh
browser context (own sessionStorage) per test, and screenshots under the pytest base temp folder."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Playwright, Response, sync_playwright

from tests.browser.harness import ConsoleServer, run_console_server

CHROMIUM = Path("/usr/bin/chromium")  # Debian's package: Playwright cannot download a browser here
VIEWPORT = {"width": 1280, "height": 800}
_SHOTS: list[Path] = []
MEASUREMENTS: list[str] = []  # printed in the run's summary


@pytest.fixture(scope="package")
def console_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleServer]:
    with run_console_server(tmp_path_factory.mktemp("console-server")) as server:
        yield server


@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="package")
def browser(playwright: Playwright) -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package (deploy/setup.sh does)")
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"], headless=True)
    yield browser
    browser.close()


@pytest.fixture(scope="package")
def shots_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("browser-screenshots", numbered=False)
    _SHOTS.append(folder)
    return folder


class PageProblems:
    """JavaScript errors, console errors (CSP refusals among them) and HTTP errors a page met."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def console(self, message: ConsoleMessage) -> None:
        # an HTTP error is also reported as a console error without its URL: `response` names it
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.items.append(f"console: {message.text}")

    def response(self, response: Response) -> None:
        if response.status >= 400:
            path = response.url.split("://", 1)[-1].split("/", 1)[-1]
            self.items.append(f"http {response.status} {response.request.method} /{path.split('?')[0]}")

    def page_error(self, error: Exception) -> None:
        self.items.append(f"page error: {error}")

    def unexpected(self, *allowed: str) -> list[str]:
        """Problems other than those matching one of the `allowed` regexes (expected HTTP refusals)."""
        return [p for p in self.items if not any(re.search(a, p) for a in allowed)]


@pytest.fixture
def problems() -> PageProblems:
    return PageProblems()


def open_page(browser: Browser, problems: PageProblems, **context: object) -> Page:
    ctx = browser.new_context(**{"viewport": VIEWPORT, "locale": "en-US", **context})  # type: ignore[arg-type]
    page = ctx.new_page()
    page.on("console", problems.console)
    page.on("pageerror", problems.page_error)
    page.on("response", problems.response)
    page.set_default_timeout(5000)
    return page


@pytest.fixture
def page(browser: Browser, problems: PageProblems) -> Iterator[Page]:
    page = open_page(browser, problems)
    yield page
    page.context.close()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for folder in _SHOTS:
        terminalreporter.write_line(f"browser screenshots: {folder}")
    for line in MEASUREMENTS:
        terminalreporter.write_line(f"browser: {line}")
