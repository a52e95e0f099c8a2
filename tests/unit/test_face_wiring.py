"""The embedded face wiring end to end on chDB: the API's changes reach the process's gallery at once,
the gallery is rebuilt from the store after a restart, erasure and expiry leave it and the store."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from fastapi.testclient import TestClient

from anfang.face_wiring import face_api_kwargs, start_faces, sweep_expired
from events.faces import Identity
from events.store.chdb_store import ChdbStore
from events.store.faces_sql import FaceSqlStore
from tests.face_video import MESSI, messi
from tests.store_fixtures import chdb_fixture
from tests.unit.api_fakes import ListAuditSink
from tests.unit.wiring_helpers import started_embedded

PURPOSE = "wanted for robbery, case 7"

store = chdb_fixture("face_wiring", events_table=True)
#: (parts, admin client) of the embedded wiring on a store, its API audited into a sink
started = partial(started_embedded, start_faces, face_api_kwargs)


def enrol(client: TestClient, name: str, list_name: str) -> tuple[str, str]:
    """A new watchlist with one identity enrolled from messi5.jpg: their ids."""
    wid = client.post("/v1/watchlists", json={"name": list_name, "purpose": PURPOSE}).json()["id"]
    files = [("images", ("messi5.jpg", MESSI.read_bytes(), "image/jpeg"))]
    data = {"name": name, "purpose": PURPOSE}
    r = client.post(f"/v1/watchlists/{wid}/identities", data=data, files=files)
    assert r.status_code == 201, r.text
    return str(wid), str(r.json()["id"])


def test_enrolment_reaches_the_gallery_survives_a_restart_and_erasure_leaves_everywhere(
    store: ChdbStore, tmp_path: Path
) -> None:
    audit = ListAuditSink()
    parts, client = started(store, tmp_path, audit)
    wid, iid = enrol(client, "Messi", "wanted")
    model = parts.runtime.model()
    vector = model.encode(messi(), model.detect(messi()))[0]
    [found] = parts.runtime.gallery.candidates(vector, k=1)  # at once, no restart, no poll
    assert found.identity_id == iid and found.distance < 0.05
    parts.close()

    # a restart: the gallery comes back from the store
    again, client = started(store, tmp_path, audit)
    assert [c.identity_id for c in again.runtime.gallery.candidates(vector, k=1)] == [iid]
    r = client.delete(f"/v1/watchlists/{wid}/identities/{iid}", params={"purpose": PURPOSE})
    assert r.status_code == 200, r.text
    assert again.runtime.gallery.candidates(vector, k=1) == []
    assert FaceSqlStore(store).list_embeddings(iid) == [] and FaceSqlStore(store).get_identity(iid) is None
    assert {"face.enrol", "face.erase"} <= {rec.action for rec in audit.records}
    again.close()


def test_expired_identities_are_erased_from_store_and_gallery_and_audited(
    store: ChdbStore, tmp_path: Path
) -> None:
    audit = ListAuditSink()
    parts, client = started(store, tmp_path, audit)
    _wid, iid = enrol(client, "Guest", "visitors")
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
