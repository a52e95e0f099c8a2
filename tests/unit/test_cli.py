"""Bad input through the real `anfang` command: one clear line naming the cause, non-zero exit."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from events.schema import SCHEMA_VERSION

REPO = Path(__file__).resolve().parents[2]
MODEL = Path(os.environ.get("ANFANG_DATA_DIR", REPO / "data")) / "models" / "people-yolov8s-480x640.onnx"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _config(tmp_path: Path, **camera: object) -> Path:
    config = yaml.safe_load((REPO / "deploy/config/demo.yaml").read_text())
    config["detector"]["model_path"] = str(MODEL)
    config["cameras"][0].update(camera)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _anfang(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {
        **os.environ,
        "ANFANG_DATA_DIR": str(tmp_path / "data"),
        "ANFANG_CONNECT_TIMEOUT_S": "3",
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "anfang.cli", *args],
        cwd=REPO,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _assert_user_error(proc: subprocess.CompletedProcess[str], fragment: str) -> None:
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert fragment in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout


def test_invalid_config_names_key_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("detector:\n  type: onnx\n  model_path: m.onnx\n  confidence: 2\ncameras: []\n")
    proc = _anfang(tmp_path, "demo", "--once", "--config", str(bad))
    _assert_user_error(proc, f"{bad}:4: detector.confidence")
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1


def test_missing_video(tmp_path: Path) -> None:
    config = _config(tmp_path, uri=str(tmp_path / "nope.avi"))
    proc = _anfang(tmp_path, "demo", "--once", "--config", str(config))
    _assert_user_error(proc, f"video not found: {tmp_path / 'nope.avi'}")


def test_missing_model(tmp_path: Path) -> None:
    config = yaml.safe_load((REPO / "deploy/config/demo.yaml").read_text())
    config["detector"]["model_path"] = str(tmp_path / "absent.onnx")
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(config))
    proc = _anfang(tmp_path, "demo", "--once", "--config", str(path))
    _assert_user_error(proc, "model not found")
    assert str(tmp_path / "absent.") in proc.stderr  # the FP32 file or, with precision: int8, its sibling
    assert proc.returncode == 2


def test_unreachable_kafka(tmp_path: Path) -> None:
    port = _free_port()
    config = _config(tmp_path)
    proc = _anfang(
        tmp_path,
        "pipeline",
        "--mode",
        "distributed",
        "--config",
        str(config),
        ANFANG_KAFKA_BOOTSTRAP=f"127.0.0.1:{port}",
    )
    _assert_user_error(proc, f"cannot reach Kafka at 127.0.0.1:{port}")
    assert proc.returncode == 2


def test_unreachable_clickhouse(tmp_path: Path) -> None:
    port = _free_port()
    proc = _anfang(tmp_path, "api", "--mode", "distributed", ANFANG_CLICKHOUSE_PORT=str(port))
    _assert_user_error(proc, f"cannot reach ClickHouse at 127.0.0.1:{port}")
    assert proc.returncode == 2


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [("ANFANG_MODE", "bogus", "setting mode"), ("ANFANG_API_PORT", "x", "setting api_port")],
)
def test_invalid_setting(tmp_path: Path, name: str, value: str, fragment: str) -> None:
    proc = _anfang(tmp_path, "api", **{name: value})
    _assert_user_error(proc, fragment)
    assert proc.returncode == 2


def test_api_port_taken(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        proc = _anfang(tmp_path, "api", "--port", str(port))
    _assert_user_error(proc, f"cannot serve the API on 127.0.0.1:{port}")
    assert proc.returncode == 2


def test_schema_command_writes_the_published_schema(tmp_path: Path) -> None:
    out = tmp_path / "schema.json"
    proc = _anfang(tmp_path, "schema", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert out.read_text() == (REPO / f"events/schemas/event-{SCHEMA_VERSION}.json").read_text()
