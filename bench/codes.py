"""Plates and codes: exact-read rate and latency per candidate library, on the same rendered frames.

Plates: the 64 rendered plates of tests/plate_render.py (every format and colour, 5 two-row, in vtest.avi
frames with perspective, shadow, blur, noise), read by
  rapidocr frame   PlateReader on the whole 768 x 576 frame (detection at 640 px + recognition)
  rapidocr crop    PlateReader on a vehicle-sized region around the plate (what a vehicle crop gives)
  rapidocr rec     rapidocr's recogniser alone on the plate's own box + parse_plate (no detection)
  hyperlpr3 / hyperlpr2   measured when importable and usable offline, else the reason why not
Codes: the 18 composited QR / EAN-13 / Code 128 frames of tests/code_render.py (3 sizes, small angles)
plus one frame holding all three, read by zxing-cpp (CodeReader), OpenCV's QRCodeDetector,
QRCodeDetectorAruco and cv2.barcode.BarcodeDetector; a frame counts when exactly its payloads are read
(a format a library does not read counts as a miss).
Latency: per call, p50 / p95 over all frames (`--repeat` passes), one process, ONNX Runtime threads
`--threads` (-1: its default, all cores).

    .venv/bin/python -m bench.codes [--repeat 1] [--threads -1]
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence

import cv2
import numpy as np

from detectors.base import FrameBGR
from detectors.codes import CodeReader
from detectors.plate_format import parse_plate
from detectors.plates import PlateReader, PlateReaderConfig
from tests.code_render import code_scenes, multi_code_scene
from tests.plate_render import PlateScene, plate_scenes

logger = logging.getLogger("bench.codes")

Case = tuple[FrameBGR, list[str]]  # an input and the texts it must give, exactly


def percentiles_ms(latencies_s: Sequence[float]) -> tuple[float, float]:
    p50, p95 = np.percentile(latencies_s, [50, 95]) * 1000
    return float(p50), float(p95)


def measure(name: str, cases: Sequence[Case], read: Callable[[FrameBGR], list[str]], repeat: int) -> None:
    exact, latencies = 0, []
    for attempt in range(repeat):
        for image, truth in cases:
            t0 = time.perf_counter()
            got = read(image)
            latencies.append(time.perf_counter() - t0)
            exact += attempt == 0 and sorted(got) == sorted(truth)
    p50, p95 = percentiles_ms(latencies)
    logger.info(
        "%-22s exact reads: %5.1f %% (%d/%d)   latency p50 %6.1f ms  p95 %6.1f ms",
        name,
        100 * exact / len(cases),
        exact,
        len(cases),
        p50,
        p95,
    )


def vehicle_region(scene: PlateScene) -> tuple[int, int, int, int]:
    x1, y1, x2, y2 = scene.xyxy
    w, h = x2 - x1, y2 - y1
    height, width = scene.image.shape[:2]
    return max(0, x1 - w), max(0, y1 - 2 * h), min(width, x2 + w), min(height, y2 + h)


def bench_plates(repeat: int, threads: int) -> None:
    scenes = plate_scenes()
    reader = PlateReader(PlateReaderConfig(intra_op_threads=threads))
    frames: list[Case] = [(s.image, [s.spec.text]) for s in scenes]
    measure("rapidocr frame", frames, lambda im: [r.text for r in reader.read(im)], repeat)
    crops: list[Case] = []
    tight: list[Case] = []
    for s in scenes:
        x1, y1, x2, y2 = vehicle_region(s)
        crops.append((np.ascontiguousarray(s.image[y1:y2, x1:x2]), [s.spec.text]))
        x1, y1, x2, y2 = s.xyxy
        tight.append((np.ascontiguousarray(s.image[y1:y2, x1:x2]), [s.spec.text]))
    measure("rapidocr crop", crops, lambda im: [r.text for r in reader.read(im)], repeat)
    ocr = reader._ocr  # the library itself: recognition only, on the plate's box

    def recognise(image: FrameBGR) -> list[str]:
        result, _ = ocr(image, use_det=False, use_cls=False)
        plates = [parse_plate(str(text)) for text, _score in result or ()]
        return [p.text for p in plates if p is not None]

    measure("rapidocr rec (box)", tight, recognise, repeat)
    bench_hyperlpr(frames, repeat)


def bench_hyperlpr(frames: Sequence[Case], repeat: int) -> None:
    if importlib.util.find_spec("hyperlpr3") is None:
        logger.info(
            "%-22s not measured: not installed; its wheel (0.1.3) holds no models and downloads them from "
            "its author's server on first use, which an offline deployment cannot do",
            "hyperlpr3",
        )
    else:
        try:
            import hyperlpr3  # type: ignore[import-not-found]

            catcher = hyperlpr3.LicensePlateCatcher()
            measure("hyperlpr3 frame", frames, lambda im: [str(r[0]) for r in catcher(im)], repeat)
        except Exception as e:  # its model download fails offline
            logger.info("%-22s not measured: %s: %s", "hyperlpr3", type(e).__name__, e)
    if importlib.util.find_spec("hyperlpr2") is None:
        logger.info(
            "%-22s not measured: not installed; its wheel (2.0.0) ships its models but needs "
            "cv2.CascadeClassifier, which OpenCV %s no longer has",
            "hyperlpr2",
            cv2.__version__,
        )
    else:
        try:
            import hyperlpr2  # type: ignore[import-not-found]

            read = hyperlpr2.HyperLPR_plate_recognition
            measure("hyperlpr2 frame", frames, lambda im: [str(r[0]) for r in read(im)], repeat)
        except Exception as e:
            logger.info("%-22s not measured: %s: %s", "hyperlpr2", type(e).__name__, e)


def bench_codes(repeat: int) -> None:
    cases: list[Case] = [(s.image, [s.payload]) for s in code_scenes()]
    image, placed = multi_code_scene()
    cases.append((image, [payload for _fmt, payload, _xyxy in placed]))
    reader = CodeReader()
    measure("zxing-cpp", cases, lambda im: [r.text for r in reader.read(im)], repeat)
    qr = cv2.QRCodeDetector()
    aruco = cv2.QRCodeDetectorAruco()
    barcode = cv2.barcode.BarcodeDetector()

    def opencv_qr(detector: cv2.GraphicalCodeDetector, im: FrameBGR) -> list[str]:
        ok, texts, *_ = detector.detectAndDecodeMulti(im)
        return [str(t) for t in texts if t] if ok else []

    def opencv_barcode(im: FrameBGR) -> list[str]:
        ok, texts, *_ = barcode.detectAndDecodeWithType(im)
        return [str(t) for t in texts if t] if ok else []

    measure("opencv QRCodeDetector", cases, lambda im: opencv_qr(qr, im), repeat)
    measure("opencv QR Aruco", cases, lambda im: opencv_qr(aruco, im), repeat)
    measure("opencv barcode", cases, opencv_barcode, repeat)
    measure("opencv QR + barcode", cases, lambda im: opencv_qr(aruco, im) + opencv_barcode(im), repeat)


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--repeat", type=int, default=1, help="timing passes over the frames (rates: first pass)")
    p.add_argument("--threads", type=int, default=-1, help="ONNX Runtime intra-op threads for the OCR")
    args = p.parse_args()
    cv2.utils.logging.setLogLevel(
        cv2.utils.logging.LOG_LEVEL_ERROR
    )  # errors only: OpenCV's QR decoder warns about every ECI it meets
    logger.info(
        "cpu cores %d, load average %s; OpenCV %s",
        os.cpu_count(),
        " ".join(f"{x:.2f}" for x in os.getloadavg()),
        cv2.__version__,
    )
    logger.info("plates (64 rendered, every format and colour):")
    bench_plates(args.repeat, args.threads)
    logger.info("codes (18 frames with one QR / EAN-13 / Code 128 symbol, 1 frame with all three):")
    bench_codes(args.repeat)
    logger.info("load average at the end %s", " ".join(f"{x:.2f}" for x in os.getloadavg()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
