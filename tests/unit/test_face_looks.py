"""How often the face recogniser looks at a tracked person: every `look_every_ms` until the track holds its
best `keep_faces` faces, then every `settled_look_every_ms`; at most `max_looks_per_frame` people a frame,
those with the fewest faces first. A fake model counts the looks (no dlib)."""

from __future__ import annotations

import threading
from typing import cast

import numpy as np
import pytest
import supervision as sv

from detectors.base import FrameBGR
from detectors.faces import FaceBox, FaceModel, FaceQuality
from pipelines.recognition.faces import FaceRecognitionConfig, FaceRecognizer
from pipelines.recognition.gallery import FaceGallery
from pipelines.recognition.stage import StageFrame
from pipelines.recognition.votes import FaceVoteConfig

FRAME = np.zeros((480, 640, 3), np.uint8)
FRAME_MS = 100


class CountingModel:
    """One face in the middle of every head crop; every face of the same quality and encoding."""

    def __init__(self) -> None:
        self.looks = 0

    def detect(self, image_bgr: FrameBGR) -> list[FaceBox]:
        self.looks += 1
        h, w = image_bgr.shape[:2]
        return [FaceBox((w // 2 - 20, h // 3 - 20, w // 2 + 20, h // 3 + 20), 1.0)]

    def landmarks(self, image_bgr: FrameBGR, box: FaceBox) -> np.ndarray:
        return np.zeros((5, 2), np.float32)

    def quality(self, image_bgr: FrameBGR, box: FaceBox, landmarks: np.ndarray) -> FaceQuality:
        return FaceQuality(40, 1.0, 1.0, 0.5)

    def encode(self, image_bgr: FrameBGR, boxes: list[FaceBox]) -> np.ndarray:
        v = np.zeros((len(boxes), 128), np.float32)
        v[:, 0] = 1.0
        return v


def people(n: int) -> sv.Detections:
    """n people side by side, 100 x 300 px, track ids 1..n."""
    xyxy = np.array([[10 + 120 * i, 100, 110 + 120 * i, 400] for i in range(n)], np.float32)
    return sv.Detections(
        xyxy=xyxy,
        confidence=np.full(n, 0.9, np.float32),
        class_id=np.zeros(n, int),
        tracker_id=np.arange(1, n + 1),
        data={"label": np.array(["person"] * n)},
    )


def looks_per_frame(config: FaceRecognitionConfig, n_people: int, frames: int) -> list[int]:
    model = CountingModel()
    recognizer = FaceRecognizer(
        "cam", ["person"], cast(FaceModel, model), threading.Lock(), FaceGallery(), config
    )
    counts = []
    for i in range(frames):
        before = model.looks
        recognizer.observe(StageFrame("cam", i * FRAME_MS, FRAME, people(n_people)))
        counts.append(model.looks - before)
    return counts


@pytest.mark.parametrize(
    ("settings", "n_people", "expected"),
    [
        # one person, faces every 200 ms until 3 are kept, then every 600 ms
        (
            {"look_every_ms": 200, "settled_look_every_ms": 600, "vote": FaceVoteConfig(keep_faces=3)},
            1,
            [1, 0, 1, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1],
        ),
        # settled = look_every_ms: the same pace throughout
        (
            {"look_every_ms": 200, "settled_look_every_ms": 200, "vote": FaceVoteConfig(keep_faces=3)},
            1,
            [1, 0] * 8 + [1],
        ),
        # five people, nothing throttled but the frame: two looks every frame, never more
        ({"look_every_ms": 0, "settled_look_every_ms": 0, "max_looks_per_frame": 2}, 5, [2] * 17),
    ],
)
def test_looks(settings: dict[str, object], n_people: int, expected: list[int]) -> None:
    config = FaceRecognitionConfig.model_validate(settings)
    assert looks_per_frame(config, n_people, len(expected)) == expected


def test_the_people_with_fewest_faces_are_looked_at_first() -> None:
    config = FaceRecognitionConfig(look_every_ms=0, settled_look_every_ms=0, max_looks_per_frame=2)
    model = CountingModel()
    recognizer = FaceRecognizer(
        "cam", ["person"], cast(FaceModel, model), threading.Lock(), FaceGallery(), config
    )
    seen: list[list[int]] = []
    for i in range(4):
        results = recognizer.observe(StageFrame("cam", i * FRAME_MS, FRAME, people(4)))
        seen.append(sorted(r.track_id for r in results))
    assert seen == [[1, 2], [3, 4], [1, 2], [3, 4]]
