"""What the hazard rules share: an episode (a hazard seen, then gone for `clear_s`) fires once."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class Episode:
    """`start(ts)` is True on the first sighting of an episode; `seen`/`gone` keep it open or end it."""

    clear_ms: int
    _last_seen_ms: int | None = None

    def start(self, ts_ms: int) -> bool:
        """A sighting at `ts_ms`: True when it opens a new episode (none open, or the last ended)."""
        opened = self._last_seen_ms is None or ts_ms - self._last_seen_ms > self.clear_ms
        self._last_seen_ms = ts_ms
        return opened
