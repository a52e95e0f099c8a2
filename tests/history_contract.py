"""History behaviour every `EventStore` must share: filters, camera scope, free text, aggregates, keyset
cursors (stable while events arrive), no event id served twice, alert status filters.

Part of `tests.store_contract.StoreContract` (both stores run it). References: `reference_page` and
`reference_aggregate` in tests/unit/events_samples.py."""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import cast

import pytest

from events.alert_state import AlertAction, AlertStateRow, AlertStatus, Resolution
from events.ports import EVENT_GROUP_BYS, EventCursor, EventGroupBy, EventQuery, EventStore
from events.schema import Event
from events.store.alert_state_sql import AlertStateSqlStore
from events.store.runner import SqlRunner
from events.store.sql import EVENT_COLUMNS, EVENTS_TABLE, InvalidQueryError, event_row
from tests.unit.events_samples import (
    BASE_TS_MS,
    HISTORY_QUERIES,
    HOSTILE_TEXTS,
    AlertStates,
    history_events,
    make_event,
    newest_first,
    reference_aggregate,
    reference_page,
    with_attributes,
)


def walk(store: EventStore, q: EventQuery) -> list[list[Event]]:
    """Every page of `q`, following `next_cursor` until it is None."""
    pages = []
    cursor = q.after
    while True:
        page = store.query(replace(q, after=cursor))
        pages.append(page.events)
        cursor = page.next_cursor
        if cursor is None:
            return pages
        assert len(pages) < 100, "the cursor does not advance"


def _ids(events: list[Event]) -> list[uuid.UUID]:
    return [e.event_id for e in events]


def plate_and_code_events() -> list[Event]:
    plates = ["京A12345", "京A12845", "沪B9Z001", "京AD12345"]
    events = [
        with_attributes(make_event(i), "plate_read" if i % 2 else "plate_match", plate=p, format="ordinary")
        for i, p in enumerate(plates)
    ]
    payloads = ["PALLET-00042", "50%_off", "https://a.invalid/?x=1", "PALLET-1"]
    events += [
        with_attributes(make_event(10 + i), "code_read", format="QRCode", payload=p)
        for i, p in enumerate(payloads)
    ]
    events.append(
        with_attributes(make_event(20), "note", plate="京A12345", payload="PALLET-00042")
    )  # not a read
    return events


PLATE_CODE_QUERIES = [
    (EventQuery(plate="京A12345"), ["京A12345"]),
    (EventQuery(plate="京a·12345"), ["京A12345"]),  # case and separators ignored
    (EventQuery(plate="京A12*"), ["京A12345", "京A12845"]),  # prefix
    (EventQuery(plate="京A12?45"), ["京A12345", "京A12845"]),  # one character
    (EventQuery(plate="*45"), ["京A12345", "京A12845", "京AD12345"]),
    (EventQuery(plate="京A1234"), []),  # exact means whole
    (EventQuery(code="PALLET-*"), ["PALLET-00042", "PALLET-1"]),
    (EventQuery(code="50%_off"), ["50%_off"]),
    (EventQuery(code="50%?off"), ["50%_off"]),
    (EventQuery(code="5%"), []),  # % and _ are literal, not SQL wildcards
    (EventQuery(code="https://a.invalid/?x=1"), ["https://a.invalid/?x=1"]),
]


class HistoryContract:
    @pytest.mark.parametrize(
        "q,expected", PLATE_CODE_QUERIES, ids=[f"p{i}" for i in range(len(PLATE_CODE_QUERIES))]
    )
    def test_plate_and_code_filters_match_exact_prefix_and_wildcards(
        self, store: EventStore, q: EventQuery, expected: list[str]
    ) -> None:
        store.insert(plate_and_code_events())
        page = store.query(q)
        key = "plate" if q.plate else "payload"
        assert sorted(e.attributes.model_dump()[key] for e in page.events) == sorted(expected)
        assert all(e.type in ("plate_read", "plate_match", "code_read") for e in page.events)

    @pytest.mark.parametrize("q", HISTORY_QUERIES, ids=[f"h{i}" for i in range(len(HISTORY_QUERIES))])
    def test_history_filters_and_aggregates_match_the_reference(
        self, store: EventStore, q: EventQuery
    ) -> None:
        events = history_events()
        store.insert(events)
        expected = reference_page(events, q)
        page = store.query(q)
        assert (page.events, page.total, page.next_cursor) == (
            expected.events,
            expected.total,
            expected.next_cursor,
        )
        for group_by in EVENT_GROUP_BYS:
            assert store.aggregate(q, group_by) == reference_aggregate(events, q, group_by), group_by

    def test_an_unknown_group_by_is_refused(self, store: EventStore) -> None:
        with pytest.raises(InvalidQueryError, match="group_by must be one of"):
            store.aggregate(EventQuery(), cast(EventGroupBy, "site"))

    @pytest.mark.parametrize("limit", [1, 7, 50])
    def test_cursor_pages_cover_everything_once_newest_first(self, store: EventStore, limit: int) -> None:
        events = history_events()
        store.insert(events)
        pages = walk(store, EventQuery(limit=limit, alerts_only=limit == 7))
        seen = [e for p in pages for e in p]
        assert seen == newest_first(e for e in events if limit != 7 or e.alert)
        assert all(len(p) == limit for p in pages[:-1])

    def test_cursor_with_equal_timestamps_keeps_the_engine_order(self, store: EventStore) -> None:
        events = [make_event(i, ts_ms=BASE_TS_MS + 500) for i in range(11)] + [make_event(20), make_event(1)]
        store.insert(events)
        seen = [e for p in walk(store, EventQuery(limit=3)) for e in p]
        assert seen == newest_first(events)

    def test_cursor_pages_stay_stable_while_events_arrive(self, store: EventStore) -> None:
        old = [make_event(i) for i in range(0, 60, 2)]  # even ts slots
        store.insert(old)
        first = store.query(EventQuery(limit=10))
        assert first.next_cursor is not None
        newer = [make_event(i) for i in range(100, 120)]
        late = [make_event(i) for i in (1, 3, 41)]  # older than the cursor: arrive late, still listed
        store.insert(newer + late)
        rest = [e for p in walk(store, EventQuery(limit=10, after=first.next_cursor)) for e in p]
        served = first.events + rest
        assert len(set(_ids(served))) == len(served)
        assert set(_ids(rest)).isdisjoint(_ids(newer))
        assert served == newest_first(old + [e for e in late if e.ts_ms < first.next_cursor.ts_ms])

    def test_a_cursor_past_the_end_gives_an_empty_last_page(self, store: EventStore) -> None:
        store.insert([make_event(i) for i in range(5)])
        page = store.query(EventQuery(after=EventCursor(BASE_TS_MS - 1, uuid.UUID(int=0))))
        assert (page.events, page.next_cursor, page.total) == ([], None, 5)

    def test_an_offset_skips_events_after_the_cursor(self, store: EventStore) -> None:
        events = history_events()
        store.insert(events)
        first = store.query(EventQuery(limit=5))
        q = EventQuery(limit=4, offset=3, after=first.next_cursor)
        expected = reference_page(events, q)
        page = store.query(q)
        assert (page.events, page.next_cursor) == (expected.events, expected.next_cursor)
        assert page.events == newest_first(events)[8:12]

    @pytest.mark.parametrize("text", HOSTILE_TEXTS)
    def test_hostile_free_text_is_matched_literally(self, store: EventStore, text: str) -> None:
        events = history_events()
        store.insert(events)
        q = EventQuery(text=text, limit=100)
        page = store.query(q)
        assert _ids(page.events) == _ids(reference_page(events, q).events)
        assert store.aggregate(q, "camera") == reference_aggregate(events, q, "camera")
        assert store.query(EventQuery(limit=100)).total == len(events)  # nothing was dropped or changed

    def test_no_event_id_is_served_twice_when_rows_were_written_twice(self, store: EventStore) -> None:
        """Two sinks racing past the insert check both write an id: pages show it once."""
        events = history_events()
        store.insert(events)
        runner = cast(SqlRunner, store)
        twice = events[::3]
        runner.insert_rows(EVENTS_TABLE, EVENT_COLUMNS, [event_row(e) for e in twice])
        runner.insert_rows(EVENTS_TABLE, EVENT_COLUMNS, [event_row(e) for e in twice[:5]])
        expected = newest_first(events)
        for limit in (1, 4, 50, 200):
            seen = [e for p in walk(store, EventQuery(limit=limit)) for e in p]
            assert seen == expected, limit
        by_offset = [e for o in range(0, 60, 6) for e in store.query(EventQuery(limit=6, offset=o)).events]
        assert by_offset == expected
        assert store.get(twice[0].event_id) == twice[0]

    def test_status_and_assignee_filter_by_the_latest_alert_state(self, store: EventStore) -> None:
        events = history_events()
        store.insert(events)
        alerts = [e for e in events if e.alert]
        states_store = AlertStateSqlStore(cast(SqlRunner, store))
        states_store.ensure_schema()
        moves: list[tuple[Event, list[tuple[AlertAction, AlertStatus, str | None]]]] = [
            (alerts[0], [(AlertAction.ACKNOWLEDGE, AlertStatus.ACKNOWLEDGED, None)]),
            (alerts[1], [(AlertAction.ASSIGN, AlertStatus.NEW, "bob")]),
            (
                alerts[2],
                [
                    (AlertAction.ASSIGN, AlertStatus.NEW, "ann"),
                    (AlertAction.START, AlertStatus.IN_PROGRESS, "ann"),
                    (AlertAction.RESOLVE, AlertStatus.RESOLVED, "ann"),
                ],
            ),
            (alerts[3], [(AlertAction.ACKNOWLEDGE, AlertStatus.ACKNOWLEDGED, "bob")]),
        ]
        states: dict[uuid.UUID, tuple[str, str | None]] = {}
        for event, steps in moves:
            for version, (action, status, assignee) in enumerate(steps, start=1):
                resolution = Resolution.TRUE_ALARM if status == AlertStatus.RESOLVED else None
                row = AlertStateRow(
                    event.event_id, version, action, "tester", BASE_TS_MS, status, assignee, resolution, 0
                )
                states_store.append(row)
                states[event.event_id] = (status.value, assignee)
        queries = [
            EventQuery(statuses=("new",), alerts_only=True),
            EventQuery(statuses=("acknowledged", "resolved")),
            EventQuery(statuses=("in_progress",)),
            EventQuery(assignee="bob"),
            EventQuery(assignee="bob", statuses=("new",)),
            EventQuery(assignee="nobody-at-all"),
            EventQuery(statuses=("acknowledged",), text="gate", limit=1),
        ]
        for q in queries:
            self._check_against_reference(store, events, q, states)

    @staticmethod
    def _check_against_reference(
        store: EventStore, events: list[Event], q: EventQuery, states: AlertStates
    ) -> None:
        expected = reference_page(events, q, states)
        page = store.query(q)
        assert (page.events, page.total) == (expected.events, expected.total), q
        assert store.aggregate(q, "type") == reference_aggregate(events, q, "type", states), q

    def test_overlong_free_text_is_refused_before_the_engine(self, store: EventStore) -> None:
        with pytest.raises(InvalidQueryError, match="text must be at most"):
            store.query(EventQuery(text="x" * 201))
