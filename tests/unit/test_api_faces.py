"""Face search by image (real dlib model over messi5.jpg), "not this person" on a face_match, and the
audited unmasking of a snapshot's original."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
import pytest
from fastapi.testclient import TestClient

from anfang.face_wiring import ModelEncoder
from api.app import create_app
from events.faces import FaceNegative, NegativeChange
from events.schema import Event
from pipelines.recognition.faces import FaceRuntime
from pipelines.recognition.gallery import FaceGallery
from tests.unit.api_fakes import (
    T0_MS,
    FakeAuthenticator,
    FakeEventStore,
    ListAuditSink,
    bearer,
    jpeg_bytes,
    make_event,
    write_snapshot,
)
from tests.unit.events_samples import with_attributes
from tests.unit.face_fakes import ExactSearcher, MemoryFaceStore, RecordingGallery, fake_vector

MESSI = Path("/usr/share/doc/opencv-doc/examples/data/messi5.jpg")
PURPOSE = "robbery at gate 3, case 118"


@pytest.fixture(scope="module")
def encoder() -> Iterator[ModelEncoder]:
    yield ModelEncoder(FaceRuntime(FaceGallery()))  # the product's encoder over the real dlib model


def jpeg_of(image: npt.NDArray[np.uint8]) -> bytes:
    ok, buf = cv2.imencode(".jpg", image)
    assert ok
    return bytes(buf.tobytes())


def messi() -> npt.NDArray[np.uint8]:
    image = cv2.imread(str(MESSI))
    assert image is not None
    return np.asarray(image, dtype=np.uint8)


@dataclass
class Rig:
    client: TestClient
    events: FakeEventStore
    store: MemoryFaceStore
    gallery: RecordingGallery
    audit: ListAuditSink
    data_dir: Path

    def as_(self, credential: str) -> TestClient:
        return TestClient(self.client.app, headers=bearer(credential))

    def search(self, image: bytes, credential: str = "admin", **form: Any) -> Any:
        data = {"purpose": PURPOSE, **form}
        files = {"image": ("query.jpg", image, "image/jpeg")}
        return self.as_(credential).post("/v1/faces/search", data=data, files=files)


@pytest.fixture
def rig(tmp_path: Path, encoder: ModelEncoder) -> Rig:
    events, store, gallery, audit = FakeEventStore(), MemoryFaceStore(), RecordingGallery(), ListAuditSink()
    app = create_app(
        events,
        tmp_path,
        authenticator=FakeAuthenticator(),
        audit=audit,
        face_store=store,
        gallery=gallery,
        face_encoder=encoder,
        face_searcher=ExactSearcher(store),
    )
    return Rig(TestClient(app, headers=bearer("admin")), events, store, gallery, audit, tmp_path)


def enrol_messi(rig: Rig) -> tuple[str, str]:
    wid = rig.client.post("/v1/watchlists", json={"name": "wanted", "purpose": PURPOSE}).json()["id"]
    files = [("images", ("messi5.jpg", MESSI.read_bytes(), "image/jpeg"))]
    r = rig.client.post(
        f"/v1/watchlists/{wid}/identities", data={"name": "L. Messi", "purpose": PURPOSE}, files=files
    )
    assert r.status_code == 201, r.text
    return wid, str(r.json()["id"])


def face_match(identity_id: str, watchlist_id: str, *, camera_id: str, site_id: str, ts_ms: int) -> Event:
    base = make_event(
        ts_ms=ts_ms, camera_id=camera_id, site_id=site_id, track_id=ts_ms % 1000, rule_id="faces"
    )
    return with_attributes(
        base,
        "face_match",
        identity_id=identity_id,
        watchlist_id=watchlist_id,
        distance=0.31,
        face_embedding=list(fake_vector(5)),
    )


def test_search_finds_the_enrolled_face_and_its_matches_in_scope(rig: Rig) -> None:
    wid, iid = enrol_messi(rig)
    seen_a = face_match(iid, wid, camera_id="cam-a", site_id="north", ts_ms=T0_MS)
    seen_b = face_match(iid, wid, camera_id="cam-b", site_id="south", ts_ms=T0_MS + 1)
    rig.events.insert([seen_a, seen_b, make_event(ts_ms=T0_MS + 2, camera_id="cam-a", site_id="north")])
    bigger = np.asarray(cv2.resize(messi(), None, fx=1.5, fy=1.5, interpolation=cv2.INTER_CUBIC), np.uint8)
    r = rig.search(jpeg_of(bigger), credential="operator@cam-a", k=3)
    assert r.status_code == 200, r.text
    (match,) = r.json()["matches"]
    assert (match["identity_id"], match["watchlist_id"], match["name"]) == (iid, wid, "L. Messi")
    assert match["distance"] < 0.3 and match["within_threshold"] is True
    assert [e["event_id"] for e in match["events"]] == [str(seen_a.event_id)]  # cam-b is out of scope
    assert "face_embedding" not in r.text and match["events"][0]["attributes"]["distance"] == 0.31
    record = rig.audit.records[-1]
    assert (record.action, record.purpose, record.actor) == ("face.search", PURPOSE, "test-operator")
    assert iid in record.detail


@pytest.mark.parametrize(
    ("make_image", "words"),
    [
        (lambda: np.full((240, 320, 3), 127, dtype=np.uint8), "has 0 faces"),
        (lambda: np.hstack([messi(), messi()]), "has 2 faces"),
    ],
    ids=["no-face", "two-faces"],
)
def test_search_needs_exactly_one_face(rig: Rig, make_image: Any, words: str) -> None:
    enrol_messi(rig)
    r = rig.search(jpeg_of(make_image()))
    assert r.status_code == 422 and words in r.text
    assert (rig.audit.records[-1].action, rig.audit.records[-1].outcome) == ("face.search", "failed")


def test_enrolment_refuses_images_with_several_faces(rig: Rig) -> None:
    wid = rig.client.post("/v1/watchlists", json={"name": "vip", "purpose": PURPOSE}).json()["id"]
    files = [
        ("images", ("one.jpg", MESSI.read_bytes(), "image/jpeg")),
        ("images", ("two.jpg", jpeg_of(np.hstack([messi(), messi()])), "image/jpeg")),
    ]
    r = rig.client.post(
        f"/v1/watchlists/{wid}/identities", data={"name": "X", "purpose": PURPOSE}, files=files
    )
    assert r.status_code == 422
    assert r.json()["detail"][0]["msg"] == "image 2 (two.jpg) has 2 faces; exactly one is needed"
    assert rig.store.identities == {}


@pytest.mark.parametrize(
    ("form", "status"),
    [({"k": "21"}, 422), ({"k": "0"}, 422), ({"purpose": ""}, 422), ({"purpose": "ok"}, 422)],
)
def test_search_limits_and_purpose(rig: Rig, form: dict[str, str], status: int) -> None:
    r = rig.search(MESSI.read_bytes(), **form)
    assert r.status_code == status, r.text
    if "purpose" in form:
        assert [(a.action, a.outcome) for a in rig.audit.records] == [("face.search", "denied")]


def test_search_without_an_index_is_503(tmp_path: Path, encoder: ModelEncoder) -> None:
    app = create_app(
        FakeEventStore(),
        tmp_path,
        authenticator=FakeAuthenticator(),
        face_store=MemoryFaceStore(),
        face_encoder=encoder,
    )
    files = {"image": ("q.jpg", MESSI.read_bytes(), "image/jpeg")}
    r = TestClient(app, headers=bearer("admin")).post(
        "/v1/faces/search", data={"purpose": PURPOSE}, files=files
    )
    assert r.status_code == 503 and "face index" in r.json()["detail"]


# --- not this person -----------------------------------------------------------------------------


def test_not_this_person_stores_a_negative_and_tells_the_workers(rig: Rig) -> None:
    wid, iid = enrol_messi(rig)
    event = face_match(iid, wid, camera_id="cam-a", site_id="north", ts_ms=T0_MS)
    rig.events.insert([event])
    body = {"purpose": "operator review", "comment": "a look-alike"}
    r = rig.as_("operator").post(f"/v1/alerts/{event.event_id}/not-this-person", json=body)
    assert r.status_code == 201, r.text
    (negative,) = rig.store.negatives.values()
    assert isinstance(negative, FaceNegative)
    assert (negative.identity_id, negative.watchlist_id, negative.camera_id) == (iid, wid, "cam-a")
    assert (negative.track_id, negative.event_id) == (event.track_id, str(event.event_id))
    assert tuple(negative.vector) == pytest.approx(fake_vector(5))
    assert negative.created_by == "test-operator" and r.json()["id"] == negative.negative_id
    assert rig.gallery.changes[-1] == NegativeChange(negative=negative)
    assert "vector" not in r.text
    record = rig.audit.records[-1]
    assert (record.action, record.target, record.purpose) == (
        "face.not_this_person",
        f"event:{event.event_id}",
        "operator review",
    )
    assert "a look-alike" in record.detail


def test_not_this_person_refusals(rig: Rig) -> None:
    wid, iid = enrol_messi(rig)
    match = face_match(iid, wid, camera_id="cam-a", site_id="north", ts_ms=T0_MS)
    intrusion = make_event(ts_ms=T0_MS, camera_id="cam-a", site_id="north")
    rig.events.insert([match, intrusion])
    body = {"purpose": "operator review"}

    def mark(event_id: uuid.UUID, credential: str = "operator", json: Any = body) -> int:
        return int(rig.as_(credential).post(f"/v1/alerts/{event_id}/not-this-person", json=json).status_code)

    assert mark(intrusion.event_id) == 422
    assert mark(uuid.uuid4()) == 404
    assert mark(match.event_id, credential="operator@cam-b") == 404
    assert mark(match.event_id, credential="auditor") == 403
    assert mark(match.event_id, json={}) == 422
    assert (
        rig.audit.records[-1].outcome == "denied" and rig.audit.records[-1].action == "face.not_this_person"
    )
    rig.client.delete(f"/v1/watchlists/{wid}/identities/{iid}", params={"purpose": PURPOSE})
    assert mark(match.event_id) == 409
    assert rig.store.negatives == {}


# --- unmasking -----------------------------------------------------------------------------------


def with_original(rig: Rig, *, keep: bool, recorded: bool = True) -> tuple[Event, bytes]:
    event = make_event(ts_ms=T0_MS, camera_id="cam-a", site_id="north")
    snap = write_snapshot(rig.data_dir, "cam-a", event.event_id, jpeg_bytes(1))
    original = jpeg_bytes(2)
    if keep:
        path = rig.data_dir / snap.uri.replace("snapshots/", "originals/", 1)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(original)
        if recorded:
            snap = snap.model_copy(update={"original_sha256": hashlib.sha256(original).hexdigest()})
    event = event.model_copy(update={"snapshot": snap})
    rig.events.insert([event])
    return event, original


def test_unmask_serves_the_original_and_audits_it(rig: Rig) -> None:
    event, original = with_original(rig, keep=True)
    url = f"/v1/events/{event.event_id}/snapshot/original"
    r = rig.client.get(url, params={"purpose": PURPOSE})
    assert r.status_code == 200 and r.content == original
    assert r.headers["x-content-sha256"] == hashlib.sha256(original).hexdigest()
    record = rig.audit.records[-1]
    assert (record.action, record.target, record.purpose, record.outcome) == (
        "snapshot.unmask",
        f"event:{event.event_id}",
        PURPOSE,
        "ok",
    )
    assert rig.as_("operator").get(url, params={"purpose": PURPOSE}).status_code == 403
    assert rig.as_("admin@cam-b").get(url, params={"purpose": PURPOSE}).status_code == 404
    assert rig.client.get(url).status_code == 422
    assert (rig.audit.records[-1].action, rig.audit.records[-1].outcome) == ("snapshot.unmask", "denied")


def test_a_swapped_original_is_refused_and_one_without_a_recorded_hash_is_served(rig: Rig) -> None:
    event, original = with_original(rig, keep=True)
    path = rig.data_dir / event.snapshot.uri.replace("snapshots/", "originals/", 1)  # type: ignore[union-attr]
    path.write_bytes(jpeg_bytes(3))
    r = rig.client.get(f"/v1/events/{event.event_id}/snapshot/original", params={"purpose": PURPOSE})
    assert r.status_code == 409 and "integrity" in r.json()["detail"]
    assert (rig.audit.records[-1].action, rig.audit.records[-1].outcome) == ("snapshot.unmask", "failed")
    older, original = with_original(rig, keep=True, recorded=False)  # an event from before schema 1.2
    r = rig.client.get(f"/v1/events/{older.event_id}/snapshot/original", params={"purpose": PURPOSE})
    assert r.status_code == 200 and r.content == original


def test_unmask_without_a_kept_original_is_404(rig: Rig) -> None:
    event, _ = with_original(rig, keep=False)
    r = rig.client.get(f"/v1/events/{event.event_id}/snapshot/original", params={"purpose": PURPOSE})
    assert r.status_code == 404 and "no original" in r.json()["detail"]
    assert (rig.audit.records[-1].action, rig.audit.records[-1].outcome) == ("snapshot.unmask", "failed")


@pytest.mark.parametrize(
    "path",
    [
        "/v1/events?type=face_match",
        "/v1/alerts?type=face_match",
        "/v1/events/{event_id}",
        "/v1/alerts/{event_id}",
        "/v1/events/export?format=csv&purpose=audit+of+matches",
    ],
)
def test_no_route_serves_a_match_events_face_encoding(rig: Rig, path: str) -> None:
    event = face_match("id_x", "wl_x", camera_id="cam-a", site_id="north", ts_ms=T0_MS)
    event = event.model_copy(update={"alert": True})
    rig.events.insert([event])
    r = rig.client.get(path.format(event_id=event.event_id))
    assert r.status_code == 200, r.text
    assert "face_embedding" not in r.text and "id_x" in r.text  # the rest of the attributes are served
    stored = rig.events.get(event.event_id)
    assert stored is not None and stored.attributes.model_dump()["face_embedding"]  # kept in the store
