"""The face watchlist and plate hotlist screens in a real Chromium against a real server (faces encoded
by the real dlib model): the admin creates, enrols, erases and edits lists, refusals are shown in the
API's words, hostile names stay text, and read-only roles get no editing control."""

from __future__ import annotations

import uuid
from pathlib import Path

import cv2
import numpy as np
import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import PageProblems
from tests.browser.console_page import api_client, give_purpose, open_screen, shot, sign_in, table_row
from tests.browser.harness import ACCOUNTS, ConsoleServer
from tests.face_video import MESSI

pytestmark = pytest.mark.browser

PURPOSE = "wanted for robbery, case 7"
HOSTILE = '<img src=x onerror="document.body.dataset.pwned=1">'
ENROL_S = 30.0  # the dlib model loads at the first enrolment (2 shared cores)


def grey_png(folder: Path) -> Path:
    ok, data = cv2.imencode(".png", np.full((240, 320, 3), 128, np.uint8))
    assert ok
    path = folder / "grey.png"
    path.write_bytes(data.tobytes())
    return path


def assert_text_only(page: Page, container: str, text: str) -> None:
    """`text` (markup) is shown as text in `container`: no element made of it, no handler run."""
    expect(page.locator(container)).to_contain_text(text)
    expect(page.locator(f"{container} img")).to_have_count(0)
    assert page.evaluate("document.body.dataset.pwned") is None


def test_admin_creates_a_watchlist_enrols_is_refused_a_faceless_image_and_erases(
    page: Page, console_server: ConsoleServer, problems: PageProblems, tmp_path: Path, shots_dir: Path
) -> None:
    name = f"Wanted {uuid.uuid4().hex[:6]}"
    sign_in(page, console_server, ACCOUNTS["admin"])
    open_screen(page, "watchlists")
    page.locator("#wl-name").fill(name)
    page.locator("#wl-purpose").fill(PURPOSE)
    page.locator("#wl-severity").select_option("critical")
    page.locator('#wl-form button[type="submit"]').click()
    expect(page.locator("#wl-detail-title")).to_have_text(f"Watchlist: {name}")
    row = table_row(page, "#wl-table", name)
    expect(row).to_contain_text("Critical")
    [watchlist] = [w for w in console_server.face_store.list_watchlists() if w.name == name]

    page.locator("#id-name").fill(HOSTILE)
    page.locator("#id-reference").fill("case-7")
    page.locator("#id-purpose").fill(PURPOSE)
    page.locator("#id-images").set_input_files(str(MESSI))
    page.locator('#id-form button[type="submit"]').click()
    identity_row = table_row(page, "#id-table", "case-7")
    expect(identity_row).to_be_visible(timeout=ENROL_S * 1000)
    expect(identity_row.locator("td").nth(2)).to_have_text("1")  # one photo
    assert_text_only(page, "#id-table", HOSTILE)
    [identity] = console_server.face_store.list_identities(watchlist.watchlist_id)
    assert (identity.name, identity.reference) == (HOSTILE, "case-7")
    expect(row.locator("td").nth(5)).to_have_text("1")  # the list's identity count

    page.locator("#id-name").fill("Nobody")
    page.locator("#id-purpose").fill(PURPOSE)
    page.locator("#id-images").set_input_files(str(grey_png(tmp_path)))
    page.locator('#id-form button[type="submit"]').click()
    error = page.locator("#id-form-error")
    expect(error).to_have_text("images.0: image 1 (grey.png) has 0 faces; exactly one is needed")
    expect(page.locator("#id-name")).to_have_value("Nobody")  # the form is kept for a retry
    expect(page.locator("#id-table tbody tr")).to_have_count(1)
    assert len(console_server.face_store.list_identities(watchlist.watchlist_id)) == 1
    shot(page, shots_dir, "watchlist-refused-enrolment")

    identity_row.get_by_role("button", name="Erase").click()
    give_purpose(page, "subject arrested, case closed")
    expect(identity_row).to_have_count(0)
    expect(page.locator("#id-table")).to_contain_text("No identities enrolled.")
    assert console_server.face_store.list_identities(watchlist.watchlist_id) == []
    assert problems.unexpected(r"http 422 POST /v1/watchlists/[\w-]+/identities$") == []


def test_admin_edits_a_hotlist_and_sees_a_bad_pattern_refused(
    page: Page, console_server: ConsoleServer, problems: PageProblems, shots_dir: Path
) -> None:
    name = f"Stolen {uuid.uuid4().hex[:6]}"
    sign_in(page, console_server, ACCOUNTS["admin"])
    open_screen(page, "hotlists")
    page.locator("#hl-name").fill(name)
    page.locator("#hl-distance").fill("2")
    page.locator('#hl-form button[type="submit"]').click()
    expect(page.locator("#hl-detail-title")).to_have_text(f"Hotlist: {name}")
    [hotlist] = [h for h in console_server.hotlist_store.list_hotlists() if h.name == name]
    assert hotlist.max_distance == 2

    page.locator("#he-pattern").fill("京A12345")
    page.locator("#he-note").fill(HOSTILE)
    page.locator('#he-form button[type="submit"]').click()
    entry_row = table_row(page, "#he-table", "京A12345")
    expect(entry_row).to_contain_text("Fuzzy")
    assert_text_only(page, "#he-table", HOSTILE)
    [entry] = console_server.hotlist_store.list_entries(hotlist.hotlist_id)
    assert (entry.pattern, entry.note) == ("京A12345", HOSTILE)
    expect(table_row(page, "#hl-table", name).locator("td").nth(5)).to_have_text("1")

    page.locator("#he-pattern").fill("AB#123")
    page.locator('#he-form button[type="submit"]').click()
    expect(page.locator("#he-form-error")).to_contain_text(
        "hotlist pattern 'AB#123' has characters other than"
    )
    expect(page.locator("#he-table tbody tr")).to_have_count(1)
    assert len(console_server.hotlist_store.list_entries(hotlist.hotlist_id)) == 1
    shot(page, shots_dir, "hotlist-refused-pattern")

    entry_row.get_by_role("button", name="Remove").click()
    give_purpose(page, "vehicle recovered")
    expect(entry_row).to_have_count(0)
    assert console_server.hotlist_store.list_entries(hotlist.hotlist_id) == []
    page.locator("#hl-delete").click()
    give_purpose(page, "list no longer needed")
    expect(table_row(page, "#hl-table", name)).to_have_count(0)
    expect(page.locator("#hl-detail")).to_be_hidden()
    assert console_server.hotlist_store.get_hotlist(hotlist.hotlist_id) is None
    assert problems.unexpected(r"http 422 POST /v1/hotlists/[\w-]+/entries$") == []


def test_operator_reads_both_lists_and_searches_by_image_but_cannot_edit(
    page: Page, console_server: ConsoleServer, problems: PageProblems, shots_dir: Path
) -> None:
    suffix = uuid.uuid4().hex[:6]
    with api_client(console_server, ACCOUNTS["admin"]) as admin:
        wid = admin.post("/v1/watchlists", json={"name": f"Seeded {suffix}", "purpose": PURPOSE}).json()["id"]
        files = [("images", ("messi5.jpg", MESSI.read_bytes(), "image/jpeg"))]
        r = admin.post(
            f"/v1/watchlists/{wid}/identities",
            data={"name": f"Messi {suffix}", "purpose": PURPOSE},
            files=files,
        )
        assert r.status_code == 201, r.text
        hid = admin.post("/v1/hotlists", json={"name": f"Seeded {suffix}"}).json()["id"]
        r = admin.post(f"/v1/hotlists/{hid}/entries", json=[{"pattern": "沪B*88", "note": "seen at gate"}])
        assert r.status_code == 201, r.text

    sign_in(page, console_server, ACCOUNTS["operator"])
    open_screen(page, "watchlists")
    expect(page.locator("#wl-form")).to_be_hidden()
    row = table_row(page, "#wl-table", f"Seeded {suffix}")
    expect(row.locator("button")).to_have_text(["Open"])  # no delete
    row.get_by_role("button", name="Open").click()
    expect(table_row(page, "#id-table", f"Messi {suffix}")).to_be_visible()
    expect(page.locator("#id-table button")).to_have_count(0)  # no erase
    expect(page.locator("#id-form")).to_be_hidden()
    expect(page.locator("#wl-delete")).to_be_hidden()

    page.locator("#fs-image").set_input_files(str(MESSI))
    page.locator("#fs-purpose").fill("who is at the gate, alert 12")
    page.locator('#fs-form button[type="submit"]').click()
    match = table_row(page, "#fs-results", f"Messi {suffix}")
    expect(match).to_contain_text(f"Seeded {suffix}", timeout=ENROL_S * 1000)
    expect(match.locator("td").nth(4)).to_have_text("Yes")  # within the list's threshold
    shot(page, shots_dir, "watchlist-search-operator")

    open_screen(page, "hotlists")
    expect(page.locator("#hl-form")).to_be_hidden()
    row = table_row(page, "#hl-table", f"Seeded {suffix}")
    expect(row.locator("button")).to_have_text(["Open"])
    row.get_by_role("button", name="Open").click()
    expect(table_row(page, "#he-table", "沪B*88")).to_contain_text("Wildcard")
    expect(page.locator("#he-table button")).to_have_count(0)
    expect(page.locator("#he-form")).to_be_hidden()
    expect(page.locator("#hl-delete")).to_be_hidden()
    assert problems.unexpected() == []


def test_integrator_edits_hotlists_without_the_watchlist_screen(
    page: Page, console_server: ConsoleServer, problems: PageProblems
) -> None:
    sign_in(page, console_server, ACCOUNTS["integrator"])
    expect(page.locator('#nav [data-view="watchlists"]')).to_be_hidden()  # no faces:read
    open_screen(page, "hotlists")
    expect(page.locator("#hl-form")).to_be_visible()  # hotlists:write
    page.goto(console_server.base_url + "/#watchlists")
    expect(page.locator("#view-watchlists")).to_be_hidden()
    assert problems.unexpected() == []
