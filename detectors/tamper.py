"""Camera tamper detection against a baseline learned from the camera's own view: covered, defocused, moved.

Per frame (shrunk to `process_width_px`, grey): brightness (mean grey level), entropy (bits, of the
256-bin grey histogram), sharpness (variance of the Laplacian), similarity to the reference view
(normalised cross-correlation of smoothed gradient-magnitude maps at half that size, -1..1; people
walking through lower it a little, a shifted or different scene a lot) and layout similarity (the same
on the grey image at 1/8 size: a blurred view keeps it, another scene does not); the shift against the
reference (phase correlation) is reported too. The first `learning_s` seconds give the baseline
(medians of the measures) and the reference view (median frame). Then each frame is judged, first
match wins:
  covered    brightness <= `covered_brightness_max`, or entropy <= `covered_entropy_ratio` x baseline
             (a hand, tape, paint or spray over the lens: dark, or uniform of any colour)
  defocused  sharpness <= `defocused_sharpness_ratio` x baseline, layout still similar (focus ring
             knocked, lens smeared)
  moved      similarity or layout similarity <= `moved_similarity_ratio` x baseline (turned, shifted,
             pointed elsewhere)
State machine: learning -> normal -> tampered(kind) after `confirm_frames` tampered frames in a row
(kind: the most frequent in that run) -> `recovered` for one frame after `recover_frames` normal frames
in a row -> normal. While tampered, `confirm_frames` frames of another kind switch the kind. While normal,
the baseline and the reference follow slow changes of the view (dusk, seasons) with time constant
`adapt_time_constant_s`. Pure and per camera; `reset()` re-learns (after an intended camera move).
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from detectors.base import FrameBGR
from detectors.downscale import shrink

logger = logging.getLogger(__name__)

TamperKind = Literal["covered", "defocused", "moved"]
TamperState = Literal["learning", "normal", "tampered", "recovered"]
U8 = npt.NDArray[np.uint8]
F32 = npt.NDArray[np.float32]
_LEARN_FRAMES_MAX = 32
_BASELINE_FIELDS = ("brightness", "entropy_bits", "sharpness", "similarity", "layout_similarity")


class TamperConfig(BaseModel):
    """Tamper detection of one camera: what counts as covered, defocused or moved, and how fast."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["tamper"] = "tamper"
    process_width_px: int = Field(
        default=320, ge=64, le=1920, description="frames are shrunk to this width (never enlarged) first"
    )
    learning_s: float = Field(default=3.0, gt=0.0, description="seconds of video the baseline is learned on")
    confirm_frames: int = Field(default=5, ge=1, description="tampered frames in a row before it is reported")
    recover_frames: int = Field(default=5, ge=1, description="normal frames in a row before recovery")
    covered_brightness_max: float = Field(
        default=25.0, ge=0.0, le=255.0, description="covered: mean grey level (0..255) <= this"
    )
    covered_entropy_ratio: float = Field(
        default=0.6, ge=0.0, le=1.0, description="covered: grey-histogram entropy <= this x baseline"
    )
    defocused_sharpness_ratio: float = Field(
        default=0.3, ge=0.0, le=1.0, description="defocused: variance of the Laplacian <= this x baseline"
    )
    moved_similarity_ratio: float = Field(
        default=0.6, ge=0.0, le=1.0, description="moved: edge similarity to the reference <= this x baseline"
    )
    adapt_time_constant_s: float = Field(
        default=300.0, gt=0.0, description="while normal, baseline and reference follow the view this slowly"
    )


@dataclass(frozen=True, slots=True)
class TamperMeasures:
    brightness: float
    entropy_bits: float
    sharpness: float
    #: normalised cross-correlation of edge maps with the reference view, -1..1 (1 before learning ends)
    similarity: float
    #: the same for the coarse grey layout (1/8 size): a blurred view keeps it, another scene does not
    layout_similarity: float = 1.0
    #: shift of the view against the reference, in the frame's pixels (phase correlation)
    shift_xy_px: tuple[float, float] = (0.0, 0.0)


@dataclass(frozen=True, slots=True)
class TamperResult:
    state: TamperState
    #: the tamper while `tampered`; the tamper that ended on `recovered`; else None
    kind: TamperKind | None
    #: 0..1, how far the deciding measure is past its baseline (0 when normal)
    score: float
    #: learned measures (None while learning)
    baseline: TamperMeasures | None
    measures: TamperMeasures
    #: when the current tamper began (first frame of its confirming run); None when not tampered
    since_ts_ms: int | None = None


class TamperDetector:
    """`update(frame_bgr, ts_ms)` per frame of one camera, in order; returns the tamper state."""

    def __init__(self, config: TamperConfig) -> None:
        self._config = config
        self.reset()

    @property
    def config(self) -> TamperConfig:
        return self._config

    def reset(self) -> None:
        """Forget the baseline (after an intended camera move or a reconnect): learning starts again."""
        self._frame_hw: tuple[int, int] | None = None
        self._learn: list[U8] = []
        self._learn_start_ms: int | None = None
        self._baseline: TamperMeasures | None = None
        self._reference: F32 | None = None
        self._reference_views: tuple[F32, F32] | None = None  # (edges, layout)
        self._window: F32 | None = None
        self._state: TamperState = "learning"
        self._kind: TamperKind | None = None
        self._since_ts_ms: int | None = None
        self._run: list[tuple[TamperKind, int]] = []  # consecutive tampered frames: (kind, ts_ms)
        self._clear_frames = 0
        self._last_ts_ms = 0

    def update(self, frame_bgr: FrameBGR, ts_ms: int) -> TamperResult:
        if frame_bgr.ndim != 3 or frame_bgr.shape[2] != 3 or frame_bgr.dtype != np.uint8:
            raise ValueError(
                f"expected an H x W x 3 uint8 BGR frame, got {frame_bgr.dtype} {frame_bgr.shape}"
            )
        frame_hw = (int(frame_bgr.shape[0]), int(frame_bgr.shape[1]))
        if frame_hw != self._frame_hw:
            if self._frame_hw is not None:
                logger.info(
                    "frame size changed %s -> %s: tamper baseline re-learned", self._frame_hw, frame_hw
                )
            self.reset()
            self._start(frame_hw)
        grey = self._grey(frame_bgr)
        views = self._views(grey)
        if self._baseline is None:
            return self._learning(grey, views, ts_ms)
        measures = self._measure(grey, views)
        kind, score = self._judge(measures)
        result = self._step(kind, score, measures, ts_ms)
        if result.state == "normal":
            self._adapt(grey, measures, ts_ms)
        self._last_ts_ms = ts_ms
        return result

    def _start(self, frame_hw: tuple[int, int]) -> None:
        height, width = frame_hw
        small_w = min(self._config.process_width_px, width)
        small_h = max(1, round(height * small_w / width))
        self._frame_hw, self._small_wh = frame_hw, (small_w, small_h)
        self._edge_wh = (max(8, small_w // 2), max(8, small_h // 2))
        self._window = np.asarray(cv2.createHanningWindow(self._edge_wh, cv2.CV_32F), np.float32)
        self._layout_wh = (max(4, self._edge_wh[0] // 4), max(4, self._edge_wh[1] // 4))
        self._to_frame_px = width / self._edge_wh[0]

    def _grey(self, frame_bgr: FrameBGR) -> U8:
        return shrink(np.asarray(cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2GRAY), np.uint8), self._small_wh)

    def _views(self, grey: U8) -> tuple[F32, F32]:
        """(smoothed gradient magnitude at half size, coarse grey layout at 1/8 size)."""
        half = cv2.resize(grey, self._edge_wh, interpolation=cv2.INTER_AREA).astype(np.float32)
        magnitude = cv2.magnitude(cv2.Sobel(half, cv2.CV_32F, 1, 0), cv2.Sobel(half, cv2.CV_32F, 0, 1))
        layout = cv2.resize(half, self._layout_wh, interpolation=cv2.INTER_AREA)
        return np.asarray(cv2.GaussianBlur(magnitude, (0, 0), 2.0), np.float32), np.asarray(
            layout, np.float32
        )

    def _measure(self, grey: U8, views: tuple[F32, F32]) -> TamperMeasures:
        histogram = cv2.calcHist([grey], [0], None, [256], [0, 256]).ravel()
        p = histogram[histogram > 0] / histogram.sum()
        entropy = float(-(p * np.log2(p)).sum())
        sharpness = float(cv2.Laplacian(grey, cv2.CV_32F).var())
        similarity, layout, shift = 1.0, 1.0, (0.0, 0.0)
        if self._reference_views is not None:
            (edges, coarse), (ref_edges, ref_coarse) = views, self._reference_views
            similarity, layout = _ncc(edges, ref_edges), _ncc(coarse, ref_coarse)
            # phaseCorrelate may write into its inputs (OpenCV 4.x, seen with a flat frame): give it copies
            (dx, dy), _ = cv2.phaseCorrelate(ref_edges.copy(), edges.copy(), self._window)
            shift = (round(dx * self._to_frame_px, 1), round(dy * self._to_frame_px, 1))
        return TamperMeasures(
            round(float(grey.mean()), 2),
            round(entropy, 3),
            round(sharpness, 1),
            round(similarity, 3),
            round(layout, 3),
            shift,
        )

    def _learning(self, grey: U8, views: tuple[F32, F32], ts_ms: int) -> TamperResult:
        measures = self._measure(grey, views)
        if self._learn_start_ms is None:
            self._learn_start_ms = ts_ms
        self._learn.append(grey)
        if len(self._learn) >= _LEARN_FRAMES_MAX:
            self._learn = self._learn[::2]
        if ts_ms - self._learn_start_ms < self._config.learning_s * 1000:
            return TamperResult("learning", None, 0.0, None, measures)
        reference = np.median(np.stack(self._learn), axis=0).astype(np.uint8)
        self._reference = reference.astype(np.float32)
        self._reference_views = self._views(reference)
        learnt = [self._measure(g, self._views(g)) for g in self._learn]
        self._baseline = _measures_of(
            [round(float(np.median([getattr(m, f) for m in learnt])), 3) for f in _BASELINE_FIELDS]
        )
        logger.info("tamper baseline learned from %d frames: %s", len(self._learn), self._baseline)
        self._learn, self._state, self._last_ts_ms = [], "normal", ts_ms
        return TamperResult("normal", None, 0.0, self._baseline, self._measure(grey, views))

    def _judge(self, m: TamperMeasures) -> tuple[TamperKind | None, float]:
        cfg, base = self._config, self._baseline
        assert base is not None
        entropy_ratio = m.entropy_bits / max(base.entropy_bits, 1e-6)
        if m.brightness <= cfg.covered_brightness_max or entropy_ratio <= cfg.covered_entropy_ratio:
            dark = 1.0 - m.brightness / max(base.brightness, 1e-6)
            return "covered", _unit(max(dark, 1.0 - entropy_ratio))
        sharpness_ratio = m.sharpness / max(base.sharpness, 1e-6)
        similarity_ratio = m.similarity / max(base.similarity, 1e-6)
        layout_ratio = m.layout_similarity / max(base.layout_similarity, 1e-6)
        # a blurred view keeps its coarse layout; a softer scene somewhere else does not
        if sharpness_ratio <= cfg.defocused_sharpness_ratio and layout_ratio > cfg.moved_similarity_ratio:
            return "defocused", _unit(1.0 - sharpness_ratio)
        if min(similarity_ratio, layout_ratio) <= cfg.moved_similarity_ratio:
            return "moved", _unit(1.0 - min(similarity_ratio, layout_ratio))
        return None, 0.0

    def _step(self, kind: TamperKind | None, score: float, m: TamperMeasures, ts_ms: int) -> TamperResult:
        cfg = self._config
        if kind is None:
            self._run = []
            if self._state == "tampered":
                self._clear_frames += 1
                if self._clear_frames >= cfg.recover_frames:
                    ended, since = self._kind, self._since_ts_ms
                    logger.info("camera view recovered from %s (since %s ms)", ended, since)
                    self._state, self._kind, self._since_ts_ms = "normal", None, None
                    return TamperResult("recovered", ended, 0.0, self._baseline, m, since)
            else:
                self._state = "normal"
        else:
            self._clear_frames = 0
            self._run.append((kind, ts_ms))
            if len(self._run) >= cfg.confirm_frames:
                counts = Counter(k for k, _ in self._run[-cfg.confirm_frames :])
                confirmed = counts.most_common(1)[0][0]
                if self._state != "tampered" or (
                    confirmed != self._kind and counts[confirmed] == cfg.confirm_frames
                ):
                    if self._state != "tampered":
                        self._since_ts_ms = self._run[-cfg.confirm_frames][1]
                    logger.info("camera tamper: %s (score %.2f)", confirmed, score)
                    self._state, self._kind = "tampered", confirmed
        if self._state == "tampered":
            return TamperResult("tampered", self._kind, score, self._baseline, m, self._since_ts_ms)
        return TamperResult("normal", None, 0.0, self._baseline, m)

    def _adapt(self, grey: U8, m: TamperMeasures, ts_ms: int) -> None:
        """Follow slow changes of the view while nothing is wrong (never while a tamper is building up)."""
        if self._run or self._reference is None or self._baseline is None:
            return
        alpha = 1.0 - float(
            np.exp(-max(0, ts_ms - self._last_ts_ms) / (1000.0 * self._config.adapt_time_constant_s))
        )
        if alpha <= 0.0:
            return
        cv2.accumulateWeighted(grey.astype(np.float32), self._reference, alpha)
        self._reference_views = self._views(self._reference.astype(np.uint8))
        old = np.array([getattr(self._baseline, f) for f in _BASELINE_FIELDS])
        new = old + alpha * (np.array([getattr(m, f) for f in _BASELINE_FIELDS]) - old)
        self._baseline = _measures_of([float(v) for v in new])


def _measures_of(values: list[float]) -> TamperMeasures:
    """Baseline measures from their values in _BASELINE_FIELDS order."""
    return TamperMeasures(values[0], values[1], values[2], values[3], values[4])


def _ncc(a: F32, b: F32) -> float:
    """Normalised cross-correlation, -1..1; 0 when either map is flat (a uniform frame has no edges)."""
    a0, b0 = a - a.mean(), b - b.mean()
    denominator = float(np.sqrt((a0 * a0).sum() * (b0 * b0).sum()))
    return float((a0 * b0).sum() / denominator) if denominator > 1e-6 else 0.0


def _unit(value: float) -> float:
    return round(min(1.0, max(0.0, value)), 3)
