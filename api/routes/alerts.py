"""Alerts: events with `alert=true`, newest first, and their counts by type."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api import services
from api.deps import EventTypesDep, ListRequestDep, StoreDep
from api.schemas import AlertCountsOut, AlertPageOut, TimeWindowParams

router = APIRouter(prefix="/v1/alerts", tags=["alerts"])


@router.get("", response_model=AlertPageOut)
def list_alerts(req: ListRequestDep, store: StoreDep) -> AlertPageOut:
    """Alerts, newest first, with the same filters and page shape as `/v1/events`."""
    return services.list_alerts(store, req.params, limit=req.limit)


@router.get("/counts", response_model=AlertCountsOut)
def count_alerts(
    window: Annotated[TimeWindowParams, Query()], store: StoreDep, event_types: EventTypesDep
) -> AlertCountsOut:
    """Alerts per event type for a camera and time window (all types, zeros included)."""
    return services.count_alerts(store, window, [t.type for t in event_types])
