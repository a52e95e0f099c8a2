"""What the alert routes do, without HTTP: pages of alerts with their state and SOP, one alert with its
history, and actions (scope checked, transition applied, row appended, audited).

An alert the caller's camera scope does not cover is answered exactly like one that does not exist
(`NotFoundError` -> 404), so a scoped operator cannot learn that another camera's alert exists.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from api import services
from api.alert_schemas import ActionModel, AlertStateOut
from api.deps import RequestAudit
from api.principal import Principal
from api.schemas import EventListParams
from events.alert_state import (
    AlertAction,
    AlertState,
    AlertStateRow,
    AlertStateStore,
    IllegalTransitionError,
    StateConflictError,
    apply,
)
from events.auth import CameraScope
from events.ports import EventStore
from events.schema import Event

logger = logging.getLogger(__name__)

#: (camera_id, rule_id) -> the rule's SOP ("" when none).
SopLookup = Callable[[str, str], str]


class AlertsDisabledError(RuntimeError):
    """This process has no alert state store: alerts can be read (all new) but not acted on (-> 503)."""


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert as the lifecycle sees it: the immutable event, its state now, its rule's SOP."""

    event: Event
    state: AlertState
    sop: str
    history: list[AlertStateRow] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class AlertBackend:
    """What the alert services read and write (the API context's parts, gathered per request)."""

    store: EventStore
    states: AlertStateStore | None
    sops: SopLookup | None

    def sop(self, camera_id: str, rule_id: str) -> str:
        return self.sops(camera_id, rule_id) if self.sops is not None else ""

    def latest(self, event_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, AlertState]:
        if self.states is None or not event_ids:
            return {}
        return self.states.latest(event_ids)

    def history(self, event_id: uuid.UUID) -> list[AlertStateRow]:
        return [] if self.states is None else self.states.history(event_id)


def list_alerts_json(
    backend: AlertBackend, params: EventListParams, *, limit: int, scope: CameraScope
) -> bytes:
    """`list_alerts` as its JSON (`AlertListOut`'s schema), written from the events without building
    a model per item: the page's serialisation is most of the request's cost otherwise."""
    events, meta = services.alert_page(backend.store, params, limit=limit, scope=scope)
    latest = backend.latest([e.event_id for e in events])
    sops: dict[tuple[str, str], str] = {}
    items = []
    for event in events:
        key = (event.camera_id, event.rule_id)
        if key not in sops:
            sops[key] = backend.sop(*key)
        state = AlertStateOut.from_state(latest.get(event.event_id, AlertState.NEW))
        items.append(services.event_json(event, state=state.model_dump(mode="json"), sop=sops[key]))
    return services.page_json(items, meta)


def visible_alert(store: EventStore, event_id: uuid.UUID, scope: CameraScope) -> Event:
    """The alert if it exists, is an alert and `scope` covers its camera; else `NotFoundError`, with one
    message for all three."""
    event = store.get(event_id)
    if event is None or not event.alert or not scope.allows(event.camera_id, event.site_id):
        raise services.NotFoundError(f"alert {event_id} not found")
    return event


def get_alert(backend: AlertBackend, event_id: uuid.UUID, scope: CameraScope) -> Alert:
    event = visible_alert(backend.store, event_id, scope)
    history = backend.history(event_id)
    state = AlertState.from_row(history[-1]) if history else AlertState.NEW
    return Alert(event, state, backend.sop(event.camera_id, event.rule_id), history)


def act(
    backend: AlertBackend,
    event_id: uuid.UUID,
    request: ActionModel,
    *,
    principal: Principal,
    ts_ms: int,
    audit: RequestAudit,
) -> Alert:
    """Applies one action for `principal`; the alert with its new state and history.

    `IllegalTransitionError` / `StateConflictError` (-> 409) are audited as failed attempts.
    """
    if backend.states is None:
        raise AlertsDisabledError("alert actions are not enabled in this process (no alert state store)")
    event = visible_alert(backend.store, event_id, principal.scope)
    action = AlertAction(request.action)
    target = f"event:{event_id}"
    history = backend.states.history(event_id)
    state = AlertState.from_row(history[-1]) if history else AlertState.NEW
    try:
        row = apply(
            state,
            action,
            principal.actor,
            ts_ms,
            event_id=event_id,
            assignee=getattr(request, "assignee", None),
            resolution=getattr(request, "resolution", None),
            comment=request.comment,
            expected_version=request.expected_version,
        )
        backend.states.append(row)
    except (IllegalTransitionError, StateConflictError) as exc:
        audit.record(f"alert.{action.value}", target, actor=principal, outcome="failed", detail=str(exc))
        raise
    audit.record(f"alert.{action.value}", target, actor=principal, detail=_detail(row))
    logger.info("alert %s: %s by %s (v%d, %s)", event_id, action.value, row.actor, row.version, row.status)
    return Alert(
        event, AlertState.from_row(row), backend.sop(event.camera_id, event.rule_id), [*history, row]
    )


def _detail(row: AlertStateRow) -> str:
    """What the audit trail keeps of an action: the state it left (the comment stays in the history)."""
    parts = [f"v{row.version}", f"status={row.status.value}"]
    if row.action == AlertAction.ASSIGN:
        parts.append(f"assignee={row.assignee}")
    if row.action == AlertAction.RESOLVE and row.resolution is not None:
        parts.append(f"resolution={row.resolution.value}")
    if row.action == AlertAction.ESCALATE:
        parts.append(f"level={row.escalation_level}")
    return " ".join(parts)
