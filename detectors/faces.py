"""Faces: detection (dlib HOG or CNN), 5- or 68-point landmarks, the 128-d ResNet encoding, quality.

The models are face_recognition's (`face_recognition_models` 0.3.0: dlib's HOG frontal detector, the
MMOD CNN detector, the shape predictors and the ResNet encoder scoring 99.38 % on LFW), driven through
dlib directly: `import face_recognition` loads every model (the CNN too) at import time and hides the
detector scores. Encodings are comparable with face_recognition's `face_encodings` (same model, same
alignment: identical to `face_encodings` on messi5.jpg); two faces of one person lie within ~0.6 (Euclidean).

Quality of one face (each part in 0..1, `combined` their geometric mean, so one bad part drags it down):
  size       min(width, height) of the box / `quality_good_size_px`, capped at 1
  sharpness  s / (s + `quality_sharpness_half`), s = variance of the Laplacian of the grey face resized
             to 96 x 96 px (a fixed size, so small faces blown up score as blurred, as they encode)
  frontal    from the 5 landmarks (2 corners per eye, nose base): centring of the nose between the eye
             centres along the eye line (1 centred, 0 when it is over an eye or beyond) times the ratio
             of the two eye widths (smaller / larger: the far eye shrinks as the head turns)
  combined   (size x sharpness x frontal) ** (1/3)
Sensor noise raises the Laplacian variance too (a noisy face scores sharp); roll is ignored (alignment
undoes it).

Measured on this machine (2 CPU cores shared with other jobs, load ~5: median (best) of 7 runs; dlib
20.0.1 CPU build, upsample 1, 5-point landmarks, 1 jitter):
  messi5.jpg (548 x 342, one 37 px face)   HOG detect 106 (91) ms; encode 148 (99) ms per face
  640 px frames (messi5, vtest, Megamind)   HOG detect 136-173 (87-111) ms
  landmarks 1.9 ms, quality 0.1 ms per face; model load (HOG, 5-point, encoder) 0.7 s
  upsample 0: 23 ms but misses messi's face; CNN detector 6.8 s on messi5, 9.8 s at 640 px (this dlib
  has no CUDA: select it only with a CUDA build of dlib)
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from typing import Literal

import cv2
import dlib
import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from detectors.base import DetectorError, FrameBGR

with warnings.catch_warnings():
    # face_recognition_models 0.3.0 reads its model paths with pkg_resources, whose import warns that
    # pkg_resources is deprecated (setuptools<81 still ships it): only that warning is silenced.
    warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)
    import face_recognition_models

logger = logging.getLogger(__name__)

F32 = npt.NDArray[np.float32]
EMBEDDING_DIM = 128
_SHARPNESS_SIDE_PX = 96


class FaceModelConfig(BaseModel):
    """Which face models run and how: detector, upsampling, smallest face, encoder jitter, landmarks."""

    model_config = ConfigDict(extra="forbid")

    detector: Literal["hog", "cnn"] = Field(
        default="hog", description="dlib HOG (CPU, fast) or the MMOD CNN (accurate, needs a GPU to be fast)"
    )
    upsample: int = Field(
        default=1,
        ge=0,
        le=3,
        description="times the image is doubled before detection (0 misses small faces)",
    )
    min_face_px: int = Field(default=20, ge=1, description="faces whose box is narrower or lower are dropped")
    hog_threshold: float = Field(
        default=0.0, ge=-1.0, le=2.0, description="HOG score threshold adjustment (higher: fewer faces)"
    )
    encoder_jitters: int = Field(
        default=1, ge=1, le=100, description="re-encodings of jittered crops averaged (cost grows linearly)"
    )
    landmarks: Literal["5-point", "68-point"] = Field(
        default="5-point", description="shape predictor used to align faces before encoding"
    )
    quality_good_size_px: int = Field(
        default=80, ge=1, description="faces at least this wide and high get the full size score"
    )
    quality_sharpness_half: float = Field(
        default=100.0, gt=0.0, description="Laplacian variance at which the sharpness score is 0.5"
    )


@dataclass(frozen=True, slots=True)
class FaceBox:
    """One detected face: box in pixels of the image it was found in, detector score where known."""

    xyxy: tuple[int, int, int, int]
    score: float | None = None

    @property
    def size_px(self) -> int:
        return min(self.xyxy[2] - self.xyxy[0], self.xyxy[3] - self.xyxy[1])


@dataclass(frozen=True, slots=True)
class FaceQuality:
    size_px: int
    sharpness: float
    frontal: float
    combined: float


class FaceModel:
    """dlib face detector + shape predictor + ResNet encoder. Not thread-safe: one per worker thread."""

    def __init__(self, config: FaceModelConfig | None = None) -> None:
        self.config = config or FaceModelConfig()
        try:
            if self.config.detector == "cnn":
                self._cnn = dlib.cnn_face_detection_model_v1(
                    face_recognition_models.cnn_face_detector_model_location()
                )
            else:
                self._hog = dlib.get_frontal_face_detector()
            landmark_path = (
                face_recognition_models.pose_predictor_five_point_model_location()
                if self.config.landmarks == "5-point"
                else face_recognition_models.pose_predictor_model_location()
            )
            self._predictor = dlib.shape_predictor(landmark_path)
            # Quality needs the 5 points whichever predictor aligns the faces.
            self._predictor_5 = (
                self._predictor
                if self.config.landmarks == "5-point"
                else dlib.shape_predictor(face_recognition_models.pose_predictor_five_point_model_location())
            )
            self._encoder = dlib.face_recognition_model_v1(
                face_recognition_models.face_recognition_model_location()
            )
        except RuntimeError as exc:
            raise DetectorError(f"face models could not be loaded: {exc}") from exc
        logger.debug("face model ready: %s", self.config)

    def detect(self, image_bgr: FrameBGR) -> list[FaceBox]:
        """Faces in the image, boxes clipped to it, smaller than `min_face_px` dropped, best score first."""
        rgb = _to_rgb(image_bgr)
        height, width = rgb.shape[:2]
        found: list[tuple[dlib.rectangle, float]] = []
        if self.config.detector == "cnn":
            found = [(d.rect, float(d.confidence)) for d in self._cnn(rgb, self.config.upsample)]
        else:
            rects, scores, _ = self._hog.run(rgb, self.config.upsample, self.config.hog_threshold)
            found = [(r, float(s)) for r, s in zip(rects, scores, strict=True)]
        boxes: list[FaceBox] = []
        for rect, score in found:
            x1, y1 = max(0, int(rect.left())), max(0, int(rect.top()))
            x2, y2 = min(width, int(rect.right()) + 1), min(height, int(rect.bottom()) + 1)
            box = FaceBox((x1, y1, x2, y2), score)
            if box.size_px >= self.config.min_face_px:
                boxes.append(box)
        boxes.sort(key=lambda b: -(b.score or 0.0))
        return boxes

    def landmarks(self, image_bgr: FrameBGR, box: FaceBox) -> F32:
        """The 5 landmarks (pixels, (5, 2)): outer and inner corner of one eye, of the other, nose base."""
        shape = self._predictor_5(_to_rgb(image_bgr), _rect(box))
        return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32)

    def encode(self, image_bgr: FrameBGR, boxes: list[FaceBox]) -> F32:
        """128-d encodings of the faces in `boxes`, (n, 128) float32, in the boxes' order."""
        if not boxes:
            return np.zeros((0, EMBEDDING_DIM), dtype=np.float32)
        rgb = _to_rgb(image_bgr)
        shapes = [self._predictor(rgb, _rect(box)) for box in boxes]
        encodings = [
            np.asarray(self._encoder.compute_face_descriptor(rgb, shape, self.config.encoder_jitters))
            for shape in shapes
        ]
        return np.asarray(encodings, dtype=np.float32).reshape(len(boxes), EMBEDDING_DIM)

    def quality(self, image_bgr: FrameBGR, box: FaceBox, landmarks: F32) -> FaceQuality:
        """Size, sharpness, frontal pose and their combination (formula in the module docstring)."""
        size_px = box.size_px
        sharpness = sharpness_of(image_bgr, box)
        frontal = frontal_score(landmarks)
        size_score = min(1.0, size_px / self.config.quality_good_size_px)
        sharp_score = sharpness / (sharpness + self.config.quality_sharpness_half)
        combined = float((max(0.0, size_score) * sharp_score * frontal) ** (1.0 / 3.0))
        return FaceQuality(size_px=size_px, sharpness=sharpness, frontal=frontal, combined=combined)


def sharpness_of(image_bgr: FrameBGR, box: FaceBox) -> float:
    """Variance of the Laplacian of the grey face crop resized to 96 x 96 px (0 for an empty crop)."""
    x1, y1, x2, y2 = box.xyxy
    crop = image_bgr[max(0, y1) : max(0, y2), max(0, x1) : max(0, x2)]
    if crop.size == 0:
        return 0.0
    grey = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)
    shrinking = min(grey.shape[:2]) > _SHARPNESS_SIDE_PX
    side = (_SHARPNESS_SIDE_PX, _SHARPNESS_SIDE_PX)
    resized = cv2.resize(grey, side, interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)
    return float(cv2.Laplacian(resized, cv2.CV_64F).var())


def frontal_score(landmarks: F32) -> float:
    """0..1 from the 5 landmarks: nose centred between the eyes x eye-width symmetry (module docstring)."""
    points = np.asarray(landmarks, dtype=np.float64).reshape(-1, 2)
    if points.shape[0] != 5:
        raise ValueError(f"frontal_score needs the 5 landmarks, got {points.shape[0]}")
    eye_a, eye_b = points[0:2].mean(axis=0), points[2:4].mean(axis=0)
    width_a, width_b = np.linalg.norm(points[0] - points[1]), np.linalg.norm(points[2] - points[3])
    axis = eye_b - eye_a
    span = float(axis @ axis)
    if span <= 1e-9 or max(width_a, width_b) <= 1e-9:
        return 0.0
    along = float((points[4] - eye_a) @ axis) / span  # 0 at eye a, 1 at eye b, 0.5 centred
    centring = max(0.0, 1.0 - abs(along - 0.5) / 0.5)
    symmetry = float(min(width_a, width_b) / max(width_a, width_b))
    return centring * symmetry


def _to_rgb(image_bgr: FrameBGR) -> npt.NDArray[np.uint8]:
    if image_bgr.ndim != 3 or image_bgr.shape[2] != 3 or image_bgr.dtype != np.uint8:
        raise ValueError(f"expected an H x W x 3 uint8 BGR image, got {image_bgr.shape} {image_bgr.dtype}")
    return np.ascontiguousarray(image_bgr[:, :, ::-1])


def _rect(box: FaceBox) -> dlib.rectangle:
    x1, y1, x2, y2 = box.xyxy
    return dlib.rectangle(int(x1), int(y1), int(x2) - 1, int(y2) - 1)
