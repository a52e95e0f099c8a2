"""The embedded hotlist wiring end to end on chDB: entries added through the API reach the process's
plate hotlists at once (exact, fuzzy and wildcard), survive a restart, and leave when removed or expired."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from anfang.reader_wiring import ReaderParts, hotlist_api_kwargs, start_readers, sweep_expired_hotlists
from anfang.settings import Settings
from api.app import create_app
from events.store.chdb_store import ChdbStore
from events.store.hotlists_sql import HotlistSqlStore
from tests.unit.api_fakes import FakeAuthenticator, ListAuditSink, bearer

NOW_MS = 1_900_000_000_000


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChdbStore]:
    store = ChdbStore(tmp_path_factory.mktemp("reader_wiring") / "chdb", database="reader_wiring")
    store.ensure_schema()
    yield store
    store.close()


def app_for(parts: ReaderParts, settings: Settings, store: ChdbStore, audit: ListAuditSink) -> TestClient:
    closers: list[Callable[[], None]] = []
    kwargs = hotlist_api_kwargs(parts, settings, store, audit, closers)
    parts.closers.extend(closers)
    app = create_app(store, settings.data_dir, authenticator=FakeAuthenticator(), audit=audit, **kwargs)
    return TestClient(app, headers=bearer("admin"))


def matched(parts: ReaderParts, plate: str) -> tuple[str, int] | None:
    found = parts.runtime.hotlists.match(plate, NOW_MS)
    return None if found is None else (found[0].entry_id, found[0].distance)


def test_hotlist_entries_reach_the_readers_at_once_and_after_a_restart(
    store: ChdbStore, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path, mode="embedded")
    parts, audit = start_readers(settings, store), ListAuditSink()
    client = app_for(parts, settings, store, audit)
    r = client.post("/v1/hotlists", json={"name": "stolen", "max_distance": 1, "severity": "critical"})
    assert r.status_code == 201, r.text
    hid = r.json()["id"]
    r = client.post(
        f"/v1/hotlists/{hid}/entries",
        json=[{"pattern": "京A·12345"}, {"pattern": "沪B9Z00?"}, {"pattern": "粤C77777", "match": "exact"}],
    )
    assert r.status_code == 201, r.text
    ids = [e["id"] for e in r.json()["items"]]
    assert matched(parts, "京A12345") == (ids[0], 0)
    assert matched(parts, "京A12346") == (ids[0], 1)  # fuzzy: one edit
    assert matched(parts, "沪B9Z001") == (ids[1], 0)  # wildcard
    assert matched(parts, "粤C77777") == (ids[2], 0) and matched(parts, "粤C77771") is None  # exact only
    bad = client.post(f"/v1/hotlists/{hid}/entries", json=[{"pattern": "京A54321"}, {"pattern": "*"}])
    assert bad.status_code == 422 and "'*'" in bad.text and matched(parts, "京A54321") is None
    parts.close()

    again = start_readers(settings, store)  # a restart: the lists come back from the store
    assert matched(again, "京A12345") == (ids[0], 0)
    client = app_for(again, settings, store, audit)
    assert client.delete(f"/v1/hotlists/{hid}/entries/{ids[0]}").status_code in (200, 204)
    assert matched(again, "京A12345") is None and matched(again, "沪B9Z001") == (ids[1], 0)
    again.close()


def test_an_expired_list_leaves_the_readers_and_is_audited(store: ChdbStore, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, mode="embedded")
    parts, audit = start_readers(settings, store), ListAuditSink()
    client = app_for(parts, settings, store, audit)
    r = client.post("/v1/hotlists", json={"name": "event day", "expires_ts_ms": NOW_MS + 1_000})
    hid = r.json()["id"]
    client.post(f"/v1/hotlists/{hid}/entries", json=[{"pattern": "京Q88888"}])
    assert matched(parts, "京Q88888") is not None
    assert sweep_expired_hotlists(HotlistSqlStore(store), parts.runtime.hotlists, audit, NOW_MS + 2_000) == 1
    assert matched(parts, "京Q88888") is None
    assert (audit.records[-1].action, audit.records[-1].target) == ("hotlist.expire", f"hotlist:{hid}")
    parts.close()
