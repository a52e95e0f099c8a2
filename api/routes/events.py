"""Event history (filters, cursor pages), aggregates, exports, one event, and its evidence snapshot.

Every route is limited to the caller's camera scope: an event of another camera is never listed,
counted or exported, and asking for it by id answers 404 exactly like an id that does not exist.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Query, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse

from api import export, services
from api.config import ApiConfig
from api.deps import AuditDep, ConfigDep, DataDirDep, ForbiddenError, ListRequestDep, StoreDep, require
from api.principal import Permission, Principal
from api.schemas import (
    LIMIT_SETTING_KEY,
    ErrorOut,
    EventAggregateParams,
    EventAggregatesOut,
    EventExportParams,
    EventOut,
    EventPageOut,
)
from events.auth import Role
from events.store.sql import InvalidQueryError

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/v1/events", tags=["events"])

#: The purpose an operator's snapshot view is audited with when they state none.
OPERATOR_SNAPSHOT_PURPOSE = "alert handling"

EventsReader = Annotated[Principal, require(Permission.EVENTS_READ)]

_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorOut, "description": "no such event, or its camera is outside your scope"}
}
_SNAPSHOT_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "the snapshot uri resolves outside the data folder"},
    403: {"model": ErrorOut, "description": "no `purpose` given (only operators have a default)"},
    404: {
        "model": ErrorOut,
        "description": "no such event, its camera is outside your scope, it has no snapshot, or the file "
        "is missing",
    },
    409: {"model": ErrorOut, "description": "the file's SHA-256 differs from the one recorded in the event"},
}


@router.get("", response_model=EventPageOut)
def list_events(req: ListRequestDep, store: StoreDep, user: EventsReader) -> Response:
    """Events, newest first, filtered by cameras, types, rules, labels, free text, alert status,
    assignee and time window. Follow `next_cursor` for the next page (stable while events arrive)."""
    body = services.list_events_json(store, req.params, limit=req.limit, scope=user.scope)
    return Response(body, media_type="application/json")


@router.get("/aggregates", response_model=EventAggregatesOut)
def aggregate_events(
    params: Annotated[EventAggregateParams, Query()], store: StoreDep, user: EventsReader
) -> EventAggregatesOut:
    """Counts of the matching events per type, camera or UTC hour (the same filters as the list)."""
    return services.aggregate_events(store, params, scope=user.scope)


@router.get(
    "/export",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {media: {} for media in export.MEDIA_TYPES.values()},
            "description": "the events, newest first, streamed as CSV or Parquet (one row group per page)",
        },
    },
)
def export_events(
    params: Annotated[EventExportParams, Query()],
    store: StoreDep,
    config: ConfigDep,
    audit: AuditDep,
    user: Annotated[Principal, require(Permission.EXPORTS)],
) -> StreamingResponse:
    """The matching events as a file (attachment), audited as `export` with its stated purpose.
    422 when more events match than one export may hold (the `export_max_rows` setting)."""
    q = services.filter_query(params, scope=user.scope)
    total = 0 if params.empty_window else export.count_for_export(store, q, max_rows=config.export_max_rows)
    audit.record(
        "export",
        f"events:{params.format}",
        actor=user,
        purpose=params.purpose,
        detail=f"{total} events; filters {_filters(params)}",
    )
    pages = (
        iter(())
        if total == 0
        else export.event_pages(store, q, page_rows=config.export_page_rows, max_rows=config.export_max_rows)
    )
    chunks = export.csv_chunks(pages) if params.format == "csv" else export.parquet_chunks(pages)
    name = f"anfang-events-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.{params.format}"
    return StreamingResponse(
        chunks,
        media_type=export.MEDIA_TYPES[params.format],
        headers={"Content-Disposition": f'attachment; filename="{name}"', "X-Total-Count": str(total)},
    )


def _filters(params: EventExportParams) -> str:
    given = params.model_dump(exclude_defaults=True, exclude={"purpose", "format"}, mode="json")
    return ", ".join(f"{k}={v}" for k, v in sorted(given.items())) or "none"


@router.get("/{event_id}", response_model=EventOut, responses=_NOT_FOUND)
def get_event(event_id: uuid.UUID, store: StoreDep, user: EventsReader) -> EventOut:
    return EventOut.from_event(services.get_event(store, event_id, user.scope))


@router.get(
    "/{event_id}/snapshot",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}, "description": "the verified JPEG"}, **_SNAPSHOT_ERRORS},
)
def get_event_snapshot(
    event_id: uuid.UUID,
    store: StoreDep,
    data_dir: DataDirDep,
    config: ConfigDep,
    audit: AuditDep,
    user: Annotated[Principal, require(Permission.SNAPSHOTS_READ)],
    purpose: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=500,
            description=f"why you view it (audited); operators default to {OPERATOR_SNAPSHOT_PURPOSE!r}, "
            "other roles must state one (403 otherwise)",
        ),
    ] = None,
) -> Response:
    """The evidence JPEG, served only when its SHA-256 matches the event (sent as `X-Content-SHA256`);
    each view is audited as `snapshot.view` with its purpose."""
    stated = purpose or (OPERATOR_SNAPSHOT_PURPOSE if user.role == Role.OPERATOR else None)
    target = f"event:{event_id}"
    if stated is None:
        audit.record("snapshot.view", target, actor=user, outcome="denied", detail="no purpose stated")
        raise ForbiddenError("state why you view this snapshot: add ?purpose=...")
    try:
        snap = services.load_verified_snapshot(
            store, data_dir, event_id, max_bytes=config.snapshot_max_bytes, scope=user.scope
        )
    except services.NotFoundError:
        audit.record(
            "snapshot.view", target, actor=user, outcome="failed", purpose=stated, detail="not found"
        )
        raise
    audit.record("snapshot.view", target, actor=user, purpose=stated)
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


async def _unprocessable(request: Request, exc: Exception) -> JSONResponse:
    """422 shaped like FastAPI's own validation errors (what the OpenAPI document promises)."""
    logger.info("%s %s: refused: %s", request.method, request.url.path, exc)
    return JSONResponse(
        {"detail": [{"type": "value_error", "loc": ["query"], "msg": str(exc)}]}, status_code=422
    )


#: Errors of these routes and their handlers (`create_app` registers them).
ERROR_HANDLERS: dict[type[Exception], Callable[[Request, Exception], Awaitable[JSONResponse]]] = {
    services.InvalidCursorError: _unprocessable,
    export.ExportTooLargeError: _unprocessable,
    InvalidQueryError: _unprocessable,
}


def publish_limit_settings(app: FastAPI, config: ApiConfig) -> None:
    """Writes the configured maxima into the OpenAPI document, where query parameters carry
    `LIMIT_SETTING_KEY`: a request the document allows is one the API accepts."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = generate()
            for path in document.get("paths", {}).values():
                for operation in path.values():
                    for parameter in operation.get("parameters", []) if isinstance(operation, dict) else []:
                        _apply_maximum(parameter.get("schema", {}), config)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _apply_maximum(schema: dict[str, Any], config: ApiConfig) -> None:
    setting = schema.get(LIMIT_SETTING_KEY)
    if not isinstance(setting, str):
        return
    maximum = int(getattr(config, setting))
    for branch in [schema, *schema.get("anyOf", [])]:
        if branch.get("type") == "integer":
            branch["maximum"] = maximum
