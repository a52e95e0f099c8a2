"""Cameras per core: how many cameras one 2-core worker analyses, and what INT8 and motion gating buy.

Each figure is a ratio against a baseline measured in the same run:
1. INT8 ÷ FP32 detector FPS, INT8 recall vs FP32, ours ÷ ultralytics `predict` (runs bench/int8.py).
2. Motion gating on a mostly static scene (a still frame of vtest.avi held for 27 s, then 3 s of its
   people walking, three times): detector calls with gating ÷ without (target <= 0.2), and whether
   the events are identical.
3. 1/4/8/16 cameras of that scene in one worker (INT8, gating on, analysis_fps 5): total analysed FPS
   ÷ 1 camera, fairness (min ÷ max frames per camera), RSS; the cameras sustained at 5 FPS each is
   total analysed FPS ÷ 5 (files are analysed as fast as the worker can, so the total is its capacity).

    .venv/bin/python bench/cameras_per_core.py [--cameras 1 4 8 16] [--seconds 20] [--skip-int8]
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import cv2

from anfang.settings import Settings
from detectors.registry import build_detector
from events.schema import Event
from pipelines.camera_runner import SupervisorConfig
from pipelines.config import AppConfig, CameraConfig, load_config
from pipelines.gating import MotionGateConfig
from pipelines.inference import SharedInference
from pipelines.supervisor import CameraSupervisor

logger = logging.getLogger("bench.cameras_per_core")
VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")


def static_scene(path: Path, seconds: int = 90, walk_every_s: int = 30, walk_s: int = 3) -> None:
    """vtest's first frame held still, with `walk_s` of real walking every `walk_every_s` (10 fps)."""
    capture = cv2.VideoCapture(str(VTEST))
    ok, still = capture.read()
    assert ok, VTEST
    h, w = still.shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 10.0, (w, h))
    for second in range(seconds):
        walking = second % walk_every_s >= walk_every_s - walk_s
        for _ in range(10):
            if walking:
                ok, frame = capture.read()
                writer.write(frame if ok else still)
            else:
                writer.write(still)
    writer.release()
    capture.release()


class Collect:
    def __init__(self) -> None:
        self.events: list[Event] = []

    def publish(self, event: Event) -> None:
        self.events.append(event)

    def flush(self, timeout_s: float = 0) -> None: ...

    def close(self) -> None: ...


def _supervisor(config: AppConfig, publisher: Collect, int8: bool) -> CameraSupervisor:
    settings = Settings()
    detector_config = config.detector.model_copy(update={"precision": "int8"} if int8 else {})
    return CameraSupervisor(
        inference=SharedInference(build_detector(detector_config, settings.data_dir)),
        tracker_config=config.tracker,
        publisher=publisher,
        snapshots=None,
        site_id="bench",
        worker_id="bench",
        config=SupervisorConfig(),
        start_ts_ms=0,
    )


def gating(config: AppConfig, video: Path) -> None:
    results: dict[bool, tuple[int, list[Any], float]] = {}
    for gated in (False, True):
        events = Collect()
        supervisor = _supervisor(config, events, int8=True)
        camera = config.cameras[0].model_copy(
            update={"id": "static", "uri": str(video), "motion": MotionGateConfig(enabled=gated)}
        )
        supervisor.inference.start()
        t0 = time.perf_counter()
        supervisor.add(CameraConfig.model_validate(camera.model_dump()))
        while not supervisor.all_done():
            time.sleep(0.05)
        wall_s = time.perf_counter() - t0
        stats = supervisor.stats()[0]
        supervisor.close()
        supervisor.inference.stop()
        found = [
            (e.ts_ms, e.rule_id, e.track_id, e.attributes.model_dump_json())
            for e in events.events
            if not e.type.startswith("camera_")
        ]
        results[gated] = (stats.detector_calls, found, stats.frames / wall_s)
        logger.info(
            "gating %s: %d frames, detector on %d, %d events, %.1f analysed FPS",
            "on " if gated else "off",
            stats.frames,
            stats.detector_calls,
            len(found),
            stats.frames / wall_s,
        )
    (calls_off, events_off, fps_off), (calls_on, events_on, fps_on) = results[False], results[True]
    logger.info(
        "detector calls with gating / without: %.3f (target <= 0.2); analysed FPS %.1fx; "
        "events identical: %s",
        calls_on / calls_off,
        fps_on / fps_off,
        events_on == events_off,
    )


def scaling_child(config_path: Path, video: Path, cameras: int, seconds: float) -> None:
    config = load_config(config_path)
    supervisor = _supervisor(config, Collect(), int8=True)
    supervisor.inference.start()
    for i in range(cameras):
        camera = config.cameras[0].model_copy(
            update={"id": f"cam{i}", "uri": str(video), "analysis_fps": 5.0}
        )
        supervisor.add(CameraConfig.model_validate(camera.model_dump()))
    time.sleep(3.0)
    before = {h.camera_id: h.frames_analysed for h in supervisor.health()}
    time.sleep(seconds)
    after = {h.camera_id: h.frames_analysed for h in supervisor.health()}
    stats = {s.camera_id: s for s in supervisor.stats()}
    supervisor.close()
    supervisor.inference.stop()
    frames = [after[c] - before[c] for c in before]
    result = {
        "cameras": cameras,
        "total_fps": sum(frames) / seconds,
        "fairness": min(frames) / max(frames) if max(frames) else 0.0,
        "gated_share": sum(s.frames_gated for s in stats.values())
        / max(1, sum(s.frames for s in stats.values())),
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    sys.stdout.write(json.dumps(result) + "\n")


def scaling(config_path: Path, video: Path, counts: list[int], seconds: float) -> None:
    results = []
    for n in counts:
        args = [
            sys.executable,
            __file__,
            "--child",
            str(n),
            "--seconds",
            str(seconds),
            "--config",
            str(config_path),
        ]
        out = subprocess.run(
            [*args, "--video", str(video)], capture_output=True, text=True, check=True
        ).stdout
        results.append(json.loads(out.strip().splitlines()[-1]))
    base = results[0]
    for r in results:
        logger.info(
            "%2d cameras: total %.1f analysed FPS = %.2f x 1 camera; fairness %.2f; %.0f %% gated; "
            "RSS %.0f MB; sustains %d cameras at 5 FPS",
            r["cameras"],
            r["total_fps"],
            r["total_fps"] / base["total_fps"],
            r["fairness"],
            100 * r["gated_share"],
            r["rss_mb"],
            int(r["total_fps"] // 5),
        )


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--config", type=Path, default=Path("deploy/config/demo.yaml"))
    p.add_argument("--cameras", type=int, nargs="+", default=[1, 4, 8, 16])
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--skip-int8", action="store_true", help="skip the detector ratios (bench/int8.py)")
    p.add_argument("--child", type=int, help=argparse.SUPPRESS)
    p.add_argument("--video", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        logging.disable(logging.INFO)
        scaling_child(args.config, args.video, args.child, args.seconds)
        return 0
    if not args.skip_int8:
        logger.info("== detector: INT8 vs FP32 vs ultralytics (bench/int8.py) ==")
        subprocess.run([sys.executable, str(Path(__file__).with_name("int8.py"))], check=True)
    with tempfile.TemporaryDirectory() as tmp:
        video = Path(tmp) / "static-scene.avi"
        static_scene(video)
        logger.info("== motion gating on a mostly static scene (90 s, people walking 3 s in every 30) ==")
        gating(load_config(args.config), video)
        logger.info("== cameras in one worker (INT8, gating on, analysis_fps 5) ==")
        scaling(args.config, video, args.cameras, args.seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
