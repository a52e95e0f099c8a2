"""`python -m detectors.export`: a real export of the sample checkpoint, and its error paths."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from detectors.base import DetectorError
from detectors.export import export_onnx, main
from detectors.onnx_yolo import OnnxYoloConfig, OnnxYoloDetector
from tests.unit.detector_assets import PT_MODEL, REPO_ROOT, require_model, vtest_frames


def test_export_writes_a_fixed_shape_model_and_metadata(tmp_path: Path) -> None:
    weights = require_model(PT_MODEL)
    out = tmp_path / "out" / "people-320x416.onnx"
    assert export_onnx(weights, out, (320, 416), ultralytics_dir=tmp_path / "ultralytics") == out
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["class_names"] == {"0": "Normal", "1": "Fall"}
    assert meta["imgsz_hw"] == [320, 416]
    assert meta["source_sha256"] == hashlib.sha256(weights.read_bytes()).hexdigest()
    assert meta["onnx_sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert not weights.with_suffix(".onnx").exists() or weights.with_suffix(".onnx") == out
    assert sorted(p.name for p in out.parent.iterdir()) == ["people-320x416.json", "people-320x416.onnx"]
    det = OnnxYoloDetector(OnnxYoloConfig(model_path=out), tmp_path)
    assert det.input_hw == (320, 416)
    assert det.class_names == {0: "Normal", 1: "Fall"}
    dets = det.detect(vtest_frames(0)[0])
    assert len(dets) >= 2 and np.isfinite(dets.xyxy).all()


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "weights file not found"), (b"garbage", "cannot load weights")],
)
def test_cli_bad_weights_exit_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes | None, message: str
) -> None:
    weights = tmp_path / "w.pt"
    if content is not None:
        weights.write_bytes(content)
    code = main(["--weights", str(weights), "--imgsz", "480", "640", "--out", str(tmp_path / "o.onnx")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err[-1].startswith(f"error: {message}") and str(weights) in err[-1]
    assert not (tmp_path / "o.onnx").exists()


def test_imgsz_must_fit_the_stride(tmp_path: Path) -> None:
    with pytest.raises(DetectorError, match="multiples of 32"):
        export_onnx(require_model(PT_MODEL), tmp_path / "o.onnx", (481, 640))


def test_cli_runs_as_a_module(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "detectors.export",
            "--weights",
            str(tmp_path / "missing.pt"),
            "--out",
            "x.onnx",
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"error: weights file not found: {tmp_path / 'missing.pt'}"
