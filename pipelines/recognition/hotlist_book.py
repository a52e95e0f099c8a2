"""The plate hotlists a process holds in memory: fed by hotlist changes (in process embedded, the
compacted hotlists topic distributed), read by every camera's plate recogniser. Thread-safe."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass

from events.hotlists import HotlistChange
from events.schema import Severity
from pipelines.recognition.hotlist import Hotlist, HotlistEntry, HotlistMatch, best_match

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ListInfo:
    hotlist_id: str
    name: str
    severity: Severity
    expires_ts_ms: int | None = None


class HotlistBook:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lists: dict[str, tuple[list[Hotlist], ListInfo]] = {}

    def put(
        self,
        info: ListInfo,
        entries: list[HotlistEntry],
        max_distance: int,
        exact: Sequence[HotlistEntry] = (),
    ) -> None:
        """A list's whole current state (replaces what was held): `entries` match within `max_distance`
        edits (wildcards exactly), `exact` ones only as they are."""
        compiled = [Hotlist(info.hotlist_id, entries, max_distance), Hotlist(info.hotlist_id, list(exact), 0)]
        with self._lock:
            self._lists[info.hotlist_id] = (compiled, info)

    def apply(self, change: HotlistChange) -> None:
        """A hotlist change as published by the API (the whole list, or its removal)."""
        if change.hotlist is None:
            self.remove(change.hotlist_id)
            return
        h = change.hotlist
        live = [e for e in change.entries if not e.deleted]
        fuzzy = [HotlistEntry(e.entry_id, e.pattern, e.expires_ts_ms) for e in live if e.match != "exact"]
        exact = [HotlistEntry(e.entry_id, e.pattern, e.expires_ts_ms) for e in live if e.match == "exact"]
        self.put(ListInfo(h.hotlist_id, h.name, h.severity, h.expires_ts_ms), fuzzy, h.max_distance, exact)

    def publish(self, change: HotlistChange) -> None:
        """`events.hotlists.HotlistPublisher` in one process (embedded): the change applies at once."""
        self.apply(change)

    def remove(self, hotlist_id: str) -> None:
        with self._lock:
            self._lists.pop(hotlist_id, None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._lists)

    def match(self, plate_text: str, now_ms: int) -> tuple[HotlistMatch, ListInfo] | None:
        """The closest entry over the live lists (expired lists and entries skipped), with its list."""
        with self._lock:
            live = [
                (h, i)
                for lists, i in self._lists.values()
                for h in lists
                if i.expires_ts_ms is None or i.expires_ts_ms > now_ms
            ]
        found = best_match(plate_text, [h for h, _ in live], now_ms)
        if found is None:
            return None
        info = next(i for h, i in live if h.list_id == found.list_id)  # list ids are the book's keys
        return found, info
