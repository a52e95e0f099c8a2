"""Detector throughput per ONNX Runtime execution provider, on the same frames.

Baseline (measured in the same run): the CPU execution provider. Every other provider asked for
(CUDA, TensorRT) runs the same model on the same frames; FPS and the ratio to CPU are printed,
plus how closely its boxes match the CPU's (best-match IoU), so a faster provider that is wrong shows.

    .venv/bin/python bench/detector.py --model data/models/people-yolov8s-480x640.onnx \
        --video /usr/share/doc/opencv-doc/examples/data/vtest.avi --frames 200 \
        --providers CPUExecutionProvider CUDAExecutionProvider
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from detectors.base import Detections, FrameBGR
from detectors.onnx_yolo import OnnxYoloConfig, OnnxYoloDetector

logger = logging.getLogger("bench.detector")


def read_frames(video: Path, n: int) -> list[FrameBGR]:
    """cv2 decode keeps this benchmark free of GStreamer, so it runs on bare GPU machines too."""
    capture = cv2.VideoCapture(str(video))
    frames: list[FrameBGR] = []
    while len(frames) < n:
        ok, image = capture.read()
        if not ok:
            break
        frames.append(np.asarray(image, dtype=np.uint8))
    capture.release()
    if not frames:
        raise SystemExit(f"no frames decoded from {video}")
    return frames


def iou_xyxy(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    result: np.ndarray = inter / (area_a[:, None] + area_b[None, :] - inter + 1e-9)
    return result


def agreement(reference: list[Detections], other: list[Detections]) -> float:
    """Mean over reference boxes of the best IoU with the other provider's boxes (1.0 = identical)."""
    scores: list[float] = []
    for ref, oth in zip(reference, other, strict=True):
        if len(ref) == 0:
            continue
        if len(oth) == 0:
            scores.extend([0.0] * len(ref))
            continue
        scores.extend(iou_xyxy(ref.xyxy, oth.xyxy).max(axis=1).tolist())
    return statistics.fmean(scores) if scores else 1.0


def run(detector: OnnxYoloDetector, frames: list[FrameBGR], rounds: int) -> tuple[float, list[Detections]]:
    for image in frames[:10]:
        detector.detect(image)  # warm-up (CUDA/TensorRT build their kernels/engines here)
    fps: list[float] = []
    out: list[Detections] = []
    for _ in range(rounds):
        out = []
        t0 = time.perf_counter()
        for image in frames:
            out.append(detector.detect(image))
        fps.append(len(frames) / (time.perf_counter() - t0))
    return statistics.median(fps), out


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    p = argparse.ArgumentParser(description="detector FPS per ONNX Runtime execution provider")
    p.add_argument("--model", type=Path, required=True)
    p.add_argument("--video", type=Path, required=True)
    p.add_argument("--frames", type=int, default=200)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--threads", type=int, default=2, help="CPU intra-op threads")
    p.add_argument("--providers", nargs="+", default=["CPUExecutionProvider"])
    args = p.parse_args()
    frames = read_frames(args.video, args.frames)
    logger.info(
        "frames: %d (%dx%d), rounds: %d", len(frames), frames[0].shape[1], frames[0].shape[0], args.rounds
    )
    results: dict[str, tuple[float, list[Detections]]] = {}
    for provider in dict.fromkeys(["CPUExecutionProvider", *args.providers]):
        config = OnnxYoloConfig(
            model_path=args.model.resolve(), intra_op_threads=args.threads, providers=[provider]
        )
        results[provider] = run(OnnxYoloDetector(config, Path.cwd()), frames, args.rounds)
    base_fps, base_out = results["CPUExecutionProvider"]
    for provider, (fps, out) in results.items():
        logger.info(
            "%-28s %8.1f FPS  ratio to CPU %6.2f  mean best-IoU vs CPU %.4f  boxes/frame %.2f",
            provider,
            fps,
            fps / base_fps,
            agreement(base_out, out),
            statistics.fmean(len(d) for d in out),
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
