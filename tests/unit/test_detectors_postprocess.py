"""Letterbox, YOLO output decoding and NMS maths on synthetic inputs (no model needed)."""

from __future__ import annotations

import numpy as np
import pytest

from detectors.postprocess import (
    PAD_VALUE,
    Letterbox,
    Letterboxer,
    decode_yolo_output,
    letterbox_params,
    nms_class_aware,
    unletterbox_xyxy,
)


@pytest.mark.parametrize(
    ("src_hw", "dst_hw", "scale", "resized_hw", "pad_left", "pad_top"),
    [
        ((576, 768), (480, 640), 480 / 576, (480, 640), 0, 0),  # vtest.avi: same aspect, no padding
        ((480, 640), (640, 640), 1.0, (480, 640), 0, 80),  # letterbox top and bottom
        ((1080, 1920), (480, 640), 1 / 3, (360, 640), 0, 60),
        ((100, 50), (480, 640), 4.8, (480, 240), 200, 0),  # tall frame: pillarbox, upscaled
        ((101, 200), (64, 64), 0.32, (32, 64), 0, 16),  # odd sizes: ultralytics' -0.1 rounding
        ((64, 64), (64, 64), 1.0, (64, 64), 0, 0),
    ],
)
def test_letterbox_params(
    src_hw: tuple[int, int],
    dst_hw: tuple[int, int],
    scale: float,
    resized_hw: tuple[int, int],
    pad_left: int,
    pad_top: int,
) -> None:
    p = letterbox_params(src_hw, dst_hw)
    assert p.scale == pytest.approx(scale)
    assert p.resized_hw == resized_hw
    assert (p.pad_left_px, p.pad_top_px) == (pad_left, pad_top)
    # the resized image plus padding fills the destination exactly
    assert p.pad_top_px + p.resized_hw[0] <= dst_hw[0]
    assert p.pad_left_px + p.resized_hw[1] <= dst_hw[1]


@pytest.mark.parametrize(("src_hw", "dst_hw"), [((0, 10), (64, 64)), ((10, 10), (64, -1))])
def test_letterbox_params_rejects_empty_sizes(src_hw: tuple[int, int], dst_hw: tuple[int, int]) -> None:
    with pytest.raises(ValueError, match="positive"):
        letterbox_params(src_hw, dst_hw)


def test_letterboxer_fills_rgb_chw_unit_tensor_with_grey_padding() -> None:
    frame = np.zeros((32, 64, 3), dtype=np.uint8)
    frame[:, :32] = (255, 0, 0)  # left half blue (BGR)
    frame[:, 32:] = (0, 0, 255)  # right half red
    boxer = Letterboxer((64, 64))
    params = boxer(frame)
    t = boxer.tensor
    assert t.shape == (1, 3, 64, 64) and t.dtype == np.float32
    assert (params.pad_top_px, params.pad_left_px, params.resized_hw) == (16, 0, (32, 64))
    grey = PAD_VALUE / 255
    np.testing.assert_allclose(t[0, :, :16, :], grey, rtol=1e-6)  # top padding
    np.testing.assert_allclose(t[0, :, 48:, :], grey, rtol=1e-6)  # bottom padding
    # channel 0 is R: red on the right, channel 2 is B: blue on the left
    np.testing.assert_allclose(t[0, 0, 16:48, 40:], 1.0)
    np.testing.assert_allclose(t[0, 0, 16:48, :24], 0.0)
    np.testing.assert_allclose(t[0, 2, 16:48, :24], 1.0)
    np.testing.assert_allclose(t[0, 1, 16:48, :], 0.0)


def test_letterboxer_reuses_its_tensor_and_repads_on_a_new_frame_size() -> None:
    boxer = Letterboxer((64, 64))
    tensor_id = id(boxer.tensor)
    boxer(np.full((32, 64, 3), 200, dtype=np.uint8))  # wide: pads top and bottom
    boxer(np.full((64, 32, 3), 10, dtype=np.uint8))  # tall: pads left and right
    assert id(boxer.tensor) == tensor_id
    t = boxer.tensor[0]
    np.testing.assert_allclose(t[:, :, :16], PAD_VALUE / 255, rtol=1e-6)
    np.testing.assert_allclose(t[:, :, 16:48], 10 / 255, rtol=1e-6)  # the old wide frame is gone
    np.testing.assert_allclose(t[:, 0, 16:48], 10 / 255, rtol=1e-6)  # old top padding overwritten


@pytest.mark.parametrize(
    "frame",
    [np.zeros((10, 10), np.uint8), np.zeros((10, 10, 4), np.uint8), np.zeros((10, 10, 3), np.float32)],
)
def test_letterboxer_rejects_non_bgr_frames(frame: np.ndarray) -> None:
    with pytest.raises(ValueError, match="BGR"):
        Letterboxer((32, 32))(frame)


def _raw_output(rows: list[tuple[float, float, float, float, float, float]]) -> np.ndarray:
    """(cx, cy, w, h, score_class0, score_class1) rows -> a (6, N) head output."""
    return np.array(rows, dtype=np.float32).T.copy()


@pytest.mark.parametrize(
    ("rows", "conf", "iou", "max_det", "expected"),
    [
        # one box; class = argmax of the scores
        ([(50, 50, 20, 40, 0.1, 0.9)], 0.25, 0.45, 300, [((40, 30, 60, 70), 0.9, 1)]),
        # below the confidence threshold (strictly above is kept)
        ([(50, 50, 20, 40, 0.25, 0.1)], 0.25, 0.45, 300, []),
        # two overlapping boxes of one class: the weaker is suppressed
        (
            [(50, 50, 20, 40, 0.8, 0.0), (52, 50, 20, 40, 0.6, 0.0)],
            0.25,
            0.45,
            300,
            [((40, 30, 60, 70), 0.8, 0)],
        ),
        # the same overlap across two classes: both kept
        (
            [(50, 50, 20, 40, 0.8, 0.0), (52, 50, 20, 40, 0.0, 0.6)],
            0.25,
            0.45,
            300,
            [((40, 30, 60, 70), 0.8, 0), ((42, 30, 62, 70), 0.6, 1)],
        ),
        # overlap below the IoU threshold: both kept, best first
        (
            [(50, 50, 20, 20, 0.5, 0.0), (62, 50, 20, 20, 0.7, 0.0)],
            0.25,
            0.45,
            300,
            [((52, 40, 72, 60), 0.7, 0), ((40, 40, 60, 60), 0.5, 0)],
        ),
        # max_detections keeps the best
        (
            [(10, 10, 5, 5, 0.3, 0.0), (100, 100, 5, 5, 0.9, 0.0), (200, 200, 5, 5, 0.6, 0.0)],
            0.25,
            0.45,
            2,
            [((97.5, 97.5, 102.5, 102.5), 0.9, 0), ((197.5, 197.5, 202.5, 202.5), 0.6, 0)],
        ),
    ],
)
def test_decode_yolo_output(
    rows: list[tuple[float, float, float, float, float, float]],
    conf: float,
    iou: float,
    max_det: int,
    expected: list[tuple[tuple[float, float, float, float], float, int]],
) -> None:
    xyxy, scores, classes = decode_yolo_output(_raw_output(rows), conf, iou, max_det)
    assert xyxy.dtype == np.float32 and scores.dtype == np.float32 and xyxy.shape == (len(expected), 4)
    for i, (box, score, cls) in enumerate(expected):
        np.testing.assert_allclose(xyxy[i], box, atol=1e-4)
        assert scores[i] == pytest.approx(score)
        assert classes[i] == cls


def test_decode_yolo_output_rejects_a_wrong_shape() -> None:
    with pytest.raises(ValueError, match="YOLO output"):
        decode_yolo_output(np.zeros((4, 10), np.float32), 0.25, 0.45, 300)


def test_nms_matches_a_brute_force_reference() -> None:
    rng = np.random.default_rng(7)
    xy = rng.uniform(0, 200, size=(300, 2)).astype(np.float32)
    wh = rng.uniform(5, 60, size=(300, 2)).astype(np.float32)
    xyxy = np.hstack([xy, xy + wh])
    scores = rng.uniform(0, 1, size=300).astype(np.float32)
    classes = rng.integers(0, 3, size=300)
    kept = nms_class_aware(xyxy, scores, classes, 0.5)

    def iou(a: np.ndarray, b: np.ndarray) -> float:
        iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
        ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
        inter = iw * ih
        return float(inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter))

    reference: list[int] = []
    for i in np.argsort(-scores, kind="stable"):
        if all(classes[j] != classes[i] or iou(xyxy[i], xyxy[j]) <= 0.5 for j in reference):
            reference.append(int(i))
    assert kept.tolist() == reference


def test_unletterbox_inverts_the_letterbox_and_clips() -> None:
    params = letterbox_params((1080, 1920), (480, 640))  # scale 1/3, pad top 60
    src = np.array([[300, 150, 900, 600]], dtype=np.float32)
    net = src * params.scale + np.array([0, params.pad_top_px, 0, params.pad_top_px], np.float32)
    np.testing.assert_allclose(unletterbox_xyxy(net, params), src, atol=1e-3)
    # a box reaching into the padding is clipped to the frame
    outside = np.array([[-10, 20, 700, 470]], dtype=np.float32)
    np.testing.assert_allclose(unletterbox_xyxy(outside, params), [[0, 0, 1920, 1080]], atol=1e-3)


def test_letterbox_is_a_plain_value() -> None:
    assert letterbox_params((10, 20), (10, 20)) == Letterbox((10, 20), (10, 20), 1.0, (10, 20), 0, 0)


def _reference_letterbox(frame: np.ndarray, dst_hw: tuple[int, int]) -> np.ndarray:
    """ultralytics' LetterBox by hand: round-resize, centre on grey, RGB, CHW, / 255."""
    import cv2

    p = letterbox_params(frame.shape[:2], dst_hw)
    canvas = np.full((*dst_hw, 3), PAD_VALUE, np.uint8)
    resized = cv2.resize(frame, (p.resized_hw[1], p.resized_hw[0]), interpolation=cv2.INTER_LINEAR)
    canvas[p.pad_top_px : p.pad_top_px + p.resized_hw[0], p.pad_left_px : p.pad_left_px + p.resized_hw[1]] = (
        resized
    )
    return canvas[:, :, ::-1].transpose(2, 0, 1)[None].astype(np.float32) / np.float32(255)


@pytest.mark.parametrize(
    ("src_hw", "dst_hw"),
    [((576, 768), (480, 640)), ((1000, 1333), (480, 640)), ((333, 777), (480, 640)), ((101, 200), (64, 64))],
)
def test_letterboxer_matches_ultralytics_rounding(src_hw: tuple[int, int], dst_hw: tuple[int, int]) -> None:
    """(1000, 1333): OpenCV's own letterbox would make it 639 wide; ultralytics (and we) make it 640."""
    frame = np.random.default_rng(1).integers(0, 256, size=(*src_hw, 3), dtype=np.uint8)
    boxer = Letterboxer(dst_hw)
    boxer(frame)
    np.testing.assert_allclose(boxer.tensor, _reference_letterbox(frame, dst_hw), atol=1e-6)


def test_letterboxer_fills_one_slot_of_a_batch() -> None:
    frames = [np.full((32, 64, 3), v, np.uint8) for v in (10, 200)]
    batch = np.zeros((2, 3, 64, 64), np.float32)
    boxer = Letterboxer((64, 64))
    for i, frame in enumerate(frames):
        boxer.into(frame, batch[i : i + 1])
    np.testing.assert_allclose(batch[0, :, 16:48], 10 / 255, rtol=1e-6)
    np.testing.assert_allclose(batch[1, :, 16:48], 200 / 255, rtol=1e-6)
    np.testing.assert_allclose(batch[:, :, :16], PAD_VALUE / 255, rtol=1e-6)
    with pytest.raises(ValueError, match="C-contiguous"):
        boxer.into(frames[0], np.zeros((1, 3, 32, 32), np.float32))
