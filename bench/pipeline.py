"""Pipeline overhead benchmark: detector-only FPS vs full-pipeline FPS on the same frames.

Baseline (measured in the same run): the detector alone on frames already decoded into memory.
Full pipeline: GStreamer decode + detect + track + rules + snapshots + publish to the in-process bus,
with the sink thread storing into chDB, exactly as `anfang demo` runs. Rounds alternate so drift
(thermal, other load) hits both alike; the ratio of the medians is printed. Target: >= 0.95.

    .venv/bin/python bench/pipeline.py [--frames 300] [--rounds 3] [--config deploy/config/demo.yaml]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

from anfang.settings import Settings
from anfang.wiring import make_detector, start_embedded_sink
from detectors.base import Detector, FrameBGR
from events.store.chdb_store import ChdbStore
from pipelines.config import AppConfig, load_config
from pipelines.emit import EmitContext
from pipelines.evidence import SnapshotWriter
from pipelines.sources import open_source
from pipelines.worker import CameraWorker

logger = logging.getLogger("bench.pipeline")


def decode(uri: str, n: int) -> list[FrameBGR]:
    frames: list[FrameBGR] = []
    with open_source(uri) as source:
        for frame in source:
            frames.append(frame.image_bgr)
            if len(frames) == n:
                break
    return frames


def detector_only(detector: Detector, frames: list[FrameBGR]) -> float:
    t0 = time.perf_counter()
    for image in frames:
        detector.detect(image)
    return len(frames) / (time.perf_counter() - t0)


def full_pipeline(
    config: AppConfig, settings: Settings, detector: Detector, n: int, work_dir: Path
) -> tuple[float, int]:
    camera = config.cameras[0]
    store = ChdbStore(work_dir / "chdb")
    store.ensure_schema()
    publisher, stop_sink = start_embedded_sink(store, settings)
    ctx = EmitContext(camera.id, config.site_id, "bench", detector.model, {r.id: r for r in camera.rules})
    worker = CameraWorker(
        camera, ctx, config.tracker, publisher, SnapshotWriter(work_dir, config.snapshots), detector=detector
    )
    t0 = time.perf_counter()
    with open_source(camera.uri) as source:
        worker.start_stream(source.resolution_wh, source.fps or 10.0)
        for i, frame in enumerate(source):
            if i == n:
                break
            worker.process(frame.image_bgr, 1_700_000_000_000 + frame.pts_ms)
    fps = n / (time.perf_counter() - t0)
    publisher.flush()
    stop_sink()
    stored = sum(store.count_by_type().values())
    store.close()
    return fps, stored


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--config", type=Path, default=Path("deploy/config/demo.yaml"))
    p.add_argument("--frames", type=int, default=300)
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()
    settings = Settings()
    config = load_config(args.config)
    detector = make_detector(config, settings)
    frames = decode(config.cameras[0].uri, args.frames)
    detector_only(detector, frames[:10])  # warm-up
    det_fps: list[float] = []
    full_fps: list[float] = []
    for r in range(args.rounds):
        det_fps.append(detector_only(detector, frames))
        with tempfile.TemporaryDirectory() as tmp:
            fps, stored = full_pipeline(config, settings, detector, len(frames), Path(tmp))
        full_fps.append(fps)
        logger.info(
            "round %d: detector-only %.2f FPS, full pipeline %.2f FPS (%d events stored)",
            r + 1,
            det_fps[-1],
            fps,
            stored,
        )
    det, full = statistics.median(det_fps), statistics.median(full_fps)
    logger.info("frames: %d, rounds: %d", len(frames), args.rounds)
    logger.info("detector-only FPS (median): %.2f", det)
    logger.info("full pipeline FPS (median): %.2f", full)
    logger.info("ratio full/detector: %.3f (target >= 0.95)", full / det)
    return 0


if __name__ == "__main__":
    sys.exit(main())
