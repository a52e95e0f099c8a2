"""watched_and_due: which tracked objects a recogniser watches and which are due for a look."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
import supervision as sv

from pipelines.recognition.looks import watched_and_due


@dataclass(slots=True)
class State:
    last_seen_ms: int = 0
    last_look_ms: int | None = None
    results: int = 0


def tracked(rows: list[tuple[int, str, float]], with_labels: bool = True) -> sv.Detections:
    """(track id, label, height px) per object, side by side."""
    if not rows:
        return sv.Detections.empty()
    n = len(rows)
    return sv.Detections(
        xyxy=np.array([[10.0 * i, 0.0, 10.0 * i + 8, h] for i, (_, _, h) in enumerate(rows)], np.float32),
        confidence=np.full(n, 0.9, np.float32),
        class_id=np.zeros(n, int),
        tracker_id=np.array([t for t, _, _ in rows]),
        data={"label": np.array([lb for _, lb, _ in rows])} if with_labels else {},
    )


def run(
    detections: sv.Detections, states: dict[int, State], now_ms: int = 1_000
) -> tuple[list[int], list[int]]:
    watched, due = watched_and_due(
        detections,
        labels={"car", "bus"},
        min_height_px=20,
        default_label="car",
        tracks=states,
        new_state=State,
        now_ms=now_ms,
        every_ms=lambda s: 500,
        results=lambda s: s.results,
    )
    return [w.track_id for w in watched], [w.track_id for w in due]


@pytest.mark.parametrize(
    ("rows", "expected_watched"),
    [
        ([(1, "car", 30), (2, "person", 30), (3, "bus", 30)], [1, 3]),  # other labels ignored
        ([(1, "car", 19), (2, "car", 20)], [2]),  # too short
        ([(-1, "car", 30), (4, "car", 30)], [4]),  # untracked
        ([], []),
    ],
)
def test_what_is_watched(rows: list[tuple[int, str, float]], expected_watched: list[int]) -> None:
    states: dict[int, State] = {}
    watched, due = run(tracked(rows), states)
    assert watched == due == expected_watched
    assert sorted(states) == sorted(expected_watched) and all(
        s.last_seen_ms == 1_000 for s in states.values()
    )


def test_without_labels_every_object_has_the_default_label() -> None:
    assert run(tracked([(1, "x", 30), (2, "x", 30)], with_labels=False), {}) == ([1, 2], [1, 2])


def test_due_by_interval_and_in_order_of_need() -> None:
    states = {
        1: State(last_look_ms=600),  # looked at 400 ms ago: not due
        2: State(last_look_ms=500, results=3),
        3: State(last_look_ms=100, results=1),
        4: State(last_look_ms=300, results=1),  # as few results as 3, looked at more recently
    }
    watched, due = run(tracked([(t, "car", 30) for t in (1, 2, 3, 4, 5)]), states)
    assert watched == [1, 2, 3, 4, 5]
    assert due == [5, 3, 4, 2]  # 5 is new: no results, never looked at
