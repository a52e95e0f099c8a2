"""Test doubles for the hotlist API: an in-memory `HotlistStore` (versions kept like the SQL store's) and a
recording `HotlistPublisher`."""

from __future__ import annotations

from events.hotlists import Hotlist, HotlistChange, HotlistEntry
from tests.unit.list_fakes import FailingMethods, RecordingPublisher


class MemoryHotlistStore(FailingMethods):
    """`events.hotlists.HotlistStore` over dicts (newest version per id); a method named in `failing`
    raises `StoreError`."""

    def __init__(self) -> None:
        super().__init__()
        self.hotlists: dict[str, Hotlist] = {}
        self.entries: dict[str, HotlistEntry] = {}  # newest version, deleted ones included

    def put_hotlist(self, record: Hotlist) -> None:
        self._check("put_hotlist")
        self.hotlists[record.hotlist_id] = record

    def get_hotlist(self, hotlist_id: str) -> Hotlist | None:
        return self.hotlists.get(hotlist_id)

    def list_hotlists(self) -> list[Hotlist]:
        return sorted(self.hotlists.values(), key=lambda h: (h.name, h.hotlist_id))

    def erase_hotlist(self, hotlist_id: str) -> int:
        self._check("erase_hotlist")
        live = len(self.list_entries(hotlist_id))
        self.hotlists.pop(hotlist_id, None)
        self.entries = {k: e for k, e in self.entries.items() if e.hotlist_id != hotlist_id}
        return live

    def put_entry(self, record: HotlistEntry) -> None:
        self.put_entries([record])

    def put_entries(self, records: list[HotlistEntry]) -> None:
        self._check("put_entries")
        self.entries.update((e.entry_id, e) for e in records)

    def list_entries(self, hotlist_id: str | None = None) -> list[HotlistEntry]:
        found = [e for e in self.entries.values() if not e.deleted and hotlist_id in (None, e.hotlist_id)]
        return sorted(found, key=lambda e: (e.created_ts_ms, e.entry_id))

    def delete_entry(self, entry_id: str) -> HotlistEntry | None:
        self._check("delete_entry")
        current = self.entries.get(entry_id)
        if current is None or current.deleted:
            return None
        deleted = current.model_copy(update={"deleted": True, "version": current.version + 1})
        self.entries[entry_id] = deleted
        return deleted


class RecordingHotlists(RecordingPublisher[HotlistChange]):
    """`events.hotlists.HotlistPublisher` keeping the changes; `fail` makes `publish` raise `BusError`."""
