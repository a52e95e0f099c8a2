"""Real assets the detector, source and tracker tests use: the exported model, the sample videos.

A missing model is a failed test (with the fix), never a skip: `deploy/setup.sh` puts it in place.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np
import numpy.typing as npt
import pytest
import supervision as sv

from detectors.base import FrameBGR

if TYPE_CHECKING:
    from detectors.onnx_yolo import OnnxYoloDetector

REPO_ROOT = Path(__file__).resolve().parents[2]
MEDIA_DIR = Path("/usr/share/doc/opencv-doc/examples/data")
VTEST = MEDIA_DIR / "vtest.avi"
MEGAMIND_BUGY = MEDIA_DIR / "Megamind_bugy.avi"
ONNX_MODEL = "models/people-yolov8s-480x640.onnx"
PT_MODEL = "models/people-yolov8s.pt"


def data_dir() -> Path:
    configured = Path(os.environ.get("ANFANG_DATA_DIR", "data"))
    return configured if configured.is_absolute() else REPO_ROOT / configured


def require_model(relative: str) -> Path:
    path = data_dir() / relative
    if not path.is_file():
        pytest.fail(f"model missing: {path} — run deploy/setup.sh", pytrace=False)
    return path


def people_detector_int8() -> OnnxYoloDetector:
    """The exported people detector as `make demo` runs it: INT8, confidence 0.25."""
    from detectors.onnx_yolo import OnnxYoloConfig, OnnxYoloDetector

    config = OnnxYoloConfig(
        type="onnx",
        model_path=Path(ONNX_MODEL),
        precision="int8",
        confidence=0.25,
        class_names={0: "person", 1: "person_down"},
    )
    return OnnxYoloDetector(config, data_dir())


def require_media(path: Path) -> Path:
    if not path.is_file():
        pytest.fail(f"sample video missing: {path} — install the Debian package opencv-doc", pytrace=False)
    return path


@cache
def _vtest_frames(indices: tuple[int, ...]) -> tuple[FrameBGR, ...]:
    capture = cv2.VideoCapture(str(VTEST))
    frames: dict[int, FrameBGR] = {}
    index = 0
    while index <= max(indices):
        ok, image = capture.read()
        if not ok:
            break
        if index in indices:
            frames[index] = np.ascontiguousarray(image)
        index += 1
    capture.release()
    return tuple(frames[i] for i in indices)


def vtest_frames(*indices: int) -> list[FrameBGR]:
    """Frames of vtest.avi (decoded with OpenCV, independent of pipelines.sources)."""
    require_media(VTEST)
    return [f.copy() for f in _vtest_frames(tuple(indices))]


def labels_of(detections: sv.Detections) -> list[str]:
    label = detections.data["label"]
    assert isinstance(label, np.ndarray), f"data['label'] is {type(label).__name__}, not an array"
    return [str(x) for x in label]


def confidence_of(detections: sv.Detections) -> npt.NDArray[np.float32]:
    assert detections.confidence is not None
    return detections.confidence
