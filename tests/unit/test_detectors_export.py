"""`python -m detectors.export`: a real export of the sample checkpoint, and its error paths."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest

from detectors.base import DetectorError
from detectors.export import export_onnx, main
from detectors.onnx_yolo import OnnxYoloConfig, OnnxYoloDetector
from tests.unit.detector_assets import PT_MODEL, REPO_ROOT, labels_of, require_model, vtest_frames


@pytest.mark.parametrize("dynamic_batch", [True, False])
def test_export_writes_a_fixed_size_model_and_metadata(tmp_path: Path, dynamic_batch: bool) -> None:
    weights = require_model(PT_MODEL)
    out = tmp_path / "out" / "people-320x416.onnx"
    exported = export_onnx(
        weights, out, (320, 416), ultralytics_dir=tmp_path / "ultralytics", dynamic_batch=dynamic_batch
    )
    assert exported == out
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["class_names"] == {"0": "Normal", "1": "Fall"}
    assert meta["imgsz_hw"] == [320, 416]
    assert meta["dynamic_batch"] is dynamic_batch
    assert meta["source_sha256"] == hashlib.sha256(weights.read_bytes()).hexdigest()
    assert meta["onnx_sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert not weights.with_suffix(".onnx").exists() or weights.with_suffix(".onnx") == out
    assert sorted(p.name for p in out.parent.iterdir()) == ["people-320x416.json", "people-320x416.onnx"]
    dims = onnx.load(str(out)).graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_value for d in dims[1:]] == [3, 320, 416]  # H and W stay fixed either way
    assert (dims[0].dim_param != "" and dims[0].dim_value == 0) if dynamic_batch else dims[0].dim_value == 1
    det = OnnxYoloDetector(OnnxYoloConfig(model_path=out), tmp_path)
    assert det.input_hw == (320, 416)
    assert det.batch_dynamic is dynamic_batch
    assert det.class_names == {0: "Normal", 1: "Fall"}
    frames = vtest_frames(0, 200, 400)
    singles = [det.detect(f) for f in frames]
    assert len(singles[0]) >= 2 and np.isfinite(singles[0].xyxy).all()
    calls = count_session_runs(det)
    batched = det.detect_batch(frames)
    assert calls == [3] if dynamic_batch else calls == [1, 1, 1]  # one call for the batch, else a loop
    for one, many in zip(singles, batched, strict=True):
        np.testing.assert_allclose(many.xyxy, one.xyxy, atol=0.05)
        assert labels_of(many) == labels_of(one)


def count_session_runs(det: OnnxYoloDetector) -> list[int]:
    """Wraps the detector's ONNX Runtime session: the list gets the batch size of every run."""
    calls: list[int] = []
    session = det._session

    class Counting:
        def __getattr__(self, name: str) -> Any:
            return getattr(session, name)

        def run(self, names: Any, feed: dict[str, np.ndarray]) -> Any:
            calls.append(next(iter(feed.values())).shape[0])
            return session.run(names, feed)

    det._session = Counting()
    return calls


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
