"""/v1/watchlists: lists, enrolment, images, erasure; every biometric action audited with its purpose,
nothing stored half, workers told after the store took a change (fake encoder: tests/unit/face_fakes)."""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from api.config import ApiConfig
from events.faces import FaceNegative, IdentityChange, NegativeChange, WatchlistChange
from tests.unit.api_fakes import ListAuditSink, bearer, signed_in_client
from tests.unit.face_fakes import ColourEncoder, ExactSearcher, MemoryFaceStore, RecordingGallery, face_png

PURPOSE = "case 2026-17 (court order)"


@dataclass
class Rig:
    client: TestClient
    store: MemoryFaceStore
    gallery: RecordingGallery
    audit: ListAuditSink

    def watchlist(self, name: str = "wanted", **fields: Any) -> str:
        r = self.client.post("/v1/watchlists", json={"name": name, "purpose": PURPOSE, **fields})
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    def enrol(self, watchlist_id: str, *images: bytes, name: str = "Jane Roe", **form: str) -> Any:
        files = [("images", (f"face{i}.png", content, "image/png")) for i, content in enumerate(images)]
        data = {"name": name, "purpose": PURPOSE, **form}
        return self.client.post(f"/v1/watchlists/{watchlist_id}/identities", data=data, files=files)

    def actions(self, outcome: str = "ok") -> list[str]:
        return [r.action for r in self.audit.records if r.outcome == outcome]


def make_rig(tmp_path: Path, credential: str = "admin", config: ApiConfig | None = None) -> Rig:
    store, gallery, audit = MemoryFaceStore(), RecordingGallery(), ListAuditSink()
    client = signed_in_client(
        tmp_path,
        audit,
        credential,
        config,
        face_store=store,
        gallery=gallery,
        face_encoder=ColourEncoder(),
        face_searcher=ExactSearcher(store),
    )
    return Rig(client, store, gallery, audit)


@pytest.fixture
def rig(tmp_path: Path) -> Rig:
    return make_rig(tmp_path)


def test_create_read_change_a_watchlist(rig: Rig) -> None:
    wid = rig.watchlist("missing persons", threshold=0.45, severity="critical")
    assert rig.store.watchlists[wid].threshold == 0.45
    assert rig.gallery.changes == [WatchlistChange(watchlist_id=wid, watchlist=rig.store.watchlists[wid])]
    listed = rig.client.get("/v1/watchlists").json()["items"]
    assert [w["id"] for w in listed] == [wid] and listed[0]["severity"] == "critical"
    r = rig.client.patch(
        f"/v1/watchlists/{wid}", json={"purpose": PURPOSE, "threshold": 0.4, "name": "missing"}
    )
    assert r.status_code == 200, r.text
    assert (r.json()["threshold"], r.json()["name"], r.json()["version"]) == (0.4, "missing", 2)
    assert r.json()["purpose"] == PURPOSE  # the stated reason is audited, the list's purpose kept
    assert rig.client.get(f"/v1/watchlists/{wid}").json()["threshold"] == 0.4
    change = rig.gallery.changes[-1]
    assert isinstance(change, WatchlistChange) and change.watchlist is not None
    assert change.watchlist.threshold == 0.4
    assert rig.actions() == ["watchlist.create", "watchlist.update"]
    assert {r.purpose for r in rig.audit.records} == {PURPOSE}


def test_patch_removes_the_expiry_with_null(rig: Rig) -> None:
    wid = rig.watchlist(expires_ts_ms=4_102_444_800_000)
    r = rig.client.patch(f"/v1/watchlists/{wid}", json={"purpose": PURPOSE, "expires_ts_ms": None})
    assert r.status_code == 200 and r.json()["expires_ts_ms"] is None


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"name": "x", "purpose": PURPOSE, "threshold": 0}, 422),
        ({"name": "x", "purpose": PURPOSE, "threshold": 2.0}, 422),
        ({"name": "x", "purpose": PURPOSE, "threshold": "high"}, 422),
        ({"name": "x", "purpose": PURPOSE, "severity": "apocalyptic"}, 422),
        ({"name": "", "purpose": PURPOSE}, 422),
        ({"name": "x", "purpose": PURPOSE, "expires_ts_ms": 1000}, 422),  # in the past
        ({"name": "x", "purpose": PURPOSE, "colour": "red"}, 422),
        ({"name": "wanted", "purpose": PURPOSE}, 409),  # its name is taken
        ({"name": " WANTED ", "purpose": PURPOSE}, 409),
    ],
)
def test_bad_watchlists_are_refused_and_nothing_is_stored(
    rig: Rig, body: dict[str, Any], status: int
) -> None:
    rig.watchlist("wanted")
    r = rig.client.post("/v1/watchlists", json=body)
    assert r.status_code == status, r.text
    assert len(rig.store.watchlists) == 1 and len(rig.gallery.changes) == 1


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "action"),
    [
        ("POST", "/v1/watchlists", {"json": {"name": "x"}}, "watchlist.create"),
        ("POST", "/v1/watchlists", {"json": {"name": "x", "purpose": "no"}}, "watchlist.create"),
        ("PATCH", "/v1/watchlists/{wid}", {"json": {"threshold": 0.3}}, "watchlist.update"),
        ("DELETE", "/v1/watchlists/{wid}", {}, "watchlist.delete"),
        ("POST", "/v1/watchlists/{wid}/identities", {"data": {"name": "A"}}, "face.enrol"),
        ("DELETE", "/v1/watchlists/{wid}/identities/{iid}", {}, "face.erase"),
        ("POST", "/v1/watchlists/{wid}/identities/{iid}/images", {}, "face.add_image"),
        ("GET", "/v1/watchlists/{wid}/identities/{iid}/faces/{eid}/image", {}, "face.image.view"),
    ],
)
def test_without_a_purpose_it_is_refused_and_the_refusal_audited(
    rig: Rig, method: str, path: str, kwargs: dict[str, Any], action: str
) -> None:
    wid = rig.watchlist()
    identity = rig.enrol(wid, face_png(1)).json()
    url = path.format(wid=wid, iid=identity["id"], eid=identity["faces"][0]["id"])
    if "images" in path or ("identities" in path and method == "POST"):
        kwargs = {**kwargs, "files": [("images", ("f.png", face_png(9), "image/png"))]}
    before = (len(rig.store.watchlists), len(rig.store.identities), len(rig.store.embeddings))
    r = rig.client.request(method, url, **kwargs)
    assert r.status_code == 422, r.text
    assert any(e["loc"][-1] == "purpose" for e in r.json()["detail"])
    denied = [a for a in rig.audit.records if a.outcome == "denied"]
    assert [(a.action, a.target, a.actor) for a in denied] == [(action, url, "test-admin")]
    assert (len(rig.store.watchlists), len(rig.store.identities), len(rig.store.embeddings)) == before


def test_enrol_stores_faces_and_images_but_serves_neither_vector_nor_image(rig: Rig) -> None:
    wid = rig.watchlist()
    images = [face_png(1), face_png(1, size_wh=(2400, 1200))]
    r = rig.enrol(wid, *images, reference="F-17", expires_ts_ms="4102444800000")
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["name"], body["reference"], body["watchlist_id"]) == ("Jane Roe", "F-17", wid)
    assert [f["image_sha256"] for f in body["faces"]] == [hashlib.sha256(i).hexdigest() for i in images]
    assert "vector" not in r.text and "image_jpeg" not in r.text
    stored = rig.store.list_embeddings(body["id"], with_images=True)
    assert len(stored) == 2 and all(len(e.vector) == 128 for e in stored)
    with Image.open(io.BytesIO(stored[1].image_jpeg)) as kept:
        assert kept.format == "JPEG" and kept.size == (1024, 512)
    change = rig.gallery.changes[-1]
    assert isinstance(change, IdentityChange) and change.identity_id == body["id"]
    assert [list(v) for v in change.vectors] == [list(e.vector) for e in stored]
    record = rig.audit.records[-1]
    assert (record.action, record.target, record.purpose) == ("face.enrol", f"identity:{body['id']}", PURPOSE)
    got = rig.client.get(f"/v1/watchlists/{wid}/identities/{body['id']}").json()
    assert got["faces"] == body["faces"]
    listed = rig.client.get(f"/v1/watchlists/{wid}/identities").json()
    assert (listed["total"], listed["items"][0]["id"]) == (1, body["id"])


@pytest.mark.parametrize(
    ("images", "status", "words"),
    [
        ([face_png(1), face_png(2, faces=0)], 422, "image 2 (face1.png) has 0 faces"),
        ([face_png(1), face_png(2, faces=2)], 422, "image 2 (face1.png) has 2 faces"),
        ([b"GIF89a not really"], 422, "not a supported image"),
        ([face_png(1), face_png(1)], 409, "same file as image 1"),
        ([face_png(1, size_wh=(5000, 4000))], 413, "more than 10000000 pixels"),
        ([face_png(1), b"x" * 200_001], 413, "larger than 200000 bytes"),
        ([face_png(i) for i in range(4)], 400, "Too many files"),
        ([b"x" * 300_000] * 3, 413, "Content Too Large"),  # the body limit, before any parsing
        ([], 422, "images"),
    ],
)
def test_bad_enrolments_store_nothing(tmp_path: Path, images: list[bytes], status: int, words: str) -> None:
    config = ApiConfig(
        face_image_max_bytes=200_000, face_image_max_pixels=10_000_000, face_images_per_request=3
    )
    rig = make_rig(tmp_path, config=config)
    wid = rig.watchlist()
    r = rig.enrol(wid, *images)
    assert r.status_code == status, r.text
    assert words in r.text
    assert (rig.store.identities, rig.store.embeddings) == ({}, {})
    assert [type(c) for c in rig.gallery.changes] == [WatchlistChange]


def test_duplicate_enrolments_are_409(rig: Rig) -> None:
    wanted, staff = rig.watchlist("wanted"), rig.watchlist("staff")
    assert rig.enrol(wanted, face_png(1), reference="A-1").status_code == 201
    assert "enrolled in this watchlist already" in rig.enrol(wanted, face_png(1), name="Other").text
    assert rig.enrol(wanted, face_png(2), reference="A-1").status_code == 409  # same name + reference
    assert rig.enrol(wanted, face_png(2), reference="A-2").status_code == 201  # namesake, other case
    assert rig.enrol(staff, face_png(1), reference="A-1").status_code == 201  # another list
    assert len(rig.store.identities) == 3
    assert ("face.enrol", "failed") in {(r.action, r.outcome) for r in rig.audit.records}


def test_add_images_then_erase_leaves_nothing(rig: Rig) -> None:
    wid = rig.watchlist()
    iid = rig.enrol(wid, face_png(1)).json()["id"]
    other = rig.enrol(wid, face_png(7), name="Someone Else").json()["id"]
    url = f"/v1/watchlists/{wid}/identities/{iid}"
    files = [("images", ("more.png", face_png(3), "image/png"))]
    r = rig.client.post(f"{url}/images", data={"purpose": PURPOSE}, files=files)
    assert r.status_code == 201, r.text
    assert len(r.json()["faces"]) == 2
    change = rig.gallery.changes[-1]
    assert isinstance(change, IdentityChange) and len(change.vectors) == 2
    again = rig.client.post(f"{url}/images", data={"purpose": PURPOSE}, files=files)
    assert again.status_code == 409
    r = rig.client.delete(url, params={"purpose": PURPOSE})
    assert r.status_code == 200 and r.json() == {"identities": 1, "embeddings": 2, "negatives": 0}
    assert set(rig.store.identities) == {other}
    assert {e.identity_id for e in rig.store.embeddings.values()} == {other}
    assert rig.gallery.changes[-1] == IdentityChange(identity_id=iid, watchlist_id=wid, removed=True)
    assert rig.client.get(url).status_code == 404
    assert rig.client.delete(url, params={"purpose": PURPOSE}).status_code == 404
    assert ("face.erase", "ok", PURPOSE) in {(r.action, r.outcome, r.purpose) for r in rig.audit.records}


def test_deleting_a_watchlist_erases_its_identities(rig: Rig) -> None:
    wanted, staff = rig.watchlist("wanted"), rig.watchlist("staff")
    gone = [rig.enrol(wanted, face_png(i), name=f"P{i}").json()["id"] for i in (1, 2)]
    kept = rig.enrol(staff, face_png(3)).json()["id"]
    r = rig.client.delete(f"/v1/watchlists/{wanted}", params={"purpose": PURPOSE})
    assert r.status_code == 200 and r.json() == {"identities": 2, "embeddings": 2, "negatives": 0}
    assert set(rig.store.watchlists) == {staff} and set(rig.store.identities) == {kept}
    removed = {c.identity_id for c in rig.gallery.changes if isinstance(c, IdentityChange) and c.removed}
    assert removed == set(gone)
    assert rig.gallery.changes[-1] == WatchlistChange(watchlist_id=wanted, watchlist=None)
    assert rig.client.get(f"/v1/watchlists/{wanted}").status_code == 404


def test_face_image_view_is_audited(rig: Rig) -> None:
    wid = rig.watchlist()
    identity = rig.enrol(wid, face_png(1)).json()
    face = identity["faces"][0]
    r = rig.client.get(face["image_url"], params={"purpose": PURPOSE})
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
    with Image.open(io.BytesIO(r.content)) as shown:
        assert shown.size == (64, 48)
    record = rig.audit.records[-1]
    assert (record.action, record.target, record.purpose) == (
        "face.image.view",
        f"face:{face['id']}",
        PURPOSE,
    )
    wrong = face["image_url"].replace(identity["id"], "id_0000000000000000")
    assert rig.client.get(wrong, params={"purpose": PURPOSE}).status_code == 404


@pytest.mark.parametrize(
    "path",
    ["/v1/watchlists/wl_nope", "/v1/watchlists/..%2F..", "/v1/watchlists/wl_nope/identities"],
)
def test_unknown_watchlists_are_404(rig: Rig, path: str) -> None:
    assert rig.client.get(path).status_code == 404
    assert rig.enrol("wl_nope", face_png(1)).status_code == 404
    assert rig.store.identities == {}


def test_roles(tmp_path: Path) -> None:
    admin = make_rig(tmp_path)
    wid = admin.watchlist()
    for credential in ("operator", "auditor"):
        reader = TestClient(admin.client.app, headers=bearer(credential))
        assert reader.get(f"/v1/watchlists/{wid}").status_code == 200
        assert reader.post("/v1/watchlists", json={"name": "n", "purpose": PURPOSE}).status_code == 403
    integrator = TestClient(admin.client.app, headers=bearer("integrator"))
    assert integrator.get("/v1/watchlists").status_code == 403


def test_without_a_face_store_the_routes_answer_503(tmp_path: Path) -> None:
    client = signed_in_client(tmp_path, ListAuditSink())
    r = client.post("/v1/watchlists", json={"name": "n", "purpose": PURPOSE})
    assert r.status_code == 503 and "not enabled" in r.json()["detail"]
    assert client.get("/v1/watchlists").status_code == 503


def test_a_store_failure_midway_leaves_no_identity(rig: Rig) -> None:
    wid = rig.watchlist()
    rig.store.failing.add("add_embeddings")
    r = rig.enrol(wid, face_png(1))
    assert r.status_code == 503
    assert rig.store.identities == {} and len(rig.gallery.changes) == 1


def test_a_bus_failure_after_storing_says_so(rig: Rig) -> None:
    wid = rig.watchlist()
    rig.gallery.fail = True
    r = rig.enrol(wid, face_png(1))
    assert r.status_code == 503 and "saved" in r.json()["detail"]
    assert len(rig.store.identities) == 1


def test_an_expired_watchlist_takes_no_enrolment(rig: Rig) -> None:
    wid = rig.watchlist()
    rig.store.watchlists[wid] = rig.store.watchlists[wid].model_copy(update={"expires_ts_ms": 1})
    r = rig.enrol(wid, face_png(1))
    assert r.status_code == 409 and "expired" in r.json()["detail"]
    assert rig.store.identities == {}


@pytest.mark.parametrize("erase", ["identity", "watchlist"])
def test_erasure_takes_the_identitys_negatives_off_the_workers_and_the_topic(rig: Rig, erase: str) -> None:
    wid = rig.watchlist()
    iid = rig.enrol(wid, face_png(1)).json()["id"]
    negative = FaceNegative(
        negative_id="neg_9", identity_id=iid, watchlist_id=wid, vector=[0.0] * 127 + [1.0], created_ts_ms=0
    )
    rig.store.add_negative(negative)
    url = f"/v1/watchlists/{wid}" + (f"/identities/{iid}" if erase == "identity" else "")
    r = rig.client.delete(url, params={"purpose": PURPOSE})
    assert r.status_code == 200 and r.json()["negatives"] == 1
    assert NegativeChange(negative_id="neg_9", negative=None) in rig.gallery.changes
    assert IdentityChange(identity_id=iid, watchlist_id=wid, removed=True) in rig.gallery.changes
