"""ClickHouseStore against the real server deploy/local/start runs (Debian's 18.16): the same behaviour
as the chDB store, each test in a database of its own (dropped afterwards)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import pytest

from events.ports import EventQuery, StoreError
from events.store.clickhouse_store import ClickHouseStore
from events.store.sql import EVENT_COLUMNS, InvalidQueryError, event_row
from tests.integration.conftest import LocalServers
from tests.unit.events_samples import STORE_QUERIES, make_event, matches, newest_first, sample_events

pytestmark = pytest.mark.integration


@pytest.fixture
def store(local_servers: LocalServers) -> Iterator[ClickHouseStore]:
    database = f"anfang_test_{uuid.uuid4().hex[:10]}"
    s = ClickHouseStore(local_servers.clickhouse_host, local_servers.clickhouse_port, database=database)
    try:
        s.ensure_schema()
        yield s
    finally:
        s._execute(f"DROP DATABASE IF EXISTS {database}")
        s.close()


def test_ddl_fits_the_server_version(store: ClickHouseStore) -> None:
    store.ensure_schema()  # idempotent
    ddl = str(store._execute(f"SHOW CREATE TABLE {store._db}.events")[0][0])
    assert ("LowCardinality" in ddl) is store.features.low_cardinality
    assert "ReplacingMergeTree" in ddl


def test_insert_dedupes_within_and_across_batches(store: ClickHouseStore) -> None:
    events = sample_events()
    assert store.insert(events[:10]) == 10
    assert store.insert(events[5:15] + events[10:12]) == 5
    assert store.insert(events[:15]) == 0
    assert store.query(EventQuery(limit=100)).total == 15


def test_duplicate_rows_written_behind_the_check_are_never_returned(store: ClickHouseStore) -> None:
    """Two sinks racing can both write an id: reads (FINAL) still show it once."""
    events = sample_events()[:5]
    store.insert(events)
    columns = ", ".join(EVENT_COLUMNS)
    store._execute(f"INSERT INTO {store._db}.events ({columns}) VALUES", [event_row(e) for e in events])
    assert store.query(EventQuery(limit=100)).total == 5
    assert sum(store.count_by_type().values()) == 5
    assert store.query(EventQuery(limit=100)).events == newest_first(events)


@pytest.mark.parametrize("q", STORE_QUERIES, ids=[str(i) for i in range(len(STORE_QUERIES))])
def test_filters_match_a_reference_filter(store: ClickHouseStore, q: EventQuery) -> None:
    events = sample_events()
    store.insert(events)
    expected = newest_first([e for e in events if matches(e, q)])
    page = store.query(q)
    assert page.total == len(expected)
    assert page.events == expected[q.offset : q.offset + q.limit]


def test_pages_get_and_counts(store: ClickHouseStore) -> None:
    events = sample_events()
    store.insert(events)
    seen = []
    for offset in range(0, 45, 7):
        seen.extend(store.query(EventQuery(limit=7, offset=offset)).events)
    assert seen == newest_first(events)
    assert store.get(events[3].event_id) == events[3]
    assert store.get(uuid.uuid4()) is None
    assert sum(store.count_by_type().values()) == 40
    assert sum(store.count_by_type("cam-1").values()) == 20


@pytest.mark.parametrize(
    "camera_id", ["it's", "back\\slash\\", "'; DROP TABLE events; --", "京A·12345\n", "100%"]
)
def test_hostile_text_is_stored_and_filtered_exactly(store: ClickHouseStore, camera_id: str) -> None:
    store.insert([make_event(i, camera_id=camera_id, label=camera_id) for i in range(3)] + [make_event(9)])
    page = store.query(EventQuery(camera_id=camera_id))
    assert page.total == 3 and all(e.label == camera_id for e in page.events)


def test_threads_each_get_their_own_connection(store: ClickHouseStore) -> None:
    events = [make_event(i) for i in range(400)]
    errors: list[BaseException] = []

    def write() -> None:
        for k in range(0, 400, 50):
            store.insert(events[k : k + 50])

    def read() -> None:
        try:
            for _ in range(10):
                store.query(EventQuery(limit=10))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write)] + [threading.Thread(target=read) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert store.query(EventQuery()).total == 400


def test_refusals_are_clear(store: ClickHouseStore, local_servers: LocalServers) -> None:
    with pytest.raises(InvalidQueryError, match="offset must be >= 0"):
        store.query(EventQuery(offset=-1))
    other = ClickHouseStore(
        local_servers.clickhouse_host, local_servers.clickhouse_port, database="anfang_missing_db"
    )
    try:
        with pytest.raises(StoreError, match=r"refused a query: .*anfang_missing_db"):
            other.query(EventQuery())
    finally:
        other.close()
