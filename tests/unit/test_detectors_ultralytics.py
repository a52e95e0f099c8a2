"""The ultralytics (torch) backend on real frames; it must agree with the ONNX backend."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from detectors.base import Detector, DetectorError
from detectors.onnx_yolo import OnnxYoloConfig, OnnxYoloDetector
from detectors.registry import build_detector
from detectors.ultralytics_yolo import UltralyticsConfig, UltralyticsDetector
from tests.unit.detector_assets import (
    ONNX_MODEL,
    PT_MODEL,
    confidence_of,
    data_dir,
    labels_of,
    require_model,
    vtest_frames,
)


@pytest.fixture(scope="module")
def detector() -> UltralyticsDetector:
    require_model(PT_MODEL)
    return UltralyticsDetector(UltralyticsConfig(model_path=Path(PT_MODEL)), data_dir())


def test_implements_the_detector_protocol(detector: UltralyticsDetector) -> None:
    assert isinstance(detector, Detector)
    assert detector.class_names == {0: "Normal", 1: "Fall"}


def test_keeps_torch_to_the_configured_threads(detector: UltralyticsDetector) -> None:
    import torch

    detector.detect(vtest_frames(0)[0])
    assert torch.get_num_threads() == 2


@pytest.mark.parametrize("index", [0, 300])
def test_finds_people_and_agrees_with_onnx(detector: UltralyticsDetector, index: int) -> None:
    require_model(ONNX_MODEL)
    onnx = OnnxYoloDetector(OnnxYoloConfig(model_path=Path(ONNX_MODEL)), data_dir())
    (frame,) = vtest_frames(index)
    torch_dets, onnx_dets = detector.detect(frame), onnx.detect(frame)
    assert len(torch_dets) >= 3
    assert torch_dets.xyxy.dtype == np.float32 and torch_dets.confidence is not None
    h, w = frame.shape[:2]
    assert (torch_dets.xyxy >= 0).all() and (torch_dets.xyxy[:, [0, 2]] <= w).all()
    assert (torch_dets.xyxy[:, [1, 3]] <= h).all()
    # same model, same letterbox and NMS: the same boxes within float noise
    assert len(torch_dets) == len(onnx_dets)
    np.testing.assert_allclose(torch_dets.xyxy, onnx_dets.xyxy, atol=0.5)
    np.testing.assert_allclose(confidence_of(torch_dets), confidence_of(onnx_dets), atol=2e-3)
    assert labels_of(torch_dets) == labels_of(onnx_dets)


def test_detect_batch_is_one_predict_with_the_same_boxes(detector: UltralyticsDetector) -> None:
    frames = vtest_frames(0, 300)
    batched = detector.detect_batch(frames)
    assert len(batched) == 2
    for frame, many in zip(frames, batched, strict=True):
        one = detector.detect(frame)
        assert len(one) >= 3 and len(many) == len(one)
        np.testing.assert_allclose(many.xyxy, one.xyxy, atol=0.5)
        assert labels_of(many) == labels_of(one)
    assert detector.detect_batch([]) == []
    with pytest.raises(DetectorError, match="BGR"):
        detector.detect_batch([frames[0], np.zeros((4, 4), dtype=np.uint8)])


def test_config_names_override_and_registry() -> None:
    require_model(PT_MODEL)
    config = UltralyticsConfig(model_path=Path(PT_MODEL), class_names={0: "person", 1: "person_down"})
    det = build_detector(config, data_dir())
    assert isinstance(det, UltralyticsDetector)
    assert det.class_names == {0: "person", 1: "person_down"}
    labels = labels_of(det.detect(vtest_frames(0)[0]))
    assert labels and set(labels) <= {"person", "person_down"}


def test_a_missing_model_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DetectorError, match=r"ultralytics model not found: .*nope\.pt"):
        UltralyticsDetector(UltralyticsConfig(model_path=Path("nope.pt")), tmp_path)


@pytest.mark.parametrize("content", [b"", b"not a checkpoint", bytes(range(256)) * 40])
def test_a_corrupt_model_is_a_clear_error(tmp_path: Path, content: bytes) -> None:
    bad = tmp_path / "bad.pt"
    bad.write_bytes(content)
    with pytest.raises(DetectorError, match=r"cannot load ultralytics model .*bad\.pt") as info:
        UltralyticsDetector(UltralyticsConfig(model_path=bad), tmp_path)
    assert "\n" not in str(info.value)
