"""Frames/s of the model-free hazard detectors on real 768x576 frames of vtest.avi, same run, same frames.

Each detector is fed the frames in order with their timestamps (10 fps): the first `--warmup` frames
(past every learning period: 2-3 s) are not timed, the rest are, with decoding done beforehand. Each is
run `--repeat` times, a fresh detector each time, and the best run is reported (the machine is shared).
fire_smoke is timed with both hazards on, and with each alone.

    .venv/bin/python bench/hazards.py [--frames 200] [--warmup 50] [--repeat 3] [--threads N]
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from detectors.base import FrameBGR
from detectors.fire_smoke import FireSmokeConfig, FireSmokeDetector
from detectors.static_objects import StaticObjectDetector, StaticObjectsConfig
from detectors.tamper import TamperConfig, TamperDetector

logger = logging.getLogger("bench.hazards")

VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")
FPS = 10


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
        raise SystemExit(f"no frames decoded from {video} (Debian package opencv-doc)")
    return frames


def frames_per_s(update: Callable[[FrameBGR, int], object], frames: list[FrameBGR], warmup: int) -> float:
    for index, frame in enumerate(frames[:warmup]):
        update(frame, index * 1000 // FPS)
    started = time.perf_counter()
    for index, frame in enumerate(frames[warmup:], start=warmup):
        update(frame, index * 1000 // FPS)
    return (len(frames) - warmup) / (time.perf_counter() - started)


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    logging.getLogger("detectors").setLevel(logging.WARNING)  # no "baseline learned" lines
    parser = argparse.ArgumentParser(
        description="frames/s of the fire/smoke, tamper and static-object detectors"
    )
    parser.add_argument(
        "--frames", type=int, default=200, help="vtest.avi frames decoded (timed: frames - warmup)"
    )
    parser.add_argument("--warmup", type=int, default=50, help="frames fed before timing (past learning)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per detector; the best is reported")
    parser.add_argument("--threads", type=int, default=None, help="cv2.setNumThreads (default: OpenCV's)")
    args = parser.parse_args()
    if args.threads is not None:
        cv2.setNumThreads(args.threads)
    frames = read_frames(VTEST, args.frames)
    if len(frames) <= args.warmup:
        raise SystemExit(f"only {len(frames)} frames: need more than --warmup {args.warmup}")
    height, width = frames[0].shape[:2]
    logger.info(
        "%d frames of %s (%dx%d), %d timed; %d CPUs, OpenCV %s with %d threads",
        len(frames),
        VTEST.name,
        width,
        height,
        len(frames) - args.warmup,
        os.cpu_count() or 0,
        cv2.__version__,
        cv2.getNumThreads(),
    )
    detectors: dict[str, Callable[[], Callable[[FrameBGR, int], object]]] = {
        "fire_smoke (fire + smoke)": lambda: FireSmokeDetector(FireSmokeConfig()).update,
        "  fire alone": lambda: FireSmokeDetector(FireSmokeConfig(smoke={"enabled": False})).update,
        "  smoke alone": lambda: FireSmokeDetector(FireSmokeConfig(fire={"enabled": False})).update,
        "tamper": lambda: TamperDetector(TamperConfig()).update,
        "static_objects": lambda: StaticObjectDetector(StaticObjectsConfig()).update,
    }
    for name, build in detectors.items():
        rate = max(frames_per_s(build(), frames, args.warmup) for _ in range(max(1, args.repeat)))
        logger.info("%-27s %7.1f frames/s  %6.2f ms/frame", name, rate, 1000 / rate)
    return 0


if __name__ == "__main__":
    sys.exit(main())
