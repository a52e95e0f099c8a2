"""Static-object detection without a trained class: dual background (long-term vs short-term).

Per frame (shrunk to `process_width_px`): the long-term background starts as the reference scene (the
median of the frames of the first `learning_s` seconds) and follows the view with time constant
`long_time_constant_s`; the short-term one follows with `short_time_constant_s`. A pixel differing
from a background by >= `difference_min` levels in some channel (after taking out the change of mean
brightness) is foreground in it. Foreground in the long-term model but background in the short-term
one means "changed, and still since": a static candidate (Porikli et al. 2008). Moving people are
foreground in both and never candidates. Candidate regions (between `min_area_fraction` and
`max_area_fraction` of the frame) are followed over frames by overlap (IoU >= `iou_min`), and kept
through occlusions of up to `max_gap_s` (a person standing in front of a bag). Each pixel remembers
since when it has been long-term foreground, so a region's `first_seen_ts_ms` is when the change began
(by when 75 % of its pixels had changed), not when the short-term model caught up (a bag put down
where a person had been standing counts from when the person came). A region still for
>= `static_s` seconds, and seen in >= `min_seen_fraction` of the frames since it was first a candidate,
is reported, as `appeared` (the scene gained an object: more edge detail now than in the long-term
background) or `disappeared` (the scene lost one: less). A static object is absorbed into the long-term
background after about 1.2 x `long_time_constant_s` and then no longer reported. People standing still
for >= `static_s` are static too, and people present while the reference is learned leave a
`disappeared` region when they go: telling objects from people is the rules' job (person nearby).
Pure and per camera; the rules decide what a region means (a person nearby, a label, a zone).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, model_validator

from detectors.base import FrameBGR
from detectors.downscale import shrink

logger = logging.getLogger(__name__)

StaticKind = Literal["appeared", "disappeared"]
U8 = npt.NDArray[np.uint8]
F32 = npt.NDArray[np.float32]
_OPEN_KERNEL = np.ones((3, 3), np.uint8)
_CLOSE_KERNEL = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
_LEARN_FRAMES_MAX = 32
_NEVER_MS = np.iinfo(np.int64).max
_BEGAN_PERCENTILE = 75


class StaticObjectsConfig(BaseModel):
    """Abandoned / removed object detection of one camera (no trained model)."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["static_objects"] = "static_objects"
    process_width_px: int = Field(
        default=240, ge=32, le=1920, description="frames are shrunk to this width (never enlarged) first"
    )
    learning_s: float = Field(
        default=3.0, gt=0.0, description="seconds of video the reference scene is learned on"
    )
    static_s: float = Field(
        default=10.0, gt=0.0, description="T: seconds a region must stay still to be reported"
    )
    long_time_constant_s: float = Field(
        default=300.0, gt=0.0, description="how slowly the long-term background follows the scene"
    )
    short_time_constant_s: float = Field(
        default=1.0, gt=0.0, description="how fast the short-term background absorbs what stopped moving"
    )
    difference_min: int = Field(
        default=30, ge=1, le=255, description="foreground: differs from a background by >= this (any channel)"
    )
    min_area_fraction: float = Field(
        default=0.001, ge=0.0, le=1.0, description="smallest region reported, as a share of the frame"
    )
    max_area_fraction: float = Field(
        default=0.2, gt=0.0, le=1.0, description="largest region reported, as a share of the frame"
    )
    iou_min: float = Field(
        default=0.3,
        gt=0.0,
        le=1.0,
        description="a candidate continues a region when their boxes overlap this much",
    )
    min_seen_fraction: float = Field(
        default=0.5,
        ge=0.0,
        le=1.0,
        description="a region is reported only when seen in this share of the frames since it was first seen "
        "(people standing and shifting make flickering regions; a left object makes a steady one)",
    )
    max_gap_s: float = Field(
        default=3.0, ge=0.0, description="a region survives this long unseen (occluded) before it is dropped"
    )

    @model_validator(mode="after")
    def _areas_ordered(self) -> StaticObjectsConfig:
        if self.min_area_fraction >= self.max_area_fraction:
            raise ValueError("min_area_fraction must be < max_area_fraction")
        if self.short_time_constant_s >= self.long_time_constant_s:
            raise ValueError("short_time_constant_s must be < long_time_constant_s")
        return self


@dataclass(frozen=True, slots=True)
class StaticRegion:
    #: (x1, y1, x2, y2) in the frame's pixels
    xyxy: tuple[float, float, float, float]
    #: when the change began (the region's pixels left the long-term background)
    first_seen_ts_ms: int
    #: seconds still so far
    still_s: float
    kind: StaticKind
    #: the region's pixels as a share of the frame, 0..1
    area_fraction: float
    #: false while it is occluded (kept for max_gap_s)
    visible: bool = True


@dataclass(frozen=True, slots=True)
class StaticObjectsResult:
    regions: tuple[StaticRegion, ...] = ()
    #: true while the reference scene is still being learned
    learning: bool = False


@dataclass(slots=True)
class _Track:
    anchor: npt.NDArray[np.float32]  # the box when first seen: a region that drifts away is not still
    box: npt.NDArray[np.float32]
    first_seen_ts_ms: int
    last_seen_ts_ms: int
    area_px: int
    kind: StaticKind
    frames: int = 0  # frames since the region was first a candidate
    seen_frames: int = 0


class StaticObjectDetector:
    """`update(frame_bgr, ts_ms)` per frame of one camera, in order; returns the still regions."""

    def __init__(self, config: StaticObjectsConfig) -> None:
        self._config = config
        self.reset()

    @property
    def config(self) -> StaticObjectsConfig:
        return self._config

    def reset(self) -> None:
        """Forget the scene (after a reconnect or a camera move): learning starts again."""
        self._frame_hw: tuple[int, int] | None = None
        self._learn: list[U8] = []
        self._learn_start_ms: int | None = None
        self._long: F32 | None = None
        self._short: F32 | None = None
        self._fg_since_ms: npt.NDArray[np.int64] | None = None
        self._tracks: list[_Track] = []
        self._last_ts_ms = 0

    def update(self, frame_bgr: FrameBGR, ts_ms: int) -> StaticObjectsResult:
        if frame_bgr.ndim != 3 or frame_bgr.shape[2] != 3 or frame_bgr.dtype != np.uint8:
            raise ValueError(
                f"expected an H x W x 3 uint8 BGR frame, got {frame_bgr.dtype} {frame_bgr.shape}"
            )
        frame_hw = (int(frame_bgr.shape[0]), int(frame_bgr.shape[1]))
        if frame_hw != self._frame_hw:
            if self._frame_hw is not None:
                logger.info(
                    "frame size changed %s -> %s: static-object scene re-learned", self._frame_hw, frame_hw
                )
            self.reset()
            self._start(frame_hw)
        small = shrink(frame_bgr, self._small_wh)
        if self._long is None or self._short is None or self._fg_since_ms is None:
            return self._learning(small, ts_ms)
        cfg = self._config
        current = small.astype(np.float32)
        long_fg = self._foreground(current, self._long)
        short_fg = self._foreground(current, self._short)
        self._fg_since_ms[~long_fg] = _NEVER_MS
        np.minimum(self._fg_since_ms, ts_ms, out=self._fg_since_ms, where=long_fg)
        candidate = cv2.morphologyEx((long_fg & ~short_fg).astype(np.uint8), cv2.MORPH_OPEN, _OPEN_KERNEL)
        self._follow(
            np.asarray(cv2.morphologyEx(candidate, cv2.MORPH_CLOSE, _CLOSE_KERNEL), np.uint8), current, ts_ms
        )
        dt_ms = max(0, ts_ms - self._last_ts_ms)
        cv2.accumulateWeighted(current, self._long, _alpha(dt_ms, cfg.long_time_constant_s))
        cv2.accumulateWeighted(current, self._short, _alpha(dt_ms, cfg.short_time_constant_s))
        self._last_ts_ms = ts_ms
        return StaticObjectsResult(self._report(ts_ms))

    def _start(self, frame_hw: tuple[int, int]) -> None:
        height, width = frame_hw
        small_w = min(self._config.process_width_px, width)
        small_h = max(1, round(height * small_w / width))
        self._frame_hw, self._small_wh = frame_hw, (small_w, small_h)
        self._scale = np.array([width / small_w, height / small_h] * 2, np.float32)
        self._area_px = small_w * small_h

    def _learning(self, small: U8, ts_ms: int) -> StaticObjectsResult:
        if self._learn_start_ms is None:
            self._learn_start_ms = ts_ms
        self._learn.append(small)
        if len(self._learn) >= _LEARN_FRAMES_MAX:
            self._learn = self._learn[::2]
        if ts_ms - self._learn_start_ms < self._config.learning_s * 1000:
            return StaticObjectsResult(learning=True)
        reference = np.median(np.stack(self._learn), axis=0).astype(np.float32)
        self._long, self._short = reference, reference.copy()
        self._fg_since_ms = np.full(reference.shape[:2], _NEVER_MS, np.int64)
        self._learn, self._last_ts_ms = [], ts_ms
        logger.debug("static-object reference scene learned")
        return StaticObjectsResult()

    def _foreground(self, current: F32, background: F32) -> npt.NDArray[np.bool_]:
        shift = np.subtract(cv2.mean(current)[:3], cv2.mean(background)[:3]).astype(np.float32)
        b, g, r = cv2.split(cv2.absdiff(current, background + shift))
        return np.asarray(cv2.max(cv2.max(b, g), r) >= self._config.difference_min)

    def _follow(self, candidate: U8, current: F32, ts_ms: int) -> None:
        cfg = self._config
        assert self._fg_since_ms is not None and self._long is not None
        count, labels, stats, _ = cv2.connectedComponentsWithStats(candidate, connectivity=8)
        min_px, max_px = cfg.min_area_fraction * self._area_px, cfg.max_area_fraction * self._area_px
        for label in range(1, count):
            x, y, w, h, area = (int(v) for v in stats[label])
            if not min_px <= area <= max_px:
                continue
            box = np.array([x, y, x + w, y + h], np.float32)
            best = max(self._tracks, key=lambda t: _iou(t.anchor, box), default=None)
            if best is not None and _iou(best.anchor, box) >= cfg.iou_min:
                if best.last_seen_ts_ms != ts_ms:
                    best.seen_frames += 1
                best.box, best.area_px, best.last_seen_ts_ms = box, area, ts_ms
                continue
            region = labels[y : y + h, x : x + w] == label
            since_ms = self._fg_since_ms[y : y + h, x : x + w][region]
            since_ms = since_ms[since_ms != _NEVER_MS]  # the closing filled in some background pixels
            # most of it (not just a part, where a person stood before) changed by then
            began_ms = int(np.percentile(since_ms, _BEGAN_PERCENTILE)) if since_ms.size else ts_ms
            kind = self._kind(current, self._long, (x, y, w, h), region)
            self._tracks.append(_Track(box, box.copy(), began_ms, ts_ms, area, kind, seen_frames=1))
            logger.debug("static candidate %s at %s px (since %d ms)", kind, box.tolist(), began_ms)
        gap_ms = cfg.max_gap_s * 1000
        self._tracks = [t for t in self._tracks if ts_ms - t.last_seen_ts_ms <= gap_ms]
        for track in self._tracks:
            track.frames += 1

    @staticmethod
    def _kind(
        current: F32, background: F32, xywh: tuple[int, int, int, int], region: npt.NDArray[np.bool_]
    ) -> StaticKind:
        """appeared when the region holds more edge detail now than in the long-term background."""
        x, y, w, h = xywh
        x1, y1 = max(0, x - 2), max(0, y - 2)
        x2, y2 = min(current.shape[1], x + w + 2), min(current.shape[0], y + h + 2)
        band = np.zeros((y2 - y1, x2 - x1), np.uint8)
        band[y - y1 : y - y1 + h, x - x1 : x - x1 + w] = region
        band = cv2.dilate(band, _CLOSE_KERNEL).astype(bool)

        def detail(image: F32) -> float:
            grey = cv2.cvtColor(image[y1:y2, x1:x2], cv2.COLOR_BGR2GRAY)
            magnitude = cv2.magnitude(cv2.Sobel(grey, cv2.CV_32F, 1, 0), cv2.Sobel(grey, cv2.CV_32F, 0, 1))
            return float(magnitude[band].mean())

        return "appeared" if detail(current) >= detail(background) else "disappeared"

    def _report(self, ts_ms: int) -> tuple[StaticRegion, ...]:
        out = []
        for track in self._tracks:
            still_s = (ts_ms - track.first_seen_ts_ms) / 1000
            steady = track.seen_frames >= self._config.min_seen_fraction * track.frames
            if still_s >= self._config.static_s and steady:
                xyxy = (track.box * self._scale).tolist()
                out.append(
                    StaticRegion(
                        (xyxy[0], xyxy[1], xyxy[2], xyxy[3]),
                        track.first_seen_ts_ms,
                        round(still_s, 3),
                        track.kind,
                        track.area_px / self._area_px,
                        track.last_seen_ts_ms == ts_ms,
                    )
                )
        return tuple(out)


def _alpha(dt_ms: int, time_constant_s: float) -> float:
    return 1.0 - float(np.exp(-dt_ms / (1000.0 * time_constant_s)))


def _iou(a: npt.NDArray[np.float32], b: npt.NDArray[np.float32]) -> float:
    iw = max(0.0, float(min(a[2], b[2]) - max(a[0], b[0])))
    ih = max(0.0, float(min(a[3], b[3]) - max(a[1], b[1])))
    inter = iw * ih
    union = float((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1])) - inter
    return inter / union if union > 0 else 0.0
