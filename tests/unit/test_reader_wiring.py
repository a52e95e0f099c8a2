"""The embedded hotlist wiring end to end on chDB: entries added through the API reach the process's
plate hotlists at once (exact, fuzzy and wildcard), survive a restart, and leave when removed or expired."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from anfang.reader_wiring import ReaderParts, hotlist_api_kwargs, start_readers, sweep_expired_hotlists
from events.store.chdb_store import ChdbStore
from events.store.hotlists_sql import HotlistSqlStore
from tests.store_fixtures import chdb_fixture
from tests.unit.api_fakes import ListAuditSink
from tests.unit.wiring_helpers import started_embedded

NOW_MS = 1_900_000_000_000

store = chdb_fixture("reader_wiring", events_table=True)
#: (parts, admin client) of the embedded wiring on a store, its API audited into a sink
started = partial(started_embedded, start_readers, hotlist_api_kwargs)


def matched(parts: ReaderParts, plate: str) -> tuple[str, int] | None:
    found = parts.runtime.hotlists.match(plate, NOW_MS)
    return None if found is None else (found[0].entry_id, found[0].distance)


def test_hotlist_entries_reach_the_readers_at_once_and_after_a_restart(
    store: ChdbStore, tmp_path: Path
) -> None:
    audit = ListAuditSink()
    parts, client = started(store, tmp_path, audit)
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

    # a restart: the lists come back from the store
    again, client = started(store, tmp_path, audit)
    assert matched(again, "京A12345") == (ids[0], 0)
    assert client.delete(f"/v1/hotlists/{hid}/entries/{ids[0]}").status_code in (200, 204)
    assert matched(again, "京A12345") is None and matched(again, "沪B9Z001") == (ids[1], 0)
    again.close()


def test_an_expired_list_leaves_the_readers_and_is_audited(store: ChdbStore, tmp_path: Path) -> None:
    audit = ListAuditSink()
    parts, client = started(store, tmp_path, audit)
    r = client.post("/v1/hotlists", json={"name": "event day", "expires_ts_ms": NOW_MS + 1_000})
    hid = r.json()["id"]
    client.post(f"/v1/hotlists/{hid}/entries", json=[{"pattern": "京Q88888"}])
    assert matched(parts, "京Q88888") is not None
    assert sweep_expired_hotlists(HotlistSqlStore(store), parts.runtime.hotlists, audit, NOW_MS + 2_000) == 1
    assert matched(parts, "京Q88888") is None
    assert (audit.records[-1].action, audit.records[-1].target) == ("hotlist.expire", f"hotlist:{hid}")
    parts.close()
