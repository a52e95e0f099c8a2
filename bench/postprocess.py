"""Micro-benchmark: detectors/postprocess.py (OpenCV, supervision) against the hand-written numpy it replaced.

Each line times one operation both ways on the same inputs in the same run and prints
library-time / hand-time (below 1.0 = the library is faster), after checking both give the same result.
The hand versions are the numpy code postprocess.py had before (kept here as the baseline), except
cxcywh -> xyxy, which stays hand-written in postprocess.py because supervision's was slower.
Inputs: real 768x576 frames of vtest.avi and, when the model is there, the FP32 model's raw outputs
on them (the NMS input a camera really produces), plus a dense synthetic case (300 overlapping boxes).

    .venv/bin/python bench/postprocess.py [--model data/models/people-yolov8s-480x640.onnx] [--frames 20]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
import supervision as sv

from detectors.base import FrameBGR
from detectors.postprocess import (
    PAD_VALUE,
    Letterbox,
    Letterboxer,
    cxcywh_to_xyxy,
    letterbox_params,
    nms_class_aware,
    unletterbox_xyxy,
)

logger = logging.getLogger("bench.postprocess")

F32 = npt.NDArray[np.float32]
VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")
_CLASS_OFFSET_PX = 7680.0


def read_frames(video: Path, n: int) -> list[FrameBGR]:
    capture = cv2.VideoCapture(str(video))
    frames: list[FrameBGR] = []
    while len(frames) < n:
        ok, image = capture.read()
        if not ok:
            break
        frames.append(np.ascontiguousarray(image, dtype=np.uint8))
    capture.release()
    if not frames:
        raise SystemExit(f"no frames decoded from {video}")
    return frames


# ---- the hand-written versions detectors/postprocess.py had before (the baselines) ----
class HandLetterboxer:
    def __init__(self, dst_hw: tuple[int, int]) -> None:
        self._dst_hw = dst_hw
        self._canvas = np.full((*dst_hw, 3), PAD_VALUE, dtype=np.uint8)
        self.tensor: F32 = np.zeros((1, 3, *dst_hw), dtype=np.float32)
        self._params: Letterbox | None = None
        self._resized: npt.NDArray[np.uint8] | None = None

    def __call__(self, frame_bgr: npt.NDArray[np.uint8]) -> Letterbox:
        src_hw = (int(frame_bgr.shape[0]), int(frame_bgr.shape[1]))
        params = self._params
        if params is None or params.src_hw != src_hw:
            params = self._params = letterbox_params(src_hw, self._dst_hw)
            self._canvas.fill(PAD_VALUE)
            self._resized = np.empty((*params.resized_hw, 3), dtype=np.uint8)
        rh, rw = params.resized_hw
        top, left = params.pad_top_px, params.pad_left_px
        resized = cv2.resize(frame_bgr, (rw, rh), dst=self._resized, interpolation=cv2.INTER_LINEAR)
        self._canvas[top : top + rh, left : left + rw] = resized
        np.multiply(self._canvas[:, :, ::-1].transpose(2, 0, 1), np.float32(1 / 255), out=self.tensor[0])
        return params


def hand_nms(xyxy: F32, scores: F32, class_id: npt.NDArray[np.int64], iou: float) -> npt.NDArray[np.int64]:
    if len(xyxy) == 0:
        return np.empty(0, np.int64)
    boxes = xyxy.astype(np.float64) + (class_id.astype(np.float64) * _CLASS_OFFSET_PX)[:, None]
    areas = np.maximum(boxes[:, 2] - boxes[:, 0], 0) * np.maximum(boxes[:, 3] - boxes[:, 1], 0)
    order = np.argsort(-scores, kind="stable")
    kept: list[int] = []
    while order.size:
        best = int(order[0])
        kept.append(best)
        rest = order[1:]
        inter_w = np.clip(
            np.minimum(boxes[best, 2], boxes[rest, 2]) - np.maximum(boxes[best, 0], boxes[rest, 0]), 0, None
        )
        inter_h = np.clip(
            np.minimum(boxes[best, 3], boxes[rest, 3]) - np.maximum(boxes[best, 1], boxes[rest, 1]), 0, None
        )
        inter = inter_w * inter_h
        union = areas[best] + areas[rest] - inter
        overlap = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
        order = rest[overlap <= iou]
    return np.asarray(kept, dtype=np.int64)


def hand_unletterbox(xyxy: F32, params: Letterbox) -> F32:
    out = xyxy.astype(np.float32, copy=True)
    out[:, [0, 2]] -= params.pad_left_px
    out[:, [1, 3]] -= params.pad_top_px
    out /= np.float32(params.scale)
    src_h, src_w = params.src_hw
    out[:, [0, 2]] = np.clip(out[:, [0, 2]], 0, src_w)
    out[:, [1, 3]] = np.clip(out[:, [1, 3]], 0, src_h)
    return out


# ---- timing ----
def calls_for(fn: Callable[[], Any], round_s: float = 0.05) -> int:
    fn()
    calls, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < round_s:
        fn()
        calls += 1
    return max(calls, 1)


def per_call_us(fn: Callable[[], Any], calls: int) -> float:
    t0 = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - t0) / calls * 1e6


def compare(name: str, hand: Callable[[], Any], library: Callable[[], Any], rounds: int = 9) -> float:
    """Rounds of each, interleaved; the fastest round of each (the least disturbed on shared cores)."""
    hand_calls, lib_calls = calls_for(hand), calls_for(library)
    hand_us, lib_us = [], []
    for _ in range(rounds):
        hand_us.append(per_call_us(hand, hand_calls))
        lib_us.append(per_call_us(library, lib_calls))
    ratio = min(lib_us) / min(hand_us)
    logger.info(
        "%-58s hand %8.1f us  library %8.1f us  library/hand %5.2f", name, min(hand_us), min(lib_us), ratio
    )
    return ratio


def nms_inputs(raw: F32, confidence: float) -> tuple[F32, F32, npt.NDArray[np.int64]]:
    scores_all = raw[4:]
    class_id = scores_all.argmax(axis=0)
    scores = scores_all[class_id, np.arange(raw.shape[1])]
    keep = np.flatnonzero(scores > confidence)
    return cxcywh_to_xyxy(raw[:4, keep].T.copy()), scores[keep], class_id[keep].astype(np.int64)


def raw_outputs(model: Path, frames: list[FrameBGR]) -> list[F32]:
    import onnxruntime as ort

    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    boxer = Letterboxer((480, 640))
    outputs = []
    for frame in frames:
        boxer(frame)
        outputs.append(session.run(None, {name: boxer.tensor})[0][0])
    return outputs


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    p = argparse.ArgumentParser(description="postprocess: library vs hand-written, same run")
    p.add_argument("--video", type=Path, default=VTEST)
    p.add_argument("--model", type=Path, default=Path("data/models/people-yolov8s-480x640.onnx"))
    p.add_argument("--frames", type=int, default=20)
    args = p.parse_args()
    frames = read_frames(args.video, args.frames)
    frame = frames[0]
    ratios: dict[str, float] = {}

    for src_hw in [(576, 768), (1080, 1920)]:
        image = np.ascontiguousarray(cv2.resize(frame, (src_hw[1], src_hw[0])), dtype=np.uint8)
        hand_box, lib_box = HandLetterboxer((480, 640)), Letterboxer((480, 640))
        hand_box(image)
        lib_box(image)
        assert np.array_equal(hand_box.tensor, lib_box.tensor), "letterbox tensors differ"
        ratios[f"letterbox {src_hw}"] = compare(
            f"letterbox {src_hw[1]}x{src_hw[0]} -> 640x480 (blobFromImageWithParams)",
            lambda i=image, b=hand_box: b(i),  # type: ignore[misc]
            lambda i=image, b=lib_box: b(i),  # type: ignore[misc]
        )

    cases: list[tuple[str, list[tuple[F32, F32, npt.NDArray[np.int64]]]]] = []
    if args.model.is_file():
        cases.append(
            (f"{len(frames)} vtest outputs", [nms_inputs(r, 0.25) for r in raw_outputs(args.model, frames)])
        )
    else:
        logger.info("no model at %s: NMS on synthetic boxes only", args.model)
    rng = np.random.default_rng(7)
    centres = rng.uniform(0, 600, size=(30, 2))
    xy = (centres[rng.integers(0, 30, 300)] + rng.normal(0, 4, (300, 2))).astype(np.float32)
    wh = rng.uniform(20, 80, size=(300, 2)).astype(np.float32)
    dense = (np.hstack([xy, xy + wh]), rng.uniform(0.3, 1, 300).astype(np.float32), rng.integers(0, 2, 300))
    cases.append(("300 dense synthetic boxes", [dense]))
    for name, inputs in cases:
        for xyxy, scores, cls in inputs:
            assert (
                hand_nms(xyxy, scores, cls, 0.45).tolist()
                == nms_class_aware(xyxy, scores, cls, 0.45).tolist()
            )
        boxes = statistics.fmean(len(x[0]) for x in inputs)
        ratios[f"nms {name}"] = compare(
            f"NMS, {name} ({boxes:.0f} boxes in)",
            lambda ins=inputs: [hand_nms(x, s, c, 0.45) for x, s, c in ins],  # type: ignore[misc]
            lambda ins=inputs: [nms_class_aware(x, s, c, 0.45) for x, s, c in ins],  # type: ignore[misc]
        )

    for n in (10, 60):
        cxcywh = rng.uniform(10, 600, size=(n, 4)).astype(np.float32)
        assert np.allclose(sv.xcycwh_to_xyxy(cxcywh), cxcywh_to_xyxy(cxcywh))
        ratios[f"cxcywh {n}"] = compare(
            f"cxcywh -> xyxy, {n} boxes (sv.xcycwh_to_xyxy; kept by hand)",
            lambda b=cxcywh: cxcywh_to_xyxy(b),  # type: ignore[misc]
            lambda b=cxcywh: sv.xcycwh_to_xyxy(b),  # type: ignore[misc]
        )
        params = letterbox_params((1080, 1920), (480, 640))
        xyxy = np.sort(rng.uniform(-20, 660, size=(n, 4)).astype(np.float32).reshape(n, 2, 2), axis=1)
        xyxy = xyxy.transpose(0, 2, 1).reshape(n, 4)
        assert np.allclose(hand_unletterbox(xyxy, params), unletterbox_xyxy(xyxy, params))
        ratios[f"unletterbox {n}"] = compare(
            f"unletterbox + clip, {n} boxes (sv.clip_boxes)",
            lambda b=xyxy, q=params: hand_unletterbox(b, q),  # type: ignore[misc]
            lambda b=xyxy, q=params: unletterbox_xyxy(b, q),  # type: ignore[misc]
        )
    slower = {k: v for k, v in ratios.items() if v > 1.1}
    logger.info("library slower than hand (> 1.1x; these stay hand-written): %s", slower or "none")
    return 0


if __name__ == "__main__":
    sys.exit(main())
