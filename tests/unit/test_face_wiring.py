"""The embedded face wiring end to end on chDB: the API's changes reach the process's gallery at once,
the gallery is rebuilt from the store after a restart, erasure and expiry leave it and the store."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from anfang.face_wiring import FaceParts, face_api_kwargs, start_faces, sweep_expired
from anfang.settings import Settings
from api.app import create_app
from events.faces import Identity
from events.store.chdb_store import ChdbStore
from events.store.faces_sql import FaceSqlStore
from tests.face_video import MESSI, messi
from tests.unit.api_fakes import FakeAuthenticator, ListAuditSink, bearer

PURPOSE = "wanted for robbery, case 7"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChdbStore]:
    store = ChdbStore(tmp_path_factory.mktemp("face_wiring") / "chdb", database="face_wiring")
    store.ensure_schema()
    yield store
    store.close()


def app_for(parts: FaceParts, settings: Settings, store: ChdbStore, audit: ListAuditSink) -> TestClient:
    closers: list[Callable[[], None]] = []
    kwargs = face_api_kwargs(parts, settings, store, audit, closers)
    parts.closers.extend(closers)
    app = create_app(store, settings.data_dir, authenticator=FakeAuthenticator(), audit=audit, **kwargs)
    return TestClient(app, headers=bearer("admin"))


def enrol(client: TestClient, watchlist_id: str, name: str) -> str:
    files = [("images", ("messi5.jpg", MESSI.read_bytes(), "image/jpeg"))]
    data = {"name": name, "purpose": PURPOSE}
    r = client.post(f"/v1/watchlists/{watchlist_id}/identities", data=data, files=files)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def test_enrolment_reaches_the_gallery_survives_a_restart_and_erasure_leaves_everywhere(
    store: ChdbStore, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path, mode="embedded")
    parts, audit = start_faces(settings, store), ListAuditSink()
    client = app_for(parts, settings, store, audit)
    wid = client.post("/v1/watchlists", json={"name": "wanted", "purpose": PURPOSE}).json()["id"]
    files = [("images", ("messi5.jpg", MESSI.read_bytes(), "image/jpeg"))]
    r = client.post(
        f"/v1/watchlists/{wid}/identities", data={"name": "Messi", "purpose": PURPOSE}, files=files
    )
    assert r.status_code == 201, r.text
    iid = r.json()["id"]
    model = parts.runtime.model()
    vector = model.encode(messi(), model.detect(messi()))[0]
    [found] = parts.runtime.gallery.candidates(vector, k=1)  # at once, no restart, no poll
    assert found.identity_id == iid and found.distance < 0.05
    parts.close()

    again = start_faces(settings, store)  # a restart: the gallery comes back from the store
    assert [c.identity_id for c in again.runtime.gallery.candidates(vector, k=1)] == [iid]
    client = app_for(again, settings, store, audit)
    r = client.delete(f"/v1/watchlists/{wid}/identities/{iid}", params={"purpose": PURPOSE})
    assert r.status_code == 200, r.text
    assert again.runtime.gallery.candidates(vector, k=1) == []
    assert FaceSqlStore(store).list_embeddings(iid) == [] and FaceSqlStore(store).get_identity(iid) is None
    assert {"face.enrol", "face.erase"} <= {rec.action for rec in audit.records}
    again.close()


def test_expired_identities_are_erased_from_store_and_gallery_and_audited(
    store: ChdbStore, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path, mode="embedded")
    parts, audit = start_faces(settings, store), ListAuditSink()
    client = app_for(parts, settings, store, audit)
    wid = client.post("/v1/watchlists", json={"name": "visitors", "purpose": PURPOSE}).json()["id"]
    files = [("images", ("messi5.jpg", MESSI.read_bytes(), "image/jpeg"))]
    r = client.post(
        f"/v1/watchlists/{wid}/identities", data={"name": "Guest", "purpose": PURPOSE}, files=files
    )
    iid = r.json()["id"]
    faces = FaceSqlStore(store)
    identity = faces.get_identity(iid)
    assert isinstance(identity, Identity)
    faces.put_identity(identity.model_copy(update={"expires_ts_ms": 1_000, "version": identity.version + 1}))
    assert sweep_expired(faces, parts.runtime.gallery, audit, now_ms=2_000) == 1
    assert parts.runtime.gallery.identity(iid) is None and faces.get_identity(iid) is None
    assert faces.list_embeddings(iid) == []
    record = audit.records[-1]
    assert (record.action, record.target, record.purpose) == (
        "identity.expire",
        f"identity:{iid}",
        "retention",
    )
    parts.close()
