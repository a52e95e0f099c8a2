"""Request and response bodies of the plate hotlist routes (`/v1/hotlists`)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from api.record_schemas import InBody, OffsetPageOut, PatchIn, VersionedOut
from events.hotlists import (
    DEFAULT_MAX_DISTANCE,
    HOTLIST_MAX_DISTANCE,
    MAX_TS_MS,
    NOTE_MAX_CHARS,
    EntryMatch,
    Hotlist,
    HotlistEntry,
)
from events.schema import Severity

_DISTANCE = "edits (insertions, deletions, substitutions) a fuzzy entry of this list tolerates"
_PURPOSE = "what the list is for (optional; audited when given)"
_REASON = "why this change (optional; audited when given, the list's own purpose is kept)"
#: An entry's pattern as sent; its real limits (settings) are checked by the service, naming the entry.
_RAW_PATTERN_MAX_CHARS = 64


class HotlistIn(InBody):
    name: str = Field(min_length=1, max_length=128)
    purpose: str = Field(default="", max_length=500, description=_PURPOSE)
    severity: Severity = Severity.HIGH
    max_distance: int = Field(
        default=DEFAULT_MAX_DISTANCE, ge=0, le=HOTLIST_MAX_DISTANCE, description=_DISTANCE
    )
    expires_ts_ms: int | None = Field(
        default=None, ge=0, le=MAX_TS_MS, description="UTC epoch ms when the list is erased"
    )


class HotlistPatch(PatchIn):
    """The fields to change; `purpose` is why (audited), not a new purpose of the list."""

    purpose: str = Field(default="", max_length=500, description=_REASON)
    name: str | None = Field(default=None, min_length=1, max_length=128)
    severity: Severity | None = None
    max_distance: int | None = Field(default=None, ge=0, le=HOTLIST_MAX_DISTANCE, description=_DISTANCE)
    expires_ts_ms: int | None = Field(
        default=None, ge=0, le=MAX_TS_MS, description="new expiry; null removes it"
    )


class HotlistOut(VersionedOut):
    ID_FIELD = "hotlist_id"

    name: str
    purpose: str
    severity: Severity
    max_distance: int

    @classmethod
    def of(cls, h: Hotlist) -> HotlistOut:
        return cls(**cls.fields_of(h))


class HotlistListOut(BaseModel):
    items: list[HotlistOut]


class HotlistErasedOut(BaseModel):
    """What a deletion removed."""

    id: str
    entries: int = Field(description="the live entries the list had")


class EntryIn(InBody):
    pattern: str = Field(
        min_length=1,
        max_length=_RAW_PATTERN_MAX_CHARS,
        description="a plate (separators such as `·`, `-` and spaces are dropped, letters upper-cased), "
        "or a wildcard pattern: `*` any run of characters, `?` exactly one",
    )
    match: Literal["exact", "fuzzy"] | None = Field(
        default=None,
        description="for a pattern without wildcards: `fuzzy` (default) matches within the list's "
        "max_distance edits, `exact` only the same text; a pattern with wildcards matches as `wildcard`",
    )
    note: str = Field(default="", max_length=NOTE_MAX_CHARS)
    expires_ts_ms: int | None = Field(
        default=None, ge=0, le=MAX_TS_MS, description="UTC epoch ms when the entry goes"
    )


class EntryOut(BaseModel):
    id: str
    hotlist_id: str
    pattern: str = Field(description="normalised")
    match: EntryMatch
    note: str
    expires_ts_ms: int | None
    created_by: str
    created_ts_ms: int
    version: int
    deleted: bool

    @classmethod
    def of(cls, e: HotlistEntry) -> EntryOut:
        return cls(id=e.entry_id, **e.model_dump(exclude={"entry_id"}))


class EntriesAddedOut(BaseModel):
    items: list[EntryOut] = Field(description="the entries added, in the order sent")


class EntryListOut(OffsetPageOut):
    items: list[EntryOut] = Field(description="oldest first")
