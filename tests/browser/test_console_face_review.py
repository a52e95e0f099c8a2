"""A face match judged in the alert's detail, in a real Chromium against a real server: an operator marks
a match "not this person" (a negative of the enrolled identity, audited) and is refused in the API's words
once the identity is erased; an admin views a snapshot's unblurred original (audited), or is told none was
kept; the controls are hidden from roles without the permission and on other alerts."""

from __future__ import annotations

import hashlib
import math
import uuid

import httpx
import pytest
from playwright.sync_api import Locator, Page, expect

from events.schema import Event
from tests.browser.conftest import PageProblems
from tests.browser.console_page import (
    api_client,
    feed_item,
    give_purpose,
    sign_in,
    starts_with,
    until,
    wait_live,
)
from tests.browser.harness import ACCOUNTS, ConsoleServer
from tests.face_video import MESSI
from tests.unit.api_fakes import jpeg_bytes
from tests.unit.events_samples import with_attributes

pytestmark = pytest.mark.browser

PURPOSE = "wanted for robbery, case 7"
ENROL_S = 30.0  # the dlib model loads at the first enrolment (2 shared cores)
UNIT_VECTOR = [1 / math.sqrt(128)] * 128
NOT_THIS_PERSON = "Not this person"
UNMASK = "Show the unblurred original (audited)"
#: Whether an image URL still loads (a revoked blob: URL does not).
LOADS = """(url) => new Promise((resolve) => {
  const img = new Image();
  img.onload = () => resolve(true);
  img.onerror = () => resolve(false);
  img.src = url;
})"""


def enrol_messi(admin: httpx.Client) -> tuple[str, str]:
    """A new watchlist with messi enrolled: (watchlist id, identity id)."""
    r = admin.post("/v1/watchlists", json={"name": f"Review {uuid.uuid4().hex[:6]}", "purpose": PURPOSE})
    assert r.status_code == 201, r.text
    wid = str(r.json()["id"])
    files = [("images", ("messi5.jpg", MESSI.read_bytes(), "image/jpeg"))]
    r = admin.post(
        f"/v1/watchlists/{wid}/identities", data={"name": "L. Messi", "purpose": PURPOSE}, files=files
    )
    assert r.status_code == 201, r.text
    return wid, str(r.json()["id"])


def face_match(server: ConsoleServer, watchlist_id: str, identity_id: str) -> Event:
    return with_attributes(
        server.alert("cam-a", snapshot=False),
        "face_match",
        identity_id=identity_id,
        identity_name="L. Messi",
        watchlist_id=watchlist_id,
        distance=0.31,
        face_embedding=UNIT_VECTOR,
    )


def with_original(server: ConsoleServer, event: Event) -> bytes:
    """Writes `event`'s unblurred original beside its snapshot (`originals/...` for `snapshots/...`, as
    pipelines.evidence keeps it); returns the original's bytes."""
    assert event.snapshot is not None
    original = jpeg_bytes(99)
    path = server.data_dir / event.snapshot.uri.replace("snapshots/", "originals/", 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(original)
    return original


def recorded(event: Event, original: bytes) -> Event:
    """`event` with the original's SHA-256 recorded on its snapshot (as the API checks it)."""
    assert event.snapshot is not None
    snap = event.snapshot.model_copy(update={"original_sha256": hashlib.sha256(original).hexdigest()})
    return event.model_copy(update={"snapshot": snap})


def open_in_feed(page: Page, server: ConsoleServer, event: Event) -> Locator:
    """Publishes `event`, opens it from the live feed and returns the detail."""
    server.publish(event)
    item = page.locator(feed_item(page, event.event_id))
    expect(item).to_be_visible()
    server.wait_stored(event)
    item.locator("button").click()
    detail = page.locator("#alert-detail")
    expect(detail.locator(".fields")).to_contain_text(str(event.event_id))
    return detail


def audited(server: ConsoleServer, action: str, event: Event) -> list[dict[str, object]]:
    """The audit rows of `action` on `event`, as the auditor reads them."""
    with api_client(server, ACCOUNTS["auditor"]) as auditor:
        r = auditor.get("/v1/audit", params={"action": action, "target": f"event:{event.event_id}"})
        assert r.status_code == 200, r.text
        rows: list[dict[str, object]] = r.json()["items"]
        return rows


def test_operator_marks_a_match_not_this_person_and_is_refused_once_it_is_erased(
    page: Page, console_server: ConsoleServer, problems: PageProblems
) -> None:
    with api_client(console_server, ACCOUNTS["admin"]) as admin:
        admin.timeout = httpx.Timeout(ENROL_S)
        wid, iid = enrol_messi(admin)
    sign_in(page, console_server, ACCOUNTS["operator"])
    wait_live(page)

    # an ordinary alert (with a snapshot): no face review, and no unmasking for an operator
    detail = open_in_feed(page, console_server, console_server.alert("cam-a"))
    expect(detail.locator(".thumb img")).to_be_visible()  # the operator sees the (blurred) snapshot
    expect(detail.get_by_role("button", name=NOT_THIS_PERSON)).to_have_count(0)
    expect(detail.get_by_role("button", name=UNMASK)).to_have_count(0)

    first = face_match(console_server, wid, iid)
    detail = open_in_feed(page, console_server, first)
    detail.get_by_role("button", name=NOT_THIS_PERSON).click()
    give_purpose(page, "operator review: a look-alike")
    expect(detail.locator(".review .message.ok")).to_contain_text(
        "the identity no longer matches this person's track or near-identical faces"
    )
    expect(detail.get_by_role("button", name=NOT_THIS_PERSON)).to_have_count(0)
    expect(detail.locator('[data-action="resolve"]')).to_be_visible()  # resolving stays the operator's
    expect(detail.locator(".badge.status")).to_have_text("New")  # the mark does not resolve the alert
    [negative] = console_server.face_store.list_negatives(iid)
    assert (negative.event_id, negative.camera_id, negative.created_by) == (
        str(first.event_id),
        "cam-a",
        "op-anna",
    )
    [row] = audited(console_server, "face.not_this_person", first)
    assert (row["purpose"], row["outcome"], row["actor"]) == (
        "operator review: a look-alike",
        "ok",
        "op-anna",
    )

    with api_client(console_server, ACCOUNTS["admin"]) as admin:
        r = admin.delete(f"/v1/watchlists/{wid}/identities/{iid}", params={"purpose": PURPOSE})
        assert r.status_code in (200, 204), r.text
    second = face_match(console_server, wid, iid)
    detail = open_in_feed(page, console_server, second)
    detail.get_by_role("button", name=NOT_THIS_PERSON).click()
    give_purpose(page, "operator review")
    expect(detail.locator(".review .message")).to_have_text(
        f"Not marked: identity {iid} of event {second.event_id} has been erased"
    )
    expect(detail.get_by_role("button", name=NOT_THIS_PERSON)).to_be_enabled()
    assert [n for n in console_server.face_store.list_negatives() if n.event_id == str(second.event_id)] == []
    assert problems.unexpected(r"http 409 POST /v1/alerts/[\w-]+/not-this-person$") == []


def test_auditor_gets_no_face_review_control(
    page: Page, console_server: ConsoleServer, problems: PageProblems
) -> None:
    match = face_match(console_server, "wl_x", "id_x")
    console_server.publish(match)
    console_server.wait_stored(match)
    sign_in(page, console_server, ACCOUNTS["auditor"])
    row = page.locator(f'#hist-results tr[data-event-id="{match.event_id}"]')
    row.click()
    detail = page.locator("#history-detail")
    expect(detail.locator(".fields")).to_contain_text(str(match.event_id))
    expect(detail.locator(".attrs")).to_contain_text("L. Messi")
    expect(detail.get_by_role("button", name=NOT_THIS_PERSON)).to_have_count(0)
    expect(detail.get_by_role("button", name=UNMASK)).to_have_count(0)
    assert problems.unexpected() == []


def test_admin_views_the_unblurred_original_or_is_told_none_was_kept(
    page: Page, console_server: ConsoleServer, problems: PageProblems
) -> None:
    kept = console_server.alert("cam-a")
    kept = recorded(kept, with_original(console_server, kept))
    sign_in(page, console_server, ACCOUNTS["admin"])
    wait_live(page)

    detail = open_in_feed(page, console_server, kept)
    detail.get_by_role("button", name=UNMASK).click()
    give_purpose(page, "identify the intruder for the police")
    image = detail.locator(".unmask img")
    expect(image).to_have_attribute("src", starts_with("blob:"))
    expect(image).to_have_attribute("alt", "unblurred original of zone_intrusion on cam-a")
    until(page, lambda: bool(image.evaluate("(img) => img.naturalWidth > 0")))
    [row] = audited(console_server, "snapshot.unmask", kept)
    assert (row["purpose"], row["outcome"]) == ("identify the intruder for the police", "ok")
    src = image.get_attribute("src")
    assert page.evaluate(LOADS, src) is True
    detail.get_by_role("button", name="Hide the original").click()
    expect(detail.locator(".unmask img")).to_have_count(0)
    expect(detail.get_by_role("button", name=UNMASK)).to_be_visible()
    assert src is not None
    assert page.evaluate(LOADS, src) is False, "the blob URL was not revoked"

    none_kept = console_server.alert("cam-a")
    detail = open_in_feed(page, console_server, none_kept)
    detail.get_by_role("button", name=UNMASK).click()
    give_purpose(page, "identify the intruder for the police")
    expect(detail.locator(".unmask .message.error")).to_have_text(
        f"Cannot show the original: event {none_kept.event_id} has no original kept (its camera keeps none)"
    )
    expect(detail.locator(".unmask img")).to_have_count(0)
    assert problems.unexpected(r"http 404 GET /v1/events/[\w-]+/snapshot/original$") == []
