"""What the fire and smoke rules share: an episode (a hazard seen, then gone for `clear_s`) fires once,
and one summary of a frame's hazard regions for the event."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from detectors.fire_smoke import HazardRegion


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


def summarise(regions: Sequence[HazardRegion]) -> tuple[HazardRegion, dict[str, float | int]]:
    """The biggest region (the event's box and confidence) and the attributes of all of them:
    `area_fraction` (summed), `score` (the biggest's), `regions`, `first_seen_ts_ms` (earliest)."""
    biggest = max(regions, key=lambda r: r.area_fraction)
    fields: dict[str, float | int] = {
        "area_fraction": round(sum(r.area_fraction for r in regions), 4),
        "score": round(biggest.score, 3),
        "regions": len(regions),
        "first_seen_ts_ms": min(r.first_seen_ts_ms for r in regions),
    }
    return biggest, fields
