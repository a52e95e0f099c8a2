"""Steps on the console page that several browser tests share (sign in, read the session, screenshots,
open a screen, answer the purpose dialog) and an API client to arrange data with."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from playwright.sync_api import Locator, Page, expect

from tests.browser.harness import Account, ConsoleServer

FEED_BUDGET_S = 2.0  # publish on the bus -> shown in the feed


def sign_in(page: Page, server: ConsoleServer, account: Account) -> None:
    """Opens the console, signs in, and waits for the first screen of the role."""
    page.goto(server.base_url + "/")
    expect(page.locator("body.ready #view-signin")).to_be_visible()
    page.locator("#signin-user").fill(account.username)
    page.locator("#signin-pass").fill(account.password)
    page.locator("#signin-submit").click()
    expect(page.locator("#session-tools")).to_be_visible()
    expect(page.locator("#who")).to_contain_text(account.username)


def session(page: Page) -> dict[str, object]:
    """The tokens the page keeps in sessionStorage."""
    raw = page.evaluate("sessionStorage.getItem('anfang.session')")
    assert isinstance(raw, str), "no session kept"
    data: dict[str, object] = json.loads(raw)
    return data


def access_token(page: Page) -> str:
    token = session(page)["access_token"]
    assert isinstance(token, str)
    return token


def feed_item(page: Page, event_id: object) -> str:
    return f'#feed li[data-event-id="{event_id}"]'


def shot(page: Page, folder: Path, name: str) -> Path:
    path = folder / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def wait_live(page: Page) -> None:
    """Until the live feed's WebSocket said hello."""
    expect(page.locator("#conn")).to_have_class("conn live")


def starts_with(prefix: str) -> re.Pattern[str]:
    return re.compile("^" + re.escape(prefix))


def until(page: Page, condition: Callable[[], bool], timeout_s: float = 5.0) -> None:
    """Polls `condition` (page.wait_for_function would need eval, which the console's CSP forbids)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        page.wait_for_timeout(50)


def open_screen(page: Page, view: str) -> None:
    """Clicks the screen's nav entry and waits for it."""
    page.locator(f'#nav [data-view="{view}"]').click()
    expect(page.locator(f"#view-{view}")).to_be_visible()


def table_row(page: Page, container: str, text: str) -> Locator:
    """The rows of the table in `container` (a CSS selector) that contain `text`."""
    return page.locator(f"{container} tbody tr").filter(has_text=text)


def give_purpose(page: Page, purpose: str) -> None:
    """Answers the purpose dialog (dialog.js) with `purpose`."""
    expect(page.locator("#purpose-dialog")).to_be_visible()
    page.locator("#purpose-text").fill(purpose)
    page.locator('#purpose-form button[type="submit"]').click()
    expect(page.locator("#purpose-dialog")).to_be_hidden()


@contextmanager
def api_client(server: ConsoleServer, account: Account) -> Iterator[httpx.Client]:
    """An HTTP client of the server signed in as `account` (to arrange data the way the API stores it)."""
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        form = {"username": account.username, "password": account.password}
        r = client.post("/v1/auth/token", data=form)
        assert r.status_code == 200, r.text
        client.headers["Authorization"] = "Bearer " + r.json()["access_token"]
        yield client
