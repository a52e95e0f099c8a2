"""Motion gating primitive: scenes made in the test (and real vtest frames) -> moving or not, and where."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
import pytest
from pydantic import ValidationError

from detectors.base import FrameBGR
from detectors.motion import MotionConfig, MotionDetector, MotionResult
from tests.unit.detector_assets import vtest_frames

H, W = 576, 768
RECT_WH = (60, 120)


def texture(seed: int = 3) -> FrameBGR:
    """A mid-grey, smoothly textured scene (no pixel near 0 or 255, so brightness shifts do not clip)."""
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(80, 170, size=(H // 16, W // 16, 3)).astype(np.float32)
    return np.asarray(cv2.resize(coarse, (W, H), interpolation=cv2.INTER_CUBIC).clip(60, 190), np.uint8)


def rect_at(x_px: int, y_px: int = 200) -> tuple[int, int, int, int]:
    return x_px, y_px, x_px + RECT_WH[0], y_px + RECT_WH[1]


def moving_rectangle(
    x0_px: int, step_px: int, frames: int = 10
) -> tuple[list[FrameBGR], list[tuple[int, ...]]]:
    scene = texture()
    out: list[FrameBGR] = []
    rects: list[tuple[int, ...]] = []
    for i in range(frames):
        frame = scene.copy()
        x1, y1, x2, y2 = rect_at(x0_px + i * step_px)
        frame[y1:y2, x1:x2] = (30, 30, 30)
        out.append(frame)
        rects.append((x1, y1, x2, y2))
    return out, rects


def static(frames: int = 10) -> list[FrameBGR]:
    return [texture()] * frames


def with_noise(frames: int = 15, sigma: float = 3.0) -> list[FrameBGR]:
    rng = np.random.default_rng(0)
    scene = texture().astype(np.float32)
    return [
        np.asarray((scene + rng.normal(0, sigma, scene.shape)).clip(0, 255), np.uint8) for _ in range(frames)
    ]


def brightness_ramp(step: float, frames: int = 30) -> list[FrameBGR]:
    scene = texture().astype(np.float32)
    return [np.asarray((scene + i * step).clip(0, 255), np.uint8) for i in range(frames)]


def brightness_step(jump: float, frames: int = 10) -> list[FrameBGR]:
    scene = texture().astype(np.float32)
    return [np.asarray(scene + (jump if i >= 5 else 0), np.uint8) for i in range(frames)]


LEFT_HALF = [[(0.0, 0.0), (0.5, 0.0), (0.5, 1.0), (0.0, 1.0)]]


@dataclass
class Case:
    frames: Callable[[], list[FrameBGR]]
    moving: bool  # expected on every frame after the first
    config: dict[str, Any] = field(default_factory=dict)
    rects: Callable[[], list[tuple[int, ...]]] | None = None  # where the motion is, to check the boxes


CASES = {
    "static scene": Case(static, moving=False),
    "static vtest frame": Case(lambda: vtest_frames(0) * 10, moving=False),
    "sensor noise sigma 3": Case(with_noise, moving=False),
    "moving rectangle": Case(
        lambda: moving_rectangle(100, 12)[0], True, rects=lambda: moving_rectangle(100, 12)[1]
    ),
    "slow rectangle (3 px/frame)": Case(lambda: moving_rectangle(100, 3)[0], True),
    "motion only inside the mask": Case(
        lambda: moving_rectangle(60, 12, frames=12)[0], False, {"mask_polygons_xy": LEFT_HALF}
    ),
    "motion outside the mask": Case(
        lambda: moving_rectangle(450, 12)[0],
        True,
        {"mask_polygons_xy": LEFT_HALF},
        rects=lambda: moving_rectangle(450, 12)[1],
    ),
    "gradual brightening (+2 grey levels/frame)": Case(lambda: brightness_ramp(2.0), moving=False),
    "gradual darkening (-2 grey levels/frame)": Case(lambda: brightness_ramp(-2.0), moving=False),
    "sudden uniform brightening (+40)": Case(lambda: brightness_step(40.0), moving=False),
    "people walking (vtest 100-110)": Case(lambda: vtest_frames(*range(100, 111)), moving=True),
    "disabled: every frame counts": Case(static, moving=True, config={"enabled": False}),
    "whole frame masked": Case(
        lambda: moving_rectangle(100, 12)[0], False, {"mask_polygons_xy": [[(0, 0), (1, 0), (1, 1), (0, 1)]]}
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_motion(name: str) -> None:
    case = CASES[name]
    config = MotionConfig(**case.config)
    detector = MotionDetector(config)
    frames = case.frames()
    results = [detector.update(f) for f in frames]
    first = results[0]
    assert first.moving and first.area_fraction == 1.0  # no background yet: all of it is new
    np.testing.assert_array_equal(first.boxes_xyxy, [[0, 0, W if name != "static vtest frame" else 768, H]])
    for index, result in enumerate(results[1:], start=1):
        assert result.moving is case.moving, f"frame {index}: area_fraction {result.area_fraction:.4f}"
        assert 0.0 <= result.area_fraction <= 1.0
        assert result.boxes_xyxy.dtype == np.float32 and result.boxes_xyxy.shape[1:] == (4,)
        if case.moving and config.enabled:
            assert result.area_fraction > config.min_area_fraction and len(result.boxes_xyxy) >= 1
        if not case.moving:
            assert len(result.boxes_xyxy) == 0
    if case.rects is not None:  # boxes cover the rectangle's edges (uniform inside) and its fading trail only
        rects = case.rects()
        for index in range(1, len(rects)):
            boxes = results[index].boxes_xyxy
            px1, py1, _, _ = rects[0]
            _, _, x2, y2 = rects[index]
            swept = np.array([px1, py1, x2, y2], np.float32) + np.array(
                [-15, -15, 15, 15], np.float32
            )  # 3 downscaled px
            assert (boxes[:, :2] >= swept[:2]).all() and (boxes[:, 2:] <= swept[2:]).all(), (index, boxes)
            x1 = rects[index][0]
            assert ((boxes[:, 0] <= x1 + 4) & (boxes[:, 2] >= x1 - 4)).any()  # the leading edge
            assert ((boxes[:, 0] <= x2 + 4) & (boxes[:, 2] >= x2 - 4)).any()  # the trailing edge


def test_a_rectangle_that_stops_stops_being_motion() -> None:
    """The background catches up with a still object (the gate then relies on tracks / a minimum rate)."""
    frames, _ = moving_rectangle(100, 12, frames=6)
    detector = MotionDetector(MotionConfig())
    results = [detector.update(f) for f in [*frames, *[frames[-1]] * 60]]
    assert all(r.moving for r in results[1:6])
    assert not results[-1].moving


def test_a_new_frame_size_or_reset_starts_over() -> None:
    detector = MotionDetector(MotionConfig())
    scene = texture()
    detector.update(scene)
    assert not detector.update(scene).moving
    small = np.ascontiguousarray(cv2.resize(scene, (384, 288)), dtype=np.uint8)
    result = detector.update(small)
    assert result.moving and result.area_fraction == 1.0
    np.testing.assert_array_equal(result.boxes_xyxy, [[0, 0, 384, 288]])
    assert not detector.update(small).moving
    detector.reset()
    assert detector.update(small).area_fraction == 1.0


def test_threshold_is_the_sensitivity() -> None:
    """A faint change (+12 grey levels on a patch) is motion at threshold 8, not at the default 25."""
    scene = texture()
    faint = scene.copy()
    faint[200:320, 300:360] += 12
    for threshold, expected in [(8, True), (25, False)]:
        detector = MotionDetector(MotionConfig(threshold=threshold))
        detector.update(scene)
        assert detector.update(faint).moving is expected


def test_a_wrong_frame_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="BGR"):
        MotionDetector(MotionConfig()).update(np.zeros((10, 10), np.uint8))


MASK = "mask_polygons_xy"


@pytest.mark.parametrize(
    ("config", "loc", "message"),
    [
        ({MASK: [[(0.1, 0.1), (1.2, 0.1), (0.5, 0.9)]]}, (MASK, 0, 1, 0), "less than or equal to 1"),
        ({MASK: [[(0.1, 0.1), (0.9, -0.1), (0.5, 0.9)]]}, (MASK, 0, 1, 1), "greater than or equal to 0"),
        ({MASK: [[(0.1, 0.1), (0.9, 0.1)]]}, (MASK, 0), "at least 3 items"),
        ({MASK: [[(0.1, 0.1), (0.5, 0.5), (0.9, 0.9)]]}, (MASK,), "encloses no area"),
        ({MASK: [[0.1, 0.2, 0.3]]}, (MASK, 0, 0), "tuple"),
        ({"threshold": 0}, ("threshold",), "greater than or equal to 1"),
        ({"min_area_fraction": 1.5}, ("min_area_fraction",), "less than or equal to 1"),
        ({"sensitivity": 3}, ("sensitivity",), "Extra inputs are not permitted"),
    ],
)
def test_bad_config_names_the_key(config: dict[str, Any], loc: tuple[Any, ...], message: str) -> None:
    with pytest.raises(ValidationError) as info:
        MotionConfig(**config)
    errors = info.value.errors()
    assert any(e["loc"][: len(loc)] == loc and message in e["msg"] for e in errors), errors


def test_config_from_yaml_shaped_data() -> None:
    config = MotionConfig.model_validate(
        {"threshold": 20, "mask_polygons_xy": [[[0, 0], [0.25, 0], [0.25, 0.5]]], "downscale_width_px": 200}
    )
    assert config.mask_polygons_xy == [[(0.0, 0.0), (0.25, 0.0), (0.25, 0.5)]]
    assert MotionConfig().enabled and MotionConfig().mask_polygons_xy == []


def test_cost_per_frame_is_far_below_the_detector() -> None:
    """~0.5 ms per 768x576 frame on the 2-core dev machine; the FP32 detector takes ~115 ms."""
    frames = vtest_frames(*range(0, 60))
    detector = MotionDetector(MotionConfig())
    timings_s = []
    results: list[MotionResult] = []
    for frame in frames:
        t0 = time.perf_counter()
        results.append(detector.update(frame))
        timings_s.append(time.perf_counter() - t0)
    assert all(r.moving for r in results)
    assert float(np.median(timings_s)) < 0.005  # loose: shared CI cores
