"""Event history, one event, and its evidence snapshot."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response

from api import services
from api.deps import ConfigDep, DataDirDep, ListRequestDep, StoreDep
from api.schemas import ErrorOut, EventOut, EventPageOut

router = APIRouter(prefix="/v1/events", tags=["events"])

_SNAPSHOT_ERRORS: dict[int | str, dict[str, object]] = {
    400: {"model": ErrorOut, "description": "the snapshot uri resolves outside the data folder"},
    404: {
        "model": ErrorOut,
        "description": "no such event, the event has no snapshot, or the file is missing",
    },
    409: {"model": ErrorOut, "description": "the file's SHA-256 differs from the one recorded in the event"},
}


@router.get("", response_model=EventPageOut)
def list_events(req: ListRequestDep, store: StoreDep) -> EventPageOut:
    """Events, newest first, filtered by camera, type(s) and time window."""
    return services.list_events(store, req.params, limit=req.limit)


@router.get("/{event_id}", response_model=EventOut, responses={404: {"model": ErrorOut}})
def get_event(event_id: uuid.UUID, store: StoreDep) -> EventOut:
    return EventOut.from_event(services.get_event(store, event_id))


@router.get(
    "/{event_id}/snapshot",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}, "description": "the verified JPEG"}, **_SNAPSHOT_ERRORS},
)
def get_event_snapshot(
    event_id: uuid.UUID, store: StoreDep, data_dir: DataDirDep, config: ConfigDep
) -> Response:
    """The evidence JPEG, served only when its SHA-256 matches the event (sent as `X-Content-SHA256`)."""
    snap = services.load_verified_snapshot(store, data_dir, event_id, max_bytes=config.snapshot_max_bytes)
    return Response(
        content=snap.content,
        media_type="image/jpeg",
        headers={
            "X-Content-SHA256": snap.sha256,
            "ETag": f'"{snap.sha256}"',
            "Cache-Control": "private, max-age=60",
            "X-Content-Type-Options": "nosniff",
        },
    )
