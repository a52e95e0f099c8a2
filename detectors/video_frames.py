"""Frames picked from a video file by index (OpenCV decode): calibration and evaluation sets."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from detectors.base import DetectorError, FrameBGR


def frame_count(video: Path) -> int:
    """Frames in `video` as its container says (OpenCV); counts by decoding when the container does not."""
    capture = cv2.VideoCapture(str(video))
    try:
        if not capture.isOpened():
            raise DetectorError(f"cannot open video {video}")
        count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        if count > 0:
            return count
        count = 0
        while capture.grab():
            count += 1
        return count
    finally:
        capture.release()


def spread_indices(start: int, stop: int, count: int) -> list[int]:
    """`count` frame indices spread evenly over `[start, stop)` (fewer when the range is shorter)."""
    if count <= 0 or stop <= start:
        return []
    picked = np.linspace(start, stop - 1, num=min(count, stop - start)).round().astype(int)
    return sorted({int(i) for i in picked})


def read_frames(video: Path, indices: Sequence[int]) -> list[FrameBGR]:
    """The frames at `indices` (sorted, unique), decoded in one pass. DetectorError if any is missing."""
    wanted = sorted(set(indices))
    if not wanted:
        return []
    capture = cv2.VideoCapture(str(video))
    if not capture.isOpened():
        raise DetectorError(f"cannot open video {video}")
    frames: list[FrameBGR] = []
    try:
        index, position = 0, 0
        while position < len(wanted):
            if not capture.grab():
                break
            if index == wanted[position]:
                ok, image = capture.retrieve()
                if not ok:
                    break
                frames.append(np.ascontiguousarray(image, dtype=np.uint8))
                position += 1
            index += 1
    finally:
        capture.release()
    if len(frames) != len(wanted):
        raise DetectorError(
            f"video {video} ended after {index} frames; frame {wanted[len(frames)]} was asked for"
        )
    return frames
