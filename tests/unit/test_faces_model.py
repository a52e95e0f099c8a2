"""dlib face model on opencv-doc media: messi5.jpg (one face), Megamind.avi (another face), fruits.jpg (none).

Augmentations of messi's face are encoded at the face's box mapped through the augmentation: messi's
face is 37 px, so scaled down it is under what HOG finds at upsample 1 (~40 px); detection is checked
where the face stays that large. Measured distances to the original: 0.07 (brightness +40) .. 0.40
(scale 0.6); Megamind's face lies at 0.9.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
import pytest
from pydantic import ValidationError

from detectors.base import FrameBGR
from detectors.faces import FaceBox, FaceModel, FaceModelConfig, frontal_score
from tests.unit.detector_assets import MEDIA_DIR, require_media

MESSI = MEDIA_DIR / "messi5.jpg"
MEGAMIND = MEDIA_DIR / "Megamind.avi"
MEGAMIND_FACE_FRAME = 140  # one face, HOG score 1.6
NO_FACE = MEDIA_DIR / "fruits.jpg"
SAME_MAX, OTHER_MIN = 0.5, 0.6

Augment = Callable[[FrameBGR, FaceBox], tuple[FrameBGR, FaceBox]]


@pytest.fixture(scope="module")
def model() -> FaceModel:
    return FaceModel()


@pytest.fixture(scope="module")
def messi() -> FrameBGR:
    image = cv2.imread(str(require_media(MESSI)))
    assert image is not None
    return np.asarray(image, np.uint8)


@pytest.fixture(scope="module")
def messi_face(model: FaceModel, messi: FrameBGR) -> tuple[FaceBox, np.ndarray]:
    boxes = model.detect(messi)
    assert len(boxes) == 1
    return boxes[0], model.encode(messi, boxes)[0]


def scaled_rotated(scale: float, angle_deg: float) -> Augment:
    def apply(image: FrameBGR, box: FaceBox) -> tuple[FrameBGR, FaceBox]:
        x1, y1, x2, y2 = box.xyxy
        centre = ((x1 + x2) / 2 * scale, (y1 + y2) / 2 * scale)
        rotate = np.vstack([cv2.getRotationMatrix2D(centre, angle_deg, 1.0), [0.0, 0.0, 1.0]])
        matrix = (rotate @ np.diag([scale, scale, 1.0]))[:2]
        size_wh = (round(image.shape[1] * scale), round(image.shape[0] * scale))
        out = cv2.warpAffine(image, matrix, size_wh, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        half = (x2 - x1) * scale / 2
        left, top, right, bottom = (
            round(centre[0] - half),
            round(centre[1] - half),
            round(centre[0] + half),
            round(centre[1] + half),
        )
        return np.asarray(out, np.uint8), FaceBox((left, top, right, bottom))

    return apply


def pixels(edit: Callable[[FrameBGR], FrameBGR]) -> Augment:
    return lambda image, box: (edit(image), box)


def noisy(sigma: float) -> Callable[[FrameBGR], FrameBGR]:
    rng = np.random.default_rng(0)
    return lambda f: np.asarray(np.clip(f + rng.normal(0.0, sigma, f.shape), 0, 255), np.uint8)


AUGMENTS: dict[str, tuple[Augment, bool]] = {  # name: (augmentation, HOG still finds the face)
    "scale 0.6": (scaled_rotated(0.6, 0.0), False),
    "scale 0.8": (scaled_rotated(0.8, 0.0), False),
    "scale 1.4": (scaled_rotated(1.4, 0.0), True),
    "rotate -10": (scaled_rotated(1.0, -10.0), True),
    "rotate +10": (scaled_rotated(1.0, 10.0), True),
    "brightness +40": (
        pixels(lambda f: np.asarray(cv2.convertScaleAbs(f, alpha=1.0, beta=40), np.uint8)),
        True,
    ),
    "brightness -40": (
        pixels(lambda f: np.asarray(cv2.convertScaleAbs(f, alpha=1.0, beta=-40), np.uint8)),
        True,
    ),
    "gaussian blur 5": (pixels(lambda f: np.asarray(cv2.GaussianBlur(f, (5, 5), 0), np.uint8)), True),
    "noise sigma 10": (pixels(noisy(10.0)), True),
}


def iou(a: FaceBox, b: FaceBox) -> float:
    ix = max(0, min(a.xyxy[2], b.xyxy[2]) - max(a.xyxy[0], b.xyxy[0]))
    iy = max(0, min(a.xyxy[3], b.xyxy[3]) - max(a.xyxy[1], b.xyxy[1]))
    area = (a.xyxy[2] - a.xyxy[0]) * (a.xyxy[3] - a.xyxy[1]) + (b.xyxy[2] - b.xyxy[0]) * (
        b.xyxy[3] - b.xyxy[1]
    )
    return ix * iy / (area - ix * iy)


def test_messi_has_exactly_one_face_with_a_score(
    model: FaceModel, messi_face: tuple[FaceBox, np.ndarray]
) -> None:
    box, encoding = messi_face
    assert box.score is not None and box.score > 0.5
    assert 30 <= box.size_px <= 50
    assert encoding.shape == (128,) and encoding.dtype == np.float32


@pytest.mark.parametrize("name", list(AUGMENTS))
def test_augmented_face_encodes_close_to_the_original(
    name: str, model: FaceModel, messi: FrameBGR, messi_face: tuple[FaceBox, np.ndarray]
) -> None:
    box, original = messi_face
    augment, detectable = AUGMENTS[name]
    image, mapped = augment(messi, box)
    distance = float(np.linalg.norm(model.encode(image, [mapped])[0] - original))
    assert distance < SAME_MAX, f"{name}: {distance:.3f}"
    if detectable:
        found = model.detect(image)
        assert len(found) == 1 and iou(found[0], mapped) > 0.5, f"{name}: {found} vs {mapped}"


def test_another_face_is_far(model: FaceModel, messi_face: tuple[FaceBox, np.ndarray]) -> None:
    capture = cv2.VideoCapture(str(require_media(MEGAMIND)))
    capture.set(cv2.CAP_PROP_POS_FRAMES, MEGAMIND_FACE_FRAME)
    ok, frame = capture.read()
    capture.release()
    assert ok
    image = np.asarray(frame, np.uint8)
    boxes = model.detect(image)
    assert len(boxes) == 1
    distance = float(np.linalg.norm(model.encode(image, boxes)[0] - messi_face[1]))
    assert distance > OTHER_MIN, f"{distance:.3f}"


def test_no_face_gives_nothing(model: FaceModel) -> None:
    image = cv2.imread(str(require_media(NO_FACE)))
    assert image is not None
    assert model.detect(np.asarray(image, np.uint8)) == []
    assert model.encode(np.asarray(image, np.uint8), []).shape == (0, 128)


def test_channel_order_matters(
    model: FaceModel, messi: FrameBGR, messi_face: tuple[FaceBox, np.ndarray]
) -> None:
    box, original = messi_face
    swapped = np.ascontiguousarray(messi[:, :, ::-1])  # an RGB image passed as BGR
    assert float(np.linalg.norm(model.encode(swapped, [box])[0] - original)) > 0.01


def test_quality_ranks_sharp_frontal_above_blurred_and_small(
    model: FaceModel, messi: FrameBGR, messi_face: tuple[FaceBox, np.ndarray]
) -> None:
    box = messi_face[0]
    sharp = model.quality(messi, box, model.landmarks(messi, box))
    blurred_image = np.asarray(cv2.GaussianBlur(messi, (7, 7), 0), np.uint8)
    blurred = model.quality(blurred_image, box, model.landmarks(blurred_image, box))
    small_image, small_box = scaled_rotated(0.6, 0.0)(messi, box)
    small = model.quality(small_image, small_box, model.landmarks(small_image, small_box))
    for q in (sharp, blurred, small):
        assert 0.0 <= q.combined <= 1.0 and 0.0 <= q.frontal <= 1.0
    assert sharp.combined > blurred.combined and sharp.sharpness > 2 * blurred.sharpness
    assert sharp.combined > small.combined and sharp.size_px > small.size_px


@pytest.mark.parametrize(
    ("landmarks", "expected"),
    [
        ([(60, 40), (50, 40), (20, 40), (30, 40), (40, 60)], 1.0),  # nose centred, eyes equal
        ([(60, 40), (50, 40), (20, 40), (30, 40), (60, 60)], 0.0),  # nose under an eye: profile
        ([(60, 40), (55, 40), (20, 40), (30, 40), (41.25, 60)], 0.5),  # one eye half as wide
        ([(60, 40), (50, 40), (20, 40), (30, 40), (47.5, 60)], 0.5),  # nose halfway to an eye
    ],
)
def test_frontal_score_from_five_landmarks(landmarks: list[tuple[float, float]], expected: float) -> None:
    assert frontal_score(np.array(landmarks, np.float32)) == pytest.approx(expected)


def test_config_and_input_are_checked(model: FaceModel) -> None:
    with pytest.raises(ValidationError):
        FaceModelConfig.model_validate({"detector": "haar"})
    with pytest.raises(ValueError, match="uint8 BGR"):
        model.detect(np.zeros((10, 10), np.uint8))
