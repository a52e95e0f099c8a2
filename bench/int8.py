"""More cameras per core, detector side: INT8 vs FP32, batching, ultralytics' defaults, motion gating cost.

Every figure is a ratio measured in this one run on the same frames (held-out vtest.avi frames, never
the setup's calibration frames 0-299):
- INT8 / FP32 detector FPS (interleaved frame by frame) and INT8 recall / precision vs FP32 at IoU 0.5;
- FPS per frame at batch 1 / 2 / 4 (`detect_batch`: one inference call per batch when the model's
  batch axis is dynamic), FP32 and INT8;
- our ONNX detector (FP32 and INT8) / ultralytics `YOLO(pt).predict(frame)` with its defaults
  (imgsz 640, its own torch thread count);
- motion gating: `MotionDetector.update` per 768x576 frame, against the INT8 detector's time.

    .venv/bin/python bench/int8.py [--frames 40] [--threads 2]

Needs deploy/setup.sh's models (FP32, its accepted INT8 sibling, the .pt). About a minute on 2 cores.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from detectors.base import DetectorError, FrameBGR
from detectors.motion import MotionConfig, MotionDetector
from detectors.onnx_yolo import OnnxYoloConfig, OnnxYoloDetector
from detectors.quantize import compare_models
from detectors.ultralytics_yolo import import_ultralytics
from detectors.video_frames import frame_count, read_frames, spread_indices

logger = logging.getLogger("bench.int8")

VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")


def timed(run: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    run()
    return time.perf_counter() - t0


def batch_fps(
    detector: OnnxYoloDetector, frames: list[FrameBGR], sizes: tuple[int, ...], rounds: int
) -> dict[int, float]:
    """Frames per second at each batch size, the sizes interleaved round by round."""
    for size in sizes:
        detector.detect_batch(frames[:size])  # warm-up: each batch shape allocates once
    seconds: dict[int, list[float]] = {size: [] for size in sizes}
    for _ in range(rounds):
        for size in sizes:
            chunks = [frames[i : i + size] for i in range(0, len(frames) - size + 1, size)]
            seconds[size].append(timed(partial(run_batches, detector, chunks)) / (len(chunks) * size))
    return {size: 1 / min(s) for size, s in seconds.items()}


def run_batches(detector: OnnxYoloDetector, chunks: list[list[FrameBGR]]) -> None:
    for chunk in chunks:
        detector.detect_batch(chunk)


def run_frames(detector: OnnxYoloDetector, frames: list[FrameBGR]) -> None:
    for frame in frames:
        detector.detect(frame)


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    p = argparse.ArgumentParser(description="INT8 / FP32, batching, ultralytics defaults, motion cost")
    p.add_argument("--data-dir", type=Path, default=Path(os.environ.get("ANFANG_DATA_DIR", "data")))
    p.add_argument("--model", type=Path, default=Path("models/people-yolov8s-480x640.onnx"), help="FP32 ONNX")
    p.add_argument("--weights", type=Path, default=Path("models/people-yolov8s.pt"))
    p.add_argument("--video", type=Path, default=VTEST)
    p.add_argument("--start", type=int, default=300, help="first frame (held out from calibration)")
    p.add_argument("--frames", type=int, default=40, help="frames, a multiple of 4")
    p.add_argument("--rounds", type=int, default=2, help="timed rounds; the best of each counts")
    p.add_argument("--threads", type=int, default=2, help="ONNX Runtime intra-op threads")
    args = p.parse_args()
    data_dir = args.data_dir.resolve()
    indices = spread_indices(args.start, frame_count(args.video), args.frames)
    frames = read_frames(args.video, indices)
    logger.info(
        "%d frames of %s (%d..%d, %dx%d); ONNX Runtime threads %d; cpu_count %s",
        len(frames),
        args.video.name,
        indices[0],
        indices[-1],
        frames[0].shape[1],
        frames[0].shape[0],
        args.threads,
        os.cpu_count(),
    )
    fp32 = OnnxYoloDetector(OnnxYoloConfig(model_path=args.model, intra_op_threads=args.threads), data_dir)
    try:
        int8 = OnnxYoloDetector(
            OnnxYoloConfig(model_path=args.model, intra_op_threads=args.threads, precision="int8"), data_dir
        )
    except DetectorError as exc:
        logger.info("no usable INT8 model: %s", exc)
        return 1

    cmp = compare_models(fp32, int8, frames)
    logger.info(
        "INT8 / FP32 FPS:            %.2f  (%.1f vs %.1f FPS, interleaved)",
        cmp.int8_fps / cmp.fp32_fps,
        cmp.int8_fps,
        cmp.fp32_fps,
    )
    logger.info(
        "INT8 recall vs FP32:        %.4f  (%d of %d FP32 boxes, IoU 0.5, same class)",
        cmp.recall,
        cmp.matched_boxes,
        cmp.fp32_boxes,
    )
    logger.info("INT8 precision vs FP32:     %.4f  (%d INT8 boxes)", cmp.precision, cmp.int8_boxes)

    sizes = (1, 2, 4)
    batch: dict[str, dict[int, float]] = {}
    for name, det in (("FP32", fp32), ("INT8", int8)):
        batch[name] = batch_fps(det, frames, sizes, args.rounds)
        mode = "one call per batch" if det.batch_dynamic else "fixed batch axis: a loop"
        logger.info(
            "%s batch 1/2/4 FPS per frame: %s  (ratio to batch 1: %s; %s)",
            name,
            " / ".join(f"{batch[name][s]:.1f}" for s in sizes),
            " / ".join(f"{batch[name][s] / batch[name][1]:.2f}" for s in sizes),
            mode,
        )

    weights = args.weights if args.weights.is_absolute() else data_dir / args.weights
    ultralytics = import_ultralytics(data_dir / "ultralytics")
    yolo: Any = ultralytics.YOLO(str(weights), task="detect")
    yolo.predict(frames[0], verbose=False)  # warm-up (builds the predictor)
    import torch

    runs: dict[str, Callable[[], Any]] = {
        "ultralytics": lambda: [yolo.predict(f, verbose=False) for f in frames],
        "FP32": partial(run_frames, fp32, frames),
        "INT8": partial(run_frames, int8, frames),
    }
    best_s = {name: float("inf") for name in runs}
    for _ in range(args.rounds):  # interleaved rounds, the best of each: load changes hit all alike
        for name, run in runs.items():
            best_s[name] = min(best_s[name], timed(run))
    fps = {name: len(frames) / s for name, s in best_s.items()}
    logger.info(
        "ultralytics predict, defaults: %.1f FPS (imgsz 640, torch threads %d)",
        fps["ultralytics"],
        torch.get_num_threads(),
    )
    for name in ("FP32", "INT8"):
        logger.info(
            "ONNX %s / ultralytics:      %.2f  (%.1f FPS)", name, fps[name] / fps["ultralytics"], fps[name]
        )

    motion = MotionDetector(MotionConfig())
    consecutive = read_frames(args.video, range(args.start, args.start + 100))
    motion_s = [timed(partial(motion.update, f)) for f in consecutive]
    motion_ms = statistics.median(motion_s) * 1e3
    logger.info(
        "motion update per %dx%d frame: %.2f ms median = %.3f of one INT8 detection (%.1f ms)",
        consecutive[0].shape[1],
        consecutive[0].shape[0],
        motion_ms,
        motion_ms / (1e3 / fps["INT8"]),
        1e3 / fps["INT8"],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
