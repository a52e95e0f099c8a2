"""The `alert_state` table on chDB (events/store/alert_state_sql.py): history kept, latest version wins
whatever order rows were written in, stale and racing appends refused, hostile text stored as text, and
`state_filter_sql` selecting the right events. `alert_state_contract` also runs on the ClickHouse server
(tests/integration/test_alert_state_clickhouse.py)."""

from __future__ import annotations

import dataclasses
import functools
import threading
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

import pytest

from events.alert_state import (
    AlertAction,
    AlertState,
    AlertStatus,
    Resolution,
    StateConflictError,
    apply,
    latest_of,
)
from events.ports import EventStore
from events.schema import Event
from events.store.alert_state_sql import (
    ALERT_STATE_COLUMNS,
    ALERT_STATE_TABLE,
    AlertStateSqlStore,
    state_filter_sql,
    state_row,
)
from events.store.chdb_store import ChdbStore
from events.store.runner import SqlRunner
from events.store.sql import EVENTS_TABLE, Binder, InvalidQueryError, sql_literal
from tests.unit.events_samples import sample_events
from tests.unit.test_alert_state import ARGS, EVENT_ID, T0_MS, run

A = AlertAction
HOSTILE = "o'brien\\'; DROP TABLE alert_state; -- %(p0)s %s \n\t 警报"


class RunnerStore(SqlRunner, EventStore, Protocol):
    """Both stores are an `EventStore` and a `SqlRunner`."""


@pytest.fixture(scope="module")
def chdb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChdbStore]:
    store = ChdbStore(Path(tmp_path_factory.mktemp("alert_state")) / "chdb")
    yield store
    store.close()


def fresh(runner: RunnerStore, **kwargs: Any) -> AlertStateSqlStore:
    states = AlertStateSqlStore(runner, **kwargs)
    states.ensure_schema()
    runner.command(lambda bind: f"TRUNCATE TABLE {runner.database}.{ALERT_STATE_TABLE}")
    return states


def alert_state_contract(runner: RunnerStore) -> None:
    """History, latest wins, stale appends refused, chunked lookups, hostile text: on any SqlRunner."""
    states = fresh(runner)
    states.ensure_schema()  # idempotent
    rows = run([A.ASSIGN, A.ACKNOWLEDGE, A.ESCALATE, A.START, A.COMMENT, A.RESOLVE])
    for row in rows:
        states.append(row)
    assert states.history(EVENT_ID) == rows
    other = uuid.uuid4()
    assert states.latest([EVENT_ID, other]) == {EVENT_ID: AlertState.from_row(rows[-1])}
    assert states.latest([]) == {}
    with pytest.raises(StateConflictError, match="version 6 is stored"):
        states.append(rows[2])  # based on a version long gone
    gap = apply(AlertState.NEW, A.ACKNOWLEDGE, "x", T0_MS, event_id=other)
    states.append(gap)
    with pytest.raises(StateConflictError, match="based on version 2"):
        states.append(dataclasses.replace(gap, version=3))  # skips version 2
    assert len(states.history(other)) == 1

    # hostile text round-trips as text
    weird = uuid.uuid4()
    row = apply(AlertState.NEW, A.ASSIGN, HOSTILE, T0_MS, event_id=weird, assignee=HOSTILE, comment=HOSTILE)
    states.append(row)
    assert states.history(weird) == [row]
    assert states.latest([weird])[weird].assignee == HOSTILE

    # lookups split into chunks give the same answer
    many = [uuid.uuid4() for _ in range(5)]
    for i, event_id in enumerate(many):
        state = AlertState.NEW
        for action in [A.ACKNOWLEDGE, A.START, A.RESOLVE][: i % 3 + 1]:
            r = apply(state, action, f"op-{i}", T0_MS + i, event_id=event_id, **ARGS[action])
            states.append(r)
            state = AlertState.from_row(r)
    chunked = AlertStateSqlStore(runner, max_ids_per_query=2)
    assert chunked.latest([*many, EVENT_ID, other]) == states.latest([*many, EVENT_ID, other])
    assert [chunked.latest(many)[e].status for e in many] == [
        [AlertStatus.ACKNOWLEDGED, AlertStatus.IN_PROGRESS, AlertStatus.RESOLVED][i % 3] for i in range(5)
    ]


def latest_wins_whatever_the_write_order(runner: RunnerStore) -> None:
    """Rows written out of order (version 3, then 1, then 2, in separate inserts/parts): version 3 wins."""
    states = fresh(runner)
    rows = run([A.ACKNOWLEDGE, A.START, A.RESOLVE])
    for row in (rows[2], rows[0], rows[1]):
        runner.insert_rows(ALERT_STATE_TABLE, ALERT_STATE_COLUMNS, [state_row(row)])
    assert states.latest([EVENT_ID])[EVENT_ID] == AlertState.from_row(rows[2])
    assert [r.version for r in states.history(EVENT_ID)] == [1, 2, 3]


def racing_appends_one_wins(runner: RunnerStore, threads: int = 6) -> None:
    states = fresh(runner)
    barrier = threading.Barrier(threads)
    outcomes: list[str] = []

    def act(i: int) -> None:
        row = apply(AlertState.NEW, A.ACKNOWLEDGE, f"op-{i}", T0_MS + i, event_id=EVENT_ID)
        barrier.wait()
        try:
            states.append(row)
            outcomes.append("won")
        except StateConflictError:
            outcomes.append("conflict")

    workers = [threading.Thread(target=act, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert sorted(outcomes) == ["conflict"] * (threads - 1) + ["won"]
    assert len(states.history(EVENT_ID)) == 1


#: (statuses, assignee) filters; checked against a reference over the latest states.
FILTERS: list[tuple[tuple[str, ...], str | None]] = [
    ((), None),
    (("new",), None),
    (("acknowledged",), None),
    (("new", "resolved"), None),
    (("in_progress", "acknowledged"), None),
    (("resolved",), None),
    ((), "bob"),
    (("new",), "bob"),
    (("acknowledged", "resolved"), "bob"),
    ((), HOSTILE),
    (("new", "acknowledged", "in_progress", "resolved"), None),
]


def seed_states(states: AlertStateSqlStore, events: Sequence[Event]) -> dict[uuid.UUID, AlertState]:
    """Acts on some alerts (assigned to bob or erin, various statuses); returns each event's latest."""
    plans: list[list[AlertAction]] = [
        [],
        [A.ASSIGN],
        [A.ACKNOWLEDGE],
        [A.ASSIGN, A.START],
        [A.RESOLVE],
        [A.ASSIGN, A.ACKNOWLEDGE, A.RESOLVE],
        [A.COMMENT],
    ]
    latest: dict[uuid.UUID, AlertState] = {}
    for i, event in enumerate(events):
        state, rows = AlertState.NEW, []
        for action in plans[i % len(plans)]:
            args = (
                {**ARGS[action], "assignee": "bob" if i % 2 else "erin"}
                if action == A.ASSIGN
                else ARGS[action]
            )
            row = apply(state, action, "op", T0_MS, event_id=event.event_id, **args)
            states.append(row)
            rows.append(row)
            state = AlertState.from_row(row)
        latest[event.event_id] = latest_of(rows)
    return latest


def filtered_ids_sql(database: str, statuses: Sequence[str], assignee: str | None, bind: Binder) -> str:
    """The ids of events whose latest state passes the filter, with the runner's own binder."""
    cond = state_filter_sql(database, statuses, assignee, bind)
    return f"SELECT event_id FROM {database}.{EVENTS_TABLE} WHERE {cond}"


def state_filter_selects_the_right_events(runner: RunnerStore) -> None:
    states = fresh(runner)
    events = sample_events()
    runner.insert(events)
    latest = seed_states(states, events)
    for statuses, assignee in FILTERS:
        rows = runner.select(functools.partial(filtered_ids_sql, runner.database, statuses, assignee))
        got = {uuid.UUID(str(r[0])) for r in rows}
        expected = {
            e.event_id
            for e in events
            if (not statuses or latest[e.event_id].status in statuses)
            and (assignee is None or latest[e.event_id].assignee == assignee)
        }
        assert got == expected, (statuses, assignee)
    assert any(s.status == AlertStatus.NEW and s.version > 0 for s in latest.values())  # assigned, still new


@pytest.fixture
def db(chdb: ChdbStore) -> Iterator[ChdbStore]:
    chdb.ensure_schema()
    chdb.command(lambda bind: f"TRUNCATE TABLE {chdb.database}.{EVENTS_TABLE}")
    yield chdb


def test_contract_on_chdb(db: ChdbStore) -> None:
    alert_state_contract(db)


def test_latest_wins_whatever_the_write_order(db: ChdbStore) -> None:
    latest_wins_whatever_the_write_order(db)


def test_racing_appends_one_wins(db: ChdbStore) -> None:
    racing_appends_one_wins(db)


def test_state_filter_selects_the_right_events(db: ChdbStore) -> None:
    state_filter_selects_the_right_events(db)


@pytest.mark.parametrize(
    ("statuses", "assignee", "expected"),
    [
        ((), None, "1"),
        (("new",), None, "(event_id NOT IN (SELECT event_id FROM d.alert_state) OR event_id IN"),
        (("resolved",), None, "event_id IN (SELECT event_id FROM d.alert_state GROUP BY event_id HAVING"),
        (("new",), "bob", "argMax(status, version) IN ('new') AND argMax(assignee, version) = 'bob')"),
    ],
)
def test_state_filter_is_a_subquery_on_the_state_table(
    statuses: tuple[str, ...], assignee: str | None, expected: str
) -> None:
    cond = state_filter_sql("d", statuses, assignee, sql_literal)
    assert expected in cond
    assert "JOIN" not in cond and "events" not in cond


def test_state_filter_refuses_unknown_statuses_and_bad_databases() -> None:
    with pytest.raises(InvalidQueryError, match="unknown alert status 'closed'"):
        state_filter_sql("d", ["closed"], None, sql_literal)
    with pytest.raises(ValueError, match="database name"):
        state_filter_sql("d; DROP", ["new"], None, sql_literal)


def test_resolution_and_nobody_are_stored_as_empty_text() -> None:
    row = apply(AlertState.NEW, A.ACKNOWLEDGE, "alice", T0_MS, event_id=EVENT_ID)
    assert state_row(row)[6:8] == ("", "")
    resolved = apply(
        AlertState.from_row(row), A.RESOLVE, "alice", T0_MS, event_id=EVENT_ID, resolution=Resolution.TEST
    )
    assert state_row(resolved)[7] == "test"
