"""crowd: one start event when a crowd has lasted, one end event when it has dispersed, none per frame."""

from __future__ import annotations

import numpy as np
import pytest
import supervision as sv

from detectors.base import ModelInfo
from events.schema import Severity
from pipelines.analytics.base import Finding, FrameContext
from pipelines.analytics.crowd import CrowdAttributes
from pipelines.analytics.engine import RuleEngine
from pipelines.config import CameraConfig
from pipelines.emit import EmitContext, build_event

RES_WH = (200, 100)
FRAME_MS = 100
# The zone is x >= 99.5 px. min_count 3, min_duration 1 s, disperse after 0.5 s below.
RULE = {"min_count": 3, "min_duration_s": 1.0, "disperse_s": 0.5}
Expected = tuple[int, str, int, int, float]  # frame, phase, count, peak_count, duration_s


def untracked(inside: int, outside: int = 0, label: str = "person", height_px: float = 20) -> sv.Detections:
    """`inside` boxes in the zone and `outside` boxes left of it, none tracked (a detector's output)."""
    xs = [110 + 8 * i for i in range(inside)] + [10 + 8 * i for i in range(outside)]
    if not xs:
        return sv.Detections.empty()
    return sv.Detections(
        xyxy=np.array([[x - 3, 60 - height_px, x + 3, 60] for x in xs], dtype=np.float32),
        confidence=np.full(len(xs), 0.8, dtype=np.float32),
        class_id=np.zeros(len(xs), dtype=int),
        data={"label": np.array([label] * len(xs))},
    )


def camera(rule: dict[str, object]) -> CameraConfig:
    return CameraConfig.model_validate(
        {
            "id": "cam",
            "uri": "x.avi",
            "zones": [{"id": "plaza", "polygon_xy": [[0.5, 0], [1, 0], [1, 1], [0.5, 1]]}],
            "rules": [{"id": "crowd", "type": "crowd", "zone": "plaza", **RULE, **rule}],
        }
    )


def run_frames(rule: dict[str, object], frames: list[sv.Detections]) -> list[tuple[int, Finding]]:
    e = RuleEngine.for_camera(camera(rule), RES_WH)
    fired: list[tuple[int, Finding]] = []
    for i, dets in enumerate(frames):
        ctx = FrameContext(i * FRAME_MS, sv.Detections.empty(), dets, RES_WH)  # nothing tracked
        fired.extend((i, f) for f in e.evaluate(ctx))
    return fired


def run(counts: list[int], rule: dict[str, object] | None = None) -> list[Expected]:
    got: list[Expected] = []
    for i, f in run_frames(rule or {}, [untracked(n, outside=2) for n in counts]):
        a = f.attributes
        assert isinstance(a, CrowdAttributes) and a.zone_id == "plaza" and f.track_id is None
        got.append((i, a.phase, a.count, a.peak_count, a.duration_s))
    return got


CASES: list[tuple[str, list[int], list[Expected]]] = [
    (
        "forms, lasts, disperses",
        [0] * 2 + [3] * 15 + [0] * 10,  # formed 200 ms; below from 1700 ms
        [(12, "start", 3, 3, 1.0), (22, "end", 0, 3, 1.5)],
    ),
    (
        "the peak is the most at once, reported at the start and at the end",
        [3] * 5 + [5] * 3 + [4] * 10 + [3] * 5 + [1] * 6,  # below from 2300 ms
        [(10, "start", 4, 5, 1.0), (28, "end", 1, 5, 2.3)],
    ),
    (
        "forms and disperses twice: two start/end pairs",
        [3] * 12 + [0] * 6 + [4] * 12 + [0] * 6,
        [
            (10, "start", 3, 3, 1.0),
            (17, "end", 0, 3, 1.2),
            (28, "start", 4, 4, 1.0),
            (35, "end", 0, 4, 1.2),
        ],
    ),
    (
        "a dip shorter than disperse_s neither restarts the clock nor ends the crowd",
        [3] * 6 + [2] * 3 + [3] * 10 + [2] * 4 + [3] * 3 + [0] * 6,
        [(10, "start", 3, 3, 1.0), (31, "end", 0, 3, 2.6)],
    ),
    ("never lasts min_duration_s: nothing", [3] * 9 + [0] * 10 + [3] * 9 + [0] * 10, []),
    ("too few: nothing", [2] * 30, []),
    (
        "still there at the end of the video: a start and no end",
        [4] * 30,
        [(10, "start", 4, 4, 1.0)],
    ),
]


@pytest.mark.parametrize(("case", "counts", "expected"), CASES, ids=[c[0] for c in CASES])
def test_crowd(case: str, counts: list[int], expected: list[Expected]) -> None:
    assert run(counts) == expected


def test_only_watched_labels_and_sizes_inside_the_zone_count() -> None:
    frames = [untracked(2, outside=6) for _ in range(20)]  # 8 people, only 2 inside
    assert run_frames({}, frames) == []
    assert run_frames({}, [untracked(5, label="car") for _ in range(20)]) == []
    small = [untracked(5, height_px=10) for _ in range(20)]
    assert run_frames({"min_box_height_px": 15}, small) == []
    assert [i for i, _ in run_frames({"min_box_height_px": 5}, small)] == [10]


def test_start_is_an_alert_the_end_is_not() -> None:
    counts = [4] * 12 + [0] * 6
    fired = run_frames({"severity": "high"}, [untracked(n) for n in counts])
    assert [f.severity for _, f in fired] == [None, Severity.INFO]
    start, end = fired[0][1], fired[1][1]
    assert start.label == "person" and start.confidence == pytest.approx(0.8)
    assert start.xyxy == (107.0, 40.0, 137.0, 60.0)  # the union of the four boxes inside
    assert end.xyxy == (99.0, 0.0, 199.0, 99.0)  # nobody left: the zone's box
    emit = EmitContext(
        camera_id="cam",
        site_id="site",
        worker_id="w",
        model=ModelInfo("m", "1"),
        rules={r.id: r for r in camera({"severity": "high"}).rules},
    )
    events = [build_event(emit, f, i * FRAME_MS, RES_WH, None) for i, f in fired]
    assert [(e.type, e.severity, e.alert, e.track_id) for e in events] == [
        ("crowd", Severity.HIGH, True, None),
        ("crowd", Severity.INFO, False, None),
    ]
