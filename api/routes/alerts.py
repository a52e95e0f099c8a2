"""Alerts: events with `alert=true`, newest first, each with its lifecycle state and its rule's SOP;
counts by type; one alert with its history; actions on it (acknowledge, start, assign, comment, escalate,
resolve). Every query is limited to the caller's camera scope; another camera's alert answers 404."""

from __future__ import annotations

import time
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Response

from api import alert_services, services
from api.alert_schemas import ActionModel, AlertDetailOut, AlertListOut, AlertOut
from api.alert_services import AlertBackend
from api.deps import AuditDep, ContextDep, EventTypesDep, ListRequestDep, StoreDep, require
from api.principal import Permission, Principal
from api.schemas import AlertCountsOut, ErrorOut, TimeWindowParams

router = APIRouter(prefix="/v1/alerts", tags=["alerts"])

Reader = Annotated[Principal, require(Permission.ALERTS_READ)]
Actor = Annotated[Principal, require(Permission.ALERTS_ACT)]
#: Paths with an event id accept only a UUID, so `/v1/alerts/live` and `/v1/alerts/counts` never match them.
_ONE = "/{event_id:uuid}"
_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorOut, "description": "no such alert (or not in your camera scope)"}
}


def get_alert_backend(ctx: ContextDep) -> AlertBackend:
    return AlertBackend(store=ctx.store, states=ctx.alert_states, sops=ctx.rule_sops)


AlertBackendDep = Annotated[AlertBackend, Depends(get_alert_backend)]


@router.get("", response_model=AlertListOut)
def list_alerts(user: Reader, req: ListRequestDep, backend: AlertBackendDep, ctx: ContextDep) -> Response:
    """Alerts, newest first, with the filters of `/v1/events` (status and assignee among them), each with
    its lifecycle state and SOP. An identical page is served from memory for up to
    `alerts_cache_ttl_s` (1 s), never after a new alert or an action seen by this process."""
    key = (req.params.model_dump_json(), req.limit, user.scope.sites, user.scope.cameras)
    body = ctx.alert_pages.get(
        key, lambda: alert_services.list_alerts_json(backend, req.params, limit=req.limit, scope=user.scope)
    )
    return Response(body, media_type="application/json")


@router.get("/counts", response_model=AlertCountsOut)
def count_alerts(
    user: Reader,
    window: Annotated[TimeWindowParams, Query()],
    store: StoreDep,
    event_types: EventTypesDep,
) -> AlertCountsOut:
    """Alerts per event type for a camera and time window (all types, zeros included)."""
    return services.count_alerts(store, window, [t.type for t in event_types], scope=user.scope)


@router.get(_ONE, response_model=AlertDetailOut, responses=_NOT_FOUND)
def get_alert(user: Reader, event_id: uuid.UUID, backend: AlertBackendDep) -> AlertDetailOut:
    """One alert with its state, SOP and every action taken on it (oldest first)."""
    alert = alert_services.get_alert(backend, event_id, user.scope)
    return AlertDetailOut.with_history(alert.event, alert.state, alert.sop, alert.history)


@router.post(
    f"{_ONE}/actions",
    response_model=AlertOut,
    responses={
        **_NOT_FOUND,
        409: {
            "model": ErrorOut,
            "description": "not allowed from the alert's state, or it changed meanwhile",
        },
        503: {"model": ErrorOut, "description": "alert actions are not enabled in this process"},
    },
)
def act_on_alert(
    user: Actor,
    event_id: uuid.UUID,
    action: Annotated[ActionModel, Body(discriminator="action")],
    backend: AlertBackendDep,
    audit: AuditDep,
    ctx: ContextDep,
) -> AlertOut:
    """Acknowledge, start, assign, comment, escalate or resolve; answers the alert with its new state."""
    try:
        alert = alert_services.act(
            backend, event_id, action, principal=user, ts_ms=int(time.time() * 1000), audit=audit
        )
    finally:
        ctx.alert_pages.invalidate()  # the action changed (or may have changed) a listed state
    return AlertOut.of(alert.event, alert.state, alert.sop)
