"""Request (query) and response models of the HTTP API.

Responses reuse `events.schema.Event` as is (same field names, same validation) and only add what
the web needs (`snapshot_url`). Query models forbid unknown parameters so a typo is a 422, not a
silently ignored filter.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from events.schema import EVENT_TYPE_PATTERN, Event

SNAPSHOT_PATH = "/v1/events/{event_id}/snapshot"


def snapshot_url_for(event_id: uuid.UUID) -> str:
    return SNAPSHOT_PATH.format(event_id=event_id)


def _epoch_ms(value: datetime) -> int:
    return round(value.timestamp() * 1000)


class TimeWindowParams(BaseModel):
    """Camera + time window. Bounds are UTC epoch ms (`*_ms`) or ISO-8601 with an offset, not both."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    camera_id: str | None = Field(default=None, min_length=1, description="only this camera")
    since_ms: int | None = Field(default=None, ge=0, description="UTC epoch ms, inclusive lower bound")
    until_ms: int | None = Field(default=None, ge=0, description="UTC epoch ms, inclusive upper bound")
    since: AwareDatetime | None = Field(
        default=None,
        description="ISO-8601 with a UTC offset (e.g. 2026-11-24T10:00:00Z); alternative to since_ms",
    )
    until: AwareDatetime | None = Field(
        default=None, description="ISO-8601 with a UTC offset; alternative to until_ms"
    )

    @model_validator(mode="after")
    def _check_window(self) -> TimeWindowParams:
        if self.since is not None and self.since_ms is not None:
            raise ValueError("give either since or since_ms, not both")
        if self.until is not None and self.until_ms is not None:
            raise ValueError("give either until or until_ms, not both")
        lo, hi = self.window_ms()
        if lo is not None and lo < 0:
            raise ValueError(f"since is before 1970-01-01T00:00:00Z ({self.since})")
        if lo is not None and hi is not None and lo > hi:
            raise ValueError(f"since ({lo} ms) is after until ({hi} ms)")
        return self

    def window_ms(self) -> tuple[int | None, int | None]:
        """(since_ms, until_ms) in UTC epoch ms, whichever form the client used."""
        lo = self.since_ms if self.since is None else _epoch_ms(self.since)
        hi = self.until_ms if self.until is None else _epoch_ms(self.until)
        return lo, hi


class EventListParams(TimeWindowParams):
    """Filters and pagination of `/v1/events` and `/v1/alerts`. Newest first."""

    type: list[Annotated[str, Field(pattern=EVENT_TYPE_PATTERN)]] = Field(
        default_factory=list, description="repeatable: type=a&type=b (see /v1/event-types)"
    )
    limit: int | None = Field(default=None, ge=1, description="page size (default and maximum are settings)")
    offset: int = Field(default=0, ge=0, description="items to skip")


class EventOut(Event):
    """An event as stored, plus where to fetch its evidence snapshot."""

    snapshot_url: str | None = Field(
        default=None, description="relative URL of the snapshot JPEG; null when the event has none"
    )

    @classmethod
    def from_event(cls, event: Event) -> EventOut:
        url = snapshot_url_for(event.event_id) if event.snapshot is not None else None
        return cls.model_validate({**event.model_dump(), "snapshot_url": url})


class AlertOut(EventOut):
    """An event with `alert=true` (lifecycle state will sit beside it, not inside the event)."""


class PageMeta(BaseModel):
    total: int = Field(ge=0, description="matching items in all pages")
    limit: int = Field(ge=1)
    offset: int = Field(ge=0)
    next_offset: int | None = Field(description="offset of the next page; null on the last page")


class EventPageOut(PageMeta):
    items: list[EventOut]


class AlertPageOut(PageMeta):
    items: list[AlertOut]


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
