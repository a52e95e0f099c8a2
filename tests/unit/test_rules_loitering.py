"""loitering: dwell in a zone through brief track loss and re-identification, one event per episode."""

from __future__ import annotations

import numpy as np
import pytest
import supervision as sv

from pipelines.analytics.base import FrameContext
from pipelines.analytics.engine import RuleEngine
from pipelines.analytics.loitering import LoiteringAttributes
from pipelines.config import CameraConfig

RES_WH = (200, 100)
FRAME_MS = 100
Box = tuple[int, float]  # track id, x centre (px); boxes are 10x20 px with their bottom at y=60
Frames = list[list[Box]]
Expected = tuple[int, int, float, int]  # frame, track, dwell_s, episode_start_ts_ms
# The zone is x >= 99.5 px. min_dwell 1 s, max_gap 0.5 s, rejoin within 20 px, no cooldown.
RULE = {"min_dwell_s": 1.0, "max_gap_s": 0.5, "rejoin_px": 20, "cooldown_s": 0}


def tracked(boxes: list[Box]) -> sv.Detections:
    if not boxes:
        return sv.Detections.empty()
    return sv.Detections(
        xyxy=np.array([[x - 5, 40, x + 5, 60] for _, x in boxes], dtype=np.float32),
        confidence=np.full(len(boxes), 0.9, dtype=np.float32),
        class_id=np.zeros(len(boxes), dtype=int),
        tracker_id=np.array([t for t, _ in boxes]),
        data={"label": np.array(["person"] * len(boxes))},
    )


def run(rule: dict[str, object], frames: Frames) -> list[Expected]:
    camera = CameraConfig.model_validate(
        {
            "id": "cam",
            "uri": "x.avi",
            "zones": [{"id": "right", "polygon_xy": [[0.5, 0], [1, 0], [1, 1], [0.5, 1]]}],
            "rules": [{"id": "loiter", "type": "loitering", "zone": "right", **RULE, **rule}],
        }
    )
    engine = RuleEngine.for_camera(camera, RES_WH)
    got: list[Expected] = []
    for i, boxes in enumerate(frames):
        for f in engine.evaluate(FrameContext.of(tracked(boxes), i * FRAME_MS, RES_WH)):
            a = f.attributes
            assert isinstance(a, LoiteringAttributes) and f.track_id is not None
            assert a.zone_id == "right" and f.type == "loitering"
            got.append((i, f.track_id, a.dwell_s, a.episode_start_ts_ms))
    return got


def at(track: int, x: float, n: int) -> Frames:
    """`track` seen at x for n frames."""
    return [[(track, x)] for _ in range(n)]


def gap(n: int) -> Frames:
    return [[] for _ in range(n)]


CASES: list[tuple[str, dict[str, object], Frames, list[Expected]]] = [
    ("stays: one event when the dwell reaches 1 s, none after", {}, at(1, 150, 40), [(10, 1, 1.0, 0)]),
    ("leaves before the dwell: nothing", {}, [*at(1, 150, 6), *at(1, 60, 10)], []),
    (
        "lost for 0.5 s (= max_gap_s): the dwell goes on",
        {},
        [*at(1, 150, 5), *gap(4), *at(1, 150, 4)],  # last inside 400 ms, back at 900 ms
        [(10, 1, 1.0, 0)],
    ),
    (
        "lost for 0.6 s: a new episode, its dwell from the return",
        {},
        [*at(1, 150, 5), *gap(5), *at(1, 150, 12)],  # back at 1000 ms
        [(20, 1, 1.0, 1000)],
    ),
    (
        "a brief step outside the zone continues the episode",
        {},
        [*at(1, 150, 5), *at(1, 60, 3), *at(1, 150, 4)],  # outside 500-700 ms, back at 800 ms
        [(10, 1, 1.0, 0)],
    ),
    (
        "a new id where a just-lost track was takes its episode over",
        {},
        [*at(1, 150, 5), *gap(2), *at(2, 160, 6)],  # 10 px away
        [(10, 2, 1.0, 0)],
    ),
    (
        "a new id farther than rejoin_px is another object",
        {},
        [*at(1, 150, 5), *gap(2), *at(2, 110, 12)],  # 40 px away: its own episode from 700 ms
        [(17, 2, 1.0, 700)],
    ),
    (
        "a new id does not take the episode of a track still seen (outside the zone)",
        {},
        [*at(1, 150, 5), *[[(1, 60.0), (2, 150.0)] for _ in range(12)]],
        [(15, 2, 1.0, 500)],
    ),
    (
        "a new id after a gap longer than max_gap_s starts afresh",
        {},
        [*at(1, 150, 5), *gap(6), *at(2, 150, 12)],
        [(21, 2, 1.0, 1100)],
    ),
    (
        "an episode that already fired does not fire again under the new id",
        {},
        [*at(1, 150, 12), *gap(2), *at(2, 155, 20)],
        [(10, 1, 1.0, 0)],
    ),
    (
        "two objects loiter independently",
        {},
        [[(1, 150.0), (2, 120.0)] for _ in range(5)]
        + [[(1, 150.0), (2, 120.0), (3, 180.0)] for _ in range(11)],
        [(10, 1, 1.0, 0), (10, 2, 1.0, 0), (15, 3, 1.0, 500)],
    ),
    (
        "objects shorter than min_box_height_px are ignored",
        {"min_box_height_px": 21},
        at(1, 150, 20),
        [],
    ),
]


@pytest.mark.parametrize(("case", "rule", "frames", "expected"), CASES, ids=[c[0] for c in CASES])
def test_loitering(case: str, rule: dict[str, object], frames: Frames, expected: list[Expected]) -> None:
    assert run(rule, frames) == expected


@pytest.mark.parametrize(
    ("stationary_px", "return_x", "expected"),
    [
        # Lost for longer than max_gap_s, back at the same place: a new episode, but it has not moved.
        (15, 150, [(10, 1, 1.0, 0)]),
        (0, 150, [(10, 1, 1.0, 0), (30, 1, 1.0, 2000)]),  # stationary_px 0 = off: it fires again
        (15, 180, [(10, 1, 1.0, 0), (30, 1, 1.0, 2000)]),  # back 30 px away: it moved
    ],
)
def test_a_stationary_object_does_not_alert_again(
    stationary_px: float, return_x: float, expected: list[Expected]
) -> None:
    frames = [*at(1, 150, 12), *gap(8), *at(1, return_x, 15)]
    assert run({"stationary_px": stationary_px}, frames) == expected
