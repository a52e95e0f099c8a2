"""A camera reconfigured while it runs keeps the state of what did not change: an unchanged rule does not
report again the objects it reported, an unchanged recogniser keeps its per-track votes."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pytest

from pipelines.analytics.base import FrameContext
from pipelines.analytics.engine import RuleEngine
from pipelines.config import CameraConfig
from pipelines.recognition.stage import RecognitionStage, Recognizer, StageFrame
from tests.unit.test_rules import FRAME_MS, RES_WH, camera, tracked

INTRUSION: dict[str, object] = {"id": "in", "type": "zone_intrusion", "zone": "right", "min_dwell_s": 0}
CROSSING: dict[str, object] = {"id": "cross", "type": "line_crossing", "line": "mid"}
FACES: dict[str, object] = {"id": "faces", "type": "face_unknown", "min_seen_s": 1}
CODES: dict[str, object] = {"id": "codes", "type": "code_read"}


def changed(cam: CameraConfig, **update: Any) -> CameraConfig:
    return CameraConfig.model_validate(cam.model_dump() | update)


#: how the camera changes -> whether the intrusion rule keeps its state
CHANGES: list[tuple[str, Callable[[CameraConfig], CameraConfig], bool]] = [
    ("privacy only", lambda c: changed(c, privacy={"blur_persons": True}), True),
    ("a rule added", lambda c: changed(c, rules=[INTRUSION, CROSSING, FACES]), True),
    ("another rule removed", lambda c: changed(c, rules=[INTRUSION]), True),
    ("this rule's config", lambda c: changed(c, rules=[INTRUSION | {"min_dwell_s": 0.1}, CROSSING]), False),
    (
        "a zone moved",
        lambda c: changed(c, zones=[{"id": "right", "polygon_xy": [[0.6, 0], [1, 0], [1, 1], [0.6, 1]]}]),
        False,
    ),
    ("the time zone", lambda c: changed(c, time_zone="Asia/Shanghai"), False),
]


@pytest.mark.parametrize(("change", "keeps"), [pytest.param(c, k, id=n) for n, c, k in CHANGES])
def test_an_unchanged_rule_does_not_report_again(
    change: Callable[[CameraConfig], CameraConfig], keeps: bool
) -> None:
    old = camera([INTRUSION, CROSSING])
    engine = RuleEngine.for_camera(old, RES_WH)
    in_zone = [(7, 150.0, 80.0, "person")]
    reported = [f.rule_id for f in engine.evaluate(FrameContext.of(tracked(in_zone), 0, RES_WH))]
    assert reported == ["in"]
    engine = engine.reconfigured(old, change(old), RES_WH)
    again = []
    for i in range(1, 5):  # the same object stays in the zone after the change
        again += [f.rule_id for f in engine.evaluate(FrameContext.of(tracked(in_zone), i * FRAME_MS, RES_WH))]
    assert again == ([] if keeps else ["in"])


class Counting:
    """A recogniser that only says which rules it was built for."""

    name = "counting"

    def __init__(self, rules: Sequence[object]) -> None:
        self.rules = list(rules)

    def observe(self, frame: StageFrame) -> list[object]:
        return []

    def faces_in(self, frame: StageFrame) -> list[tuple[int, int, int, int]]:
        return []


def stage_for(cam: CameraConfig, previous: RecognitionStage | None = None) -> RecognitionStage:
    def factory(camera_id: str, rules: Sequence[object]) -> Recognizer:
        return Counting(rules)

    stage = RecognitionStage.for_rules(
        cam.id, cam.rules, {"face": factory, "code": factory}, previous=previous
    )
    assert stage is not None
    return stage


def test_an_unchanged_recogniser_is_kept_with_its_state() -> None:
    old = camera([FACES, CODES])
    first = stage_for(old)
    faces, codes = first.recognizers
    added = stage_for(camera([FACES, CODES, INTRUSION]), previous=first)
    assert added.recognizers[0] is faces and added.recognizers[1] is codes
    retuned = stage_for(camera([FACES | {"min_seen_s": 2}, CODES]), previous=added)
    assert retuned.recognizers[0] is not faces and retuned.recognizers[1] is codes
    assert stage_for(camera([FACES, CODES])).recognizers[0] is not faces  # no previous stage: all new
