"""Plate hotlists: which entry of which list a read plate matches, and how closely. Pure.

An entry's pattern is normalised like a plate read (NFKC, upper case, separators such as `·`, `-`,
`.` and spaces dropped; see detectors.plate_format.normalise_plate) and is one of:
  exact      letters and digits only: matches a plate within the list's `max_distance` edits
             (Levenshtein: insertions, deletions, substitutions; 0 = the same text only)
  wildcard   with `*` (any run, empty included) and/or `?` (exactly one character): matches a plate
             the pattern covers whole; distance 0 (wildcards take no edits)
`validate_pattern` (events.hotlists, re-exported here) says what is wrong with a pattern (ValueError
naming it): empty, characters other than letters, digits, `*` and `?`, longer than `max_chars`, or fewer
than `min_literal_chars` letters and digits (a `*` or `?*` would match every plate).
A list's best match is the entry at the smallest distance; equal distances prefer an exact entry over a
wildcard, then the entry listed first. Across lists: smallest distance, then the list given first.
Entries past their `expires_at_ms` are skipped when `now_ms` is given.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from detectors.plate_format import normalise_plate
from events.hotlists import validate_pattern

__all__ = [
    "MAX_DISTANCE",
    "Hotlist",
    "HotlistEntry",
    "HotlistMatch",
    "best_match",
    "levenshtein",
    "validate_pattern",
]

logger = logging.getLogger(__name__)

MAX_DISTANCE = 3


@dataclass(frozen=True, slots=True)
class HotlistEntry:
    entry_id: str
    pattern: str
    expires_at_ms: int | None = None


@dataclass(frozen=True, slots=True)
class HotlistMatch:
    list_id: str
    entry_id: str
    pattern: str  # normalised
    distance: int


def levenshtein(a: str, b: str, max_distance: int | None = None) -> int:
    """Edit distance between a and b; with `max_distance`, any distance above it is returned as
    max_distance + 1 (the computation stops early)."""
    if len(a) < len(b):
        a, b = b, a
    limit = max_distance if max_distance is not None else len(a)
    if len(a) - len(b) > limit:
        return limit + 1
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        if min(current) > limit:
            return limit + 1
        previous = current
    return min(previous[-1], limit + 1)


@dataclass(frozen=True, slots=True)
class _Compiled:
    entry: HotlistEntry
    pattern: str
    regex: re.Pattern[str] | None  # wildcard entries only


class Hotlist:
    """One list's entries, validated and compiled once; `match` is then cheap per read."""

    def __init__(self, list_id: str, entries: Iterable[HotlistEntry], max_distance: int = 1) -> None:
        if not 0 <= max_distance <= MAX_DISTANCE:
            raise ValueError(
                f"hotlist {list_id!r}: max_distance must be 0..{MAX_DISTANCE}, got {max_distance}"
            )
        self.list_id = list_id
        self.max_distance = max_distance
        self._entries: list[_Compiled] = []
        for entry in entries:
            pattern = validate_pattern(entry.pattern)
            wildcard = "*" in pattern or "?" in pattern
            regex = _wildcard_regex(pattern) if wildcard else None
            self._entries.append(_Compiled(entry, pattern, regex))

    def __len__(self) -> int:
        return len(self._entries)

    def match(self, plate_text: str, now_ms: int | None = None) -> HotlistMatch | None:
        """The best entry for `plate_text` (see the module doc), or None."""
        text = normalise_plate(plate_text)
        if not text:
            return None
        best: tuple[int, int, int] | None = None  # (distance, wildcard?, position)
        for position, item in enumerate(self._entries):
            expires = item.entry.expires_at_ms
            if now_ms is not None and expires is not None and now_ms >= expires:
                continue
            if item.regex is not None:
                if item.regex.fullmatch(text) is None:
                    continue
                key = (0, 1, position)
            else:
                distance = levenshtein(text, item.pattern, self.max_distance)
                if distance > self.max_distance:
                    continue
                key = (distance, 0, position)
            if best is None or key < best:
                best = key
        if best is None:
            return None
        item = self._entries[best[2]]
        return HotlistMatch(self.list_id, item.entry.entry_id, item.pattern, best[0])


def best_match(
    plate_text: str, hotlists: Sequence[Hotlist], now_ms: int | None = None
) -> HotlistMatch | None:
    """The closest match over several lists (ties: the list given first)."""
    found = [m for m in (h.match(plate_text, now_ms) for h in hotlists) if m is not None]
    return min(found, key=lambda m: m.distance) if found else None


def _wildcard_regex(pattern: str) -> re.Pattern[str]:
    return re.compile("".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in pattern))
