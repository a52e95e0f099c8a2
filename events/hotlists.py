"""Plate hotlists: the stored records, the store's interface, pattern validation, and the changes sent
to workers.

A hotlist (stolen vehicles, banned from the car park, VIP guests, ...) has a severity, a per-list edit
distance for its fuzzy entries (`max_distance`, 0..2) and an optional expiry. An entry's pattern is
normalised like a plate read (NFKC, upper case, separators such as `·`, `-`, `.` and spaces dropped)
and matches in one of three ways (`match`):
  wildcard  the pattern has `*` (any run, empty included) or `?` (exactly one character)
  fuzzy     letters and digits only, matched within the list's `max_distance` edits (the default)
  exact     letters and digits only, matched as the same text only (distance 0 whatever the list says)
Hotlists and entries are versioned rows (latest wins); deleting an entry appends a deleted version,
erasing a list removes it and its entries.

Workers never read the store for hotlists: they hold them in memory, fed by `HotlistChange`s (each
carrying one list with all of its live entries; lists are limited to `hotlist_entries_max` entries),
so a change reaches them in seconds.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from typing import Annotated, Literal, Protocol

from pydantic import Field, model_validator

from events.records import Expiring, Record, Versioned
from events.schema import Severity

logger = logging.getLogger(__name__)

HOTLISTS_TOPIC = "anfang.hotlists"
#: Largest per-list edit distance of fuzzy entries (more would match too many other plates).
HOTLIST_MAX_DISTANCE = 2
DEFAULT_MAX_DISTANCE = 1
#: Default of the `hotlist_entries_max` setting: the most live entries of one list.
DEFAULT_ENTRIES_MAX = 5000
DEFAULT_PATTERN_MAX_CHARS = 16
DEFAULT_PATTERN_MIN_LITERAL_CHARS = 2
NOTE_MAX_CHARS = 200
#: The latest expiry accepted (9999-12-31T23:59:59.999Z): larger values would not fit the Int64 column.
MAX_TS_MS = 253_402_300_799_999
#: Characters a pattern may be written with that are dropped (as a plate read drops them).
PATTERN_SEPARATORS = frozenset(" \t·•・.-_/")
WILDCARDS = "*?"

EntryMatch = Literal["exact", "wildcard", "fuzzy"]
_ID = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]


def validate_pattern(
    pattern: str,
    max_chars: int = DEFAULT_PATTERN_MAX_CHARS,
    min_literal_chars: int = DEFAULT_PATTERN_MIN_LITERAL_CHARS,
) -> str:
    """The normalised pattern, or ValueError naming `pattern` and what is wrong with it: empty,
    characters other than letters, digits, `*` and `?`, longer than `max_chars`, or fewer than
    `min_literal_chars` letters and digits (a `*` or `?*` would match every plate)."""
    text = unicodedata.normalize("NFKC", pattern).upper()
    text = "".join(ch for ch in text if ch not in PATTERN_SEPARATORS)
    text = re.sub(r"\*+", "*", text)
    if not text:
        raise ValueError(f"hotlist pattern {pattern!r} is empty")
    bad = sorted({ch for ch in text if ch not in WILDCARDS and unicodedata.category(ch)[0] not in "LN"})
    if bad:
        raise ValueError(
            f"hotlist pattern {pattern!r} has characters other than letters, digits, * and ?: {bad}"
        )
    if len(text) > max_chars:
        raise ValueError(f"hotlist pattern {pattern!r} is longer than {max_chars} characters")
    if sum(ch not in WILDCARDS for ch in text) < min_literal_chars:
        raise ValueError(
            f"hotlist pattern {pattern!r} needs at least {min_literal_chars} letters or digits "
            "(it would match nearly every plate)"
        )
    return text


def is_wildcard(pattern: str) -> bool:
    return any(ch in WILDCARDS for ch in pattern)


def entry_match(pattern: str, requested: Literal["exact", "fuzzy"] | None = None) -> EntryMatch:
    """How a (normalised) pattern matches: wildcard when it has `*` or `?`, else as requested (fuzzy by
    default). ValueError for an exact or fuzzy request on a wildcard pattern."""
    if is_wildcard(pattern):
        if requested is not None:
            raise ValueError(f"hotlist pattern {pattern!r} has wildcards: it cannot match {requested}")
        return "wildcard"
    return requested or "fuzzy"


class Hotlist(Versioned):
    hotlist_id: _ID
    name: str = Field(min_length=1, max_length=128)
    purpose: str = Field(default="", max_length=500, description="what the list is for (optional)")
    severity: Severity = Severity.HIGH
    max_distance: int = Field(
        default=DEFAULT_MAX_DISTANCE,
        ge=0,
        le=HOTLIST_MAX_DISTANCE,
        description="edits (insertions, deletions, substitutions) a fuzzy entry tolerates",
    )
    expires_ts_ms: int | None = Field(default=None, ge=0, le=MAX_TS_MS)


class HotlistEntry(Expiring):
    entry_id: _ID
    hotlist_id: _ID
    pattern: str = Field(min_length=1, max_length=64, description="normalised (see validate_pattern)")
    match: EntryMatch = "fuzzy"
    note: str = Field(default="", max_length=NOTE_MAX_CHARS)
    expires_ts_ms: int | None = Field(default=None, ge=0, le=MAX_TS_MS)
    created_by: str = ""
    created_ts_ms: int = Field(ge=0)
    version: int = Field(default=1, ge=1)
    deleted: bool = False

    @model_validator(mode="after")
    def _match_fits_pattern(self) -> HotlistEntry:
        if (self.match == "wildcard") != is_wildcard(self.pattern):
            raise ValueError(f"an entry matching {self.match} cannot have the pattern {self.pattern!r}")
        return self


class HotlistStore(Protocol):
    """Where hotlists and their entries are kept; raises `events.ports.StoreError` when the store cannot
    answer. `put_*` appends the record's next version (latest wins)."""

    def put_hotlist(self, record: Hotlist) -> None: ...

    def get_hotlist(self, hotlist_id: str) -> Hotlist | None: ...

    def list_hotlists(self) -> list[Hotlist]:
        """Every hotlist, by name."""
        ...

    def erase_hotlist(self, hotlist_id: str) -> int:
        """Removes the list and every version of its entries; returns how many live entries it had."""
        ...

    def put_entry(self, record: HotlistEntry) -> None: ...

    def put_entries(self, records: list[HotlistEntry]) -> None:
        """Several entries at once (one write)."""
        ...

    def list_entries(self, hotlist_id: str | None = None) -> list[HotlistEntry]:
        """The live (newest version not deleted) entries of one list, or of all, oldest first."""
        ...

    def delete_entry(self, entry_id: str) -> HotlistEntry | None:
        """Appends a deleted version of the entry; returns it, or None when there is no live entry."""
        ...


# --- what workers receive ------------------------------------------------------------------------


class HotlistChange(Record):
    """One hotlist as workers need it, with all of its live entries; `hotlist` None = removed."""

    kind: Literal["hotlist"] = "hotlist"
    hotlist_id: _ID
    hotlist: Hotlist | None
    entries: list[HotlistEntry] = Field(default_factory=list)


def hotlist_change_key(change: HotlistChange) -> str:
    """The compaction key of a change on the hotlists topic (`hotlist:<id>`): each change carries the
    whole list, so the latest per key is all a worker needs."""
    return f"hotlist:{change.hotlist_id}"


def hotlist_change(hotlist: Hotlist, entries: list[HotlistEntry]) -> HotlistChange:
    live = [e for e in entries if not e.deleted and e.hotlist_id == hotlist.hotlist_id]
    return HotlistChange(hotlist_id=hotlist.hotlist_id, hotlist=hotlist, entries=live)


def hotlist_removed(hotlist_id: str) -> HotlistChange:
    return HotlistChange(hotlist_id=hotlist_id, hotlist=None)


class HotlistPublisher(Protocol):
    """Sends hotlist changes to every worker (in-process hotlists, or the hotlists topic)."""

    def publish(self, change: HotlistChange) -> None:
        """Raises `events.ports.BusError` when it cannot."""
        ...


def hotlists_from_store(store: HotlistStore) -> list[HotlistChange]:
    """Every hotlist with its live entries, read from the store (an embedded worker's start)."""
    by_list: dict[str, list[HotlistEntry]] = {}
    for entry in store.list_entries():
        by_list.setdefault(entry.hotlist_id, []).append(entry)
    return [hotlist_change(h, by_list.get(h.hotlist_id, [])) for h in store.list_hotlists()]
