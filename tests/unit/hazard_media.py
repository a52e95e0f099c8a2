"""Media for the hazard detector tests: vtest.avi frames streamed in order, the flame video, composites.

A missing medium is a failed test (with the command that fetches it), never a skip.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from detectors.base import FrameBGR
from tests.unit.detector_assets import VTEST, data_dir, require_media

VTEST_FPS = 10
FLAME_FPS = 25


def flame_video() -> Path:
    path = data_dir() / "media" / "flame.avi"
    if not path.is_file():
        pytest.fail(f"flame video missing: {path} — run deploy/fetch_media.sh", pytrace=False)
    return path


def video_frames(path: Path, count: int, start: int = 0) -> Iterator[FrameBGR]:
    """Frames `start`..`start + count - 1` of `path`, decoded one at a time (full size, never cached)."""
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        pytest.fail(f"cannot open video {path}", pytrace=False)
    try:
        for index in range(start + count):
            ok, image = capture.read()
            if not ok:
                pytest.fail(f"{path} ended after {index} frames ({start + count} wanted)", pytrace=False)
            if index >= start:
                yield np.ascontiguousarray(image, dtype=np.uint8)
    finally:
        capture.release()


def vtest(count: int, start: int = 0) -> Iterator[FrameBGR]:
    return video_frames(require_media(VTEST), count, start)


def ts_ms(index: int, fps: int = VTEST_FPS) -> int:
    return round(index * 1000 / fps)


def smoke_plume(frame: FrameBGR, age_frames: int, base_xy: tuple[int, int], seed: int = 0) -> FrameBGR:
    """`frame` with a light-grey, soft, turbulent smoke plume rising from `base_xy` and spreading with
    `age_frames` (a 20 px puff at 0, widest — about 400 x 500 px — from 28 frames on), at most 80 % opaque."""
    height, width = frame.shape[:2]
    radius_px = min(20.0 + 5.0 * age_frames, 160.0)
    centre_x, centre_y = base_xy[0], base_xy[1] - 0.6 * radius_px
    x1, x2 = max(0, int(centre_x - 2.5 * radius_px)), min(width, int(centre_x + 2.5 * radius_px))
    y1, y2 = max(0, int(centre_y - 3.2 * radius_px)), min(height, int(centre_y + 3.2 * radius_px))
    yy, xx = np.mgrid[y1:y2, x1:x2].astype(np.float32)
    blob = np.exp(-(((xx - centre_x) / radius_px) ** 2 + ((yy - centre_y) / (1.25 * radius_px)) ** 2))
    rng = np.random.default_rng(seed + age_frames)
    coarse = rng.uniform(0.6, 1.0, (max(2, (y2 - y1) // 32), max(2, (x2 - x1) // 32))).astype(np.float32)
    turbulence = cv2.resize(coarse, (x2 - x1, y2 - y1), interpolation=cv2.INTER_CUBIC)
    alpha = np.clip(1.6 * blob * turbulence, 0.0, 0.8)[..., None]
    out = frame.copy()
    out[y1:y2, x1:x2] = (frame[y1:y2, x1:x2] * (1.0 - alpha) + 205.0 * alpha).astype(np.uint8)
    return out


def paste_patch(
    frame: FrameBGR, xyxy: tuple[int, int, int, int], bgr: tuple[int, int, int], seed: int = 0
) -> FrameBGR:
    """`frame` with a solid coloured, lightly textured, dark-outlined box (a bag) at `xyxy`."""
    x1, y1, x2, y2 = xyxy
    out = frame.copy()
    rng = np.random.default_rng(seed)
    patch = np.clip(np.array(bgr, np.float32) + rng.normal(0, 6, (y2 - y1, x2 - x1, 3)), 0, 255)
    out[y1:y2, x1:x2] = patch.astype(np.uint8)
    cv2.rectangle(out, (x1, y1), (x2 - 1, y2 - 1), (20, 20, 20), 2)
    return out
