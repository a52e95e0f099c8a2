"""Cameras at run time in distributed mode: two `anfang pipeline` workers share the cameras of the
compacted `anfang.cameras` topic through Kafka's consumer-group rebalance; cameras are added, changed and
removed through a distributed `anfang api`; events reach ClickHouse through `anfang sink`; when a worker
stops, its cameras move to the other."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import yaml

from tests.integration.conftest import LocalServers
from tests.integration.signin import bearer, create_api_key
from tests.rtsp_fixtures import REPO, RtspCamera, free_port
from tests.unit.detector_assets import ONNX_MODEL, require_model

pytestmark = [pytest.mark.integration, pytest.mark.slow]
T = TypeVar("T")
ANFANG = [sys.executable, "-m", "anfang.cli"]


def wait_for(predicate: Callable[[], T | None], timeout_s: float, what: str) -> T:
    deadline = time.monotonic() + timeout_s
    while not (value := predicate()):
        assert time.monotonic() < deadline, f"{what}: not within {timeout_s} s"
        time.sleep(0.2)
    return value


class Cluster:
    def __init__(self, tmp: Path, servers: LocalServers) -> None:
        tag = uuid.uuid4().hex[:8]
        config = yaml.safe_load((REPO / "deploy/config/demo.yaml").read_text())
        config["detector"]["model_path"] = str(require_model(ONNX_MODEL))
        config["cameras"] = []
        (tmp / "c.yaml").write_text(yaml.safe_dump(config))
        self.tmp = tmp
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.database = f"anfang_cams_{tag}"
        self.env = {
            **os.environ,
            "ANFANG_MODE": "distributed",
            "ANFANG_DATA_DIR": str(tmp / "data"),
            "ANFANG_CONFIG_PATH": str(tmp / "c.yaml"),
            "ANFANG_KAFKA_BOOTSTRAP": servers.kafka_bootstrap,
            "ANFANG_KAFKA_EVENTS_TOPIC": f"anfang.cams-{tag}.events",
            "ANFANG_KAFKA_DLQ_TOPIC": f"anfang.cams-{tag}.dlq",
            "ANFANG_KAFKA_CAMERAS_TOPIC": f"anfang.cams-{tag}.cameras",
            "ANFANG_KAFKA_HEALTH_TOPIC": f"anfang.cams-{tag}.health",
            "ANFANG_KAFKA_GROUP_ID": f"anfang-cams-{tag}-sink",
            "ANFANG_KAFKA_WORKERS_GROUP": f"anfang-cams-{tag}-workers",
            "ANFANG_CLICKHOUSE_PORT": str(servers.clickhouse_port),
            "ANFANG_CLICKHOUSE_DATABASE": self.database,
            "ANFANG_AUTH__JWT_SECRET": f"test-signing-key-{tag}-{os.getpid()}-cameras-distributed",
            "ANFANG_SUPERVISOR__HEARTBEAT_EVERY_S": "0.5",
            "ANFANG_HEALTH_STALE_AFTER_S": "3",
            "ANFANG_SINK_BATCH_WAIT_S": "0.2",
            "PYTHONUNBUFFERED": "1",
        }
        self.procs: dict[str, subprocess.Popen[str]] = {}
        #: Signed in with an admin API key made by the CLI on the ClickHouse server before anything starts.
        self.http = httpx.Client(headers=bearer(create_api_key(self.env)))

    def start(self, name: str, *args: str, **env: str) -> None:
        log = (self.tmp / f"{name}.log").open("w")
        self.procs[name] = subprocess.Popen(
            [*ANFANG, *args],
            cwd=REPO,
            env={**self.env, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def log(self, name: str) -> str:
        return (self.tmp / f"{name}.log").read_text()

    def alive(self) -> None:
        for name, proc in self.procs.items():
            assert proc.poll() is None, f"{name} exited:\n{self.log(name)[-3000:]}"

    def stop(self, name: str) -> int:
        proc = self.procs.pop(name)
        proc.send_signal(signal.SIGTERM)
        return proc.wait(timeout=60)

    def cameras(self) -> dict[str, dict[str, Any]]:
        self.alive()
        r = self.http.get(f"{self.base}/v1/cameras", timeout=10)
        assert r.status_code == 200, r.text
        return {c["id"]: c for c in r.json()["items"]}

    def events(self, camera_id: str, kind: str) -> list[dict[str, Any]]:
        params: dict[str, str | int] = {"camera_id": camera_id, "type": kind, "limit": 500}
        r = self.http.get(f"{self.base}/v1/events", params=params, timeout=10)
        assert r.status_code == 200, r.text
        items: list[dict[str, Any]] = r.json()["items"]
        return items


@pytest.fixture
def cluster(tmp_path: Path, local_servers: LocalServers) -> Iterator[Cluster]:
    c = Cluster(tmp_path, local_servers)
    try:
        yield c
    finally:
        for name in list(c.procs):
            c.procs[name].kill()
        subprocess.run(
            [
                "clickhouse-client",
                "--port",
                str(local_servers.clickhouse_port),
                "--query",
                f"DROP DATABASE IF EXISTS {c.database}",
            ],
            check=False,
            timeout=60,
        )


def test_two_workers_share_cameras_edited_through_the_api(cluster: Cluster) -> None:
    camera_server = RtspCamera(mount="/shared").start()
    try:
        cluster.start("api", "api", "--port", str(cluster.port))
        wait_for(lambda: _ready(cluster), 60, "distributed API ready")
        cluster.start("sink", "sink")
        cluster.start("w1", "pipeline", ANFANG_WORKER_ID="w1")
        cluster.start("w2", "pipeline", ANFANG_WORKER_ID="w2")
        ids = [f"cam{i}" for i in range(4)]
        for cam_id in ids:
            spec = {"id": cam_id, "uri": camera_server.uri, "analysis_fps": 1}
            r = cluster.http.post(f"{cluster.base}/v1/cameras", json=spec, timeout=10)
            assert r.status_code == 201, r.text

        def all_analysed() -> dict[str, dict[str, Any]] | None:
            cams = cluster.cameras()
            ok = all(cams[i]["status"] == "online" and cams[i]["frames_analysed"] > 0 for i in ids)
            return cams if ok else None

        cams = wait_for(all_analysed, 60, "every camera analysed by a worker")
        owners = {i: cams[i]["worker_id"] for i in ids}
        assert set(owners.values()) <= {"w1", "w2"}, owners

        # zones changed through the API reach the worker that runs the camera
        whole = {"id": "all", "polygon_xy": [[0, 0], [1, 0], [1, 1], [0, 1]]}
        rule = {"id": "anyone", "type": "zone_intrusion", "zone": "all", "min_dwell_s": 0, "cooldown_s": 2}
        spec = {"id": "cam0", "uri": camera_server.uri, "analysis_fps": 1, "zones": [whole], "rules": [rule]}
        r = cluster.http.put(f"{cluster.base}/v1/cameras/cam0", json=spec, timeout=10)
        assert r.status_code == 200, r.text
        wait_for(
            lambda: cluster.events("cam0", "zone_intrusion"), 40, "the new zone fires (Kafka -> ClickHouse)"
        )

        # a worker leaves: its cameras move to the other within a rebalance
        leaving = owners["cam1"]
        staying = "w2" if leaving == "w1" else "w1"
        assert cluster.stop(leaving) == 0, cluster.log(leaving)[-3000:]
        moved_at = time.monotonic()

        def all_on_staying() -> bool:
            cams = cluster.cameras()
            return all(cams[i]["worker_id"] == staying and cams[i]["status"] == "online" for i in ids)

        wait_for(all_on_staying, 30, f"cameras moved to {staying}")
        assert time.monotonic() - moved_at < 30

        # delete: gone from the registry, and nothing of it is analysed any more
        assert cluster.http.delete(f"{cluster.base}/v1/cameras/cam0", timeout=10).status_code == 204
        deleted_ms = int(time.time() * 1000)
        assert "cam0" not in cluster.cameras()
        time.sleep(6)
        late = [e for e in cluster.events("cam0", "zone_intrusion") if e["ts_ms"] > deleted_ms + 1000]
        assert late == [], "a deleted camera was still analysed"
        assert "cam0: removed" in cluster.log(staying)
        cluster.alive()
    finally:
        camera_server.kill()
    for name in ("w1", "w2", "sink", "api"):
        if name in cluster.procs:
            assert cluster.stop(name) == 0, cluster.log(name)[-3000:]


def _ready(cluster: Cluster) -> bool:
    cluster.alive()
    try:
        return cluster.http.get(f"{cluster.base}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
