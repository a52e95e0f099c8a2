"""Which tracked objects a recogniser looks at on a frame: those of its labels, tall enough, not looked at
for their interval; the ones most in need first (fewest results, then longest unlooked). Shared by the
face and plate recognisers; each keeps its own per-track state and its own per-frame cap."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

from detectors.base import Detections

XYXY = tuple[float, float, float, float]


class LookState(Protocol):
    """What every recogniser's per-track state records of its looks."""

    last_seen_ms: int
    last_look_ms: int | None


S = TypeVar("S", bound=LookState)


@dataclass(frozen=True, slots=True)
class Watched:
    """A tracked object of the recogniser's labels on this frame."""

    track_id: int
    label: str
    xyxy: XYXY


def watched_and_due(
    tracked: Detections,
    *,
    labels: set[str],
    min_height_px: float,
    default_label: str,
    tracks: dict[int, S],
    new_state: Callable[[], S],
    now_ms: int,
    every_ms: Callable[[S], int],
    results: Callable[[S], int],
) -> tuple[list[Watched], list[Watched]]:
    """(every watched object, those due for a look, most in need first). A watched object's state is
    created on first sight (`new_state`) and its `last_seen_ms` set to now; it is due when never looked at
    or looked at `every_ms(state)` ago or more; need = fewer `results(state)`, then older last look."""
    if len(tracked) == 0 or tracked.tracker_id is None or not labels:
        return [], []
    names = tracked.data.get("label")
    watched: list[Watched] = []
    due: list[tuple[int, int, int, Watched]] = []
    for i, tid in enumerate(tracked.tracker_id.tolist()):
        label = str(names[i]) if names is not None else default_label
        x1, y1, x2, y2 = (float(v) for v in tracked.xyxy[i])
        if tid < 0 or label not in labels or y2 - y1 < min_height_px:
            continue
        seen = Watched(int(tid), label, (x1, y1, x2, y2))
        watched.append(seen)
        state = tracks.get(seen.track_id)
        if state is None:
            state = tracks[seen.track_id] = new_state()
        state.last_seen_ms = now_ms
        last = state.last_look_ms
        if last is None or now_ms - last >= every_ms(state):
            due.append((results(state), last or 0, seen.track_id, seen))
    due.sort(key=lambda d: d[:3])
    return watched, [d[3] for d in due]
