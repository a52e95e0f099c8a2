"""line_crossing counts: count_in / count_out per direction since the start of the site's day."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest
import supervision as sv

from events.schema import Event, EventAttributes
from pipelines.analytics.base import FrameContext
from pipelines.analytics.engine import RuleEngine
from pipelines.analytics.line_crossing import LineCrossingAttributes
from pipelines.config import CameraConfig
from tests.unit.events_samples import make_event

RES_WH = (200, 100)
FRAME_MS = 100
Box = tuple[int, float]  # track id, x centre (px); the line is vertical at x = 99.5, drawn top to bottom
Frames = list[list[Box]]
Expected = tuple[int, int, str, int, int]  # frame, track, direction, count_in, count_out


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


def run(rule: dict[str, object], frames: Frames, start_ts_ms: int = 0) -> list[Expected]:
    camera = CameraConfig.model_validate(
        {
            "id": "cam",
            "uri": "x.avi",
            "lines": [{"id": "mid", "start_xy": [0.5, 0], "end_xy": [0.5, 1]}],
            "rules": [{"id": "l", "type": "line_crossing", "line": "mid", "cooldown_s": 0, **rule}],
        }
    )
    engine = RuleEngine.for_camera(camera, RES_WH)
    got: list[Expected] = []
    for i, boxes in enumerate(frames):
        ctx = FrameContext.of(tracked(boxes), start_ts_ms + i * FRAME_MS, RES_WH)
        for f in engine.evaluate(ctx):
            a = f.attributes
            assert isinstance(a, LineCrossingAttributes) and f.track_id is not None
            assert a.count_in is not None and a.count_out is not None
            got.append((i, f.track_id, a.direction, a.count_in, a.count_out))
    return got


def walks(*tracks: tuple[int, list[float]]) -> Frames:
    """Tracks one after another, each walking its xs."""
    return [[(t, x)] for t, xs in tracks for x in xs]


RIGHT, LEFT = [40.0, 80, 120, 160], [160.0, 120, 80, 40]

CASES: list[tuple[str, dict[str, object], Frames, list[Expected]]] = [
    (
        "three people: in, in, out",
        {},
        walks((1, RIGHT), (2, RIGHT), (3, LEFT)),
        [(2, 1, "in", 1, 0), (6, 2, "in", 2, 0), (10, 3, "out", 2, 1)],
    ),
    (
        "directions filter the events, not the counts",
        {"directions": ["in"]},
        walks((1, LEFT), (2, RIGHT), (3, LEFT), (4, RIGHT)),
        [(6, 2, "in", 1, 1), (14, 4, "in", 2, 2)],
    ),
    (
        "a track dithering on the line counts once per cooldown and direction",
        {"cooldown_s": 10},
        walks((3, [40, 160, 40, 160, 40]), (4, RIGHT)),
        [(1, 3, "in", 1, 0), (2, 3, "out", 1, 1), (7, 4, "in", 2, 1)],
    ),
    ("approaching without crossing counts nothing", {}, walks((1, [20, 40, 60, 95, 60])), []),
]


@pytest.mark.parametrize(("case", "rule", "frames", "expected"), CASES, ids=[c[0] for c in CASES])
def test_line_counts(case: str, rule: dict[str, object], frames: Frames, expected: list[Expected]) -> None:
    assert run(rule, frames) == expected


def ms(iso: str) -> int:
    return int(datetime.fromisoformat(iso).replace(tzinfo=UTC).timestamp() * 1000)


@pytest.mark.parametrize(
    ("schedule", "expected_counts"),
    [
        # 15:59:59.7 UTC and 16:00:00.1 UTC are the same UTC day: the counts go on...
        (None, [(1, 0), (2, 0)]),
        ({"time_zone": "UTC"}, [(1, 0), (2, 0)]),
        # ...but midnight in Shanghai (UTC+8) falls between them: the counts restart.
        ({"time_zone": "Asia/Shanghai"}, [(1, 0), (1, 0)]),
        # Los Angeles (UTC-8 in March): 07:59:59.7 and 08:00:00.1 on the same day.
        ({"time_zone": "America/Los_Angeles"}, [(1, 0), (2, 0)]),
    ],
)
def test_counts_restart_at_midnight_in_the_rules_time_zone(
    schedule: dict[str, object] | None, expected_counts: list[tuple[int, int]]
) -> None:
    rule: dict[str, object] = {} if schedule is None else {"schedule": schedule}
    got = run(rule, walks((1, RIGHT), (2, RIGHT)), start_ts_ms=ms("2024-03-01T15:59:59.500"))
    # track 1 crosses at frame 2 (15:59:59.7 UTC), track 2 at frame 6 (16:00:00.1 UTC)
    assert [f for f, *_ in got] == [2, 6]
    assert [(cin, cout) for *_, cin, cout in got] == expected_counts


def test_counts_are_optional_so_older_events_still_parse_and_validate() -> None:
    old = LineCrossingAttributes.model_validate({"type": "line_crossing", "line_id": "l", "direction": "in"})
    assert old.count_in is None and old.count_out is None
    event = make_event(1, event_type="line_crossing")
    raw = event.model_dump(mode="json")
    raw["attributes"] = {"type": "line_crossing", "line_id": "l", "direction": "out"}  # a 1.0/1.1 producer
    parsed = Event.from_json_bytes(Event.model_validate(raw).to_json_bytes())
    assert isinstance(parsed.attributes, EventAttributes)
    assert parsed.attributes.model_dump()["direction"] == "out"
    with pytest.raises(ValueError, match="count_in"):
        LineCrossingAttributes(line_id="l", direction="in", count_in=-1)
