"""The behaviour every `events.ports.EventStore` must share, as one test class (history's part in
tests/history_contract.py).

A test module runs it against its store by subclassing `StoreContract` (named `Test...`) and providing a
`store` fixture: an empty store with its schema in place. The reference answers come from
tests/unit/events_samples.py (`matches`, `newest_first`, `counts_by_type`)."""

from __future__ import annotations

import threading
import uuid

import pytest

from events.ports import EventQuery, EventStore
from events.schema import Event
from events.store.sql import InvalidQueryError
from tests.history_contract import HistoryContract
from tests.unit.events_samples import (
    BASE_TS_MS,
    STORE_QUERIES,
    counts_by_type,
    make_event,
    matches,
    newest_first,
    sample_events,
)

#: Text that would break naive SQL quoting or LIKE patterns: stored and filtered exactly.
HOSTILE_TEXT = [
    "it's",
    "back\\slash\\",
    "'; DROP TABLE anfang.events; --",
    "'; DROP TABLE events; --",
    "京A·12345\n",
    "100%",
]

#: Queries refused before they reach the engine, with the start of the message they get.
INVALID_QUERIES = [
    (EventQuery(limit=0), "limit must be"),
    (EventQuery(offset=-1), "offset must be >= 0"),
    (EventQuery(since_ms=BASE_TS_MS + 1, until_ms=BASE_TS_MS), r"since_ms \(\d+\) is after until_ms"),
]


class StoreContract(HistoryContract):
    """Subclass as `Test<Name>StoreContract` in a module with a `store` fixture (empty, schema ready)."""

    def test_insert_skips_ids_already_stored_and_repeats_within_a_batch(self, store: EventStore) -> None:
        events = sample_events()
        assert store.insert(events[:10]) == 10
        assert store.insert(events[5:15] + events[10:12]) == 5
        assert store.insert(events[:15]) == 0
        assert store.insert([]) == 0
        page = store.query(EventQuery(limit=100))
        assert page.total == 15
        assert len({e.event_id for e in page.events}) == 15

    def test_events_come_back_equal_to_what_was_stored(self, store: EventStore) -> None:
        events = sample_events()
        store.insert(events)
        assert store.query(EventQuery(limit=100)).events == newest_first(events)
        for e in events[:5]:
            assert store.get(e.event_id) == e
        assert store.get(uuid.uuid4()) is None

    def test_an_event_type_newer_than_this_code_is_stored_and_served(self, store: EventStore) -> None:
        """Forward compatibility: a type no plugin here knows keeps its attributes, and filters work."""
        data = make_event(3).model_dump(mode="json")
        data.update(type="drone_sighting", schema_version="1.8")
        data["attributes"] = {"type": "drone_sighting", "altitude_m": 40.5, "tags": ["night", "low"]}
        newer = Event.model_validate(data)
        assert store.insert([newer, make_event(4)]) == 2
        (back,) = store.query(EventQuery(types=("drone_sighting",), limit=10)).events
        assert back == newer and back.attributes.model_dump() == data["attributes"]
        assert store.count_by_type()["drone_sighting"] == 1

    @pytest.mark.parametrize("q", STORE_QUERIES, ids=[str(i) for i in range(len(STORE_QUERIES))])
    def test_filters_match_a_reference_filter(self, store: EventStore, q: EventQuery) -> None:
        events = sample_events()
        store.insert(events)
        expected = newest_first(e for e in events if matches(e, q))
        page = store.query(q)
        assert page.total == len(expected)
        assert page.events == expected[q.offset : q.offset + q.limit]

    def test_pages_cover_everything_once_newest_first(self, store: EventStore) -> None:
        events = sample_events()
        store.insert(events)
        seen: list[Event] = []
        for offset in range(0, 45, 7):
            page = store.query(EventQuery(limit=7, offset=offset))
            assert page.total == 40
            seen.extend(page.events)
        assert seen == newest_first(events)

    def test_equal_timestamps_still_paginate_without_overlap(self, store: EventStore) -> None:
        events = [make_event(i, ts_ms=BASE_TS_MS) for i in range(10)]
        store.insert(events)
        pages = [store.query(EventQuery(limit=3, offset=o)).events for o in (0, 3, 6, 9)]
        ids = [e.event_id for p in pages for e in p]
        assert sorted(ids) == sorted(e.event_id for e in events)

    def test_count_by_type_all_and_per_camera(self, store: EventStore) -> None:
        events = sample_events()
        store.insert(events)
        assert store.count_by_type() == counts_by_type(events)
        assert sum(store.count_by_type().values()) == 40
        assert store.count_by_type("cam-1") == counts_by_type(events, "cam-1")
        assert sum(store.count_by_type("cam-1").values()) == 20
        assert store.count_by_type("nope") == {}

    @pytest.mark.parametrize("camera_id", HOSTILE_TEXT)
    def test_hostile_text_is_stored_and_filtered_exactly(self, store: EventStore, camera_id: str) -> None:
        events = [make_event(i, camera_id=camera_id, label=camera_id) for i in range(3)] + [make_event(9)]
        assert store.insert(events) == 4
        page = store.query(EventQuery(camera_id=camera_id))
        assert page.total == 3
        assert all(e.label == camera_id for e in page.events)
        assert store.count_by_type(camera_id) == {"zone_intrusion": 3}

    def test_threads_read_while_another_writes(self, store: EventStore) -> None:
        events = [make_event(i) for i in range(400)]
        errors: list[BaseException] = []

        def write() -> None:
            try:
                for k in range(0, 400, 50):
                    store.insert(events[k : k + 50])
            except BaseException as exc:
                errors.append(exc)

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

    @pytest.mark.parametrize(("q", "message"), INVALID_QUERIES, ids=["limit", "offset", "time-range"])
    def test_invalid_queries_are_refused_before_the_engine(
        self, store: EventStore, q: EventQuery, message: str
    ) -> None:
        with pytest.raises(InvalidQueryError, match=message):
            store.query(q)
