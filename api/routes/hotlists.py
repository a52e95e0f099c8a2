"""Plate hotlists: create / change / delete lists, add and remove entries, read them. Every change is
audited with its actor (and its `purpose` when given) and reaches the running workers as the list's
whole new state; a change the workers could not be told of answers 503 (it is stored)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from api import hotlist_services as services
from api.config import ApiConfig
from api.deps import AuditDep, ConfigDep, ContextDep, RequestAudit, require
from api.hotlist_schemas import (
    EntriesAddedOut,
    EntryIn,
    EntryListOut,
    EntryOut,
    HotlistErasedOut,
    HotlistIn,
    HotlistListOut,
    HotlistOut,
    HotlistPatch,
)
from api.hotlist_services import (
    HotlistBackend,
    HotlistConflictError,
    HotlistError,
    HotlistInputError,
    HotlistNotFoundError,
    HotlistPublishError,
    HotlistsDisabledError,
)
from api.principal import Permission, Principal
from api.schemas import ErrorOut

logger = logging.getLogger(__name__)

Reader = Annotated[Principal, require(Permission.HOTLISTS_READ)]
Writer = Annotated[Principal, require(Permission.HOTLISTS_WRITE)]
PurposeQuery = Annotated[str, Query(max_length=500, description="why (optional; audited when given)")]
#: Request bytes allowed per entry of a POST of entries (a 200-character note escaped as \\uXXXX, ...).
ENTRY_BODY_BYTES = 2048
BODY_OVERHEAD_BYTES = 64 * 1024
_AUDIT_DETAIL_CHARS = 300


def get_hotlist_backend(ctx: ContextDep) -> HotlistBackend:
    return HotlistBackend(config=ctx.config, store=ctx.hotlist_store, publisher=ctx.hotlists)


BackendDep = Annotated[HotlistBackend, Depends(get_hotlist_backend)]


@contextmanager
def _audit_failures(
    audit: RequestAudit, action: str, target: str, *, actor: Principal, purpose: str
) -> Iterator[None]:
    """Records the action as failed (with the cause) when the service refuses it."""
    try:
        yield
    except HotlistError as exc:
        detail = str(exc)[:_AUDIT_DETAIL_CHARS]
        audit.record(action, target, actor=actor, outcome="failed", purpose=purpose, detail=detail)
        raise


def _short(text: str) -> str:
    return text if len(text) <= _AUDIT_DETAIL_CHARS else text[: _AUDIT_DETAIL_CHARS - 1] + "…"


def create_hotlist(user: Writer, body: HotlistIn, backend: BackendDep, audit: AuditDep) -> HotlistOut:
    """A new, empty plate hotlist with its severity, fuzzy distance and expiry."""
    with _audit_failures(audit, "hotlist.create", "hotlists", actor=user, purpose=body.purpose):
        record = services.create_hotlist(backend, body.model_dump(), actor=user.actor)
    target = f"hotlist:{record.hotlist_id}"
    audit.record("hotlist.create", target, actor=user, purpose=body.purpose, detail=record.name)
    return HotlistOut.of(record)


def list_hotlists(user: Reader, backend: BackendDep) -> HotlistListOut:
    """Every hotlist, by name."""
    return HotlistListOut(items=[HotlistOut.of(h) for h in services.list_hotlists(backend)])


def get_hotlist(user: Reader, hotlist_id: str, backend: BackendDep) -> HotlistOut:
    return HotlistOut.of(services.get_hotlist(backend, hotlist_id))


def update_hotlist(
    user: Writer, hotlist_id: str, body: HotlistPatch, backend: BackendDep, audit: AuditDep
) -> HotlistOut:
    """Changes name, severity, fuzzy distance or expiry (null removes it)."""
    target, changes = f"hotlist:{hotlist_id}", body.changes()
    with _audit_failures(audit, "hotlist.update", target, actor=user, purpose=body.purpose):
        record = services.update_hotlist(backend, hotlist_id, changes)
    detail = ", ".join(f"{k}={v}" for k, v in changes.items()) or "nothing changed"
    audit.record("hotlist.update", target, actor=user, purpose=body.purpose, detail=_short(detail))
    return HotlistOut.of(record)


def delete_hotlist(
    user: Writer, hotlist_id: str, backend: BackendDep, audit: AuditDep, purpose: PurposeQuery = ""
) -> HotlistErasedOut:
    """Erases the list and all of its entries; the workers drop it."""
    target = f"hotlist:{hotlist_id}"
    with _audit_failures(audit, "hotlist.delete", target, actor=user, purpose=purpose):
        entries = services.delete_hotlist(backend, hotlist_id)
    audit.record("hotlist.delete", target, actor=user, purpose=purpose, detail=f"{entries} entries erased")
    return HotlistErasedOut(id=hotlist_id, entries=entries)


def list_entries(
    user: Reader,
    hotlist_id: str,
    backend: BackendDep,
    config: ConfigDep,
    limit: Annotated[
        int | None, Query(ge=1, description="items per page (default and maximum: settings)")
    ] = None,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> EntryListOut:
    """The list's live entries, oldest first."""
    size = config.page_limit_default if limit is None else limit
    if size > config.page_limit_max:
        raise RequestValidationError(
            [
                {
                    "type": "less_than_equal",
                    "loc": ("query", "limit"),
                    "msg": f"at most {config.page_limit_max}",
                }
            ]
        )
    entries = services.list_entries(backend, hotlist_id)
    items = [EntryOut.of(e) for e in entries[offset : offset + size]]
    return EntryListOut(items=items, total=len(entries), limit=size, offset=offset)


def add_entries(
    user: Writer,
    hotlist_id: str,
    body: Annotated[list[EntryIn], Body(description="the entries to add (all are checked first)")],
    backend: BackendDep,
    audit: AuditDep,
    purpose: PurposeQuery = "",
) -> EntriesAddedOut:
    """Adds entries: every one is checked first (an invalid pattern: 422 naming it and its index; a
    pattern the list holds: 409), then all are stored and the workers get the new list."""
    target = f"hotlist:{hotlist_id}"
    with _audit_failures(audit, "hotlist.entry.add", target, actor=user, purpose=purpose):
        added = services.add_entries(backend, hotlist_id, body, actor=user.actor)
    detail = f"{len(added)} entries: " + ", ".join(f"{e.entry_id} {e.pattern} ({e.match})" for e in added)
    audit.record("hotlist.entry.add", target, actor=user, purpose=purpose, detail=_short(detail))
    return EntriesAddedOut(items=[EntryOut.of(e) for e in added])


def delete_entry(
    user: Writer,
    hotlist_id: str,
    entry_id: str,
    backend: BackendDep,
    audit: AuditDep,
    purpose: PurposeQuery = "",
) -> EntryOut:
    """Removes one entry (answered as its deleted version); the workers get the list without it."""
    target = f"hotlist_entry:{entry_id}"
    with _audit_failures(audit, "hotlist.entry.remove", target, actor=user, purpose=purpose):
        deleted = services.delete_entry(backend, hotlist_id, entry_id)
    detail = f"hotlist {hotlist_id}; {deleted.pattern}"
    audit.record("hotlist.entry.remove", target, actor=user, purpose=purpose, detail=detail)
    return EntryOut.of(deleted)


#: The error responses of the hotlist routes (for the OpenAPI document).
ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorOut, "description": "no such hotlist or entry"},
    409: {"model": ErrorOut, "description": "the name or an entry's pattern is taken"},
    503: {"model": ErrorOut, "description": "hotlists are not enabled in this process, or the bus is down"},
}


def build_router(config: ApiConfig) -> APIRouter:
    router = APIRouter(prefix="/v1/hotlists", tags=["hotlists"], responses=ERRORS)
    one, entries = "/{hotlist_id}", "/{hotlist_id}/entries"
    entries_body_bytes = config.hotlist_entries_max * ENTRY_BODY_BYTES + BODY_OVERHEAD_BYTES
    add = router.add_api_route
    add("", create_hotlist, methods=["POST"], status_code=201)
    add("", list_hotlists, methods=["GET"])
    add(one, get_hotlist, methods=["GET"])
    add(one, update_hotlist, methods=["PATCH"])
    add(one, delete_hotlist, methods=["DELETE"])
    add(entries, list_entries, methods=["GET"])
    add(
        entries,
        add_entries,
        methods=["POST"],
        status_code=201,
        max_body_size=entries_body_bytes,
        responses={413: {"model": ErrorOut, "description": "a body over the size limit"}},
    )
    add(entries + "/{entry_id}", delete_entry, methods=["DELETE"])
    return router


# --- errors -> responses -------------------------------------------------------------------------


async def _input_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HotlistInputError)
    logger.info("%s %s: refused: %s", request.method, request.url.path, exc)
    return JSONResponse({"detail": exc.errors}, status_code=422)


def _plain(status: int) -> Callable[[Request, Exception], Awaitable[JSONResponse]]:
    async def handler(request: Request, exc: Exception) -> JSONResponse:
        if status >= 500:
            logger.warning("%s %s: %s", request.method, request.url.path, exc)
        return JSONResponse({"detail": str(exc)}, status_code=status)

    return handler


#: Errors of the hotlist routes and their handlers (`create_app` registers them).
ERROR_HANDLERS: dict[type[Exception], Callable[[Request, Exception], Awaitable[JSONResponse]]] = {
    HotlistInputError: _input_error,
    HotlistNotFoundError: _plain(404),
    HotlistConflictError: _plain(409),
    HotlistsDisabledError: _plain(503),
    HotlistPublishError: _plain(503),
}
