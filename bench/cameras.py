"""Live-camera benchmark: how fast camera health is reported, and how one worker scales over cameras.

1. Health latency: an RTSP camera (GstRtspServer process) is killed `--kills` times; for each, the time
   from the kill to the `camera_offline` event *stored* (embedded sink -> chDB), and from the server's
   restart to `camera_online` stored. p50 and max are printed.
2. Scaling: 1, 4 and 8 file cameras (vtest.avi) in one worker with the one shared detector, each run in
   a fresh process for `--seconds`: total analysed FPS (ratio to 1 camera, target >= 0.9), fairness
   (min / max per-camera frames) and RSS (growth per extra camera, target <= 50 MB).

    .venv/bin/python -m bench.cameras [--kills 10] [--cameras 1 4 8] [--seconds 30]
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from anfang.settings import Settings
from anfang.wiring import make_detector, start_embedded_sink
from events.ports import EventQuery, EventStore
from events.store.chdb_store import ChdbStore
from pipelines.camera_runner import SupervisorConfig
from pipelines.config import AppConfig, CameraConfig, load_config
from pipelines.inference import SharedInference
from pipelines.supervisor import CameraSupervisor
from tests.rtsp_fixtures import VTEST, RtspCamera

logger = logging.getLogger("bench.cameras")


def _supervisor(config: AppConfig, settings: Settings, publisher: object, stall_s: float) -> CameraSupervisor:
    return CameraSupervisor(
        inference=SharedInference(make_detector(config, settings)),
        tracker_config=config.tracker,
        publisher=publisher,  # type: ignore[arg-type]
        snapshots=None,
        site_id="bench",
        worker_id="bench",
        config=SupervisorConfig(stall_s=stall_s, backoff_initial_s=0.2, backoff_max_s=1.0),
    )


def _stored_after(store: EventStore, kind: str, after_ms: int, timeout_s: float) -> float:
    """Seconds until an event of `kind` stamped after `after_ms` is in the store."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout_s:
        page = store.query(EventQuery(types=[kind], since_ms=after_ms, limit=1))
        if page.total:
            return time.monotonic() - t0
        time.sleep(0.02)
    raise TimeoutError(f"no {kind} within {timeout_s} s")


def health_latency(config: AppConfig, settings: Settings, kills: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = ChdbStore(Path(tmp) / "chdb")
        store.ensure_schema()
        settings = settings.model_copy(update={"sink_batch_wait_s": 0.05})
        publisher, stop_sink = start_embedded_sink(store, settings)
        supervisor = _supervisor(config, settings, publisher, stall_s=5.0)
        supervisor.inference.start()
        camera = RtspCamera(mount="/bench").start()
        supervisor.add(CameraConfig(id="bench-cam", uri=camera.uri, analysis_fps=2))
        off_s: list[float] = []
        on_s: list[float] = []
        try:
            _stored_after(store, "camera_online", 0, 30)
            for i in range(kills):
                time.sleep(1.0)
                kill_ms = int(time.time() * 1000)
                camera.kill()
                off_s.append(_stored_after(store, "camera_offline", kill_ms, 30))
                time.sleep(0.5)
                back_ms = int(time.time() * 1000)
                camera.start()
                on_s.append(_stored_after(store, "camera_online", back_ms, 30))
                logger.info(
                    "kill %d: offline stored %.2f s, online stored %.2f s", i + 1, off_s[-1], on_s[-1]
                )
        finally:
            camera.kill()
            supervisor.close()
            supervisor.inference.stop()
            stop_sink()
            store.close()
    logger.info(
        "kill -> camera_offline stored: p50 %.2f s, max %.2f s (%d kills)",
        statistics.median(off_s),
        max(off_s),
        kills,
    )
    logger.info(
        "restart -> camera_online stored: p50 %.2f s, max %.2f s (backoff capped at 1 s here)",
        statistics.median(on_s),
        max(on_s),
    )


def scaling_child(config_path: Path, cameras: int, seconds: float) -> None:
    """In a fresh process: `cameras` file cameras for `seconds`; prints one JSON line."""
    settings = Settings()
    config = load_config(config_path)

    class Null:
        def publish(self, event: object) -> None: ...

        def flush(self, timeout_s: float = 0) -> None: ...

        def close(self) -> None: ...

    supervisor = _supervisor(config, settings, Null(), stall_s=10.0)
    supervisor.inference.start()
    rss_before_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    for i in range(cameras):
        supervisor.add(CameraConfig(id=f"file{i}", uri=str(VTEST)))
    time.sleep(3.0)  # warm-up: every stream open, the detector warm
    before = {h.camera_id: h.frames_analysed for h in supervisor.health()}
    stop = threading.Event()
    threading.Timer(seconds, stop.set).start()
    stop.wait()
    after = {h.camera_id: h.frames_analysed for h in supervisor.health()}
    per_camera = [after[c] - before[c] for c in before]
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    supervisor.close()
    supervisor.inference.stop()
    result = {
        "cameras": cameras,
        "total_fps": sum(per_camera) / seconds,
        "fairness": min(per_camera) / max(per_camera) if max(per_camera) else 0.0,
        "rss_mb": rss_mb,
        "rss_detector_mb": rss_before_mb,
    }
    sys.stdout.write(json.dumps(result) + "\n")


def scaling(config_path: Path, counts: list[int], seconds: float) -> None:
    results = []
    for n in counts:
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "bench.cameras",
                "--child",
                str(n),
                "--seconds",
                str(seconds),
                "--config",
                str(config_path),
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        results.append(json.loads(out.strip().splitlines()[-1]))
        logger.info("%s", results[-1])
    base = results[0]
    for r in results:
        extra = r["cameras"] - base["cameras"]
        growth = (r["rss_mb"] - base["rss_mb"]) / extra if extra else 0.0
        logger.info(
            "%d cameras: total %.2f analysed FPS = %.3f x 1 camera (target >= 0.9); fairness min/max %.2f; "
            "RSS %.0f MB (+%.1f MB per extra camera, target <= 50)",
            r["cameras"],
            r["total_fps"],
            r["total_fps"] / base["total_fps"],
            r["fairness"],
            r["rss_mb"],
            growth,
        )


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--config", type=Path, default=Path("deploy/config/demo.yaml"))
    p.add_argument("--kills", type=int, default=10)
    p.add_argument("--cameras", type=int, nargs="+", default=[1, 4, 8])
    p.add_argument("--seconds", type=float, default=30.0)
    p.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        logging.disable(logging.INFO)
        scaling_child(args.config, args.child, args.seconds)
        return 0
    settings = Settings()
    config = load_config(args.config)
    if args.kills:
        health_latency(config, settings, args.kills)
    if args.cameras:
        scaling(args.config, args.cameras, args.seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
