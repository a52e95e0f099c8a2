"""Live feed end to end: frame capture on a live RTSP camera -> alert on 200 WebSocket clients.

Runs a real RTSP camera (tests/rtsp_server.py looping vtest.avi at 10 fps), `anfang demo` (embedded)
with no camera, adds the RTSP camera through the API with a whole-frame zone-intrusion rule (every
person who walks in is an alert), then `bench/live.py --attach` connects `--clients` WebSocket clients
for `--seconds` and reports receive time - the event's `ts_ms` (the frame's arrival time). The
camera's last progress line (analysed FPS, detector calls) is printed; subtract the detector's time
per frame (bench/int8.py measures it) for the "beyond inference" figure. Target: p99 beyond
inference <= 250 ms.

    .venv/bin/python -m bench.live_end_to_end [--clients 200] [--seconds 60]
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import yaml

from tests.integration.signin import add_user

REPO = Path(__file__).resolve().parents[1]
VTEST = "/usr/share/doc/opencv-doc/examples/data/vtest.avi"
PASSWORD = "end to end benchmark"
logger = logging.getLogger("bench.live_end_to_end")


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(url: str, proc: subprocess.Popen[str], what: str, timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"{what} not ready within {timeout_s} s")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    data_root = Path(os.environ.get("ANFANG_DATA_DIR", REPO / "data"))
    procs: list[subprocess.Popen[str]] = []
    with tempfile.TemporaryDirectory(prefix="anfang-live-e2e-") as tmp:
        data = Path(tmp) / "data"
        data.mkdir()
        (data / "models").symlink_to(data_root / "models")
        config = yaml.safe_load((REPO / "deploy/config/demo.yaml").read_text())
        config["cameras"] = []
        (Path(tmp) / "c.yaml").write_text(yaml.safe_dump(config))
        env = {**os.environ, "ANFANG_DATA_DIR": str(data), "PYTHONUNBUFFERED": "1"}
        add_user(env, "bench", "admin", PASSWORD)
        rtsp_port, api_port = _free_port(), _free_port()
        camera = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.rtsp_server",
                "--port",
                str(rtsp_port),
                "--mount",
                "/cam",
                "--video",
                VTEST,
                "--fps",
                "10",
            ],
            cwd=REPO,
            stdout=subprocess.PIPE,
            text=True,
        )
        procs.append(camera)
        assert camera.stdout is not None
        ready = camera.stdout.readline()
        if not ready.startswith("READY"):
            raise SystemExit(f"the RTSP camera did not start: {ready!r}")
        demo_log = Path(tmp) / "demo.log"
        with demo_log.open("w") as log:
            demo = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "anfang.cli",
                    "demo",
                    "--config",
                    str(Path(tmp) / "c.yaml"),
                    "--port",
                    str(api_port),
                ],
                cwd=REPO,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                text=True,
            )
        procs.append(demo)
        try:
            base = f"http://127.0.0.1:{api_port}"
            _wait(f"{base}/readyz", demo, "anfang demo")
            token = httpx.post(
                f"{base}/v1/auth/token", data={"username": "bench", "password": PASSWORD}, timeout=30
            ).json()["access_token"]
            whole = {"id": "all", "polygon_xy": [[0, 0], [1, 0], [1, 1], [0, 1]]}
            rule = {"id": "anyone", "type": "zone_intrusion", "zone": "all", "min_dwell_s": 0}
            spec = {
                "id": "live",
                "uri": f"rtsp://127.0.0.1:{rtsp_port}/cam",
                "analysis_fps": 5,
                "zones": [whole],
                "rules": [rule],
            }
            r = httpx.post(
                f"{base}/v1/cameras", json=spec, headers={"Authorization": f"Bearer {token}"}, timeout=30
            )
            r.raise_for_status()
            url = f"ws://127.0.0.1:{api_port}/v1/alerts/live?token={token}"
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "bench.live",
                    "--attach",
                    url,
                    "--clients",
                    str(args.clients),
                    "--seconds",
                    str(args.seconds),
                ],
                cwd=REPO,
                check=True,
            )
            progress = [
                line for line in demo_log.read_text().splitlines() if "live:" in line and "FPS" in line
            ]
            logger.info("the camera's last progress line: %s", progress[-1] if progress else "(none)")
        finally:
            for proc in reversed(procs):
                proc.send_signal(signal.SIGINT if proc is demo else signal.SIGTERM)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
