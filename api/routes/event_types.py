"""The event types this deployment produces, with titles and attribute schemas (for consoles, docs)."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import CurrentUser, EventTypesDep
from api.schemas import EventTypeOut

router = APIRouter(prefix="/v1/event-types", tags=["events"])


@router.get("", response_model=list[EventTypeOut])
def list_event_types(user: CurrentUser, event_types: EventTypesDep) -> list[EventTypeOut]:
    """Every known event type (any signed-in caller); events of newer types are still stored and served."""
    return list(event_types)
