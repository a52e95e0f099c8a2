"""Cheap motion detection for gating the detector: downscaled grey frames against a running background.

Per frame: resize to `downscale_width_px` wide, grey, 3x3 blur; the absolute difference to a running
average of past frames (`cv2.accumulateWeighted`, rate `background_alpha`), after taking out the
change of mean brightness (so a uniform brightening or darkening, gradual or sudden, is not motion);
pixels changed by more than `threshold` grey levels, outside the mask polygons, are moving. The frame
has motion when the moving share of the unmasked area exceeds `min_area_fraction`. Boxes are the
connected moving regions (after a 3x3 dilation), in the frame's pixels.

The first frame (and the first after a change of frame size) has no background to compare with: it
reports motion over the whole frame, so a gate built on this runs the detector on it. With
`enabled: false`, every frame reports whole-frame motion (a gate then never skips the detector).
Pure and per camera: one `MotionDetector` per stream, no pipeline knowledge. Cost: about 0.5 ms per
768x576 frame on the 2-core dev machine, ~1 % of one INT8 detection (bench/int8.py prints both).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Annotated

import cv2
import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, field_validator

from detectors.base import FrameBGR
from detectors.downscale import shrink

logger = logging.getLogger(__name__)

UnitFloat = Annotated[float, Field(ge=0.0, le=1.0)]
PointXY = tuple[UnitFloat, UnitFloat]
FloatArray = npt.NDArray[np.float32]


class MotionConfig(BaseModel):
    """Motion gating of one camera. Polygons are normalised: (0, 0) top-left, (1, 1) bottom-right."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(default=True, description="false: every frame counts as moving (no gating)")
    downscale_width_px: int = Field(
        default=160, ge=16, le=1920, description="width the frame is shrunk to before comparing"
    )
    threshold: int = Field(
        default=25,
        ge=1,
        le=255,
        description="grey levels (0..255) a pixel must change by to be moving: "
        "the sensitivity, lower is more sensitive",
    )
    min_area_fraction: float = Field(
        default=0.001,
        ge=0.0,
        le=1.0,
        description="moving share of the unmasked frame above which it has motion",
    )
    background_alpha: float = Field(
        default=0.1, gt=0.0, le=1.0, description="how fast the background follows the scene, per frame"
    )
    mask_polygons_xy: list[Annotated[list[PointXY], Field(min_length=3)]] = Field(
        default_factory=list,
        description="areas never counted as motion (trees in the wind, a clock, a road outside the site): "
        "polygons of >= 3 (x, y) points, each coordinate in 0..1 of the frame's width / height",
    )

    @field_validator("mask_polygons_xy")
    @classmethod
    def _polygons_have_area(cls, polygons: list[list[PointXY]]) -> list[list[PointXY]]:
        for index, polygon in enumerate(polygons):
            if abs(cv2.contourArea(np.asarray(polygon, dtype=np.float32))) <= 0.0:
                raise ValueError(f"polygon {index} encloses no area (its points are on one line)")
        return polygons


@dataclass(frozen=True, slots=True)
class MotionResult:
    moving: bool
    #: moving share of the unmasked frame, 0..1
    area_fraction: float
    #: moving regions, N x 4 float32 (x1, y1, x2, y2) in the frame's pixels
    boxes_xyxy: FloatArray = field(default_factory=lambda: np.empty((0, 4), np.float32))


class MotionDetector:
    """`update(frame)` per frame of one camera, in order; returns whether (and where) something moved."""

    def __init__(self, config: MotionConfig) -> None:
        self._config = config
        self._kernel = np.ones((3, 3), np.uint8)
        self._frame_hw: tuple[int, int] | None = None
        self._small_wh = (0, 0)
        self._background: FloatArray | None = None
        self._grey: FloatArray | None = None
        self._valid: npt.NDArray[np.uint8] | None = None
        self._valid_px = 0

    @property
    def config(self) -> MotionConfig:
        return self._config

    def reset(self) -> None:
        """Forget the background (after a reconnect or a camera move): the next frame is a first frame."""
        self._frame_hw = None
        self._background = None

    def _start(self, frame_hw: tuple[int, int]) -> None:
        height, width = frame_hw
        small_w = min(self._config.downscale_width_px, width)
        small_h = max(1, round(height * small_w / width))
        self._frame_hw, self._small_wh = frame_hw, (small_w, small_h)
        valid = np.full((small_h, small_w), 255, np.uint8)
        for polygon in self._config.mask_polygons_xy:
            points = np.round(np.asarray(polygon, np.float64) * (small_w, small_h)).astype(np.int32)
            cv2.fillPoly(valid, [points], 0)
        self._valid, self._valid_px = valid, int(cv2.countNonZero(valid))
        self._grey = np.empty((small_h, small_w), np.float32)

    def _whole_frame(self) -> MotionResult:
        assert self._frame_hw is not None
        height, width = self._frame_hw
        return MotionResult(True, 1.0, np.array([[0, 0, width, height]], dtype=np.float32))

    def update(self, frame_bgr: FrameBGR) -> MotionResult:
        if frame_bgr.ndim != 3 or frame_bgr.shape[2] != 3 or frame_bgr.dtype != np.uint8:
            raise ValueError(
                f"expected an H x W x 3 uint8 BGR frame, got {frame_bgr.dtype} {frame_bgr.shape}"
            )
        frame_hw = (int(frame_bgr.shape[0]), int(frame_bgr.shape[1]))
        if frame_hw != self._frame_hw:
            self._start(frame_hw)
            self._background = None
        if not self._config.enabled:
            return self._whole_frame()
        assert self._grey is not None and self._valid is not None
        small = shrink(frame_bgr, self._small_wh)
        grey = cv2.GaussianBlur(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY), (3, 3), 0)
        current = self._grey
        current[...] = grey
        background = self._background
        if background is None:
            self._background = current.copy()
            return self._whole_frame()
        if self._valid_px == 0:
            return MotionResult(False, 0.0)
        # take out the change of mean brightness (exposure, clouds, dusk) before comparing
        shift = cv2.mean(current, self._valid)[0] - cv2.mean(background, self._valid)[0]
        diff = cv2.absdiff(current, background + np.float32(shift))
        cv2.accumulateWeighted(current, background, self._config.background_alpha)
        _, moving = cv2.threshold(diff, self._config.threshold, 255, cv2.THRESH_BINARY)
        moving_u8 = np.asarray(cv2.bitwise_and(moving.astype(np.uint8), self._valid), np.uint8)
        fraction = cv2.countNonZero(moving_u8) / self._valid_px
        if fraction <= self._config.min_area_fraction:
            return MotionResult(False, fraction)
        return MotionResult(True, fraction, self._boxes(moving_u8))

    def _boxes(self, moving_u8: npt.NDArray[np.uint8]) -> FloatArray:
        assert self._frame_hw is not None
        count, _, stats, _ = cv2.connectedComponentsWithStats(
            cv2.dilate(moving_u8, self._kernel), connectivity=8
        )
        if count <= 1:
            return np.empty((0, 4), np.float32)
        xywh = stats[1:, :4].astype(np.float32)  # label 0 is the background
        scale = (
            np.float32(self._frame_hw[1] / self._small_wh[0]),
            np.float32(self._frame_hw[0] / self._small_wh[1]),
        )
        boxes = np.empty_like(xywh)
        boxes[:, 0], boxes[:, 1] = xywh[:, 0] * scale[0], xywh[:, 1] * scale[1]
        boxes[:, 2], boxes[:, 3] = (xywh[:, 0] + xywh[:, 2]) * scale[0], (xywh[:, 1] + xywh[:, 3]) * scale[1]
        return boxes
