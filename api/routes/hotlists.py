"""Plate hotlists: create / change / delete lists, add and remove entries, read them. Every change is
audited with its actor (and its `purpose` when given) and reaches the running workers as the list's
whole new state; a change the workers could not be told of answers 503 (it is stored)."""

from __future__ import annotations

import logging
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query

from api import hotlist_services as services
from api.config import ApiConfig
from api.deps import AuditDep, ContextDep, require
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
from api.route_helpers import ErrorHandler, PageDep, audit_action, input_refused, plain_error, shortened
from api.schemas import ErrorOut

logger = logging.getLogger(__name__)

Reader = Annotated[Principal, require(Permission.HOTLISTS_READ)]
Writer = Annotated[Principal, require(Permission.HOTLISTS_WRITE)]
PurposeQuery = Annotated[str, Query(max_length=500, description="why (optional; audited when given)")]
#: Request bytes allowed per entry of a POST of entries (a 200-character note escaped as \\uXXXX, ...).
ENTRY_BODY_BYTES = 2048
BODY_OVERHEAD_BYTES = 64 * 1024


def get_hotlist_backend(ctx: ContextDep) -> HotlistBackend:
    return HotlistBackend(config=ctx.config, store=ctx.hotlist_store, publisher=ctx.hotlists)


BackendDep = Annotated[HotlistBackend, Depends(get_hotlist_backend)]


#: A hotlist action, audited with its outcome (refused by the service: "failed", with the cause).
hotlist_action = partial(audit_action, refusals=(HotlistError,))


def create_hotlist(user: Writer, body: HotlistIn, backend: BackendDep, audit: AuditDep) -> HotlistOut:
    """A new, empty plate hotlist with its severity, fuzzy distance and expiry."""
    with hotlist_action(audit, "hotlist.create", "hotlists", actor=user, purpose=body.purpose) as done:
        record = services.create_hotlist(backend, body.model_dump(), actor=user.actor)
        done.target, done.detail = f"hotlist:{record.hotlist_id}", record.name
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
    target = f"hotlist:{hotlist_id}"
    with hotlist_action(audit, "hotlist.update", target, actor=user, purpose=body.purpose) as done:
        record = services.update_hotlist(backend, hotlist_id, body.changes())
        done.detail = shortened(body.changes_text())
    return HotlistOut.of(record)


def delete_hotlist(
    user: Writer, hotlist_id: str, backend: BackendDep, audit: AuditDep, purpose: PurposeQuery = ""
) -> HotlistErasedOut:
    """Erases the list and all of its entries; the workers drop it."""
    target = f"hotlist:{hotlist_id}"
    with hotlist_action(audit, "hotlist.delete", target, actor=user, purpose=purpose) as done:
        entries = services.delete_hotlist(backend, hotlist_id)
        done.detail = f"{entries} entries erased"
    return HotlistErasedOut(id=hotlist_id, entries=entries)


def list_entries(user: Reader, hotlist_id: str, backend: BackendDep, page: PageDep) -> EntryListOut:
    """The list's live entries, oldest first."""
    entries = services.list_entries(backend, hotlist_id)
    items = [EntryOut.of(e) for e in page.of(entries)]
    return EntryListOut(items=items, **page.meta(len(entries)))


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
    with hotlist_action(audit, "hotlist.entry.add", target, actor=user, purpose=purpose) as done:
        added = services.add_entries(backend, hotlist_id, body, actor=user.actor)
        listed = ", ".join(f"{e.entry_id} {e.pattern} ({e.match})" for e in added)
        done.detail = shortened(f"{len(added)} entries: {listed}")
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
    with hotlist_action(audit, "hotlist.entry.remove", target, actor=user, purpose=purpose) as done:
        deleted = services.delete_entry(backend, hotlist_id, entry_id)
        done.detail = f"hotlist {hotlist_id}; {deleted.pattern}"
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


#: Errors of the hotlist routes and their handlers (`create_app` registers them).
ERROR_HANDLERS: dict[type[Exception], ErrorHandler] = {
    HotlistInputError: input_refused,
    HotlistNotFoundError: plain_error(404),
    HotlistConflictError: plain_error(409),
    HotlistsDisabledError: plain_error(503),
    HotlistPublishError: plain_error(503),
}
