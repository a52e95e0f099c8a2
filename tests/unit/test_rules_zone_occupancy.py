"""zone_occupancy: enter/exit events with the count inside per label, on synthetic tracks."""

from __future__ import annotations

import numpy as np
import pytest
import supervision as sv

from pipelines.analytics.base import FrameContext
from pipelines.analytics.engine import RuleEngine
from pipelines.analytics.zone_occupancy import ZoneOccupancyAttributes
from pipelines.config import CameraConfig

RES_WH = (200, 100)
FRAME_MS = 100
Box = tuple[int, float, str]  # track id, x centre (px), label; boxes are 10x20 px, bottom at y=60
Frames = list[list[Box]]
# (frame, track, transition, occupancy, lost, label)
Expected = tuple[int, int, str, dict[str, int], bool, str]


def tracked(boxes: list[Box]) -> sv.Detections:
    if not boxes:
        return sv.Detections.empty()
    return sv.Detections(
        xyxy=np.array([[x - 5, 40, x + 5, 60] for _, x, _ in boxes], dtype=np.float32),
        confidence=np.full(len(boxes), 0.9, dtype=np.float32),
        class_id=np.zeros(len(boxes), dtype=int),
        tracker_id=np.array([t for t, _, _ in boxes]),
        data={"label": np.array([lb for *_, lb in boxes])},
    )


def run(rule: dict[str, object], frames: Frames) -> list[Expected]:
    camera = CameraConfig.model_validate(
        {
            "id": "cam",
            "uri": "x.avi",
            "zones": [{"id": "right", "polygon_xy": [[0.5, 0], [1, 0], [1, 1], [0.5, 1]]}],
            "rules": [{"id": "occ", "type": "zone_occupancy", "zone": "right", **rule}],
        }
    )
    engine = RuleEngine.for_camera(camera, RES_WH)
    got: list[Expected] = []
    for i, boxes in enumerate(frames):
        for f in engine.evaluate(FrameContext.of(tracked(boxes), i * FRAME_MS, RES_WH)):
            a = f.attributes
            assert isinstance(a, ZoneOccupancyAttributes)
            assert a.zone_id == "right" and f.type == "zone_occupancy" and f.track_id is not None
            got.append((i, f.track_id, a.transition, a.occupancy, a.lost, f.label))
    return got


def walk(track: int, xs: list[float], label: str = "person") -> Frames:
    return [[(track, x, label)] for x in xs]


P, D = "person", "person_down"

CASES: list[tuple[str, dict[str, object], Frames, list[Expected]]] = [
    (
        "walks in then out",
        {},
        walk(1, [40, 80, 120, 160, 120, 80]),
        [(2, 1, "enter", {P: 1}, False, P), (5, 1, "exit", {}, False, P)],
    ),
    ("never inside", {}, walk(1, [20, 40, 60, 80, 95]), []),
    (
        "two people; one walks out, the other is lost for longer than lost_s",
        {"lost_s": 0.5},
        [
            [(1, 40, P), (2, 40, P)],
            [(1, 120, P), (2, 40, P)],
            [(1, 120, P), (2, 130, P)],
            [(1, 60, P), (2, 130, P)],  # t2 last seen at 300 ms
            *([[]] * 7),  # lost: > 500 ms after 300 ms is frame 9 (900 ms)
        ],
        [
            (1, 1, "enter", {P: 1}, False, P),
            (2, 2, "enter", {P: 2}, False, P),
            (3, 1, "exit", {P: 1}, False, P),
            (9, 2, "exit", {}, True, P),
        ],
    ),
    (
        "lost no longer than lost_s: still inside, no exit, no second enter",
        {"lost_s": 0.5},
        [*walk(1, [120, 130, 140]), [], [], [], *walk(1, [150, 160])],
        [(0, 1, "enter", {P: 1}, False, P)],
    ),
    (
        "occupancy per label; an exit in the same frame as an enter comes first",
        {"labels": [P, "car"]},
        [[(1, 120, P)], [(1, 60, P), (2, 150, "car")], [(2, 150, "car"), (3, 160, P)]],
        [
            (0, 1, "enter", {P: 1}, False, P),
            (1, 1, "exit", {}, False, P),
            (1, 2, "enter", {"car": 1}, False, "car"),
            (2, 3, "enter", {"car": 1, P: 1}, False, P),
        ],
    ),
    (
        "counted under the label it entered with, whatever it flickers to",
        {"labels": [P, D]},
        [[(1, 120, P)], [(1, 120, P), (2, 150, D)], [(1, 120, D), (2, 150, D)], [(1, 60, D), (2, 150, D)]],
        [
            (0, 1, "enter", {P: 1}, False, P),
            (1, 2, "enter", {P: 1, D: 1}, False, D),
            (3, 1, "exit", {D: 1}, False, P),
        ],
    ),
    ("a label the rule does not watch is not counted", {}, walk(1, [40, 120, 160, 60], label="car"), []),
    (
        "objects smaller than min_box_area_px are not counted",
        {"min_box_area_px": 201},  # the boxes are 10 x 20 = 200 px²
        walk(1, [40, 120, 160, 60]),
        [],
    ),
]


@pytest.mark.parametrize(("case", "rule", "frames", "expected"), CASES, ids=[c[0] for c in CASES])
def test_zone_occupancy(case: str, rule: dict[str, object], frames: Frames, expected: list[Expected]) -> None:
    assert run(rule, frames) == expected


def test_events_pair_up_and_the_last_occupancy_is_the_count_inside() -> None:
    """Three people wander in and out: every enter has its exit, and occupancy is the running count."""
    xs = {1: [40, 120, 130, 60, 120, 160], 2: [150, 150, 60, 60, 110, 120], 3: [40, 40, 40, 130, 140, 150]}
    frames: Frames = [[(t, xs[t][i], P) for t in xs] for i in range(6)]
    got = run({}, frames)
    inside = 0
    for _, _, transition, occupancy, _, _ in got:
        inside += 1 if transition == "enter" else -1
        assert occupancy.get(P, 0) == inside
    assert inside == 3  # all three end inside
    assert [t for _, t, tr, *_ in got if tr == "enter"].count(1) == 2  # track 1 entered twice
