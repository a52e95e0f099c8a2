"""Plate hotlists without HTTP: lists and their entries, read and changed.

Ports: `events.hotlists.HotlistStore` and `events.hotlists.HotlistPublisher` (the composition root wires
them; without them the routes answer 503). After every store write the list's whole current state
(`HotlistChange`) is published to the workers. Failures are typed; `api.routes.hotlists.ERROR_HANDLERS`
maps them to status codes.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from api.config import ApiConfig
from api.hotlist_schemas import EntryIn
from events.faces import new_id
from events.hotlists import (
    Hotlist,
    HotlistChange,
    HotlistEntry,
    HotlistPublisher,
    HotlistStore,
    entry_match,
    hotlist_change,
    hotlist_removed,
    validate_pattern,
)
from events.ports import BusError

logger = logging.getLogger(__name__)

_ID_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


class HotlistError(Exception):
    """A refusal of the hotlist routes (each subclass has its status code)."""


class HotlistsDisabledError(HotlistError):
    """No hotlist store or publisher in this process (-> 503)."""


class HotlistNotFoundError(HotlistError):
    """No such hotlist, or no such live entry in it (-> 404)."""


class HotlistConflictError(HotlistError):
    """A list name or an entry's pattern that is taken already (-> 409)."""


class HotlistPublishError(HotlistError):
    """Stored, but the running workers could not be told (-> 503)."""


class HotlistInputError(HotlistError):
    """Values the API cannot act on (-> 422); `errors` are shaped like FastAPI's (type, loc, msg)."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__("; ".join(str(e["msg"]) for e in errors))
        self.errors = errors


def _error(loc: Sequence[str | int], msg: str, value: Any = None) -> dict[str, Any]:
    return {"type": "value_error", "loc": ["body", *loc], "msg": msg} | (
        {} if value is None else {"input": value}
    )


def _now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True, slots=True)
class HotlistBackend:
    """What the hotlist routes work with; a port left None makes the routes that need it answer 503."""

    config: ApiConfig
    store: HotlistStore | None = None
    publisher: HotlistPublisher | None = None
    now_ms: Callable[[], int] = field(default=_now_ms)

    def hotlist_store(self) -> HotlistStore:
        if self.store is None:
            raise HotlistsDisabledError("plate hotlists are not enabled in this process (no hotlist store)")
        return self.store

    def writable(self) -> HotlistStore:
        """The store, when changes can also reach the workers."""
        if self.publisher is None:
            raise HotlistsDisabledError(
                "plate hotlists cannot be changed in this process (no hotlist publisher)"
            )
        return self.hotlist_store()

    def publish(self, change: HotlistChange) -> None:
        assert self.publisher is not None  # writable() was asked first
        try:
            self.publisher.publish(change)
        except BusError as exc:
            logger.error("hotlist change %s stored but not published: %s", change.hotlist_id, exc)
            raise HotlistPublishError(
                f"saved, but the running workers could not be told ({exc}); they load it on their next start"
            ) from exc

    def publish_list(self, hotlist: Hotlist) -> list[HotlistEntry]:
        """Publishes the list with its live entries as stored now; returns those entries."""
        entries = self.hotlist_store().list_entries(hotlist.hotlist_id)
        self.publish(hotlist_change(hotlist, entries))
        return entries


# --- hotlists ------------------------------------------------------------------------------------


def get_hotlist(backend: HotlistBackend, hotlist_id: str) -> Hotlist:
    found = backend.hotlist_store().get_hotlist(hotlist_id) if _ID_RE.match(hotlist_id) else None
    if found is None:
        raise HotlistNotFoundError(f"hotlist {hotlist_id} not found")
    return found


def list_hotlists(backend: HotlistBackend) -> list[Hotlist]:
    return backend.hotlist_store().list_hotlists()


def _check_future(backend: HotlistBackend, expires_ts_ms: int | None, loc: Sequence[str | int]) -> None:
    if expires_ts_ms is not None and expires_ts_ms <= backend.now_ms():
        raise HotlistInputError([_error(loc, "the expiry is in the past", expires_ts_ms)])


def _check_name_free(backend: HotlistBackend, name: str, hotlist_id: str = "") -> None:
    key = name.strip().casefold()
    for other in backend.hotlist_store().list_hotlists():
        if other.name.strip().casefold() == key and other.hotlist_id != hotlist_id:
            raise HotlistConflictError(f"a hotlist named {other.name!r} exists already ({other.hotlist_id})")


def _validated(data: dict[str, Any]) -> Hotlist:
    try:
        return Hotlist.model_validate(data)
    except ValidationError as exc:
        raise HotlistInputError([_error(e["loc"], e["msg"]) for e in exc.errors()]) from None


def create_hotlist(backend: HotlistBackend, fields: dict[str, Any], *, actor: str) -> Hotlist:
    """A new, empty hotlist from `fields` (name and optional purpose, severity, max_distance, expiry)."""
    store = backend.writable()
    _check_future(backend, fields.get("expires_ts_ms"), ("expires_ts_ms",))
    _check_name_free(backend, str(fields["name"]))
    now = backend.now_ms()
    stamps = {"hotlist_id": new_id("hl"), "created_by": actor, "created_ts_ms": now, "updated_ts_ms": now}
    record = _validated(fields | stamps)
    store.put_hotlist(record)
    backend.publish(hotlist_change(record, []))
    return record


def update_hotlist(backend: HotlistBackend, hotlist_id: str, changes: dict[str, Any]) -> Hotlist:
    """The list's next version with `changes` (name, severity, max_distance, expires_ts_ms) applied."""
    store = backend.writable()
    current = get_hotlist(backend, hotlist_id)
    if "expires_ts_ms" in changes:
        _check_future(backend, changes["expires_ts_ms"], ("expires_ts_ms",))
    if "name" in changes:
        _check_name_free(backend, str(changes["name"]), hotlist_id)
    bump = {"version": current.version + 1, "updated_ts_ms": backend.now_ms()}
    record = _validated(current.model_dump() | changes | bump)
    store.put_hotlist(record)
    backend.publish_list(record)
    return record


def delete_hotlist(backend: HotlistBackend, hotlist_id: str) -> int:
    """Erases the list and its entries; returns how many live entries it had."""
    store = backend.writable()
    get_hotlist(backend, hotlist_id)
    entries = store.erase_hotlist(hotlist_id)
    backend.publish(hotlist_removed(hotlist_id))
    return entries


# --- entries -------------------------------------------------------------------------------------


def list_entries(backend: HotlistBackend, hotlist_id: str) -> list[HotlistEntry]:
    get_hotlist(backend, hotlist_id)
    return backend.hotlist_store().list_entries(hotlist_id)


def add_entries(
    backend: HotlistBackend, hotlist_id: str, wanted: Sequence[EntryIn], *, actor: str
) -> list[HotlistEntry]:
    """Adds the entries, all checked first (422 naming each bad pattern and its index, 409 for a pattern
    the list holds already): either every one is stored or none."""
    store = backend.writable()
    hotlist = get_hotlist(backend, hotlist_id)
    existing = {e.pattern: e.entry_id for e in store.list_entries(hotlist_id)}
    limit = backend.config.hotlist_entries_max
    if not wanted:
        raise HotlistInputError([_error((), "send at least one entry")])
    if len(existing) + len(wanted) > limit:
        msg = f"the list would hold {len(existing) + len(wanted)} entries; at most {limit} (setting)"
        raise HotlistInputError([_error((), msg)])
    now = backend.now_ms()
    records: list[HotlistEntry] = []
    errors: list[dict[str, Any]] = []
    seen: dict[str, int] = {}  # pattern -> index of its first entry
    for index, item in enumerate(wanted):
        try:
            pattern = validate_pattern(
                item.pattern,
                max_chars=backend.config.hotlist_pattern_max_chars,
                min_literal_chars=backend.config.hotlist_pattern_min_literal_chars,
            )
            match = entry_match(pattern, item.match)
        except ValueError as exc:
            errors.append(_error((index, "pattern"), f"entry {index}: {exc}", item.pattern))
            continue
        if item.expires_ts_ms is not None and item.expires_ts_ms <= now:
            errors.append(_error((index, "expires_ts_ms"), f"entry {index}: the expiry is in the past"))
        if pattern in seen:
            errors.append(
                _error((index, "pattern"), f"entry {index}: {pattern!r} repeats entry {seen[pattern]}")
            )
        seen.setdefault(pattern, index)
        fields = item.model_dump() | {"pattern": pattern, "match": match}
        # one ms apart: lists are "oldest first" (created_ts_ms, then the random id), so a batch keeps
        # the order it was sent in
        created = now + index
        records.append(
            HotlistEntry(
                entry_id=new_id("he"),
                hotlist_id=hotlist_id,
                created_by=actor,
                created_ts_ms=created,
                **fields,
            )
        )
    if errors:
        raise HotlistInputError(errors)
    taken = [
        f"{r.pattern!r} (entry {i}) is {existing[r.pattern]}"
        for i, r in enumerate(records)
        if r.pattern in existing
    ]
    if taken:
        raise HotlistConflictError(f"already in hotlist {hotlist_id}: {'; '.join(taken)}")
    store.put_entries(records)
    backend.publish_list(hotlist)
    return records


def delete_entry(backend: HotlistBackend, hotlist_id: str, entry_id: str) -> HotlistEntry:
    """Deletes a live entry of the list (a deleted version); the workers get the list without it."""
    store = backend.writable()
    hotlist = get_hotlist(backend, hotlist_id)
    live = {e.entry_id for e in store.list_entries(hotlist_id)}
    deleted = store.delete_entry(entry_id) if entry_id in live else None
    if deleted is None:
        raise HotlistNotFoundError(f"entry {entry_id} not found in hotlist {hotlist_id}")
    backend.publish_list(hotlist)
    return deleted
