"""Recognition alerts in the console: a code payload built to run script is shown as text, and a face
match shows its identity but never its face encoding."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.console_page import feed_item, sign_in, wait_live
from tests.browser.harness import ACCOUNTS, ConsoleServer
from tests.unit.events_samples import with_attributes

pytestmark = pytest.mark.browser

HOSTILE = '<img src=x onerror="document.body.dataset.pwned=1">\ufffd[31m'


def open_alert(page: Page, console_server: ConsoleServer, kind: str, **attributes: object) -> None:
    alert = with_attributes(console_server.alert("cam-a", snapshot=False), kind, **attributes)
    console_server.publish(alert)
    item = page.locator(feed_item(page, alert.event_id))
    expect(item).to_be_visible(timeout=5000)
    console_server.wait_stored(alert)
    item.locator("button").click()
    expect(page.locator("#alert-detail")).to_be_visible()


def test_a_hostile_code_payload_is_shown_as_text(page: Page, console_server: ConsoleServer) -> None:
    sign_in(page, console_server, ACCOUNTS["operator"])
    wait_live(page)
    open_alert(page, console_server, "code_read", format="QRCode", payload=HOSTILE, payload_bytes=60)
    detail = page.locator("#alert-detail")
    expect(detail).to_contain_text(HOSTILE)
    assert detail.locator("img[src=x]").count() == 0
    assert page.evaluate("document.body.dataset.pwned") is None


def test_a_face_match_shows_the_identity_and_no_encoding(page: Page, console_server: ConsoleServer) -> None:
    sign_in(page, console_server, ACCOUNTS["operator"])
    wait_live(page)
    attributes = {"identity_id": "id_7", "identity_name": "Zhang San", "watchlist_name": "wanted"}
    open_alert(page, console_server, "face_match", **attributes, face_embedding=[0.125] * 128)
    detail = page.locator("#alert-detail")
    expect(detail).to_contain_text("Zhang San")
    assert "face_embedding" not in detail.inner_text() and "0.125" not in detail.inner_text()
