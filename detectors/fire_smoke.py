"""Model-free fire and smoke detection on one camera's frames (no trained model, nothing downloaded).

Fire, on a copy shrunk to `process_width_px`: flame-coloured pixels by the rules of the literature
(Chen et al. 2004, RGB/HSV: R >= `red_min`, R >= G > B, saturation >= `saturation_min`; Celik & Demirel
2009, YCrCb: Y >= Cb, Cr - Cb >= `cr_minus_cb_min`), grouped into regions. Flames flicker: a pixel
flame-coloured in every one of the last `flicker_window_frames` frames whose brightness (Y) varied over
them by a standard deviation >= `flicker_min_std` flickers; a region whose share of flickering pixels is
>= `flicker_min_fraction` is a candidate. Static cones, brick walls and yellow coats do not flicker, and a
person walking in front of them makes them lose the colour, not flicker. A candidate must persist:
flagged in >= `persist_frames` of the last `persist_window_frames` frames before it is reported.

Smoke: the background is the per-pixel median of `background_samples` frames sampled over the last
`background_window_s` seconds (the first `learning_s` seconds at start), so people walking through never
stay in it. Smoke pixels differ from it by >= `difference_min` levels, are greyish (max - min of B, G, R
<= `chroma_max`, grey level in `grey_min`..`grey_max`) and have lost edge detail (3x3 Sobel magnitude
averaged over 7x7 <= `edge_ratio_max` x the background's). Regions must persist like fire and spread:
reach `growth_min_ratio` x the area they had when first seen.

Pure and per camera (one `FireSmokeDetector` per stream, frames in order). Cost: bench/hazards.py.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, model_validator

from detectors.base import FrameBGR
from detectors.downscale import shrink

logger = logging.getLogger(__name__)

U8 = npt.NDArray[np.uint8]
F32 = npt.NDArray[np.float32]
_CLOSE_KERNEL = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
_OPEN_KERNEL = np.ones((3, 3), np.uint8)
_EDGE_EPS = 4.0  # edge-energy floor: smooth areas (ratio ~1) never count as having lost detail
_LEARN_FRAMES_MAX = 64


class _Persistence(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(default=True, description="false: never report this hazard")
    min_area_fraction: float = Field(
        default=0.0005, ge=0.0, le=1.0, description="smallest region, share of frame"
    )
    persist_frames: int = Field(
        default=12, ge=1, description="K: frames of the last M a region must be flagged in"
    )
    persist_window_frames: int = Field(
        default=16, ge=1, description="M: the window K is counted over, frames"
    )

    @model_validator(mode="after")
    def _k_of_m(self) -> _Persistence:
        if self.persist_frames > self.persist_window_frames:
            raise ValueError("persist_frames must be <= persist_window_frames")
        return self


class FireSettings(_Persistence):
    red_min: int = Field(default=150, ge=0, le=255, description="flame pixels: red channel >= this")
    saturation_min: int = Field(default=60, ge=0, le=255, description="flame pixels: HSV saturation >= this")
    cr_minus_cb_min: int = Field(default=20, ge=0, le=255, description="flame pixels: YCrCb Cr - Cb >= this")
    flicker_window_frames: int = Field(default=8, ge=3, le=64, description="frames flicker is measured over")
    flicker_min_std: float = Field(
        default=4.0,
        gt=0.0,
        description="flickering pixel: std of its brightness (0..255) over the window >= this",
    )
    flicker_min_fraction: float = Field(
        default=0.15, ge=0.0, le=1.0, description="a region flickers when this share of its pixels does"
    )


class SmokeSettings(_Persistence):
    min_area_fraction: float = Field(
        default=0.005, ge=0.0, le=1.0, description="smallest region, share of frame"
    )
    persist_frames: int = Field(default=8, ge=1, description="K of M, as for fire")
    persist_window_frames: int = Field(default=12, ge=1, description="M, as for fire")
    learning_s: float = Field(
        default=2.0, gt=0.0, description="seconds of video the first background is made of"
    )
    background_window_s: float = Field(
        default=30.0,
        gt=0.0,
        description="the background is the median of frames sampled over this many past seconds: what stays "
        "longer than half of it (a parked car, smoke that stopped spreading) becomes background",
    )
    background_samples: int = Field(default=15, ge=3, le=64, description="frames sampled over that window")
    difference_min: int = Field(
        default=15, ge=1, le=255, description="differs from the background by >= this"
    )
    chroma_max: int = Field(default=40, ge=0, le=255, description="greyish: max - min of B, G, R <= this")
    grey_min: int = Field(default=80, ge=0, le=255, description="smoke pixels: grey level >= this")
    grey_max: int = Field(default=235, ge=0, le=255, description="smoke pixels: grey level <= this")
    edge_ratio_max: float = Field(
        default=0.6, gt=0.0, le=1.0, description="lost detail: edge energy <= this x the background's"
    )
    growth_min_ratio: float = Field(
        default=1.5, ge=1.0, description="spreading: area must reach this x the area when first seen"
    )


class FireSmokeConfig(BaseModel):
    """Model-free fire and smoke detection of one camera."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["fire_smoke"] = "fire_smoke"
    process_width_px: int = Field(
        default=320, ge=32, le=1920, description="frames are shrunk to this width first"
    )
    fire: FireSettings = Field(default_factory=FireSettings)
    smoke: SmokeSettings = Field(default_factory=SmokeSettings)


@dataclass(frozen=True, slots=True)
class HazardRegion:
    #: (x1, y1, x2, y2) in the frame's pixels
    xyxy: tuple[float, float, float, float]
    #: the region's pixels as a share of the frame, 0..1
    area_fraction: float
    #: 0..1: share of the last M frames flagged x strength of the evidence (flicker, loss of detail)
    score: float
    #: frames the region has been flagged in since it first appeared
    persisted_frames: int
    first_seen_ts_ms: int


@dataclass(frozen=True, slots=True)
class FireSmokeResult:
    fire: tuple[HazardRegion, ...] = ()
    smoke: tuple[HazardRegion, ...] = ()
    #: true while the first smoke background is being learned (no smoke can be reported yet)
    learning: bool = False


@dataclass(slots=True)
class _Track:
    box: F32  # xyxy in process pixels
    hits: deque[bool]
    first_seen_ts_ms: int
    first_area_px: int
    area_px: int = 0
    persisted_frames: int = 0
    evidence: float = 0.0
    present: bool = False


class _Tracks:
    """Candidate regions followed over frames by overlap of their boxes, for K-of-M persistence."""

    def __init__(self, settings: _Persistence) -> None:
        self._settings = settings
        self.tracks: list[_Track] = []

    def update(self, candidates: list[tuple[F32, int, float]], ts_ms: int) -> None:
        for track in self.tracks:
            track.present = False
        for box, area_px, evidence in sorted(candidates, key=lambda c: -c[1]):
            found = next((t for t in self.tracks if _overlap(t.box, box)), None)
            if found is None:
                found = _Track(box, deque(maxlen=self._settings.persist_window_frames), ts_ms, area_px)
                self.tracks.append(found)
            if found.present:  # another piece of the same region in this frame: merge
                found.box = np.concatenate(
                    [np.minimum(found.box[:2], box[:2]), np.maximum(found.box[2:], box[2:])]
                )
                found.area_px, found.evidence = found.area_px + area_px, max(found.evidence, evidence)
                if found.first_seen_ts_ms == ts_ms:  # a new region in pieces: its first area is all of them
                    found.first_area_px = found.area_px
            else:
                found.box, found.area_px, found.evidence, found.present = box, area_px, evidence, True
        for track in self.tracks:
            track.hits.append(track.present)
            track.persisted_frames += int(track.present)
        self.tracks = [t for t in self.tracks if any(t.hits)]

    def confirmed(self) -> list[_Track]:
        return [t for t in self.tracks if t.present and sum(t.hits) >= self._settings.persist_frames]


def _overlap(a: F32, b: F32, margin_px: float = 2.0) -> bool:
    """Boxes (xyxy) overlap, or are within `margin_px` of each other."""
    return bool(np.all(a[:2] - margin_px <= b[2:]) and np.all(b[:2] - margin_px <= a[2:]))


def _regions(mask: U8, min_area_px: int, strength: F32) -> list[tuple[F32, int, float]]:
    """(box xyxy, area px, mean of `strength` over it) of each connected region of `mask` >= `min_area_px`."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    sums = np.bincount(labels.ravel(), weights=strength.ravel(), minlength=count)
    out: list[tuple[F32, int, float]] = []
    for label in range(1, count):
        x, y, w, h, area = (int(v) for v in stats[label])
        if area >= min_area_px:
            out.append((np.array([x, y, x + w, y + h], np.float32), area, float(sums[label] / area)))
    return out


def _edge_energy(grey: U8) -> F32:
    magnitude = cv2.magnitude(cv2.Sobel(grey, cv2.CV_32F, 1, 0), cv2.Sobel(grey, cv2.CV_32F, 0, 1))
    return np.asarray(cv2.blur(magnitude, (7, 7)), np.float32)


def _channel_max_min(image: U8) -> tuple[U8, U8]:
    """Per pixel, the largest and the smallest of B, G, R (OpenCV: ~8x faster than numpy's max(axis=2))."""
    b, g, r = cv2.split(image)
    return np.asarray(cv2.max(cv2.max(b, g), r), np.uint8), np.asarray(cv2.min(cv2.min(b, g), r), np.uint8)


class FireSmokeDetector:
    """`update(frame_bgr, ts_ms)` per frame of one camera, in order; returns its fire and smoke regions."""

    def __init__(self, config: FireSmokeConfig) -> None:
        self._config = config
        self.reset()

    @property
    def config(self) -> FireSmokeConfig:
        return self._config

    def reset(self) -> None:
        """Forget everything (after a reconnect or a camera move): learning starts again."""
        self._frame_hw: tuple[int, int] | None = None
        self._fire_tracks, self._smoke_tracks = _Tracks(self._config.fire), _Tracks(self._config.smoke)
        self._frames_seen = 0
        self._samples: deque[U8] = deque()
        self._learn_start_ms: int | None = None
        self._next_sample_ms = 0
        self._background: U8 | None = None
        self._edge_background: F32 | None = None

    def update(self, frame_bgr: FrameBGR, ts_ms: int) -> FireSmokeResult:
        if frame_bgr.ndim != 3 or frame_bgr.shape[2] != 3 or frame_bgr.dtype != np.uint8:
            raise ValueError(
                f"expected an H x W x 3 uint8 BGR frame, got {frame_bgr.dtype} {frame_bgr.shape}"
            )
        frame_hw = (int(frame_bgr.shape[0]), int(frame_bgr.shape[1]))
        if frame_hw != self._frame_hw:
            if self._frame_hw is not None:
                logger.info("frame size changed %s -> %s: fire/smoke state reset", self._frame_hw, frame_hw)
            self.reset()
            self._start(frame_hw)
        small = shrink(frame_bgr, self._small_wh)
        fire = self._fire(small, ts_ms) if self._config.fire.enabled else ()
        smoke, learning = self._smoke(small, ts_ms) if self._config.smoke.enabled else ((), False)
        return FireSmokeResult(fire, smoke, learning)

    def _start(self, frame_hw: tuple[int, int]) -> None:
        height, width = frame_hw
        small_w = min(self._config.process_width_px, width)
        small_h = max(1, round(height * small_w / width))
        self._frame_hw, self._small_wh, self._area_px = frame_hw, (small_w, small_h), small_w * small_h
        self._scale = np.array([width / small_w, height / small_h] * 2, np.float32)
        window = self._config.fire.flicker_window_frames
        # the last `window` frames' Y and flame colour, with running sums (int32: exact, cheap to update)
        self._ring_y = np.zeros((window, small_h, small_w), np.int32)
        self._ring_on = np.zeros((window, small_h, small_w), np.int32)
        self._sum_y, self._sum_y2, self._count_on = (np.zeros((small_h, small_w), np.int32) for _ in range(3))

    def _report(self, tracks: _Tracks, window: int) -> tuple[HazardRegion, ...]:
        out = []
        for t in tracks.confirmed():
            x1, y1, x2, y2 = (float(v) for v in t.box * self._scale)
            score = round(min(1.0, sum(t.hits) / window * t.evidence), 4)
            out.append(
                HazardRegion(
                    (x1, y1, x2, y2), t.area_px / self._area_px, score, t.persisted_frames, t.first_seen_ts_ms
                )
            )
        return tuple(sorted(out, key=lambda r: -r.area_fraction))

    def _fire(self, small: U8, ts_ms: int) -> tuple[HazardRegion, ...]:
        cfg = self._config.fire
        ycc = cv2.cvtColor(small, cv2.COLOR_BGR2YCrCb)
        b, g, r = (small[..., i].astype(np.int32) for i in range(3))
        y, cr, cb = (ycc[..., i].astype(np.int32) for i in range(3))
        colour = (
            (r >= cfg.red_min)
            & (r >= g)
            & (g > b)
            & ((r - b) * 255 >= cfg.saturation_min * r)  # HSV S = (max - min) / max; here max = R, min = B
            & (y >= cb)
            & (cr - cb >= cfg.cr_minus_cb_min)
        )
        slot = self._frames_seen % cfg.flicker_window_frames
        on = colour.astype(np.int32)
        old_y, old_on = self._ring_y[slot], self._ring_on[slot]
        self._sum_y += y - old_y
        self._sum_y2 += y * y - old_y * old_y
        self._count_on += on - old_on
        self._ring_y[slot], self._ring_on[slot] = y, on
        self._frames_seen += 1
        window = cfg.flicker_window_frames
        mean_y = self._sum_y.astype(np.float32) / window
        y_variance = self._sum_y2.astype(np.float32) / window - mean_y * mean_y
        flicker = ((self._count_on == window) & (y_variance >= cfg.flicker_min_std**2)).astype(np.float32)
        mask = np.asarray(cv2.morphologyEx(colour.astype(np.uint8), cv2.MORPH_CLOSE, _CLOSE_KERNEL), np.uint8)
        min_area_px = max(1, round(cfg.min_area_fraction * self._area_px))
        full_evidence = 2 * cfg.flicker_min_fraction  # score 1 at twice the share asked for
        candidates = [
            (box, area, min(1.0, share / full_evidence) if full_evidence > 0 else 1.0)
            for box, area, share in _regions(mask, min_area_px, flicker)
            if share >= cfg.flicker_min_fraction
        ]
        self._fire_tracks.update(candidates, ts_ms)
        return self._report(self._fire_tracks, cfg.persist_window_frames)

    def _smoke(self, small: U8, ts_ms: int) -> tuple[tuple[HazardRegion, ...], bool]:
        cfg = self._config.smoke
        if self._learn_start_ms is None:
            self._learn_start_ms = ts_ms
        if self._background is None or self._edge_background is None:
            self._samples.append(small)
            if len(self._samples) >= _LEARN_FRAMES_MAX:  # a long learning period: keep every other frame
                self._samples = deque(list(self._samples)[::2])
            if ts_ms - self._learn_start_ms < cfg.learning_s * 1000:
                return (), True
            picked = np.linspace(
                0, len(self._samples) - 1, num=min(len(self._samples), cfg.background_samples)
            )
            self._samples = deque([self._samples[round(i)] for i in picked], maxlen=cfg.background_samples)
            self._next_sample_ms = ts_ms
            self._rebuild_background()
            return (), False
        grey = np.asarray(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY), np.uint8)
        edge = _edge_energy(grey)
        difference, _ = _channel_max_min(np.asarray(cv2.absdiff(small, self._background), np.uint8))
        chroma = cv2.subtract(*_channel_max_min(small))
        pixels = (
            (difference >= cfg.difference_min)
            & (chroma <= cfg.chroma_max)
            & (grey >= cfg.grey_min)
            & (grey <= cfg.grey_max)
            & (edge + _EDGE_EPS <= cfg.edge_ratio_max * (self._edge_background + _EDGE_EPS))
        ).astype(np.uint8)
        opened = cv2.morphologyEx(pixels, cv2.MORPH_OPEN, _OPEN_KERNEL)
        mask = np.asarray(cv2.morphologyEx(opened, cv2.MORPH_CLOSE, _CLOSE_KERNEL), np.uint8)
        drop = np.clip(1.0 - (edge + _EDGE_EPS) / (self._edge_background + _EDGE_EPS), 0.0, 1.0)
        min_area_px = max(1, round(cfg.min_area_fraction * self._area_px))
        self._smoke_tracks.update(_regions(mask, min_area_px, drop.astype(np.float32)), ts_ms)
        for track in self._smoke_tracks.tracks:
            if track.present and track.area_px < cfg.growth_min_ratio * track.first_area_px:
                track.present = False  # not (yet) spreading: followed, not reported
        if ts_ms >= self._next_sample_ms:
            self._samples.append(small)
            self._rebuild_background()
            self._next_sample_ms = ts_ms + round(1000 * cfg.background_window_s / cfg.background_samples)
        return self._report(self._smoke_tracks, cfg.persist_window_frames), False

    def _rebuild_background(self) -> None:
        self._background = np.median(np.stack(self._samples), axis=0).astype(np.uint8)
        self._edge_background = _edge_energy(
            np.asarray(cv2.cvtColor(self._background, cv2.COLOR_BGR2GRAY), np.uint8)
        )
