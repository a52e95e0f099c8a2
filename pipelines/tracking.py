"""Persistent track ids: ByteTrack (Roboflow `trackers`) behind a small, per-camera wrapper.

One `Tracker` per camera stream. Deterministic: the same detections in the same order give the same
ids. Ids start at 1 and are never reused within a stream.
"""

from __future__ import annotations

import logging
import math
from typing import cast

import numpy as np
import supervision as sv

from pipelines.config import TrackerConfig

logger = logging.getLogger(__name__)

#: trackers' ByteTrack counts `lost_track_buffer` in frames of a 30 FPS stream.
_TRACKERS_REFERENCE_FPS = 30.0


class Tracker:
    """`update(detections)` -> the detections that belong to a confirmed track, `tracker_id` set.

    `fps` is the rate at which frames are fed (the analysis rate, not the camera's if they differ):
    ByteTrack's motion model and the lost-track budget are per fed frame. `config.lost_track_buffer`
    is in fed frames; a track unseen for longer is forgotten. New tracks start from detections at or
    above `high_conf_det_threshold` and get an id after `minimum_consecutive_frames` matched frames.
    """

    def __init__(self, config: TrackerConfig, fps: float) -> None:
        if not math.isfinite(fps) or fps <= 0:
            raise ValueError(f"tracker fps must be a positive number, got {fps}")
        from trackers import ByteTrackTracker

        self._config = config
        self._fps = fps
        self._tracker = ByteTrackTracker(
            # trackers scales the buffer by fps/30: pre-scale so it means `lost_track_buffer` fed frames
            lost_track_buffer=math.ceil(config.lost_track_buffer * _TRACKERS_REFERENCE_FPS / fps),
            frame_rate=fps,
            track_activation_threshold=config.high_conf_det_threshold,
            minimum_consecutive_frames=config.minimum_consecutive_frames,
            minimum_iou_threshold=config.minimum_iou_threshold,
            high_conf_det_threshold=config.high_conf_det_threshold,
        )

    @property
    def fps(self) -> float:
        return self._fps

    def update(self, detections: sv.Detections, pts_ms: int | None = None) -> sv.Detections:
        """Feed one frame's detections; returns only tracked ones (`data` such as 'label' kept).

        `pts_ms`: the frame's timestamp; when given, gaps between frames (drops, variable rate) scale
        the motion model. Without it every call is one frame period.
        """
        timestamp_s = None if pts_ms is None else pts_ms / 1000.0
        result = self._tracker.update(detections, timestamp=timestamp_s)
        tracker_id = result.tracker_id
        if tracker_id is None or len(result) == 0:
            return _empty_like(detections)
        confirmed = tracker_id >= 0
        tracked = cast(sv.Detections, result[confirmed]) if not confirmed.all() else result
        tracked.tracker_id = tracker_id[confirmed] + 1
        return tracked

    def reset(self) -> None:
        """Forget every track (a new stream, a reconnect after a long gap)."""
        self._tracker.reset()


def _empty_like(detections: sv.Detections) -> sv.Detections:
    empty = cast(sv.Detections, detections[np.zeros(len(detections), dtype=bool)])
    empty.tracker_id = np.empty(0, dtype=int)
    return empty
