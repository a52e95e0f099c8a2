"""The ONNX Runtime detector on real frames of vtest.avi with the exported people model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import supervision as sv

from detectors.base import Detector, DetectorError
from detectors.onnx_yolo import OnnxYoloConfig, OnnxYoloDetector
from detectors.registry import build_detector
from tests.unit.detector_assets import (
    ONNX_MODEL,
    VTEST,
    confidence_of,
    data_dir,
    labels_of,
    require_media,
    require_model,
    vtest_frames,
)


@pytest.fixture(scope="module")
def detector() -> OnnxYoloDetector:
    require_model(ONNX_MODEL)
    return OnnxYoloDetector(OnnxYoloConfig(model_path=Path(ONNX_MODEL)), data_dir())


def test_implements_the_detector_protocol(detector: OnnxYoloDetector) -> None:
    assert isinstance(detector, Detector)
    assert detector.input_hw == (480, 640)
    assert detector.model.name == "yolov8s-people"


def test_class_names_come_from_the_model_metadata(detector: OnnxYoloDetector) -> None:
    assert detector.class_names == {0: "Normal", 1: "Fall"}


@pytest.mark.parametrize("index", [0, 100, 400])
def test_finds_people_in_vtest_frames(detector: OnnxYoloDetector, index: int) -> None:
    (frame,) = vtest_frames(index)
    dets = detector.detect(frame)
    assert isinstance(dets, sv.Detections)
    assert len(dets) >= 3, f"only {len(dets)} people found in frame {index}"
    assert dets.xyxy.dtype == np.float32 and dets.confidence is not None and dets.class_id is not None
    assert dets.confidence.dtype == np.float32
    assert (dets.confidence > 0.25).all() and (dets.confidence <= 1).all()
    h, w = frame.shape[:2]
    assert (dets.xyxy[:, [0, 2]] >= 0).all() and (dets.xyxy[:, [0, 2]] <= w).all()
    assert (dets.xyxy[:, [1, 3]] >= 0).all() and (dets.xyxy[:, [1, 3]] <= h).all()
    assert (dets.xyxy[:, 2] > dets.xyxy[:, 0]).all() and (dets.xyxy[:, 3] > dets.xyxy[:, 1]).all()
    assert set(labels_of(dets)) <= {"Normal", "Fall"}
    assert [detector.class_names[c] for c in dets.class_id] == labels_of(dets)
    # pedestrians are taller than wide
    heights, widths = dets.xyxy[:, 3] - dets.xyxy[:, 1], dets.xyxy[:, 2] - dets.xyxy[:, 0]
    assert np.median(heights / widths) > 1.2


def test_detect_is_deterministic_and_frame_size_independent(detector: OnnxYoloDetector) -> None:
    (frame,) = vtest_frames(200)
    first = detector.detect(frame)
    again = detector.detect(frame.copy())
    np.testing.assert_array_equal(first.xyxy, again.xyxy)
    # the same scene at half size: boxes come back in the smaller frame's pixels
    import cv2

    small = cv2.resize(frame, (384, 288), interpolation=cv2.INTER_AREA)
    halved = detector.detect(np.asarray(small, dtype=np.uint8))
    assert (halved.xyxy[:, [0, 2]] <= 384).all() and (halved.xyxy[:, [1, 3]] <= 288).all()
    big_centres = (first.xyxy[:, :2] + first.xyxy[:, 2:]) / 4  # centres, halved
    for box in halved.xyxy[confidence_of(halved) > 0.5]:
        centre = (box[:2] + box[2:]) / 2
        assert np.min(np.linalg.norm(big_centres - centre, axis=1)) < 12


def test_no_detections_gives_empty_labelled_detections() -> None:
    require_model(ONNX_MODEL)
    strict = OnnxYoloDetector(OnnxYoloConfig(model_path=Path(ONNX_MODEL), confidence=0.99), data_dir())
    dets = strict.detect(vtest_frames(0)[0])
    assert len(dets) == 0
    assert dets.xyxy.shape == (0, 4)
    assert labels_of(dets) == []


def test_config_class_names_override_per_id() -> None:
    require_model(ONNX_MODEL)
    config = OnnxYoloConfig(model_path=Path(ONNX_MODEL), class_names={0: "person"})
    det = OnnxYoloDetector(config, data_dir())
    assert det.class_names == {0: "person", 1: "Fall"}


def test_registry_builds_it() -> None:
    require_model(ONNX_MODEL)
    det = build_detector(OnnxYoloConfig(model_path=Path(ONNX_MODEL)), data_dir())
    assert isinstance(det, OnnxYoloDetector)


def test_a_mismatched_input_size_is_refused() -> None:
    require_model(ONNX_MODEL)
    with pytest.raises(DetectorError, match=r"input_hw=\(640, 640\).*fixed"):
        OnnxYoloDetector(OnnxYoloConfig(model_path=Path(ONNX_MODEL), input_hw=(640, 640)), data_dir())


def test_a_missing_model_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DetectorError, match=r"ONNX model not found: .*nope\.onnx"):
        OnnxYoloDetector(OnnxYoloConfig(model_path=Path("models/nope.onnx")), tmp_path)


@pytest.mark.parametrize("content", [b"", b"this is not an onnx model\n", bytes(range(256)) * 50])
def test_a_corrupt_model_is_a_clear_error(tmp_path: Path, content: bytes) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(content)
    with pytest.raises(DetectorError, match=r"cannot load ONNX model .*bad\.onnx") as info:
        OnnxYoloDetector(OnnxYoloConfig(model_path=bad), tmp_path)
    assert "\n" not in str(info.value)


def test_names_fall_back_to_the_sidecar_then_the_config(tmp_path: Path) -> None:
    """A model without `names` metadata: the export's .json names the classes, else the config."""
    import onnx

    model = onnx.load(str(require_model(ONNX_MODEL)))
    del model.metadata_props[:]
    bare = tmp_path / "bare.onnx"
    onnx.save(model, str(bare))
    assert OnnxYoloDetector(OnnxYoloConfig(model_path=bare), tmp_path).class_names == {0: "person"}
    bare.with_suffix(".json").write_text(json.dumps({"class_names": {"0": "walker", "1": "faller"}}))
    assert OnnxYoloDetector(OnnxYoloConfig(model_path=bare), tmp_path).class_names == {
        0: "walker",
        1: "faller",
    }


def test_a_wrong_frame_is_a_detector_error(detector: OnnxYoloDetector) -> None:
    with pytest.raises(DetectorError, match="BGR"):
        detector.detect(np.zeros((10, 10), dtype=np.uint8))


@pytest.mark.slow
def test_whole_video_people_per_frame(tmp_path: Path) -> None:
    """~8 people/frame on vtest.avi at conf 0.25 (assets.md), every frame decoded by OpenCV."""
    import cv2

    require_model(ONNX_MODEL)
    det = OnnxYoloDetector(OnnxYoloConfig(model_path=Path(ONNX_MODEL)), data_dir())
    capture = cv2.VideoCapture(str(require_media(VTEST)))
    counts = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        counts.append(len(det.detect(np.asarray(frame, dtype=np.uint8))))
    assert len(counts) == 795
    assert 6.0 <= float(np.mean(counts)) <= 10.0, f"mean people/frame {np.mean(counts):.2f}"
    assert min(counts) >= 1


def test_an_unavailable_execution_provider_is_a_clear_error() -> None:
    require_model(ONNX_MODEL)
    config = OnnxYoloConfig(model_path=Path(ONNX_MODEL), providers=["NoSuchExecutionProvider"])
    with pytest.raises(DetectorError, match=r"'NoSuchExecutionProvider'\] not available here \(available: "):
        OnnxYoloDetector(config, data_dir())


def test_detect_batch_matches_detect_frame_by_frame(detector: OnnxYoloDetector) -> None:
    """Whatever the model's batch axis (the setup's export is dynamic): same boxes, frames' order kept,
    frames of different sizes letterboxed each on its own."""
    import cv2

    frames = vtest_frames(0, 300)
    frames.append(np.ascontiguousarray(cv2.resize(frames[0], (1280, 720)), dtype=np.uint8))
    batched = detector.detect_batch(frames)
    assert len(batched) == 3
    for frame, many in zip(frames, batched, strict=True):
        one = detector.detect(frame)
        assert len(one) >= 3 and len(many) == len(one)
        np.testing.assert_allclose(many.xyxy, one.xyxy, atol=0.05)
        assert labels_of(many) == labels_of(one)
    assert (batched[2].xyxy[:, [0, 2]] <= 1280).all() and batched[2].xyxy[:, [0, 2]].max() > 768
    assert detector.detect_batch([]) == []


def test_detect_batch_rejects_a_wrong_frame(detector: OnnxYoloDetector) -> None:
    with pytest.raises(DetectorError, match="BGR"):
        detector.detect_batch([vtest_frames(0)[0], np.zeros((10, 10), dtype=np.uint8)])
