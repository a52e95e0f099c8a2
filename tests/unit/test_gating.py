"""Motion gating: when the detector runs, what gated frames see; and, on a real video with the real
detector, that a static scene spares the detector while the walkers' events stay exactly the same."""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import supervision as sv

from detectors.onnx_yolo import OnnxYoloConfig
from detectors.registry import build_detector
from events.schema import Event
from pipelines.camera_runner import SupervisorConfig
from pipelines.config import CameraConfig, LineConfig, TrackerConfig, ZoneConfig
from pipelines.gating import MotionGate, MotionGateConfig
from pipelines.inference import SharedInference
from pipelines.supervisor import CameraSupervisor
from tests.unit.detector_assets import ONNX_MODEL, VTEST, data_dir, require_media, require_model

STATIC_FRAMES = 60
WALKING_FRAMES = 80


def still(value: int = 90) -> np.ndarray:
    return np.full((120, 160, 3), value, np.uint8)


def with_box(x: int) -> np.ndarray:
    frame = still()
    frame[40:80, x : x + 20] = 250
    return frame


@pytest.mark.parametrize(
    ("frames", "max_skip_s", "expected"),
    [
        # first frame always detected; a still scene only every max_skip_s (frames are 100 ms apart)
        ([still()] * 25, 1.0, [0, 10, 20]),
        # a moving box: every frame
        ([with_box(10 + 5 * i) for i in range(6)], 10.0, [0, 1, 2, 3, 4, 5]),
        # a uniform brightening is no motion
        ([still(90), still(120), still(150)], 10.0, [0]),
    ],
)
def test_the_detector_runs_on_motion_and_at_least_every_max_skip(
    frames: list[np.ndarray], max_skip_s: float, expected: list[int]
) -> None:
    gate = MotionGate(MotionGateConfig(max_skip_s=max_skip_s))
    ran = []
    for i, frame in enumerate(frames):
        if gate.should_detect(frame, i * 100):
            ran.append(i)
            gate.remember(sv.Detections.empty())
    assert ran == expected
    assert gate.frames_gated == len(frames) - len(expected)


def test_a_change_is_detected_until_the_background_has_absorbed_it() -> None:
    gate = MotionGate(MotionGateConfig(max_skip_s=100.0))
    frames = [still()] * 3 + [with_box(50)] * 60
    ran = []
    for i, frame in enumerate(frames):
        if gate.should_detect(frame, i * 100):
            ran.append(i)
            gate.remember(sv.Detections.empty())
    assert ran[:2] == [0, 3]  # the still start is gated, the new object is detected at once
    assert ran[-1] < 50  # once it stands still long enough it is background: gated again
    assert gate.frames_gated == len(frames) - len(ran) >= 15


def test_disabled_gating_always_detects_and_gated_frames_reuse_the_last_detections() -> None:
    gate = MotionGate(MotionGateConfig(enabled=False))
    assert all(gate.should_detect(still(), i * 100) for i in range(5))
    gate = MotionGate(MotionGateConfig())
    assert gate.should_detect(still(), 0)
    found = sv.Detections(xyxy=np.array([[1.0, 2.0, 30.0, 40.0]]), confidence=np.array([0.9]))
    gate.remember(found)
    assert not gate.should_detect(still(), 100)
    again = gate.last_detections()
    assert np.array_equal(again.xyxy, found.xyxy) and again is not found
    gate.reset()
    assert gate.should_detect(still(), 200)  # a new stream is detected at once


def _static_then_walking(path: Path) -> None:
    """vtest's first frame held still for 6 s, then the video's people walking for 8 s (10 fps)."""
    capture = cv2.VideoCapture(str(require_media(VTEST)))
    ok, first = capture.read()
    assert ok
    h, w = first.shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 10.0, (w, h))
    for _ in range(STATIC_FRAMES):
        writer.write(first)
    for _ in range(WALKING_FRAMES):
        ok, frame = capture.read()
        assert ok
        writer.write(frame)
    writer.release()
    capture.release()


@pytest.mark.slow
def test_a_static_scene_spares_the_detector_and_the_walkers_events_are_the_same(tmp_path: Path) -> None:
    video = tmp_path / "static-then-walking.avi"
    _static_then_walking(video)
    detector = build_detector(
        OnnxYoloConfig(model_path=require_model(ONNX_MODEL), class_names={0: "person", 1: "person_down"}),
        data_dir(),
    )

    def run(gating: bool) -> tuple[list[Event], int, int]:
        events: list[Event] = []

        class Collect:
            def publish(self, event: Event) -> None:
                events.append(event)

            def flush(self, timeout_s: float = 0) -> None: ...

            def close(self) -> None: ...

        supervisor = CameraSupervisor(
            inference=SharedInference(detector),
            tracker_config=TrackerConfig(),
            publisher=Collect(),
            snapshots=None,
            site_id="t",
            worker_id="w",
            config=SupervisorConfig(),
            start_ts_ms=0,
        )
        camera = CameraConfig(
            id="cam",
            uri=str(video),
            motion=MotionGateConfig(enabled=gating),
            zones=[
                ZoneConfig(id="road", polygon_xy=[(0.61, 0.40), (0.96, 0.165), (1.0, 0.85), (0.68, 0.57)])
            ],
            lines=[LineConfig(id="post", start_xy=(0.45, 0.30), end_xy=(0.45, 0.62))],
            rules=[
                {"id": "road", "type": "zone_intrusion", "zone": "road", "min_dwell_s": 0.5},
                {"id": "cross", "type": "line_crossing", "line": "post"},
            ],
        )
        camera = CameraConfig.model_validate(camera.model_dump())
        supervisor.inference.start()
        supervisor.add(camera)
        while not supervisor.all_done():
            time.sleep(0.05)
        stats = supervisor.stats()[0]
        supervisor.close()
        supervisor.inference.stop()
        found = [e for e in events if not e.type.startswith("camera_")]
        return found, stats.detector_calls, stats.frames

    gated_events, gated_calls, frames = run(gating=True)
    plain_events, plain_calls, _ = run(gating=False)
    assert frames == plain_calls == STATIC_FRAMES + WALKING_FRAMES
    static_calls = gated_calls - WALKING_FRAMES
    assert static_calls <= 4, f"the detector ran {static_calls} times on {STATIC_FRAMES} static frames"
    assert plain_events, "the walkers should fire the rules"
    assert [(e.ts_ms, e.rule_id, e.track_id, e.attributes) for e in gated_events] == [
        (e.ts_ms, e.rule_id, e.track_id, e.attributes) for e in plain_events
    ]
