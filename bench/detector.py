"""Detector throughput per backend and device, on the same frames.

Baseline (measured in the same run): the first configuration measured, normally ONNX Runtime's CPU
execution provider (list it first). Every other ONNX
provider asked for (CUDA, TensorRT) and every ultralytics/torch device asked for (`--torch-devices
cpu cuda:0`, `--half` adds fp16 runs on GPUs) runs the same model on the same frames; FPS and the
ratio to the baseline are printed, plus how closely its boxes match the baseline's (best-match IoU),
so a faster configuration that is wrong shows.

    .venv/bin/python bench/detector.py --model data/models/people-yolov8s-480x640.onnx \
        --video /usr/share/doc/opencv-doc/examples/data/vtest.avi --frames 200 \
        --providers CPUExecutionProvider CUDAExecutionProvider \
        --weights data/models/people-yolov8s.pt --torch-devices cpu cuda:0 --half
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

from detectors.base import Detections, Detector, FrameBGR
from detectors.onnx_yolo import OnnxYoloConfig, OnnxYoloDetector
from detectors.ultralytics_yolo import UltralyticsConfig, UltralyticsDetector

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


def run(detector: Detector, frames: list[FrameBGR], rounds: int) -> tuple[float, list[Detections]]:
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
    p.add_argument("--model", type=Path, help="ONNX model (for --providers)")
    p.add_argument("--video", type=Path, required=True)
    p.add_argument("--frames", type=int, default=200)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--threads", type=int, default=2, help="CPU intra-op threads")
    p.add_argument("--providers", nargs="+", default=["CPUExecutionProvider"])
    p.add_argument("--weights", type=Path, help="ultralytics .pt of the same model (for --torch-devices)")
    p.add_argument("--torch-devices", nargs="*", default=[])
    p.add_argument("--half", action="store_true", help="also run fp16 on each GPU torch device")
    p.add_argument("--data-dir", type=Path, default=Path("data"), help="where ultralytics keeps its settings")
    args = p.parse_args()
    frames = read_frames(args.video, args.frames)
    logger.info(
        "frames: %d (%dx%d), rounds: %d", len(frames), frames[0].shape[1], frames[0].shape[0], args.rounds
    )
    results: dict[str, tuple[float, list[Detections]]] = {}
    for provider in args.providers if args.model else []:
        config = OnnxYoloConfig(
            model_path=args.model.resolve(), intra_op_threads=args.threads, providers=[provider]
        )
        results[f"onnx {provider}"] = run(OnnxYoloDetector(config, args.data_dir), frames, args.rounds)
    h, w = frames[0].shape[:2]
    for device in args.torch_devices:
        for half in (False, True) if args.half and device != "cpu" else (False,):
            uconfig = UltralyticsConfig(
                model_path=args.weights.resolve(),
                imgsz=(round(640 * h / w), 640),
                device=device,
                half=half,
                torch_threads=args.threads,
            )
            name = f"ultralytics {device}{' fp16' if half else ''}"
            results[name] = run(UltralyticsDetector(uconfig, args.data_dir), frames, args.rounds)
    if not results:
        raise SystemExit(
            "nothing to measure: give --model with --providers and/or --weights with --torch-devices"
        )
    base_name = next(iter(results))
    base_fps, base_out = results[base_name]
    logger.info("baseline: %s", base_name)
    for provider, (fps, out) in results.items():
        logger.info(
            "%-40s %8.1f FPS  ratio to baseline %6.2f  mean best-IoU vs baseline %.4f  boxes/frame %.2f",
            provider,
            fps,
            fps / base_fps,
            agreement(base_out, out),
            statistics.fmean(len(d) for d in out),
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
