"""Motion gating: run the detector on a camera's frame only when the scene changed.

The detector runs on a frame when something moves (`detectors.motion`: cheap, on a downscaled grey
frame, outside the camera's mask polygons) or when it has not run for `max_skip_s` (a minimum
detection rate). Otherwise the frame is *gated*: nothing moved, so the objects the detector last found
are still where they were, and the tracker and the rules see those same detections again. A still
intruder therefore keeps its track and keeps counting for dwell and loitering, at a fraction of the
cost. Frigate's key CPU design, per camera.
"""

from __future__ import annotations

from copy import deepcopy

from pydantic import Field

from detectors.base import Detections, FrameBGR
from detectors.motion import MotionConfig, MotionDetector


class MotionGateConfig(MotionConfig):
    """Motion gating of one camera (`motion:` in the camera's config)."""

    max_skip_s: float = Field(
        default=2.0, gt=0, description="run the detector at least this often, motion or not"
    )


class MotionGate:
    """Per camera stream: `should_detect` once per analysed frame, in order; `remember` what was found."""

    def __init__(self, config: MotionGateConfig) -> None:
        self.config = config
        self._motion = MotionDetector(config)
        self._last_detect_ms: int | None = None
        self._last: Detections | None = None
        self.frames_gated = 0

    def reset(self) -> None:
        """A new stream: forget the background and what was found (the next frame is detected)."""
        self._motion.reset()
        self._last_detect_ms = None
        self._last = None

    def should_detect(self, frame_bgr: FrameBGR, pts_ms: int) -> bool:
        moving = self._motion.update(frame_bgr).moving  # always update, so the background stays current
        due = self._last_detect_ms is None or pts_ms - self._last_detect_ms >= self.config.max_skip_s * 1000
        if not self.config.enabled or moving or due or self._last is None:
            self._last_detect_ms = pts_ms
            return True
        self.frames_gated += 1
        return False

    def remember(self, detections: Detections) -> None:
        """What the detector found on a frame it ran on (reused for the gated frames that follow)."""
        self._last = detections

    def last_detections(self) -> Detections:
        """The detections of the last detected frame, for a gated frame (a copy: callers may modify it)."""
        assert self._last is not None, "should_detect() said True until something was remembered"
        return deepcopy(self._last)
