"""The walking skeleton on real parts: vtest.avi -> GStreamer -> YOLO -> ByteTrack -> rules -> Kafka ->
ClickHouse -> API, checked by independent clients (kcat, clickhouse-client), then the embedded mode on
the same frames must yield the same events."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
import yaml

from events.schema import SCHEMA_VERSION
from events.store.chdb_store import ChdbStore
from tests.integration.signin import bearer, create_api_key

REPO = Path(__file__).resolve().parents[2]
MODELS_DIR = Path(os.environ.get("ANFANG_DATA_DIR", REPO / "data")) / "models"
ANFANG = [sys.executable, "-m", "anfang.cli"]
START_TS_MS = 1_764_000_000_000  # a fixed recording start, so both modes stamp the same times
KAFKA_PORT = int(os.environ.get("ANFANG_KAFKA_PORT", "9092"))
CLICKHOUSE_PORT = int(os.environ.get("ANFANG_CLICKHOUSE_PORT", "9000"))

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _listening(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(1.0)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Run:
    data_dir: Path
    config: Path
    env: dict[str, str]
    topic: str
    database: str


def _make_run(tmp: Path, mode: str) -> Run:
    if not (MODELS_DIR / "people-yolov8s-480x640.onnx").exists():
        pytest.fail(f"model missing in {MODELS_DIR}: run deploy/setup.sh (make test does)")
    config = yaml.safe_load((REPO / "deploy/config/demo.yaml").read_text())
    config["detector"]["model_path"] = str(MODELS_DIR / "people-yolov8s-480x640.onnx")
    config_path = tmp / "config.yaml"
    config_path.write_text(yaml.safe_dump(config))
    tag = uuid.uuid4().hex[:8]
    run = Run(
        data_dir=tmp / "data",
        config=config_path,
        topic=f"anfang.test-{tag}.events",
        database=f"anfang_test_{tag}",
        env={},
    )
    env = {
        **os.environ,
        "ANFANG_MODE": mode,
        "ANFANG_DATA_DIR": str(run.data_dir),
        "ANFANG_CONFIG_PATH": str(config_path),
        "ANFANG_KAFKA_BOOTSTRAP": f"127.0.0.1:{KAFKA_PORT}",
        "ANFANG_KAFKA_EVENTS_TOPIC": run.topic,
        "ANFANG_KAFKA_DLQ_TOPIC": f"anfang.test-{tag}.dlq",
        "ANFANG_KAFKA_GROUP_ID": f"anfang-test-{tag}",
        "ANFANG_KAFKA_CAMERAS_TOPIC": f"anfang.test-{tag}.cameras",
        "ANFANG_KAFKA_HEALTH_TOPIC": f"anfang.test-{tag}.health",
        "ANFANG_KAFKA_WORKERS_GROUP": f"anfang-test-{tag}-workers",
        "ANFANG_CLICKHOUSE_PORT": str(CLICKHOUSE_PORT),
        "ANFANG_CLICKHOUSE_DATABASE": run.database,
        "ANFANG_WORKER_ID": "test-worker",
        "ANFANG_AUTH__JWT_SECRET": f"test-signing-key-{tag}-{uuid.uuid4().hex}",
        "PYTHONUNBUFFERED": "1",
    }
    return Run(run.data_dir, run.config, env, run.topic, run.database)


def _anfang(run: Run, *args: str, timeout_s: float = 600) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [*ANFANG, *args],
        cwd=REPO,
        env=run.env,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    assert proc.returncode == 0, f"anfang {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-4000:]}"
    return proc


def _kcat_events(run: Run) -> list[dict[str, Any]]:
    proc = subprocess.run(
        ["kcat", "-b", f"127.0.0.1:{KAFKA_PORT}", "-C", "-t", run.topic, "-o", "beginning", "-e", "-J", "-q"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]


def _clickhouse_ids(run: Run) -> list[str]:
    proc = subprocess.run(
        [
            "clickhouse-client",
            "--port",
            str(CLICKHOUSE_PORT),
            "--database",
            run.database,
            "--query",
            "SELECT toString(event_id) FROM events FINAL FORMAT TabSeparated",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return proc.stdout.split()


@pytest.fixture(scope="module")
def distributed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Run, list[dict[str, Any]]]]:
    down = [n for n, p in (("Kafka", KAFKA_PORT), ("ClickHouse", CLICKHOUSE_PORT)) if not _listening(p)]
    if down:
        pytest.fail(f"servers not running ({', '.join(down)}): run deploy/local/start (make test does)")
    run = _make_run(tmp_path_factory.mktemp("distributed"), "distributed")
    # The sink consumes live while the pipeline runs, then is stopped with SIGTERM (a graceful drain).
    sink = subprocess.Popen(
        [*ANFANG, "sink"], cwd=REPO, env=run.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        _anfang(run, "pipeline", "--once", "--start-ts-ms", str(START_TS_MS))
        messages = _kcat_events(run)
        deadline = time.monotonic() + 120
        while len(set(_clickhouse_ids(run))) < len(messages) and time.monotonic() < deadline:
            assert sink.poll() is None, f"sink died:\n{sink.communicate()[0][-4000:]}"
            time.sleep(1)
        sink.send_signal(signal.SIGTERM)
        out, _ = sink.communicate(timeout=60)
        assert sink.returncode == 0, f"sink failed:\n{out[-4000:]}"
    finally:
        if sink.poll() is None:
            sink.kill()
    yield run, messages
    subprocess.run(
        [
            "clickhouse-client",
            "--port",
            str(CLICKHOUSE_PORT),
            "--query",
            f"DROP DATABASE IF EXISTS {run.database}",
        ],
        check=False,
        timeout=60,
    )


def test_events_on_kafka_validate_against_published_schema(
    distributed: tuple[Run, list[dict[str, Any]]],
) -> None:
    _, messages = distributed
    schema = json.loads((REPO / f"events/schemas/event-{SCHEMA_VERSION}.json").read_text())
    assert len(messages) >= 5, "the demo rules should fire on vtest.avi"
    types = set()
    for m in messages:
        payload = json.loads(m["payload"])
        jsonschema.validate(payload, schema)
        assert m["key"] == payload["camera_id"]
        types.add(payload["type"])
    assert types == {"zone_intrusion", "line_crossing", "loitering", "crowd", "camera_online"}


def test_line_counts_match_the_hand_annotation(distributed: tuple[Run, list[dict[str, Any]]]) -> None:
    """Crossings of the footpath line per direction against tests/data/vtest_line_crossings.json (a hand
    count from slit-scan images, see its `method`): each direction within 2 of the certain crossings,
    the ambiguous ones allowed on either side."""
    _, messages = distributed
    truth = json.loads((REPO / "tests/data/vtest_line_crossings.json").read_text())
    expected = {d: sum(1 for c in truth["crossings"] if c["direction"] == d) for d in ("in", "out")}
    slack = 2 + len(truth["ambiguous"])
    events = [json.loads(m["payload"]) for m in messages]
    crossings = [e for e in events if e["type"] == "line_crossing" and e["rule_id"] == "footpath-crossing"]
    got = {d: sum(1 for e in crossings if e["attributes"]["direction"] == d) for d in ("in", "out")}
    for direction in ("in", "out"):
        assert expected[direction] - 2 <= got[direction] <= expected[direction] + slack, (got, expected)
    final = (
        max(e["attributes"]["count_in"] for e in crossings),
        max(e["attributes"]["count_out"] for e in crossings),
    )
    assert final == (got["in"], got["out"])  # the day's running counts carried by the events


def test_clickhouse_holds_every_event_once(distributed: tuple[Run, list[dict[str, Any]]]) -> None:
    run, messages = distributed
    kafka_ids = sorted(json.loads(m["payload"])["event_id"] for m in messages)
    stored = _clickhouse_ids(run)
    assert len(stored) == len(set(stored)), "duplicated event_id in ClickHouse"
    assert sorted(stored) == sorted(set(kafka_ids)), "ClickHouse and Kafka disagree"


def test_api_serves_events_and_snapshots(distributed: tuple[Run, list[dict[str, Any]]]) -> None:
    run, messages = distributed
    port = _free_port()
    auth = bearer(create_api_key(run.env, role="auditor"))  # history and snapshots, read only
    api = subprocess.Popen(
        [*ANFANG, "api", "--port", str(port)],
        cwd=REPO,
        env=run.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert api.poll() is None, api.stdout.read() if api.stdout else "api exited"
            assert time.monotonic() < deadline, "API did not become healthy"
            time.sleep(0.3)
        items: list[dict[str, Any]] = []
        offset: int | None = 0
        while offset is not None:
            page = httpx.get(
                f"{base}/v1/events", params={"limit": 100, "offset": offset}, headers=auth, timeout=10
            ).json()
            items.extend(page["items"])
            offset = page["next_offset"]
        assert sorted(i["event_id"] for i in items) == sorted(
            {json.loads(m["payload"])["event_id"] for m in messages}
        )
        for item in items:
            if item["type"].startswith("camera_"):  # health events carry no snapshot
                assert item["snapshot"] is None
                continue
            r = httpx.get(
                f"{base}/v1/events/{item['event_id']}/snapshot",
                params={"purpose": "end-to-end test of the evidence chain"},
                headers=auth,
                timeout=10,
            )
            assert r.status_code == 200, r.text
            assert r.headers["content-type"] == "image/jpeg"
            assert hashlib.sha256(r.content).hexdigest() == item["snapshot"]["sha256"]
        alerts = httpx.get(f"{base}/v1/alerts", params={"limit": 500}, headers=auth, timeout=10).json()
        assert alerts["total"] == sum(1 for i in items if i["alert"])
        assert httpx.get(f"{base}/", timeout=10).status_code == 200
    finally:
        api.terminate()
        api.wait(timeout=30)


def test_embedded_mode_yields_the_same_events(
    distributed: tuple[Run, list[dict[str, Any]]], tmp_path: Path
) -> None:
    _, messages = distributed
    run = _make_run(tmp_path, "embedded")
    _anfang(run, "demo", "--once", "--start-ts-ms", str(START_TS_MS))
    store = ChdbStore(run.data_dir / "chdb")
    try:
        from events.ports import EventQuery

        embedded = store.query(EventQuery(limit=10_000)).events
    finally:
        store.close()

    def key(e: dict[str, Any]) -> tuple[Any, ...]:
        return (
            e["ts_ms"],
            e["type"],
            e["rule_id"],
            e["track_id"],
            json.dumps(e["attributes"], sort_keys=True),
        )

    # camera_online is stamped with the wall clock of the connection: compare the detections' events
    def detections(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [e for e in events if not e["type"].startswith("camera_")]

    dist_events = detections([json.loads(m["payload"]) for m in messages])
    emb_events = detections([e.model_dump(mode="json") for e in embedded])
    assert sorted(map(key, emb_events)) == sorted(map(key, dist_events))
    assert sorted(e["event_id"] for e in emb_events) == sorted(e["event_id"] for e in dist_events)
    assert len(embedded) - len(emb_events) == 1  # one camera_online in each mode
    assert shutil.which("kcat")  # the independent client really was there
