"""Request (query) and response models of the HTTP API.

Responses reuse `events.schema.Event` as is (same field names, same validation) and only add what
the web needs (`snapshot_url`). Query models forbid unknown parameters so a typo is a 422, not a
silently ignored filter.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from api.public_events import public_event
from events.alert_state import AlertStatus
from events.ports import EventGroupBy
from events.schema import EVENT_TYPE_PATTERN, Event
from events.store.history_sql import TEXT_MAX_CHARS

SNAPSHOT_PATH = "/v1/events/{event_id}/snapshot"
#: Marks a query parameter whose maximum is an `ApiConfig` setting (filled into the OpenAPI document).
LIMIT_SETTING_KEY = "x-limit-setting"


def snapshot_url_for(event_id: uuid.UUID) -> str:
    return SNAPSHOT_PATH.format(event_id=event_id)


#: Latest instant a time bound may name: 9999-12-31T23:59:59.999Z (UTC epoch ms).
MAX_TS_MS = 253_402_300_799_999
#: What a `cursor` looks like: `<ts_ms>_<event id as 32 hex digits>`, as `next_cursor` hands it out.
CURSOR_PATTERN = r"^[0-9]{1,15}_[0-9a-f]{32}$"
_NAME = Annotated[str, Field(min_length=1, max_length=128)]


def _epoch_ms(value: datetime) -> int:
    """UTC epoch ms of an aware datetime, clamped to 0..MAX_TS_MS (a bound outside cuts nothing more)."""
    try:
        ms = round(value.timestamp() * 1000)
    except (OverflowError, OSError, ValueError):  # a UTC offset pushing year 1 / 9999 out of range
        ms = 0 if value.year < 1970 else MAX_TS_MS
    return min(max(ms, 0), MAX_TS_MS)


class TimeWindowParams(BaseModel):
    """Camera + time window. Bounds are UTC epoch ms (`*_ms`) and/or ISO-8601 with an offset.

    Every bound given applies (they are ANDed like every other filter): with both `since` and
    `since_ms` the later one wins, with both `until` and `until_ms` the earlier one; a window whose
    start is after its end matches nothing (an empty page, not an error).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    camera_id: str | None = Field(default=None, min_length=1, description="only this camera")
    since_ms: int | None = Field(
        default=None, ge=0, le=MAX_TS_MS, description="UTC epoch ms, inclusive lower bound (ANDed with since)"
    )
    until_ms: int | None = Field(
        default=None, ge=0, le=MAX_TS_MS, description="UTC epoch ms, inclusive upper bound (ANDed with until)"
    )
    since: AwareDatetime | None = Field(
        default=None,
        description="ISO-8601 with a UTC offset (e.g. 2026-11-24T10:00:00Z), inclusive lower bound; "
        "may be given with since_ms (the later bound applies)",
    )
    until: AwareDatetime | None = Field(
        default=None,
        description="ISO-8601 with a UTC offset, inclusive upper bound; may be given with until_ms "
        "(the earlier bound applies)",
    )

    def window_ms(self) -> tuple[int | None, int | None]:
        """(since_ms, until_ms) in UTC epoch ms: the later of the lower bounds, the earlier of the upper."""
        lows = [
            b for b in (self.since_ms, None if self.since is None else _epoch_ms(self.since)) if b is not None
        ]
        highs = [
            b for b in (self.until_ms, None if self.until is None else _epoch_ms(self.until)) if b is not None
        ]
        return (max(lows) if lows else None), (min(highs) if highs else None)

    @property
    def empty_window(self) -> bool:
        """The window's start is after its end: nothing can match."""
        lo, hi = self.window_ms()
        return lo is not None and hi is not None and lo > hi


class EventFilterParams(TimeWindowParams):
    """History filters (all ANDed; repeatable ones match any of their values)."""

    camera: list[_NAME] = Field(default_factory=list, description="repeatable: any of these cameras")
    type: list[Annotated[str, Field(pattern=EVENT_TYPE_PATTERN)]] = Field(
        default_factory=list, description="repeatable: type=a&type=b (see /v1/event-types)"
    )
    rule: list[_NAME] = Field(default_factory=list, description="repeatable: raised by any of these rules")
    label: list[_NAME] = Field(
        default_factory=list, description="repeatable: object label (person, car, ...)"
    )
    q: str | None = Field(
        default=None,
        min_length=1,
        max_length=TEXT_MAX_CHARS,
        description="free text: case-insensitive substring of the event's attributes (as JSON)",
    )
    plate: str | None = Field(
        default=None,
        min_length=1,
        max_length=TEXT_MAX_CHARS,
        description="plate reads and matches by plate: exact (京A12345), prefix (京A*) or wildcard "
        "(* any run, ? one character); case and separators ignored",
    )
    code: str | None = Field(
        default=None,
        min_length=1,
        max_length=TEXT_MAX_CHARS,
        description="code reads by payload: exact, prefix (ABC*) or wildcard (* and ?)",
    )
    status: list[AlertStatus] = Field(
        default_factory=list, description="repeatable: latest alert lifecycle status (new = never acted on)"
    )
    assignee: _NAME | None = Field(default=None, description="alerts assigned to this user")
    alerts_only: bool = Field(default=False, description="only events that raised an alert")


class EventListParams(EventFilterParams):
    """Filters and pagination of `/v1/events` and `/v1/alerts`. Newest first."""

    limit: int | None = Field(
        default=None,
        ge=1,
        description="page size (default and maximum are settings)",
        json_schema_extra={LIMIT_SETTING_KEY: "page_limit_max"},
    )
    offset: int = Field(
        default=0,
        ge=0,
        description="items to skip (compatibility; prefer `cursor`, deep offsets are costly)",
        json_schema_extra={LIMIT_SETTING_KEY: "offset_max"},
    )
    cursor: str | None = Field(
        default=None,
        pattern=CURSOR_PATTERN,
        description="`next_cursor` of the previous page: the page after it (stable while events arrive); "
        "an offset skips that many more",
    )
    with_total: bool = Field(default=True, description="count the matches in all pages (`total`); false: -1")


class EventAggregateParams(EventFilterParams):
    group_by: EventGroupBy = Field(description="count per event type, camera or UTC hour")


class EventExportParams(EventFilterParams):
    format: Literal["csv", "parquet"] = Field(default="csv", description="csv or parquet")
    purpose: str = Field(
        min_length=1, max_length=500, description="why these events are exported (kept in the audit trail)"
    )


class EventOut(Event):
    """An event as stored, plus where to fetch its evidence snapshot."""

    snapshot_url: str | None = Field(
        default=None, description="relative URL of the snapshot JPEG; null when the event has none"
    )

    @classmethod
    def from_event(cls, event: Event) -> EventOut:
        """The event as served; its nested models are taken as they are (validated when parsed)."""
        url = snapshot_url_for(event.event_id) if event.snapshot is not None else None
        return cls.model_validate({**public_event(event).__dict__, "snapshot_url": url})


class PageMeta(BaseModel):
    total: int = Field(ge=-1, description="matching items in all pages; -1 when with_total=false")
    limit: int = Field(ge=1)
    offset: int = Field(ge=0)
    next_offset: int | None = Field(description="offset of the next page; null on the last page")
    next_cursor: str | None = Field(
        default=None, description="pass as `cursor` for the next (older) page; null on the last page"
    )


class EventPageOut(PageMeta):
    items: list[EventOut]


class AggregateBucketOut(BaseModel):
    key: str = Field(description="the event type, the camera id, or the hour's start (ISO-8601, UTC)")
    count: int = Field(ge=0)


class EventAggregatesOut(BaseModel):
    group_by: EventGroupBy
    buckets: list[AggregateBucketOut] = Field(description="groups with events, by key")
    total: int = Field(ge=0, description="events in all buckets")


class AlertCountsOut(BaseModel):
    by_type: dict[str, int] = Field(
        description="alerts per known event type (every type of /v1/event-types listed, zeros too)"
    )
    total: int = Field(ge=0)


class EventTypeOut(BaseModel):
    """An event type anfang produces: its name, a title for people, and its attributes' JSON Schema."""

    model_config = ConfigDict(frozen=True)

    type: str = Field(pattern=EVENT_TYPE_PATTERN)
    title: str
    attributes_schema: dict[str, Any] = Field(description="JSON Schema of the event's `attributes`")


class HealthOut(BaseModel):
    """Liveness: the process serves requests (dependencies are `/readyz`'s business)."""

    status: Literal["ok"]


class ReadyOut(BaseModel):
    """Readiness: every dependency answered (`ready`), or which did not and why (`unready`, 503)."""

    status: Literal["ready", "unready"]
    checks: dict[str, str] = Field(description="each check by name: 'ok' or 'error: <cause>'")


class ErrorOut(BaseModel):
    detail: str
