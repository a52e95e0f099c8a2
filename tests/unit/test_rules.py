"""Zone intrusion and line crossing on synthetic tracked detections with known ground truth."""

from __future__ import annotations

import numpy as np
import pytest
import supervision as sv

from pipelines.analytics.base import Finding, FrameContext
from pipelines.analytics.engine import RuleEngine
from pipelines.analytics.line_crossing import LineCrossingAttributes
from pipelines.analytics.zone_intrusion import ZoneIntrusionAttributes
from pipelines.config import CameraConfig

RES_WH = (200, 100)
Box = tuple[int, float, float, str]
FRAME_MS = 100


def tracked(boxes: list[Box]) -> sv.Detections:
    """(track_id, x_center_px, y_bottom_px, label) -> tracked detections of 10x20 px boxes."""
    if not boxes:
        return sv.Detections.empty()
    xyxy = np.array([[x - 5, yb - 20, x + 5, yb] for _, x, yb, _ in boxes], dtype=np.float32)
    return sv.Detections(
        xyxy=xyxy,
        confidence=np.full(len(boxes), 0.9, dtype=np.float32),
        class_id=np.zeros(len(boxes), dtype=int),
        tracker_id=np.array([t for t, *_ in boxes]),
        data={"label": np.array([lb for *_, lb in boxes])},
    )


def camera(rules: list[dict[str, object]]) -> CameraConfig:
    return CameraConfig.model_validate(
        {
            "id": "cam",
            "uri": "x.avi",
            "zones": [{"id": "right", "polygon_xy": [[0.5, 0], [1, 0], [1, 1], [0.5, 1]]}],
            "lines": [{"id": "mid", "start_xy": [0.5, 0], "end_xy": [0.5, 1]}],
            "rules": rules,
        }
    )


def run(cam: CameraConfig, frames: list[list[Box]]) -> list[tuple[int, Finding]]:
    engine = RuleEngine.for_camera(cam, RES_WH)
    fired: list[tuple[int, Finding]] = []
    for i, boxes in enumerate(frames):
        for f in engine.evaluate(FrameContext.of(tracked(boxes), i * FRAME_MS, RES_WH)):
            fired.append((i, f))
    return fired


def walk(track: int, xs: list[float], label: str = "person") -> list[list[Box]]:
    return [[(track, x, 60.0, label)] for x in xs]


ZONE = {"id": "z", "type": "zone_intrusion", "zone": "right", "min_dwell_s": 0.3, "cooldown_s": 100}
LINE = {"id": "l", "type": "line_crossing", "line": "mid", "cooldown_s": 0}


@pytest.mark.parametrize(
    ("frames", "expected_frames"),
    [
        (
            walk(1, [20, 40, 60, 80, 120, 130, 140, 150, 160, 170]),
            [7],
        ),  # in from frame 4, fires after 0.3 s
        (walk(1, [20, 40, 60, 80, 90, 80]), []),  # never inside
        (
            walk(1, [120, 130, 40, 150, 160]),
            [],
        ),  # leaves too soon; re-entry restarts
        (walk(1, [120] * 20), [3]),  # cooldown: one event for a long stay
        (walk(1, [120] * 5, label="car"), []),  # label not watched
    ],
)
def test_zone_intrusion(
    frames: list[list[tuple[int, float, float, str]]], expected_frames: list[int]
) -> None:
    fired = run(camera([ZONE]), frames)
    assert [i for i, _ in fired] == expected_frames
    for _, f in fired:
        assert f.type == "zone_intrusion"
        attrs = f.attributes
        assert isinstance(attrs, ZoneIntrusionAttributes)
        assert attrs.zone_id == "right"
        assert attrs.dwell_s >= 0.3


@pytest.mark.parametrize(
    ("extra", "xs", "expected_frames"),
    [
        ({}, [120] * 30, [3]),  # no cooldown at all: still one event per stay
        ({"realert_s": 1.0}, [120] * 30, [3, 13, 23]),  # every realert_s while it stays
        ({}, [120] * 6 + [40] + [120] * 6, [3, 10]),  # left and came back: a new stay, a new event
    ],
)
def test_zone_intrusion_fires_once_per_stay(
    extra: dict[str, object], xs: list[float], expected_frames: list[int]
) -> None:
    rule = {**ZONE, "cooldown_s": 0, **extra}
    assert [i for i, _ in run(camera([rule]), walk(1, xs))] == expected_frames


@pytest.mark.parametrize(
    ("xs", "directions", "expected"),
    [
        ([40, 80, 120, 160], ["in", "out"], ["in"]),  # left to right on a top-to-bottom line = in
        ([180, 150, 120, 60, 40], ["in", "out"], ["out"]),
        ([40, 80, 120, 160, 120, 80], ["in", "out"], ["in", "out"]),
        ([40, 80, 120, 160, 120, 80], ["out"], ["out"]),
        ([20, 30, 40, 95], ["in", "out"], []),  # approaches, never crosses
    ],
)
def test_line_crossing_direction(xs: list[float], directions: list[str], expected: list[str]) -> None:
    fired = run(camera([{**LINE, "directions": directions}]), walk(7, xs))
    got = []
    for _, f in fired:
        attrs = f.attributes
        assert isinstance(attrs, LineCrossingAttributes)
        assert f.track_id == 7
        got.append(attrs.direction)
    assert got == expected


def test_line_cooldown_per_direction() -> None:
    rule = {**LINE, "cooldown_s": 10}
    fired = run(camera([rule]), walk(3, [40, 160, 40, 160, 40]))
    attrs = [f.attributes for _, f in fired]
    directions = [a.direction for a in attrs if isinstance(a, LineCrossingAttributes)]
    assert directions == ["in", "out"]
    assert len(fired) == 2


def test_untracked_detections_never_fire() -> None:
    engine = RuleEngine.for_camera(camera([ZONE, LINE]), RES_WH)
    det = tracked([(1, 150, 60, "person")])
    det.tracker_id = None
    assert engine.evaluate(FrameContext.of(det, 0, RES_WH)) == []
    assert engine.evaluate(FrameContext.of(det, 5000, RES_WH)) == []


def test_two_tracks_fire_independently() -> None:
    frames = [[(1, 120.0, 60.0, "person"), (2, 150.0, 60.0, "person")] for _ in range(5)]
    fired = run(camera([ZONE]), frames)
    assert sorted(f.track_id or 0 for _, f in fired) == [1, 2]
