"""The alert lifecycle's rules (events/alert_state.py): every action from every status, what each action
needs, the row it appends (who, when, the whole state after it), optimistic versions, and the in-memory
store's checks (one winner when actions race)."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import pytest

from events.alert_state import (
    AlertAction,
    AlertState,
    AlertStateRow,
    AlertStatus,
    IllegalTransitionError,
    MemoryAlertStateStore,
    Resolution,
    StateConflictError,
    allowed_actions,
    apply,
    latest_of,
)

EVENT_ID = uuid.UUID("00000000-0000-4000-8000-000000000001")
T0_MS = 1_795_000_000_000
A = AlertAction

#: What each action needs, so every action can be tried from every status.
ARGS: dict[AlertAction, dict[str, Any]] = {
    A.ACKNOWLEDGE: {},
    A.START: {},
    A.ASSIGN: {"assignee": "bob"},
    A.COMMENT: {"comment": "looked at the gate camera"},
    A.ESCALATE: {},
    A.RESOLVE: {"resolution": Resolution.FALSE_ALARM},
}
#: How to reach each status from new.
PATHS: dict[AlertStatus, list[AlertAction]] = {
    AlertStatus.NEW: [],
    AlertStatus.ACKNOWLEDGED: [A.ACKNOWLEDGE],
    AlertStatus.IN_PROGRESS: [A.ACKNOWLEDGE, A.START],
    AlertStatus.RESOLVED: [A.ACKNOWLEDGE, A.RESOLVE],
}
#: (status, action) -> status after it, or the words the refusal must contain.
TRANSITIONS: list[tuple[AlertStatus, AlertAction, AlertStatus | str]] = [
    (AlertStatus.NEW, A.ACKNOWLEDGE, AlertStatus.ACKNOWLEDGED),
    (AlertStatus.NEW, A.START, AlertStatus.IN_PROGRESS),
    (AlertStatus.NEW, A.ASSIGN, AlertStatus.NEW),
    (AlertStatus.NEW, A.COMMENT, AlertStatus.NEW),
    (AlertStatus.NEW, A.ESCALATE, AlertStatus.NEW),
    (AlertStatus.NEW, A.RESOLVE, AlertStatus.RESOLVED),
    (AlertStatus.ACKNOWLEDGED, A.ACKNOWLEDGE, "already acknowledged"),
    (AlertStatus.ACKNOWLEDGED, A.START, AlertStatus.IN_PROGRESS),
    (AlertStatus.ACKNOWLEDGED, A.ASSIGN, AlertStatus.ACKNOWLEDGED),
    (AlertStatus.ACKNOWLEDGED, A.COMMENT, AlertStatus.ACKNOWLEDGED),
    (AlertStatus.ACKNOWLEDGED, A.ESCALATE, AlertStatus.ACKNOWLEDGED),
    (AlertStatus.ACKNOWLEDGED, A.RESOLVE, AlertStatus.RESOLVED),
    (AlertStatus.IN_PROGRESS, A.ACKNOWLEDGE, "cannot acknowledge an alert that is in_progress"),
    (AlertStatus.IN_PROGRESS, A.START, "already in_progress"),
    (AlertStatus.IN_PROGRESS, A.ASSIGN, AlertStatus.IN_PROGRESS),
    (AlertStatus.IN_PROGRESS, A.COMMENT, AlertStatus.IN_PROGRESS),
    (AlertStatus.IN_PROGRESS, A.ESCALATE, AlertStatus.IN_PROGRESS),
    (AlertStatus.IN_PROGRESS, A.RESOLVE, AlertStatus.RESOLVED),
    (AlertStatus.RESOLVED, A.ACKNOWLEDGE, "reopening is not allowed"),
    (AlertStatus.RESOLVED, A.START, "reopening is not allowed"),
    (AlertStatus.RESOLVED, A.ASSIGN, "reopening is not allowed"),
    (AlertStatus.RESOLVED, A.COMMENT, AlertStatus.RESOLVED),
    (AlertStatus.RESOLVED, A.ESCALATE, "reopening is not allowed"),
    (AlertStatus.RESOLVED, A.RESOLVE, "reopening is not allowed"),
]


def run(actions: list[AlertAction], *, actor: str = "alice") -> list[AlertStateRow]:
    """The rows of `actions` applied in turn from new (each one second after the last)."""
    state, rows = AlertState.NEW, []
    for i, action in enumerate(actions):
        row = apply(state, action, actor, T0_MS + i * 1000, event_id=EVENT_ID, **ARGS[action])
        rows.append(row)
        state = AlertState.from_row(row)
    return rows


def test_the_table_covers_every_status_and_action() -> None:
    assert {(s, a) for s, a, _ in TRANSITIONS} == {(s, a) for s in AlertStatus for a in AlertAction}


@pytest.mark.parametrize(("status", "action", "outcome"), TRANSITIONS)
def test_every_action_from_every_status(
    status: AlertStatus, action: AlertAction, outcome: AlertStatus | str
) -> None:
    state = latest_of(run(PATHS[status]))
    assert state.status == status
    if isinstance(outcome, AlertStatus):
        row = apply(state, action, "carol", T0_MS + 60_000, event_id=EVENT_ID, **ARGS[action])
        assert (row.status, row.version, row.action) == (outcome, state.version + 1, action)
        assert (row.actor, row.ts_ms, row.event_id) == ("carol", T0_MS + 60_000, EVENT_ID)
        assert action in allowed_actions(status)
    else:
        with pytest.raises(IllegalTransitionError, match=outcome):
            apply(state, action, "carol", T0_MS + 60_000, event_id=EVENT_ID, **ARGS[action])
        assert action not in allowed_actions(status)


def test_refusals_say_what_is_allowed_now() -> None:
    state = latest_of(run([A.START]))
    with pytest.raises(IllegalTransitionError) as caught:
        apply(state, A.ACKNOWLEDGE, "carol", T0_MS, event_id=EVENT_ID)
    assert "allowed now: assign, comment, escalate, resolve" in str(caught.value)


def test_rows_carry_the_whole_state_and_who_and_when() -> None:
    rows = run([A.ASSIGN, A.ACKNOWLEDGE, A.ESCALATE, A.ESCALATE, A.COMMENT, A.RESOLVE], actor="dave")
    assert [r.version for r in rows] == [1, 2, 3, 4, 5, 6]
    assert [r.status for r in rows] == [
        AlertStatus.NEW,
        AlertStatus.ACKNOWLEDGED,
        AlertStatus.ACKNOWLEDGED,
        AlertStatus.ACKNOWLEDGED,
        AlertStatus.ACKNOWLEDGED,
        AlertStatus.RESOLVED,
    ]
    assert all(r.assignee == "bob" for r in rows)  # kept by every later action
    assert [r.escalation_level for r in rows] == [0, 0, 1, 2, 2, 2]
    assert [r.resolution for r in rows] == [None] * 5 + [Resolution.FALSE_ALARM]
    assert [r.ts_ms for r in rows] == [T0_MS + i * 1000 for i in range(6)]
    assert rows[4].comment == "looked at the gate camera" and rows[0].comment == ""
    final = latest_of(rows)
    assert final == AlertState(
        status=AlertStatus.RESOLVED,
        assignee="bob",
        resolution=Resolution.FALSE_ALARM,
        escalation_level=2,
        version=6,
        updated_by="dave",
        updated_ts_ms=T0_MS + 5000,
    )


@pytest.mark.parametrize(
    ("action", "kwargs", "message"),
    [
        (A.RESOLVE, {}, "resolve needs a resolution: true_alarm, false_alarm, test"),
        (A.ASSIGN, {}, "assign needs an assignee"),
        (A.ASSIGN, {"assignee": ""}, "assign needs an assignee"),
        (A.COMMENT, {}, "comment needs text"),
        (A.COMMENT, {"comment": "   \n"}, "comment needs text"),
        (A.ACKNOWLEDGE, {"assignee": "bob"}, "acknowledge takes no assignee"),
        (A.ESCALATE, {"resolution": Resolution.TEST}, "escalate takes no resolution"),
    ],
)
def test_what_each_action_needs(action: AlertAction, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(IllegalTransitionError, match=message):
        apply(AlertState.NEW, action, "alice", T0_MS, event_id=EVENT_ID, **kwargs)


def test_assigning_the_same_person_twice_is_refused_and_reassigning_is_not() -> None:
    state = latest_of(run([A.ASSIGN]))
    with pytest.raises(IllegalTransitionError, match="already assigned to bob"):
        apply(state, A.ASSIGN, "alice", T0_MS, event_id=EVENT_ID, assignee="bob")
    assert apply(state, A.ASSIGN, "alice", T0_MS, event_id=EVENT_ID, assignee="erin").assignee == "erin"


def test_comments_are_optional_on_other_actions_and_trimmed() -> None:
    row = apply(AlertState.NEW, A.ACKNOWLEDGE, "alice", T0_MS, event_id=EVENT_ID, comment="  on it \n")
    assert row.comment == "on it"


def test_expected_version_detects_a_state_that_moved_on() -> None:
    state = latest_of(run([A.ACKNOWLEDGE]))
    with pytest.raises(StateConflictError, match="you saw version 0, it is now version 1, acknowledged"):
        apply(state, A.START, "bob", T0_MS, event_id=EVENT_ID, expected_version=0)
    assert apply(state, A.START, "bob", T0_MS, event_id=EVENT_ID, expected_version=1).version == 2


def test_memory_store_keeps_history_and_refuses_a_stale_row() -> None:
    store = MemoryAlertStateStore()
    first, second = run([A.ACKNOWLEDGE, A.START])
    store.append(first)
    with pytest.raises(StateConflictError, match="version 1 is stored"):
        store.append(first)  # the same version again: somebody else's row is there
    store.append(second)
    assert store.history(EVENT_ID) == [first, second]
    other = uuid.uuid4()
    assert store.latest([EVENT_ID, other]) == {EVENT_ID: AlertState.from_row(second)}
    assert store.history(other) == []


def test_racing_actions_exactly_one_wins() -> None:
    """Eight operators act on the same new alert at once: each applies on version 0, one append wins."""
    store = MemoryAlertStateStore()
    barrier = threading.Barrier(8)
    outcomes: list[str] = []

    def act(i: int) -> None:
        row = apply(AlertState.NEW, A.ACKNOWLEDGE, f"op-{i}", T0_MS + i, event_id=EVENT_ID)
        barrier.wait()
        try:
            store.append(row)
            outcomes.append("won")
        except StateConflictError:
            outcomes.append("conflict")

    threads = [threading.Thread(target=act, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["conflict"] * 7 + ["won"]
    assert len(store.history(EVENT_ID)) == 1
