"""Composited face videos for the recognition tests: a face (messi5.jpg, or astronaut from
scikit-image) pasted, augmented frame by frame, on the head of a person walking in vtest.avi.

The walking track comes from the real detector and tracker on the clean frames (the person who moves the
most among those tall enough); the face follows that person's box. Deterministic (seeded)."""

from __future__ import annotations

import collections
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import cv2
import numpy as np

from detectors.base import Detector, FrameBGR
from detectors.faces import FaceModel
from pipelines.config import TrackerConfig
from pipelines.tracking import Tracker
from tests.unit.detector_assets import MEDIA_DIR, VTEST, require_media

MESSI = MEDIA_DIR / "messi5.jpg"
FPS = 10.0
Box = tuple[float, float, float, float]


@dataclass(frozen=True, slots=True)
class Walker:
    frames: tuple[FrameBGR, ...]
    boxes: dict[int, Box]  # frame index -> the walker's box


def face_crop(image_bgr: FrameBGR, model: FaceModel, margin: float = 0.35) -> FrameBGR:
    """The image's largest face with a margin of hair and chin around it."""
    boxes = model.detect(image_bgr)
    assert boxes, "expected a face"
    x1, y1, x2, y2 = max(boxes, key=lambda b: b.size_px).xyxy
    m = int((x2 - x1) * margin)
    h, w = image_bgr.shape[:2]
    return np.ascontiguousarray(image_bgr[max(0, y1 - m) : min(h, y2 + m), max(0, x1 - m) : min(w, x2 + m)])


def messi() -> FrameBGR:
    return load(require_media(MESSI))


def astronaut() -> FrameBGR:
    from skimage import data  # test-only dependency (the image ships in the wheel)

    rgb = np.asarray(data.astronaut(), np.uint8)  # type: ignore[no-untyped-call]
    return np.ascontiguousarray(rgb[:, :, ::-1])


@cache
def _clean_frames(count: int) -> tuple[FrameBGR, ...]:
    capture = cv2.VideoCapture(str(require_media(VTEST)))
    frames: list[FrameBGR] = []
    for _ in range(count):
        ok, image = capture.read()
        assert ok
        frames.append(np.ascontiguousarray(image, np.uint8))
    capture.release()
    return tuple(frames)


def find_walker(detector: Detector, count: int, min_height_px: float = 80.0) -> Walker:
    frames = _clean_frames(count)
    tracker = Tracker(TrackerConfig(), FPS)
    history: dict[int, dict[int, Box]] = collections.defaultdict(dict)
    for i, frame in enumerate(frames):
        tracked = tracker.update(detector.detect(frame), int(i * 1000 / FPS))
        assert tracked.tracker_id is not None
        for tid, box in zip(tracked.tracker_id.tolist(), tracked.xyxy.tolist(), strict=True):
            history[int(tid)][i] = (box[0], box[1], box[2], box[3])

    def travel(boxes: dict[int, Box]) -> float:
        first, last = boxes[min(boxes)], boxes[max(boxes)]
        return abs((first[0] + first[2]) / 2 - (last[0] + last[2]) / 2) + abs(first[3] - last[3])

    walkers = [
        (len(b), tid)
        for tid, b in history.items()
        if travel(b) > 40 and min(v[3] - v[1] for v in b.values()) >= min_height_px
    ]
    assert walkers, "no walking person in the clip"
    return Walker(frames, history[max(walkers)[1]])


def composite(walker: Walker, face_bgr: FrameBGR, seed: int, width_share: float = 0.75) -> list[FrameBGR]:
    """The walker's frames with the face pasted on the head, augmented per frame: scale, brightness,
    blur, noise and a small rotation."""
    rng = np.random.default_rng(seed)
    out = []
    for i, clean in enumerate(walker.frames):
        frame = clean.copy()
        box = walker.boxes.get(i)
        if box is not None:
            _paste(frame, face_bgr, box, width_share, rng)
        out.append(frame)
    return out


def _paste(frame: FrameBGR, face: FrameBGR, box: Box, width_share: float, rng: np.random.Generator) -> None:
    side = int((box[2] - box[0]) * width_share * rng.uniform(0.9, 1.1))
    patch = cv2.resize(face, (side, side), interpolation=cv2.INTER_AREA)
    turn = cv2.getRotationMatrix2D((side / 2, side / 2), rng.uniform(-6, 6), 1.0)
    patch = cv2.warpAffine(patch, turn, (side, side), borderMode=cv2.BORDER_REFLECT)
    noisy = patch.astype(np.float32) * rng.uniform(0.8, 1.2) + rng.normal(0, 4, patch.shape)
    patch = cv2.GaussianBlur(np.clip(noisy, 0, 255).astype(np.uint8), (3, 3), rng.uniform(0.1, 1.0))
    x1 = int((box[0] + box[2]) / 2) - side // 2
    y1 = max(0, int(box[1]) - side // 6)
    mask = np.zeros((side, side), np.float32)
    cv2.ellipse(mask, (side // 2, side // 2), (side // 2 - 1, side // 2 - 1), 0, 0, 360, 1.0, -1)
    h, w = frame.shape[:2]
    a, b = max(0, x1), max(0, y1)
    c, d = min(w, x1 + side), min(h, y1 + side)
    if c <= a or d <= b:
        return
    m = mask[b - y1 : d - y1, a - x1 : c - x1, None]
    p = patch[b - y1 : d - y1, a - x1 : c - x1]
    frame[b:d, a:c] = (frame[b:d, a:c] * (1 - m) + p * m).astype(np.uint8)


def load(path: Path) -> FrameBGR:
    """An image file as BGR (failing the test when it cannot be read)."""
    image = cv2.imread(str(path))
    assert image is not None, f"cannot read {path}"
    return np.asarray(image, np.uint8)


def write_video(frames: list[FrameBGR], path: Path) -> Path:
    """The frames as an MJPEG AVI at FPS (for runs through the real GStreamer source)."""
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), FPS, (w, h))
    for frame in frames:
        writer.write(frame)
    writer.release()
    return path
