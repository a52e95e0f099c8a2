"""Ctrl-C in the middle of a video: what was already produced is delivered and stored, none lost."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from events.ports import EventQuery
from events.store.chdb_store import ChdbStore

REPO = Path(__file__).resolve().parents[2]
MODEL = Path(os.environ.get("ANFANG_DATA_DIR", REPO / "data")) / "models" / "people-yolov8s-480x640.onnx"


@pytest.mark.slow
def test_sigint_mid_video_loses_no_event(tmp_path: Path) -> None:
    if not MODEL.exists():
        pytest.fail(f"model missing: {MODEL}: run deploy/setup.sh")
    config = yaml.safe_load((REPO / "deploy/config/demo.yaml").read_text())
    config["detector"]["model_path"] = str(MODEL)
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    env = {**os.environ, "ANFANG_DATA_DIR": str(tmp_path / "data"), "ANFANG_PROGRESS_EVERY_S": "0.5"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "anfang.cli", "demo", "--once", "--config", str(tmp_path / "c.yaml")],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 300
    for line in proc.stdout:  # interrupt once a few events are out, well before the video ends
        lines.append(line)
        m = re.search(r"(\d+) frames .* (\d+) events", line)
        if m and int(m.group(2)) >= 3:
            proc.send_signal(signal.SIGINT)
            break
        assert time.monotonic() < deadline, "no events within 300 s"
    rest, _ = proc.communicate(timeout=120)
    log = "".join(lines) + rest
    assert proc.returncode == 0, log[-3000:]
    produced = int(re.findall(r"total: (\d+) events", log)[-1])
    frames = int(re.findall(r"(\d+) frames in", log)[-1])
    assert 0 < frames < 795, "the run was not interrupted mid-video"
    store = ChdbStore(tmp_path / "data" / "chdb")
    try:
        stored = store.query(EventQuery(limit=1000))
    finally:
        store.close()
    assert produced >= 3
    assert stored.total == produced
    assert "Traceback" not in log
