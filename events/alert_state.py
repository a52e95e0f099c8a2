"""The alert lifecycle: versioned state rows beside the immutable event, and the rules that move them.

An alert starts `new` (no row at all, version 0). Each action an operator takes appends one
`AlertStateRow` carrying the whole state after it (status, assignee, resolution, escalation level),
who did it and when; the latest version wins. Rows are never changed, so the history is the rows.

    new ──acknowledge──► acknowledged ──start──► in_progress ──resolve──► resolved (closed)
     └──────────start / resolve (straight from new or acknowledged) ──────────┘

`assign`, `comment` and `escalate` keep the status; `comment` is allowed on resolved alerts too (notes
after the fact); nothing else is: a resolved alert is not reopened. `apply` is pure: it checks the move
and returns the row to append; the store checks that nobody appended in between.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar, Protocol


class AlertStatus(StrEnum):
    NEW = "new"
    ACKNOWLEDGED = "acknowledged"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"


class Resolution(StrEnum):
    TRUE_ALARM = "true_alarm"
    FALSE_ALARM = "false_alarm"
    TEST = "test"


class AlertAction(StrEnum):
    ACKNOWLEDGE = "acknowledge"
    START = "start"
    ASSIGN = "assign"
    COMMENT = "comment"
    ESCALATE = "escalate"
    RESOLVE = "resolve"


class IllegalTransitionError(ValueError):
    """The action is not allowed from the alert's current state, or lacks what it needs (-> 409)."""


class StateConflictError(RuntimeError):
    """The alert's state moved on since the caller read it (another action won) (-> 409)."""


@dataclass(frozen=True, slots=True)
class AlertStateRow:
    """One action on an alert and the state it left: immutable, `version` 1, 2, ... per event."""

    event_id: uuid.UUID
    version: int
    action: AlertAction
    actor: str
    ts_ms: int
    status: AlertStatus
    assignee: str | None
    resolution: Resolution | None
    escalation_level: int
    comment: str = ""


@dataclass(frozen=True, slots=True)
class AlertState:
    """An alert's state now: its latest row's, or `AlertState.NEW` (version 0) when nobody acted."""

    status: AlertStatus
    assignee: str | None
    resolution: Resolution | None
    escalation_level: int
    version: int
    updated_by: str | None
    updated_ts_ms: int | None

    NEW: ClassVar[AlertState]

    @classmethod
    def from_row(cls, row: AlertStateRow) -> AlertState:
        return cls(
            status=row.status,
            assignee=row.assignee,
            resolution=row.resolution,
            escalation_level=row.escalation_level,
            version=row.version,
            updated_by=row.actor,
            updated_ts_ms=row.ts_ms,
        )


AlertState.NEW = AlertState(
    status=AlertStatus.NEW,
    assignee=None,
    resolution=None,
    escalation_level=0,
    version=0,
    updated_by=None,
    updated_ts_ms=None,
)

#: Statuses each status-changing action may start from (the others keep the status).
_ALLOWED_FROM: dict[AlertAction, frozenset[AlertStatus]] = {
    AlertAction.ACKNOWLEDGE: frozenset({AlertStatus.NEW}),
    AlertAction.START: frozenset({AlertStatus.NEW, AlertStatus.ACKNOWLEDGED}),
    AlertAction.RESOLVE: frozenset({AlertStatus.NEW, AlertStatus.ACKNOWLEDGED, AlertStatus.IN_PROGRESS}),
    AlertAction.ASSIGN: frozenset({AlertStatus.NEW, AlertStatus.ACKNOWLEDGED, AlertStatus.IN_PROGRESS}),
    AlertAction.ESCALATE: frozenset({AlertStatus.NEW, AlertStatus.ACKNOWLEDGED, AlertStatus.IN_PROGRESS}),
    AlertAction.COMMENT: frozenset(AlertStatus),
}
_STATUS_AFTER: dict[AlertAction, AlertStatus] = {
    AlertAction.ACKNOWLEDGE: AlertStatus.ACKNOWLEDGED,
    AlertAction.START: AlertStatus.IN_PROGRESS,
    AlertAction.RESOLVE: AlertStatus.RESOLVED,
}


def allowed_actions(status: AlertStatus) -> list[AlertAction]:
    """The actions `apply` accepts from `status` (given what each needs), in declaration order."""
    return [a for a in AlertAction if status in _ALLOWED_FROM[a]]


def _refusal(state: AlertState, action: AlertAction) -> str:
    if state.status == AlertStatus.RESOLVED:
        return (
            f"cannot {action.value} a resolved alert (resolved as {_text(state.resolution)} by "
            f"{state.updated_by or 'unknown'}): resolved alerts are closed and reopening is not allowed; "
            "only comments can still be added"
        )
    if state.status == _STATUS_AFTER.get(action):
        return f"the alert is already {state.status.value}"
    allowed = ", ".join(a.value for a in allowed_actions(state.status))
    return f"cannot {action.value} an alert that is {state.status.value} (allowed now: {allowed})"


def _text(value: Resolution | None) -> str:
    return value.value if value is not None else "unknown"


def apply(
    state: AlertState,
    action: AlertAction,
    actor: str,
    ts_ms: int,
    *,
    event_id: uuid.UUID,
    assignee: str | None = None,
    resolution: Resolution | None = None,
    comment: str = "",
    expected_version: int | None = None,
) -> AlertStateRow:
    """The row `action` appends to an alert in `state`, or `IllegalTransitionError` saying why not.

    `expected_version`: the version the caller saw; `StateConflictError` when the state moved on.
    """
    if expected_version is not None and expected_version != state.version:
        raise StateConflictError(
            f"the alert changed since you read it (you saw version {expected_version}, it is now "
            f"version {state.version}, {state.status.value}, by {state.updated_by or 'nobody'}): "
            "reload and try again"
        )
    if not actor:
        raise IllegalTransitionError("an action needs an actor")
    if state.status not in _ALLOWED_FROM[action]:
        raise IllegalTransitionError(_refusal(state, action))
    comment = comment.strip()
    new_assignee, new_resolution, level = state.assignee, state.resolution, state.escalation_level
    if action == AlertAction.ASSIGN:
        if not assignee:
            raise IllegalTransitionError("assign needs an assignee")
        if assignee == state.assignee:
            raise IllegalTransitionError(f"the alert is already assigned to {assignee}")
        new_assignee = assignee
    elif assignee is not None:
        raise IllegalTransitionError(f"{action.value} takes no assignee (use assign)")
    if action == AlertAction.RESOLVE:
        if resolution is None:
            raise IllegalTransitionError(
                "resolve needs a resolution: " + ", ".join(r.value for r in Resolution)
            )
        new_resolution = resolution
    elif resolution is not None:
        raise IllegalTransitionError(f"{action.value} takes no resolution (use resolve)")
    if action == AlertAction.COMMENT and not comment:
        raise IllegalTransitionError("comment needs text")
    if action == AlertAction.ESCALATE:
        level += 1
    return AlertStateRow(
        event_id=event_id,
        version=state.version + 1,
        action=action,
        actor=actor,
        ts_ms=ts_ms,
        status=_STATUS_AFTER.get(action, state.status),
        assignee=new_assignee,
        resolution=new_resolution,
        escalation_level=level,
        comment=comment,
    )


def latest_of(rows: Sequence[AlertStateRow]) -> AlertState:
    """The state the rows leave (the highest version's), or `AlertState.NEW` for none."""
    if not rows:
        return AlertState.NEW
    return AlertState.from_row(max(rows, key=lambda r: r.version))


class AlertStateStore(Protocol):
    def ensure_schema(self) -> None:
        """Create the table if missing. Idempotent."""
        ...

    def append(self, row: AlertStateRow) -> None:
        """Appends `row` if the event's latest version is `row.version - 1`, else `StateConflictError`."""
        ...

    def latest(self, event_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, AlertState]:
        """The latest state of each of these events that has a row (events without one are new)."""
        ...

    def history(self, event_id: uuid.UUID) -> list[AlertStateRow]:
        """Every row of the event, oldest (version 1) first."""
        ...


class MemoryAlertStateStore:
    """`AlertStateStore` in a dict (tests, and processes without a database); same checks as SQL's."""

    def __init__(self) -> None:
        self._rows: dict[uuid.UUID, list[AlertStateRow]] = {}
        self._lock = threading.Lock()

    def ensure_schema(self) -> None:
        pass

    def append(self, row: AlertStateRow) -> None:
        with self._lock:
            rows = self._rows.setdefault(row.event_id, [])
            check_next_version(row, len(rows))
            rows.append(row)

    def latest(self, event_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, AlertState]:
        with self._lock:
            return {i: latest_of(self._rows[i]) for i in event_ids if self._rows.get(i)}

    def history(self, event_id: uuid.UUID) -> list[AlertStateRow]:
        with self._lock:
            return list(self._rows.get(event_id, ()))


def check_next_version(row: AlertStateRow, latest_version: int) -> None:
    """`StateConflictError` unless `row` is the version right after the stored `latest_version`."""
    if row.version != latest_version + 1:
        raise StateConflictError(
            f"the alert changed meanwhile (version {latest_version} is stored, this action was based on "
            f"version {row.version - 1}): reload and try again"
        )
