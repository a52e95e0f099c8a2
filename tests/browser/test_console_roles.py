"""Roles and sessions in a real Chromium against a real server (tests/browser/harness.py): the auditor's
read-only history, audit trail and exports; a camera-scoped operator; the integrator's cameras; the
admin's users and keys; the language switch; token refresh, sign-out and a wrong password."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import PageProblems, open_page
from tests.browser.console_page import (
    FEED_BUDGET_S,
    access_token,
    feed_item,
    session,
    shot,
    sign_in,
    starts_with,
    wait_live,
)
from tests.browser.harness import ACCOUNTS, SOP_TEXT, ConsoleServer

pytestmark = pytest.mark.browser


def test_auditor_reads_history_and_audit_but_cannot_act(
    page: Page, console_server: ConsoleServer, shots_dir: Path, problems: PageProblems
) -> None:
    alert = console_server.alert("cam-b", label="vehicle")
    console_server.publish(alert)
    console_server.wait_stored(alert)
    sign_in(page, console_server, ACCOUNTS["auditor"])
    expect(page.locator("#view-history")).to_be_visible()  # the auditor's first screen
    nav = page.locator("#nav")
    expect(nav.locator('[data-view="audit"]')).to_be_visible()
    expect(nav.locator('[data-view="users"]')).to_be_hidden()

    row = page.locator(f'#hist-results tr[data-event-id="{alert.event_id}"]')
    expect(row).to_be_visible()
    row.click()
    detail = page.locator("#history-detail")
    expect(detail.locator(".fields")).to_contain_text("cam-b")
    expect(detail.locator(".sop")).to_contain_text(SOP_TEXT)
    assert detail.locator("[data-action]").count() == 0  # no acknowledge, no other action
    assert detail.locator("form").count() == 0
    # a snapshot is personal data: the auditor states why before it is fetched
    detail.get_by_role("button", name="Show the snapshot").click()
    page.locator("#purpose-text").fill("incident review 42")
    page.locator("#purpose-form button[type=submit]").click()
    expect(detail.locator(".thumb img")).to_have_attribute("src", starts_with("blob:"))
    shot(page, shots_dir, "auditor-history")

    with page.expect_download() as download_info:
        page.locator("#hist-export-csv").click()
        page.locator("#purpose-text").fill("quarterly review")
        page.locator("#purpose-form button[type=submit]").click()
    download = download_info.value
    exported = shots_dir / f"auditor-{download.suggested_filename}"
    download.save_as(exported)
    assert str(alert.event_id) in exported.read_text(encoding="utf-8")

    # and the API refuses the auditor's token too
    r = httpx.post(
        f"{console_server.base_url}/v1/alerts/{alert.event_id}/actions",
        json={"action": "acknowledge"},
        headers={"Authorization": f"Bearer {access_token(page)}"},
    )
    assert r.status_code == 403, r.text

    nav.locator('[data-view="audit"]').click()
    expect(page.locator("#audit-results tbody tr").first).to_be_visible()
    audit_rows = page.locator("#audit-results")
    expect(audit_rows).to_contain_text("auth.login")
    expect(audit_rows.locator("tr", has_text="quarterly review")).to_contain_text("export")
    expect(audit_rows.locator("tr", has_text="incident review 42")).to_contain_text("snapshot.view")
    page.locator("#audit-verify").click()
    expect(page.locator("#audit-verdict")).to_have_class("message ok")
    shot(page, shots_dir, "auditor-audit")
    assert problems.unexpected() == []


def test_scoped_operator_never_sees_the_other_camera(
    page: Page, console_server: ConsoleServer, shots_dir: Path, problems: PageProblems
) -> None:
    hidden, visible = console_server.alert("cam-b"), console_server.alert("cam-a")
    for event in (hidden, visible):
        console_server.publish(event)
        console_server.wait_stored(event)
    sign_in(page, console_server, ACCOUNTS["scoped"])
    wait_live(page)
    live_hidden, live_visible = console_server.alert("cam-b"), console_server.alert("cam-a")
    console_server.publish(live_hidden)
    console_server.publish(live_visible)
    expect(page.locator(feed_item(page, live_visible.event_id))).to_be_visible(timeout=FEED_BUDGET_S * 1000)
    expect(page.locator(feed_item(page, visible.event_id))).to_be_visible()
    for event in (hidden, live_hidden):
        assert page.locator(feed_item(page, event.event_id)).count() == 0
    assert "cam-b" not in page.locator("#feed").inner_text()
    assert page.locator('#feed-camera option[value="cam-b"]').count() == 0
    shot(page, shots_dir, "scoped-feed")

    page.locator('#nav [data-view="history"]').click()
    expect(page.locator(f'#hist-results tr[data-event-id="{visible.event_id}"]')).to_be_visible()
    assert "cam-b" not in page.locator("#hist-results").inner_text()
    assert page.locator('#hist-cameras option[value="cam-b"]').count() == 0
    shot(page, shots_dir, "scoped-history")

    page.locator('#nav [data-view="cameras"]').click()
    expect(page.locator('#camera-grid [data-camera-id="cam-a"]')).to_be_visible()
    assert page.locator('#camera-grid [data-camera-id="cam-b"]').count() == 0
    expect(page.locator('#sensor-list [data-sensor-id="gas-north"]')).to_be_visible()
    assert page.locator('#sensor-list [data-sensor-id="gas-south"]').count() == 0
    shot(page, shots_dir, "scoped-cameras")
    assert console_server.stored_alerts("cam-b") >= 2  # the other camera's alerts exist: they are hidden
    assert problems.unexpected() == []


def test_language_follows_the_browser_and_the_switch_persists(
    browser: Browser, console_server: ConsoleServer, shots_dir: Path, problems: PageProblems
) -> None:
    page = open_page(browser, problems, locale="zh-CN")
    try:
        page.goto(console_server.base_url + "/")
        expect(page.locator("#signin-title")).to_have_text("登录")
        assert page.evaluate("document.documentElement.lang") == "zh-CN"
        shot(page, shots_dir, "signin-zh")
        page.locator("#lang").select_option("en")
        expect(page.locator("#signin-title")).to_have_text("Sign in")
        page.reload()
        expect(page.locator("#signin-title")).to_have_text("Sign in")  # the choice outlives the reload

        sign_in(page, console_server, ACCOUNTS["operator"])
        page.locator("#lang").select_option("zh-CN")
        expect(page.locator('#nav [data-view="alerts"]')).to_contain_text("告警")
        expect(page.locator('#nav [data-view="history"]')).to_have_text("历史记录")
        expect(page.locator("#signout")).to_have_text("退出登录")
        expect(page.locator("#who")).to_contain_text("值班员")
        shot(page, shots_dir, "operator-zh")
    finally:
        page.context.close()
    assert problems.unexpected() == []


def test_session_refreshes_its_token_and_sign_out_revokes_it(
    page: Page, console_server: ConsoleServer, problems: PageProblems
) -> None:
    sign_in(page, console_server, ACCOUNTS["operator"])
    first = session(page)
    # make the kept access token look expired: the page must refresh it (rotating the refresh token)
    page.evaluate(
        "(() => { const s = JSON.parse(sessionStorage.getItem('anfang.session'));"
        " s.expires_at_ms = 0; sessionStorage.setItem('anfang.session', JSON.stringify(s)); })()"
    )
    page.reload()
    expect(page.locator("#who")).to_contain_text(ACCOUNTS["operator"].username)
    page.wait_for_function(
        "JSON.parse(sessionStorage.getItem('anfang.session')).refresh_token !== "
        + repr(first["refresh_token"])
    )
    second = session(page)
    assert second["access_token"] != first["access_token"]
    old = httpx.post(
        f"{console_server.base_url}/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}
    )
    assert old.status_code == 401  # rotated: the first one works no more

    page.locator("#signout").click()
    expect(page.locator("#signin-form")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('anfang.session')") is None
    gone = httpx.post(
        f"{console_server.base_url}/v1/auth/refresh", json={"refresh_token": second["refresh_token"]}
    )
    assert gone.status_code == 401
    assert problems.unexpected() == []


def test_wrong_password_is_refused_with_a_clear_message(
    page: Page, console_server: ConsoleServer, problems: PageProblems
) -> None:
    page.goto(console_server.base_url + "/")
    page.locator("#signin-user").fill(ACCOUNTS["auditor"].username)
    page.locator("#signin-pass").fill("not-the-password")
    page.locator("#signin-submit").click()
    expect(page.locator("#signin-error")).to_have_text("Wrong username or password.")
    expect(page.locator("#session-tools")).to_be_hidden()

    # after too many failures the lockout (429 + Retry-After) is explained, not shown as a wrong password
    ghost = {"username": "ghost-user", "password": "not-a-password"}
    token_url = f"{console_server.base_url}/v1/auth/token"
    statuses = [httpx.post(token_url, data=ghost).status_code for _ in range(8)]
    assert statuses[0] == 401 and statuses[-1] == 429
    page.locator("#signin-user").fill(ghost["username"])
    page.locator("#signin-submit").click()
    locked = re.compile(r"^Too many attempts: try again in \d+ s\.$")
    expect(page.locator("#signin-error")).to_have_text(locked)
    allowed = (r"http 401 POST /v1/auth/token", r"http 429 POST /v1/auth/token")
    assert problems.unexpected(*allowed) == []


def test_integrator_sees_cameras_sensors_and_hotlists_only(
    page: Page, console_server: ConsoleServer, shots_dir: Path, problems: PageProblems
) -> None:
    sign_in(page, console_server, ACCOUNTS["integrator"])
    expect(page.locator("#view-cameras")).to_be_visible()
    nav = page.locator("#nav [data-view]").all()
    assert [b.get_attribute("data-view") for b in nav if b.is_visible()] == ["cameras", "hotlists"]
    card = page.locator('#camera-grid [data-camera-id="cam-b"]')
    expect(card).to_contain_text("offline")
    expect(page.locator('#camera-grid [data-camera-id="cam-a"]')).to_contain_text("online")
    expect(page.locator('#sensor-list [data-sensor-id="gas-south"]')).to_be_visible()
    expect(page.locator("#conn")).to_be_hidden()  # no alert feed for this role, nor its sound switch
    expect(page.locator("#mute")).to_be_hidden()
    shot(page, shots_dir, "integrator-cameras")
    assert problems.unexpected() == []


def test_admin_adds_a_user_and_creates_then_revokes_an_api_key(
    page: Page, console_server: ConsoleServer, shots_dir: Path, problems: PageProblems
) -> None:
    sign_in(page, console_server, ACCOUNTS["admin"])
    page.locator('#nav [data-view="users"]').click()
    users = page.locator("#users-table")
    expect(users).to_contain_text(ACCOUNTS["operator"].username)

    page.locator("#user-name").fill("op-night")
    page.locator("#user-role").select_option("operator")
    page.locator("#user-password").fill("op-night-password-1")
    page.locator("#user-cameras").fill("cam-b")
    page.locator("#user-form button[type=submit]").click()
    row = users.locator("tr", has_text="op-night")
    expect(row).to_contain_text("cameras: cam-b")
    row.get_by_role("button", name="Disable").click()
    expect(users.locator("tr", has_text="op-night")).to_contain_text("disabled")

    page.locator("#key-name").fill("vms-bridge")
    page.locator("#key-role").select_option("integrator")
    page.locator("#key-cameras").fill("cam-a")
    page.locator("#key-form button[type=submit]").click()
    secret = page.locator("#key-secret")
    expect(secret).to_have_value(starts_with("ak_"))
    api_key = secret.input_value()
    shot(page, shots_dir, "admin-users-and-keys")
    with_key = {"Authorization": f"Bearer {api_key}"}
    cameras = httpx.get(f"{console_server.base_url}/v1/cameras", headers=with_key)
    assert cameras.status_code == 200 and [c["id"] for c in cameras.json()["items"]] == ["cam-a"]

    page.locator("#key-shown-close").click()
    expect(secret).to_be_hidden()
    key_row = page.locator("#keys-table tr", has_text="vms-bridge")
    key_row.get_by_role("button", name="Revoke").click()
    expect(page.locator("#keys-table tr", has_text="vms-bridge")).to_contain_text("revoked")
    refused = httpx.get(f"{console_server.base_url}/v1/cameras", headers=with_key)
    assert refused.status_code == 401
    assert problems.unexpected() == []


def test_history_filters_pages_by_cursor_and_opens_rows_from_the_keyboard(
    page: Page, console_server: ConsoleServer, shots_dir: Path, problems: PageProblems
) -> None:
    label = "bicycle"  # no other test's events carry it
    events = [console_server.alert("cam-a", snapshot=False, label=label) for _ in range(55)]
    for event in events:
        console_server.publish(event)
    console_server.wait_stored(events[-1])
    sign_in(page, console_server, ACCOUNTS["operator"])
    page.locator('#nav [data-view="history"]').click()
    page.locator("#hist-label").fill(label)
    page.locator("#hist-cameras").select_option(["cam-a"])
    page.locator("#hist-search").click()
    rows = page.locator("#hist-results tbody tr[data-event-id]")
    expect(rows).to_have_count(50)
    expect(page.locator("#hist-summary")).to_contain_text("50 shown of 55")

    # events arriving meanwhile do not shift the next page (keyset cursor)
    late = [console_server.alert("cam-a", snapshot=False, label=label) for _ in range(3)]
    for event in late:
        console_server.publish(event)
    console_server.wait_stored(late[-1])
    page.locator("#hist-more").click()
    expect(rows).to_have_count(55)
    expect(page.locator("#hist-more")).to_be_hidden()
    shown = [r.get_attribute("data-event-id") or "" for r in rows.all()]
    assert sorted(shown) == sorted(str(e.event_id) for e in events)

    rows.first.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#history-detail .fields")).to_contain_text(label)
    shot(page, shots_dir, "operator-history-paged")
    assert problems.unexpected() == []
