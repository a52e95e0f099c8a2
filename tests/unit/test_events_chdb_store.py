"""ChdbStore on a real embedded engine in a temp folder: dedupe, filters, pagination, get, counts, lock."""

from __future__ import annotations

import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from events.ports import EventQuery, StoreError
from events.schema import Event
from events.store.chdb_store import ChdbStore
from events.store.sql import InvalidQueryError
from tests.unit.events_samples import (
    BASE_TS_MS,
    STORE_QUERIES,
    make_event,
    matches,
    newest_first,
    sample_events,
)

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ChdbStore]:
    s = ChdbStore(tmp_path / "chdb")
    s.ensure_schema()
    yield s
    s.close()


def test_insert_skips_ids_already_stored_and_repeats_within_a_batch(store: ChdbStore) -> None:
    events = sample_events()
    assert store.insert(events[:10]) == 10
    assert store.insert(events[5:15] + events[10:12]) == 5
    assert store.insert(events[:15]) == 0
    assert store.insert([]) == 0
    page = store.query(EventQuery(limit=100))
    assert page.total == 15
    assert len({e.event_id for e in page.events}) == 15


def test_events_come_back_equal_to_what_was_stored(store: ChdbStore) -> None:
    events = sample_events()
    store.insert(events)
    assert store.query(EventQuery(limit=100)).events == newest_first(events)
    for e in events[:5]:
        assert store.get(e.event_id) == e
    assert store.get(uuid.uuid4()) is None


@pytest.mark.parametrize("q", STORE_QUERIES, ids=[str(i) for i in range(len(STORE_QUERIES))])
def test_filters_match_a_reference_filter(store: ChdbStore, q: EventQuery) -> None:
    events = sample_events()
    store.insert(events)
    expected = newest_first([e for e in events if matches(e, q)])
    page = store.query(q)
    assert page.total == len(expected)
    assert page.events == expected[q.offset : q.offset + q.limit]


def test_pages_cover_everything_oncenewest_first(store: ChdbStore) -> None:
    events = sample_events()
    store.insert(events)
    seen: list[Event] = []
    for offset in range(0, 45, 7):
        page = store.query(EventQuery(limit=7, offset=offset))
        assert page.total == 40
        seen.extend(page.events)
    assert seen == newest_first(events)


def test_equal_timestamps_still_paginate_without_overlap(store: ChdbStore) -> None:
    events = [make_event(i, ts_ms=BASE_TS_MS) for i in range(10)]
    store.insert(events)
    pages = [store.query(EventQuery(limit=3, offset=o)).events for o in (0, 3, 6, 9)]
    ids = [e.event_id for p in pages for e in p]
    assert sorted(ids) == sorted(e.event_id for e in events)


def test_count_by_type_all_and_per_camera(store: ChdbStore) -> None:
    events = sample_events()
    store.insert(events)
    expected_all: dict[str, int] = {}
    expected_cam1: dict[str, int] = {}
    for e in events:
        expected_all[e.type.value] = expected_all.get(e.type.value, 0) + 1
        if e.camera_id == "cam-1":
            expected_cam1[e.type.value] = expected_cam1.get(e.type.value, 0) + 1
    assert store.count_by_type() == expected_all
    assert store.count_by_type("cam-1") == expected_cam1
    assert store.count_by_type("nope") == {}


@pytest.mark.parametrize(
    "camera_id", ["it's", "back\\slash\\", "'; DROP TABLE anfang.events; --", "京A·12345\n"]
)
def test_hostile_text_is_stored_and_filtered_exactly(store: ChdbStore, camera_id: str) -> None:
    events = [make_event(i, camera_id=camera_id, label=camera_id) for i in range(3)] + [make_event(9)]
    assert store.insert(events) == 4
    page = store.query(EventQuery(camera_id=camera_id))
    assert page.total == 3
    assert all(e.label == camera_id for e in page.events)
    assert store.count_by_type(camera_id) == {"zone_intrusion": 3}


def test_bad_query_is_refused_before_the_engine(store: ChdbStore) -> None:
    with pytest.raises(InvalidQueryError, match="limit must be"):
        store.query(EventQuery(limit=0))


def test_schema_is_idempotent_and_data_survives_reopen(tmp_path: Path) -> None:
    path = tmp_path / "chdb"
    first = ChdbStore(path)
    first.ensure_schema()
    first.insert(sample_events()[:4])
    first.close()
    second = ChdbStore(path)
    try:
        second.ensure_schema()
        assert second.query(EventQuery()).total == 4
    finally:
        second.close()


def test_closed_store_refuses_use(tmp_path: Path) -> None:
    s = ChdbStore(tmp_path / "chdb")
    s.close()
    with pytest.raises(StoreError, match="is closed"):
        s.query(EventQuery())


def test_threads_read_while_another_writes(store: ChdbStore) -> None:
    events = [make_event(i) for i in range(400)]
    errors: list[BaseException] = []

    def write() -> None:
        for k in range(0, 400, 50):
            store.insert(events[k : k + 50])

    def read() -> None:
        try:
            for _ in range(10):
                store.query(EventQuery(limit=10))
                store.count_by_type()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write)] + [threading.Thread(target=read) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert store.query(EventQuery()).total == 400


def test_the_same_folder_twice_in_one_process_is_refused(store: ChdbStore, tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="already open in this process"):
        ChdbStore(tmp_path / "chdb")
    assert store.query(EventQuery()).total == 0  # the first one is unharmed


def test_a_second_process_on_the_same_folder_gets_a_clear_error(store: ChdbStore, tmp_path: Path) -> None:
    store.insert(sample_events()[:3])
    code = (
        "import sys\nfrom pathlib import Path\nfrom events.ports import StoreError\n"
        "from events.store.chdb_store import ChdbStore\n"
        "try:\n    ChdbStore(Path(sys.argv[1]))\nexcept StoreError as exc:\n    print(exc)\n    sys.exit(3)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "chdb")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 3, proc.stderr
    assert "is in use by another anfang process" in proc.stdout
    assert store.query(EventQuery()).total == 3  # nothing disturbed


def test_retention_becomes_a_ttl_on_the_modern_engine(tmp_path: Path) -> None:
    s = ChdbStore(tmp_path / "chdb", database="ttl_db", retention_days=30)
    try:
        s.ensure_schema()
        assert s.features.ttl
        ddl = s._rows("SHOW CREATE TABLE ttl_db.events")[0][0]
        assert "TTL toDateTime(intDiv(ts_ms, 1000), 'UTC') + toIntervalDay(30)" in ddl
        assert s.insert(sample_events()[:2]) == 2
    finally:
        s.close()
