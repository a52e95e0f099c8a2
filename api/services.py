"""What the routes do, without HTTP: store queries, paging, evidence integrity checks.

Failures are typed (`NotFoundError`, `SnapshotPathError`, `SnapshotIntegrityError`, ...); `api.app`
maps them to status codes. `StoreError` from the store passes through (-> 503).
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from api.schemas import (
    AlertCountsOut,
    AlertOut,
    AlertPageOut,
    EventListParams,
    EventOut,
    EventPageOut,
    TimeWindowParams,
)
from events.ports import EventQuery, EventStore
from events.schema import Event

logger = logging.getLogger(__name__)


class NotFoundError(LookupError):
    """The event, its snapshot, or the snapshot's file does not exist (-> 404)."""


class SnapshotPathError(ValueError):
    """A snapshot uri that resolves outside the data folder or names no file (-> 400)."""


class SnapshotIntegrityError(RuntimeError):
    """The snapshot file's SHA-256 differs from the one recorded in the event (-> 409)."""


class SnapshotUnreadableError(RuntimeError):
    """The snapshot file exists but cannot be served: unreadable or over the size limit (-> 500)."""


@dataclass(frozen=True, slots=True)
class VerifiedSnapshot:
    content: bytes
    sha256: str


def check_store(store: EventStore) -> str | None:
    """None when the store answers a cheap query, else the cause (never raises)."""
    try:
        store.query(EventQuery(limit=1))
    except Exception as exc:  # readiness must report any failure, whatever its type (logged by the probe)
        return f"{type(exc).__name__}: {exc}"
    return None


def _to_query(params: EventListParams, *, limit: int, alerts_only: bool) -> EventQuery:
    since_ms, until_ms = params.window_ms()
    return EventQuery(
        camera_id=params.camera_id,
        types=tuple(dict.fromkeys(params.type)),
        since_ms=since_ms,
        until_ms=until_ms,
        alerts_only=alerts_only,
        limit=limit,
        offset=params.offset,
    )


def _next_offset(offset: int, returned: int, total: int) -> int | None:
    end = offset + returned
    return end if returned > 0 and end < total else None


def list_events(store: EventStore, params: EventListParams, *, limit: int) -> EventPageOut:
    page = store.query(_to_query(params, limit=limit, alerts_only=False))
    return EventPageOut(
        items=[EventOut.from_event(e) for e in page.events],
        total=page.total,
        limit=limit,
        offset=params.offset,
        next_offset=_next_offset(params.offset, len(page.events), page.total),
    )


def list_alerts(store: EventStore, params: EventListParams, *, limit: int) -> AlertPageOut:
    page = store.query(_to_query(params, limit=limit, alerts_only=True))
    alerts = [e for e in page.events if e.alert]
    if len(alerts) != len(page.events):
        logger.error(
            "store returned %d non-alert events to an alerts_only query", len(page.events) - len(alerts)
        )
    return AlertPageOut(
        items=[AlertOut.from_event(e) for e in alerts],
        total=page.total,
        limit=limit,
        offset=params.offset,
        next_offset=_next_offset(params.offset, len(page.events), page.total),
    )


def count_alerts(store: EventStore, window: TimeWindowParams, event_types: Sequence[str]) -> AlertCountsOut:
    """Alerts per known type in the window (one count query per type: types are few); `total` counts
    every alert, of types this API does not know too."""
    since_ms, until_ms = window.window_ms()
    by_type: dict[str, int] = {}
    for event_type in event_types:
        q = EventQuery(
            camera_id=window.camera_id,
            types=(event_type,),
            since_ms=since_ms,
            until_ms=until_ms,
            alerts_only=True,
            limit=1,
        )
        by_type[event_type] = store.query(q).total
    everything = EventQuery(
        camera_id=window.camera_id, since_ms=since_ms, until_ms=until_ms, alerts_only=True, limit=1
    )
    return AlertCountsOut(by_type=by_type, total=store.query(everything).total)


def get_event(store: EventStore, event_id: uuid.UUID) -> Event:
    event = store.get(event_id)
    if event is None:
        raise NotFoundError(f"event {event_id} not found")
    return event


def resolve_snapshot_path(data_dir: Path, uri: str) -> Path:
    """The file `uri` names under `data_dir`; refuses anything that resolves outside it (symlinks too)."""
    root = data_dir.resolve()
    try:
        path = (root / uri).resolve()
    except (OSError, ValueError) as exc:
        raise SnapshotPathError(f"snapshot uri {uri!r} is not a valid path: {exc}") from exc
    if path == root or not path.is_relative_to(root):
        raise SnapshotPathError(f"snapshot uri {uri!r} resolves outside the data folder")
    return path


def load_verified_snapshot(
    store: EventStore, data_dir: Path, event_id: uuid.UUID, *, max_bytes: int
) -> VerifiedSnapshot:
    """The event's snapshot bytes, served only if their SHA-256 matches the one in the event."""
    event = get_event(store, event_id)
    if event.snapshot is None:
        raise NotFoundError(f"event {event_id} has no snapshot")
    try:
        path = resolve_snapshot_path(data_dir, event.snapshot.uri)
    except SnapshotPathError:
        logger.warning(
            "event %s: refused snapshot uri %r (outside the data folder)", event_id, event.snapshot.uri
        )
        raise
    content = _read_capped(path, max_bytes=max_bytes, event_id=event_id)
    actual = hashlib.sha256(content).hexdigest()
    if actual != event.snapshot.sha256:
        logger.error(
            "evidence integrity: event %s snapshot %s has sha256 %s, event records %s",
            event_id,
            event.snapshot.uri,
            actual,
            event.snapshot.sha256,
        )
        raise SnapshotIntegrityError(
            f"snapshot of event {event_id} fails its integrity check: "
            f"file sha256 {actual} != recorded {event.snapshot.sha256}"
        )
    return VerifiedSnapshot(content=content, sha256=actual)


def _read_capped(path: Path, *, max_bytes: int, event_id: uuid.UUID) -> bytes:
    try:
        with path.open("rb") as f:
            content = f.read(max_bytes + 1)
    except FileNotFoundError as exc:
        raise NotFoundError("snapshot file missing") from exc
    except IsADirectoryError as exc:
        raise SnapshotPathError(f"snapshot of event {event_id} names a directory, not a file") from exc
    except OSError as exc:
        raise SnapshotUnreadableError(
            f"snapshot of event {event_id} cannot be read: {exc.strerror or exc}"
        ) from exc
    if len(content) > max_bytes:
        raise SnapshotUnreadableError(
            f"snapshot of event {event_id} is larger than the serving limit of {max_bytes} bytes"
        )
    return content
