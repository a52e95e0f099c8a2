"""Request and response models of the alert lifecycle (`/v1/alerts`, one alert, its actions).

An alert is served as the event (as `/v1/events` serves it) plus its lifecycle `state` and the `sop`
(standard operating procedure) of the rule that raised it; one alert adds its `history`, oldest first.
An action is a JSON object tagged by `action`, each kind with exactly the fields it takes.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from api.public_events import public_event
from api.schemas import EventOut, PageMeta, snapshot_url_for
from events.alert_state import AlertState, AlertStateRow, AlertStatus, Resolution
from events.auth import NAME_MAX_LENGTH, NAME_PATTERN
from events.schema import Event

#: Longest comment an action may carry (characters).
COMMENT_MAX_CHARS = 2000


class AlertStateOut(BaseModel):
    """Where an alert stands in its lifecycle; version 0 = nobody has acted on it."""

    status: AlertStatus
    assignee: str | None = Field(description="who is assigned; null = nobody")
    resolution: Resolution | None = Field(description="set when resolved")
    escalation_level: int = Field(ge=0, description="how many times it was escalated")
    version: int = Field(ge=0, description="0 = never acted on; send it back as expected_version")
    updated_by: str | None = Field(description="who acted last; null when nobody has")
    updated_ts_ms: int | None = Field(description="UTC epoch ms of the last action; null when none")

    @classmethod
    def from_state(cls, state: AlertState) -> AlertStateOut:
        return cls(
            status=state.status,
            assignee=state.assignee,
            resolution=state.resolution,
            escalation_level=state.escalation_level,
            version=state.version,
            updated_by=state.updated_by,
            updated_ts_ms=state.updated_ts_ms,
        )


class AlertOut(EventOut):
    """An alert: the event, its lifecycle state, and the SOP of the rule that raised it."""

    state: AlertStateOut
    sop: str = Field(description="the rule's standard operating procedure; '' when it has none")

    @classmethod
    def of(cls, event: Event | EventOut, state: AlertState, sop: str) -> AlertOut:
        url = snapshot_url_for(event.event_id) if event.snapshot is not None else None
        public = public_event(event) if isinstance(event, Event) else event
        fields = {**public.model_dump(), "snapshot_url": url, "state": AlertStateOut.from_state(state)}
        return cls.model_validate({**fields, "sop": sop})


class AlertHistoryOut(BaseModel):
    """One action on an alert and the state it left."""

    version: int = Field(ge=1)
    action: str = Field(description="acknowledge, start, assign, comment, escalate or resolve")
    actor: str
    ts_ms: int = Field(ge=0, description="UTC epoch ms")
    status: AlertStatus
    assignee: str | None
    resolution: Resolution | None
    escalation_level: int = Field(ge=0)
    comment: str

    @classmethod
    def from_row(cls, row: AlertStateRow) -> AlertHistoryOut:
        return cls(
            version=row.version,
            action=row.action.value,
            actor=row.actor,
            ts_ms=row.ts_ms,
            status=row.status,
            assignee=row.assignee,
            resolution=row.resolution,
            escalation_level=row.escalation_level,
            comment=row.comment,
        )


class AlertDetailOut(AlertOut):
    """One alert with every action taken on it, oldest first."""

    history: list[AlertHistoryOut]

    @classmethod
    def with_history(
        cls, event: Event, state: AlertState, sop: str, history: list[AlertStateRow]
    ) -> AlertDetailOut:
        alert = AlertOut.of(event, state, sop)
        return cls.model_validate(
            {**alert.model_dump(), "history": [AlertHistoryOut.from_row(r) for r in history]}
        )


class AlertListOut(PageMeta):
    """A page of alerts, newest first; `next_cursor` fetches the next (older) page."""

    items: list[AlertOut]


_Comment = Annotated[
    str, Field(max_length=COMMENT_MAX_CHARS, description="a note kept in the history (optional)")
]
_ExpectedVersion = Annotated[
    int | None,
    Field(ge=0, description="the state.version you saw: 409 when the alert has changed since"),
]


class _Action(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    comment: _Comment = ""
    expected_version: _ExpectedVersion = None


class AcknowledgeIn(_Action):
    """new -> acknowledged."""

    action: Literal["acknowledge"]


class StartIn(_Action):
    """new or acknowledged -> in_progress."""

    action: Literal["start"]


class AssignIn(_Action):
    """Assigns the alert to a user (the status stays)."""

    action: Literal["assign"]
    assignee: str = Field(min_length=1, max_length=NAME_MAX_LENGTH, pattern=NAME_PATTERN)


class CommentIn(_Action):
    """Adds a note (allowed on resolved alerts too; the status stays)."""

    action: Literal["comment"]
    comment: str = Field(
        min_length=1, max_length=COMMENT_MAX_CHARS, pattern=r"\S", description="the note (not blank)"
    )


class EscalateIn(_Action):
    """Raises the escalation level by one (the status stays)."""

    action: Literal["escalate"]


class ResolveIn(_Action):
    """Closes the alert with its outcome; a resolved alert is not reopened."""

    action: Literal["resolve"]
    resolution: Resolution


#: The kinds of action (tagged by `action`); `ActionIn` is the validated union.
ActionModel = AcknowledgeIn | StartIn | AssignIn | CommentIn | EscalateIn | ResolveIn
ActionIn = Annotated[ActionModel, Field(discriminator="action")]
