"""The interfaces behind which the embedded and the distributed parts are interchangeable.

Bus: `EventPublisher` (pipeline side) and `EventConsumer` (sink side); in-process queue or Kafka.
Store: `EventStore`; chDB (embedded ClickHouse) or a ClickHouse server over the native protocol.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from events.auth import CameraScope
from events.schema import Event

EVENTS_TOPIC = "anfang.events"
DLQ_TOPIC = "anfang.dlq"
HEALTH_TOPIC = "anfang.health"
CAMERAS_TOPIC = "anfang.cameras"


class BusError(RuntimeError):
    """The bus is unreachable or refused a message: a user-facing cause."""


class StoreError(RuntimeError):
    """The store is unreachable or refused a query: a user-facing cause."""


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A message that could not be parsed, kept with the reason (never silently dropped)."""

    raw: bytes
    reason: str
    key: bytes | None = None


class EventPublisher(Protocol):
    def publish(self, event: Event) -> None:
        """Queue one event for delivery (keyed by camera_id); raises BusError when it cannot."""
        ...

    def flush(self, timeout_s: float = 30.0) -> None:
        """Block until everything published so far is delivered; raises BusError otherwise."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class ConsumedBatch:
    events: list[Event]
    dead_letters: list[DeadLetter]


class EventConsumer(Protocol):
    def poll(self, timeout_s: float, max_records: int) -> ConsumedBatch:
        """Next batch (possibly empty). Messages stay uncommitted until `commit()`."""
        ...

    def commit(self) -> None:
        """Mark everything returned by `poll` so far as processed (call after it is stored)."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class EventCursor:
    """Where a page ended: the next page holds events strictly older than (ts_ms, event_id) in the
    page order (newest first, ties by event_id descending). Stable while new events arrive."""

    ts_ms: int
    event_id: uuid.UUID


@dataclass(frozen=True, slots=True)
class EventQuery:
    camera_id: str | None = None
    types: Sequence[str] = ()
    since_ms: int | None = None
    until_ms: int | None = None
    alerts_only: bool = False
    limit: int = 100
    offset: int = 0
    cameras: Sequence[str] = ()  # any of these cameras (ANDed with camera_id when both are given)
    scope: CameraScope | None = None  # only events of cameras in this scope (None: no restriction)
    rule_ids: Sequence[str] = ()
    labels: Sequence[str] = ()
    text: str | None = None  # case-insensitive substring of the attributes' JSON
    plate: str | None = None  # plate reads/matches: exact, prefix (京A*) or wildcard (* any run, ? one)
    code: str | None = None  # code reads: their payload, exact, prefix or wildcard like `plate`
    statuses: Sequence[str] = ()  # latest alert lifecycle status ("new" = never acted on)
    assignee: str | None = None  # latest alert state assigned to this user
    after: EventCursor | None = None  # keyset paging: events after this one (offset skips more)
    with_total: bool = True  # False: skip the count (EventPage.total is then -1)


#: How `EventStore.aggregate` groups: by event type, by camera id, or by UTC hour.
EventGroupBy = Literal["type", "camera", "hour"]
EVENT_GROUP_BYS: tuple[EventGroupBy, ...] = ("type", "camera", "hour")


@dataclass(frozen=True, slots=True)
class EventPage:
    events: list[Event]
    total: int
    extra: dict[str, int] = field(default_factory=dict)
    next_cursor: EventCursor | None = None  # None on the last page


class EventStore(Protocol):
    def ensure_schema(self) -> None:
        """Create database/tables if missing (DDL adapts to the server version). Idempotent."""
        ...

    def insert(self, events: Sequence[Event]) -> int:
        """Insert events not already stored (dedupe by event_id); returns how many were new."""
        ...

    def query(self, q: EventQuery) -> EventPage:
        """Newest first (ts_ms, then event_id, descending); never the same event_id twice in a page,
        nor on two pages chained by `next_cursor`. Raises `InvalidQueryError`-like `ValueError`s for
        queries refused before the engine (bad limit, offset, window) and `StoreError`."""
        ...

    def aggregate(self, q: EventQuery, group_by: EventGroupBy) -> dict[str, int]:
        """Events matching `q`'s filters (paging ignored) counted per type, camera id or UTC hour (the
        hour's start as UTC epoch ms, in decimal); groups without events are absent."""
        ...

    def get(self, event_id: uuid.UUID) -> Event | None: ...

    def count_by_type(self, camera_id: str | None = None) -> dict[str, int]: ...

    def close(self) -> None: ...
