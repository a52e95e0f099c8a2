"""Hazard rules on real frames: fire on the flame video (once per episode) and none on vtest.avi; camera
tamper (covered, blurred, shifted) with a recovery event; an abandoned bag (nobody near) reported
within T + 2 s and none without it; an owner standing by suppresses it; a removed object."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import cv2
import numpy as np
import supervision as sv

from detectors.base import FrameBGR
from pipelines.analytics.base import Finding, FrameContext
from pipelines.analytics.engine import RuleEngine
from pipelines.config import CameraConfig
from tests.unit.hazard_media import FLAME_FPS, flame_video, paste_patch, ts_ms, video_frames, vtest

T0_MS = 1_700_000_000_000


def engine(rule: dict[str, Any], resolution_wh: tuple[int, int]) -> RuleEngine:
    camera = CameraConfig.model_validate({"id": "c", "uri": "x.avi", "rules": [{"id": "r", **rule}]})
    return RuleEngine.for_camera(camera, resolution_wh)


def run(
    rule: dict[str, Any], frames: Iterable[FrameBGR], fps: int, people: dict[int, sv.Detections] | None = None
) -> list[tuple[int, Finding]]:
    fired: list[tuple[int, Finding]] = []
    eng: RuleEngine | None = None
    for i, frame in enumerate(frames):
        if eng is None:
            eng = engine(rule, (frame.shape[1], frame.shape[0]))
        dets = (people or {}).get(i, sv.Detections.empty())
        ctx = FrameContext(T0_MS + ts_ms(i, fps), dets, dets, (frame.shape[1], frame.shape[0]), _const(frame))
        fired.extend((i, f) for f in eng.evaluate(ctx))
    return fired


def _const(frame: FrameBGR) -> Callable[[], FrameBGR]:
    return lambda: frame


def test_the_flame_video_is_one_fire_episode() -> None:
    fired = run({"type": "fire"}, video_frames(flame_video(), 90), FLAME_FPS)
    assert len(fired) == 1, [i for i, _ in fired]
    i, finding = fired[0]
    assert 10 <= i <= 30 and finding.type == "fire"
    assert finding.attributes.model_dump()["area_fraction"] > 0.05


def test_vtest_has_no_fire_and_no_smoke() -> None:
    frames = list(vtest(200))
    assert run({"type": "fire"}, frames, 10) == []
    assert run({"type": "smoke"}, frames, 10) == []


def _tamper_sequence(kind: str) -> list[FrameBGR]:
    normal = list(vtest(80))
    tampered: list[FrameBGR] = []
    for frame in list(vtest(30, start=80)):
        if kind == "covered":
            tampered.append(np.full_like(frame, 8))
        elif kind == "defocused":
            tampered.append(np.asarray(cv2.GaussianBlur(frame, (0, 0), 8), dtype=np.uint8))
        else:
            h, w = frame.shape[:2]
            shift = np.array([[1, 0, 0.15 * w], [0, 1, 0]], dtype=np.float32)
            tampered.append(np.asarray(cv2.warpAffine(frame, shift, (w, h)), dtype=np.uint8))
    return normal + tampered + list(vtest(20, start=110))


def test_camera_tamper_kinds_and_recovery() -> None:
    for kind in ("covered", "defocused", "moved"):
        fired = run({"type": "camera_tamper"}, _tamper_sequence(kind), 10)
        phases = [(f.attributes.model_dump()["phase"], f.attributes.model_dump()["kind"]) for _, f in fired]
        assert phases == [("tampered", kind), ("recovered", kind)], (kind, phases)
        assert 80 <= fired[0][0] <= 90 and fired[1][1].severity is not None  # recovery is info, no alert


BAG_XYXY = (420, 400, 460, 450)
BAG_FROM = 60


def _bag_video(with_bag: bool) -> list[FrameBGR]:
    frames = list(vtest(260))
    if with_bag:
        frames[BAG_FROM:] = [paste_patch(f, BAG_XYXY, (30, 140, 200)) for f in frames[BAG_FROM:]]
    return frames


def test_an_abandoned_bag_is_reported_within_t_plus_2_s_and_only_with_the_bag() -> None:
    rule = {"type": "object_abandoned", "detector": {"static_s": 10}}
    fired = run(rule, _bag_video(True), 10)
    assert len(fired) == 1
    i, finding = fired[0]
    assert BAG_FROM + 100 <= i <= BAG_FROM + 120  # T = 10 s at 10 fps, + 2 s
    x1, y1, x2, y2 = finding.xyxy
    assert x1 <= 440 <= x2 and y1 <= 425 <= y2
    assert run(rule, _bag_video(False), 10) == []


def test_an_owner_standing_by_keeps_the_bag_from_being_abandoned() -> None:
    owner = sv.Detections(
        xyxy=np.array([[465.0, 330.0, 500.0, 450.0]]),
        confidence=np.array([0.9]),
        class_id=np.array([0]),
        tracker_id=np.array([1]),
        data={"label": np.array(["person"])},
    )
    rule = {"type": "object_abandoned", "detector": {"static_s": 10}}
    assert run(rule, _bag_video(True), 10, people=dict.fromkeys(range(260), owner)) == []
