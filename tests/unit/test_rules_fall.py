"""fall: upright then fallen in K of M frames fires once; a box never seen upright never does."""

from __future__ import annotations

import numpy as np
import pytest
import supervision as sv
from pydantic import ValidationError

from pipelines.analytics.base import FrameContext
from pipelines.analytics.engine import RuleEngine
from pipelines.analytics.fall import FallAttributes, FallConfig
from pipelines.config import CameraConfig

RES_WH = (200, 100)
FRAME_MS = 100
# Shapes (width, height) in px: tall = upright by aspect (3.0), flat = fallen by aspect (0.333),
# square = neither (1.0: only its label tells).
TALL, FLAT, SQUARE = (10.0, 30.0), (30.0, 10.0), (20.0, 20.0)
LOW = (16.0, 14.0)  # neither tall nor flat (0.875), and lower than a 20 px square: a label decides
Obs = tuple[str, tuple[float, float]]  # label, shape
# frame, track, confirmed_frames, aspect_before, aspect_after, upright_seen_ts_ms
Expected = tuple[int, int, int, float, float, int]
U, F = ("person", TALL), ("person_down", FLAT)  # the sample model's Normal / Fall, as the demo names them
K3_OF_5 = {"confirm_frames": 3, "window_frames": 5, "cooldown_s": 0}  # short sequences; defaults below


def tracked(obs: list[tuple[int, Obs, float]]) -> sv.Detections:
    """(track id, (label, (w, h)), x centre) -> boxes standing on y = 80."""
    if not obs:
        return sv.Detections.empty()
    xyxy = [[x - w / 2, 80 - h, x + w / 2, 80] for _, (_, (w, h)), x in obs]
    return sv.Detections(
        xyxy=np.array(xyxy, dtype=np.float32),
        confidence=np.full(len(obs), 0.7, dtype=np.float32),
        class_id=np.zeros(len(obs), dtype=int),
        tracker_id=np.array([t for t, _, _ in obs]),
        data={"label": np.array([lb for _, (lb, _), _ in obs])},
    )


def run(rule: dict[str, object], frames: list[list[tuple[int, Obs, float]]]) -> list[Expected]:
    camera = CameraConfig.model_validate(
        {"id": "cam", "uri": "x.avi", "rules": [{"id": "fall", "type": "fall", **K3_OF_5, **rule}]}
    )
    engine = RuleEngine.for_camera(camera, RES_WH)
    got: list[Expected] = []
    for i, obs in enumerate(frames):
        for f in engine.evaluate(FrameContext.of(tracked(obs), i * FRAME_MS, RES_WH)):
            a = f.attributes
            assert isinstance(a, FallAttributes) and f.type == "fall" and f.track_id is not None
            got.append(
                (i, f.track_id, a.confirmed_frames, a.aspect_before, a.aspect_after, a.upright_seen_ts_ms)
            )
    return got


def one(*seq: Obs | None, x: float = 100, track: int = 1) -> list[list[tuple[int, Obs, float]]]:
    """One track's observations, frame by frame (None: not detected)."""
    return [[] if o is None else [(track, o, x)] for o in seq]


AFTER, BEFORE = 0.333, 3.0
CASES: list[tuple[str, dict[str, object], list[list[tuple[int, Obs, float]]], list[Expected]]] = [
    (
        "upright, then fallen in 3 of the last 5 frames",
        {},
        one(*[U] * 5, *[F] * 5),
        [(7, 1, 3, BEFORE, AFTER, 400)],
    ),
    (
        "the sample video's yellow object: labelled fallen from its first frame, never alerts",
        {},
        one(*[F] * 40),
        [],
    ),
    (
        "upright, then labelled fallen while still tall (a walker the model calls Fall): no fall",
        {},
        one(*[U] * 5, *[("person_down", TALL)] * 10),
        [],
    ),
    (
        "labelled fallen but tall: the box wins, a standing person",
        {},
        one(*[("person_down", TALL)] * 40),
        [],
    ),
    (
        "one upright frame is not 'seen upright' (a label flicker on the yellow object)",
        {},
        one(*[F] * 5, U, *[F] * 10),
        [],
    ),
    (
        "by aspect alone (a generic person detector): tall, then flat",
        {"labels": ["person"]},
        one(*[U] * 5, *[("person", FLAT)] * 5),
        [(7, 1, 3, BEFORE, AFTER, 400)],
    ),
    (
        "fallen_aspect 0: flat boxes labelled upright are not falls",
        {"labels": ["person"], "fallen_aspect": 0},
        one(*[U] * 5, *[("person", FLAT)] * 10),
        [],
    ),
    (
        "the sample model's own class names work too",
        {},
        one(*[("Normal", SQUARE)] * 4, *[("Fall", LOW)] * 4),
        [(6, 1, 3, 1.0, 0.875, 300)],
    ),
    (
        "labelled Fall but as tall as when standing (arms spread, a wide stride): not down",
        {},
        one(*[("Normal", SQUARE)] * 4, *[("Fall", SQUARE)] * 6),
        [],
    ),
    (
        "fallen in 2 of 5 is not confirmed",
        {},
        one(*[U] * 5, F, U, F, U, U, F, U, U, F, U),
        [],
    ),
    (
        "K=2 of M=3",
        {"confirm_frames": 2, "window_frames": 3},
        one(*[U] * 3, F, U, F, F),
        [(5, 1, 2, BEFORE, AFTER, 400)],
    ),
    (
        "fallen too long after upright (max_transition_s): not a fall",
        {"max_transition_s": 1.0},
        one(*[U] * 5, *[None] * 20, *[F] * 5),  # upright at 400 ms, fallen from 2500 ms
        [],
    ),
    (
        "stays down for long: one event",
        {},
        one(*[U] * 5, *[F] * 100),
        [(7, 1, 3, BEFORE, AFTER, 400)],
    ),
    (
        "a person lying still whose label flickers to upright and back: not a second fall (stationary)",
        {},
        one(*[U] * 5, *[F] * 5, *[U] * 3, *[F] * 5),
        [(7, 1, 3, BEFORE, AFTER, 400)],
    ),
    (
        "the same with stationary_px 0: each confirmed fall alerts",
        {"stationary_px": 0},
        one(*[U] * 5, *[F] * 5, *[U] * 3, *[F] * 5),
        [(7, 1, 3, BEFORE, AFTER, 400), (15, 1, 3, BEFORE, AFTER, 1200)],
    ),
]


@pytest.mark.parametrize(("case", "rule", "frames", "expected"), CASES, ids=[c[0] for c in CASES])
def test_fall(
    case: str, rule: dict[str, object], frames: list[list[tuple[int, Obs, float]]], expected: list[Expected]
) -> None:
    assert run(rule, frames) == expected


def test_gets_up_and_falls_again_elsewhere_alerts_again_unless_in_cooldown() -> None:
    first = one(*[U] * 5, *[F] * 3, *[U] * 5)  # falls at 7, up again (re-armed at 10)
    second = one(*[F] * 3, x=150)  # falls 50 px away at 13..15
    assert run({}, [*first, *second]) == [(7, 1, 3, BEFORE, AFTER, 400), (15, 1, 3, BEFORE, AFTER, 1200)]
    assert run({"cooldown_s": 5}, [*first, *second]) == [(7, 1, 3, BEFORE, AFTER, 400)]


def test_defaults_confirm_in_6_of_8_frames_so_a_3_to_5_frame_label_flicker_is_not_a_fall() -> None:
    defaults: dict[str, object] = {"confirm_frames": 6, "window_frames": 8, "cooldown_s": 10}
    assert run(defaults, one(*[U] * 8, *[F] * 5, *[U] * 10, F, F, U, F, F, *[U] * 5)) == []
    assert run(defaults, one(*[U] * 8, *[F] * 10)) == [(13, 1, 6, BEFORE, AFTER, 700)]
    config = FallConfig.model_validate({"id": "f", "type": "fall"})
    assert (config.confirm_frames, config.window_frames, config.stationary_px) == (6, 8, 15.0)
    assert set(config.labels) == {"person", "Normal", "person_down", "Fall"}


def test_two_people_one_falls() -> None:
    frames = [[(1, U, 50.0), (2, U if i < 5 else F, 150.0)] for i in range(12)]
    assert run({}, frames) == [(7, 2, 3, BEFORE, AFTER, 400)]


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"confirm_frames": 6, "window_frames": 5}, "confirm_frames"),
        ({"fallen_aspect": 2.0, "upright_aspect": 1.5}, "fallen_aspect"),
        ({"confirm_frames": 0}, "confirm_frames"),
    ],
)
def test_bad_configs_are_refused(change: dict[str, object], key: str) -> None:
    with pytest.raises(ValidationError, match=key):
        FallConfig.model_validate({"id": "f", "type": "fall", **change})
