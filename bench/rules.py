"""Rule engine cost: 50 tracks x 20 rules per frame, against the detector's own per-frame cost.

Baseline (same run): the default detector (INT8 ONNX) on vtest.avi frames. The engine runs 20 rules
(every registered rule type that has a sample config below, cycled) over 50 synthetic tracks walking
across a 768x576 frame with zones and lines. Target: engine / detector < 2 %. Hazard detectors'
frames/s are printed by bench/hazards.py.

    .venv/bin/python bench/rules.py [--frames 300] [--tracks 50] [--rules 20]
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import supervision as sv

from anfang.settings import Settings
from detectors.base import FrameBGR
from detectors.registry import build_detector
from pipelines.analytics.base import FrameContext
from pipelines.analytics.engine import RuleEngine
from pipelines.analytics.registry import PLUGINS_BY_TYPE
from pipelines.config import CameraConfig, load_config

logger = logging.getLogger("bench.rules")
VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")
RES_WH = (768, 576)

#: A sample config per rule type (types not registered here are skipped, and say so).
SAMPLES: dict[str, dict[str, Any]] = {
    "zone_intrusion": {"zone": "z0", "min_dwell_s": 1.0},
    "line_crossing": {"line": "l0"},
    "zone_occupancy": {"zone": "z0"},
    "loitering": {"zone": "z0", "min_dwell_s": 10},
    "crowd": {"zone": "z0", "min_count": 5, "min_duration_s": 2},
    "fall": {},
}


def camera(rules: int) -> CameraConfig:
    types = [t for t in SAMPLES if t in PLUGINS_BY_TYPE]
    missing = sorted(set(PLUGINS_BY_TYPE) - set(types))
    if missing:
        logger.info("rule types without a sample config here (not benchmarked): %s", ", ".join(missing))
    specs = [
        {"id": f"r{i}", "type": types[i % len(types)], **SAMPLES[types[i % len(types)]]} for i in range(rules)
    ]
    return CameraConfig.model_validate(
        {
            "id": "bench",
            "uri": "x.avi",
            "zones": [{"id": "z0", "polygon_xy": [[0.2, 0.2], [0.8, 0.2], [0.8, 0.8], [0.2, 0.8]]}],
            "lines": [{"id": "l0", "start_xy": [0.5, 0.0], "end_xy": [0.5, 1.0]}],
            "rules": specs,
        }
    )


def tracks(frame: int, n: int) -> sv.Detections:
    rng = np.random.default_rng(frame)
    ids = np.arange(1, n + 1)
    x = (ids * 37 + frame * 3) % 740 + rng.normal(0, 1, n)
    y = (ids * 53) % 500 + 20
    xyxy = np.stack([x, y, x + 24, y + 60], axis=1).astype(np.float32)
    labels = np.where(ids % 7 == 0, "person_down", "person")
    return sv.Detections(
        xyxy=xyxy,
        confidence=np.full(n, 0.8, np.float32),
        class_id=(labels == "person_down").astype(int),
        tracker_id=ids,
        data={"label": labels},
    )


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--config", type=Path, default=Path("deploy/config/demo.yaml"))
    p.add_argument("--frames", type=int, default=300)
    p.add_argument("--tracks", type=int, default=50)
    p.add_argument("--rules", type=int, default=20)
    args = p.parse_args()
    import cv2

    config = load_config(args.config)
    detector = build_detector(config.detector, Settings().data_dir)
    capture = cv2.VideoCapture(str(VTEST))
    images: list[FrameBGR] = [np.asarray(capture.read()[1], dtype=np.uint8) for _ in range(30)]
    capture.release()
    detector.detect(images[0])
    t0 = time.perf_counter()
    for image in images:
        detector.detect(image)
    detector_ms = (time.perf_counter() - t0) / len(images) * 1000

    engine = RuleEngine.for_camera(camera(args.rules), RES_WH)
    frames = [tracks(i, args.tracks) for i in range(args.frames)]
    t0 = time.perf_counter()
    fired = 0
    for i, dets in enumerate(frames):
        fired += len(engine.evaluate(FrameContext.of(dets, 1_700_000_000_000 + i * 100, RES_WH)))
    engine_ms = (time.perf_counter() - t0) / len(frames) * 1000
    logger.info("detector (%s): %.2f ms per frame", config.detector.type, detector_ms)
    logger.info(
        "rule engine, %d rules x %d tracks: %.3f ms per frame (%d findings in %d frames)",
        len(engine.rules),
        args.tracks,
        engine_ms,
        fired,
        len(frames),
    )
    logger.info("ratio engine / detector: %.2f %% (target < 2 %%)", 100 * engine_ms / detector_ms)
    return 0


if __name__ == "__main__":
    sys.exit(main())
