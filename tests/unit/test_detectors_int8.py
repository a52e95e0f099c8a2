"""INT8 export on real frames: quantise the exported model, check the accuracy report, load it, and refuse
it when calibration was broken (all-black frames) or the report is missing, rejected or stale."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import onnx
import pytest
import supervision as sv

from detectors.base import DetectorError
from detectors.export import EXIT_REJECTED, main
from detectors.int8 import (
    AccuracyReport,
    accuracy_report_path,
    int8_model_path,
    match_boxes,
    read_report,
)
from detectors.onnx_yolo import OnnxYoloConfig, OnnxYoloDetector
from detectors.quantize import export_int8, head_decode_nodes
from detectors.video_frames import spread_indices
from tests.unit.detector_assets import ONNX_MODEL, VTEST, require_media, require_model, vtest_frames

CALIB = spread_indices(0, 300, 8)
HELD_OUT = spread_indices(300, 795, 20)


@dataclass(frozen=True)
class Exported:
    fp32: Path
    int8: Path
    report: AccuracyReport


def copy_fp32(folder: Path) -> Path:
    """The setup's FP32 export, copied so the INT8 sibling lands in a scratch folder."""
    src = require_model(ONNX_MODEL)
    folder.mkdir(parents=True, exist_ok=True)
    fp32 = folder / src.name
    shutil.copyfile(src, fp32)
    shutil.copyfile(src.with_suffix(".json"), fp32.with_suffix(".json"))
    return fp32


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Exported:
    fp32 = copy_fp32(tmp_path_factory.mktemp("int8"))
    video = require_media(VTEST)
    report = export_int8(
        fp32, calib_video=video, calib_indices=CALIB, eval_video=video, eval_indices=HELD_OUT
    )
    return Exported(fp32, int8_model_path(fp32), report)


def write_black_video(path: Path, frames: int = 8) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 10, (768, 576))
    assert writer.isOpened()
    for _ in range(frames):
        writer.write(np.zeros((576, 768, 3), dtype=np.uint8))
    writer.release()
    return path


@pytest.mark.parametrize(
    ("fp32", "int8", "report"),
    [
        ("m/people-480x640.onnx", "m/people-480x640.int8.onnx", "m/people-480x640.int8.accuracy.json"),
        ("a.b.onnx", "a.b.int8.onnx", "a.b.int8.accuracy.json"),
        ("x.int8.onnx", "x.int8.onnx", "x.int8.accuracy.json"),  # already INT8: unchanged
    ],
)
def test_int8_file_names(fp32: str, int8: str, report: str) -> None:
    assert int8_model_path(Path(fp32)) == Path(int8)
    assert accuracy_report_path(int8_model_path(Path(fp32))) == Path(report)


def _dets(rows: list[tuple[float, float, float, float, float, int]]) -> sv.Detections:
    if not rows:
        return sv.Detections.empty()
    arr = np.array(rows, dtype=np.float32)
    return sv.Detections(xyxy=arr[:, :4], confidence=arr[:, 4], class_id=arr[:, 5].astype(int))


BOX = (10.0, 10.0, 50.0, 110.0)


@pytest.mark.parametrize(
    ("reference", "candidate", "expected"),
    [
        ([(*BOX, 0.9, 0)], [(*BOX, 0.8, 0)], (1, 1, 1)),
        ([(*BOX, 0.9, 0)], [(12.0, 12.0, 52.0, 112.0, 0.8, 0)], (1, 1, 1)),  # small shift: IoU > 0.5
        ([(*BOX, 0.9, 0)], [(40.0, 10.0, 80.0, 110.0, 0.8, 0)], (0, 1, 1)),  # IoU 0.14
        ([(*BOX, 0.9, 0)], [(*BOX, 0.8, 1)], (0, 1, 1)),  # other class
        ([(*BOX, 0.9, 0)], [(*BOX, 0.8, 0), (*BOX, 0.7, 0)], (1, 1, 2)),  # one-to-one
        ([(*BOX, 0.9, 0), (200.0, 10.0, 240.0, 110.0, 0.5, 0)], [(*BOX, 0.8, 0)], (1, 2, 1)),
        ([], [(*BOX, 0.8, 0)], (0, 0, 1)),
        ([(*BOX, 0.9, 0)], [], (0, 1, 0)),
    ],
)
def test_match_boxes(
    reference: list[tuple[float, float, float, float, float, int]],
    candidate: list[tuple[float, float, float, float, float, int]],
    expected: tuple[int, int, int],
) -> None:
    assert match_boxes(_dets(reference), _dets(candidate), 0.5) == expected


def test_head_decode_nodes_are_the_float_tail_of_the_graph() -> None:
    model = onnx.load(str(require_model(ONNX_MODEL)))
    names = set(head_decode_nodes(model))
    by_name = {n.name: n for n in model.graph.node}
    ops = {by_name[n].op_type for n in names}
    assert {"Sigmoid", "Concat", "Softmax", "Mul"} <= ops
    assert any(model.graph.output[0].name in by_name[n].output for n in names)
    # the backbone and the per-level head convolutions are quantised: only the DFL's 1x1 conv stays float
    assert [n for n in names if by_name[n].op_type == "Conv"] == ["/model.22/dfl/conv/Conv"]
    assert len(names) < 30


def test_export_writes_an_accepted_report_on_held_out_frames(exported: Exported) -> None:
    report = exported.report
    assert report.accepted, report.reason
    assert report.recall >= 0.97 and report.precision >= 0.9
    assert report.fp32_boxes >= 100  # ~7 people on each of the 20 frames
    assert report.calibration.frame_indices == CALIB and report.evaluation.frame_indices == HELD_OUT
    assert not set(report.calibration.frame_indices) & set(report.evaluation.frame_indices)
    assert report.fp32_fps > 0 and report.int8_fps > 0
    assert report.speedup == pytest.approx(report.int8_fps / report.fp32_fps, rel=0.01)
    assert report.quantization["format"] == "QDQ" and report.quantization["per_channel"] is True
    assert exported.int8.is_file() and exported.int8.stat().st_size < exported.fp32.stat().st_size / 3
    on_disk = json.loads(accuracy_report_path(exported.int8).read_text())
    assert on_disk["accepted"] is True and on_disk["recall"] == report.recall
    assert read_report(accuracy_report_path(exported.int8)) == report
    # no partial files left behind
    assert sorted(p.name for p in exported.fp32.parent.iterdir()) == sorted(
        [
            exported.fp32.name,
            exported.fp32.with_suffix(".json").name,
            exported.int8.name,
            accuracy_report_path(exported.int8).name,
        ]
    )


def test_the_detector_loads_and_runs_the_accepted_int8_model(exported: Exported) -> None:
    fp32 = OnnxYoloDetector(OnnxYoloConfig(model_path=exported.fp32), exported.fp32.parent)
    int8 = OnnxYoloDetector(OnnxYoloConfig(model_path=exported.fp32, precision="int8"), exported.fp32.parent)
    assert int8.model_file == exported.int8
    assert int8.class_names == {0: "Normal", 1: "Fall"}
    (frame,) = vtest_frames(HELD_OUT[5])
    reference, candidate = fp32.detect(frame), int8.detect(frame)
    assert len(reference) >= 3
    matched, n_ref, _ = match_boxes(reference, candidate)
    assert matched >= n_ref - 1


def test_relative_int8_paths_resolve_under_the_data_folder(
    exported: Exported, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = OnnxYoloConfig(model_path=Path(exported.fp32.name), precision="int8")
    assert OnnxYoloDetector(config, exported.fp32.parent).model_file == exported.int8
    # a relative data folder too (the settings' default is ./data)
    monkeypatch.chdir(exported.fp32.parent.parent)
    relative = Path(exported.fp32.parent.name)
    assert OnnxYoloDetector(config, relative).model_file == relative / exported.int8.name


def test_black_calibration_fails_the_recall_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fp32 = copy_fp32(tmp_path / "models")
    black = write_black_video(tmp_path / "black.avi")
    code = main(
        [
            "--int8",
            "--out",
            str(fp32),
            "--calib-video",
            str(black),
            "--calib-range",
            "0",
            "-1",
            "--calib-frames",
            "8",
            "--eval-video",
            str(require_media(VTEST)),
            "--eval-range",
            "300",
            "-1",
            "--eval-frames",
            "20",
        ]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert code == EXIT_REJECTED
    assert err[-1].startswith("error: INT8 model rejected: recall ")
    assert "< min_recall 0.97 on 20 held-out frames" in err[-1]
    int8 = int8_model_path(fp32)
    report = read_report(accuracy_report_path(int8))
    assert report.accepted is False and report.recall < 0.97
    assert int8.is_file()  # written, but marked rejected: the detector refuses it
    with pytest.raises(
        DetectorError, match=r"failed its accuracy check \(recall 0\.\d+ < min_recall"
    ) as info:
        OnnxYoloDetector(OnnxYoloConfig(model_path=fp32, precision="int8"), tmp_path)
    assert "\n" not in str(info.value) and "precision: fp32" in str(info.value)
    # naming the INT8 file directly does not get around the gate
    with pytest.raises(DetectorError, match="failed its accuracy check"):
        OnnxYoloDetector(OnnxYoloConfig(model_path=int8), tmp_path)


def test_int8_without_report_or_with_a_stale_one_is_refused(exported: Exported, tmp_path: Path) -> None:
    fp32 = tmp_path / exported.fp32.name
    fp32.symlink_to(exported.fp32)
    config = OnnxYoloConfig(model_path=fp32, precision="int8")
    with pytest.raises(DetectorError, match=r"INT8 ONNX model not found: .*\.int8\.onnx"):
        OnnxYoloDetector(config, tmp_path)
    int8 = int8_model_path(fp32)
    shutil.copyfile(exported.int8, int8)
    with pytest.raises(DetectorError, match=r"has no accuracy report .*\.int8\.accuracy\.json"):
        OnnxYoloDetector(config, tmp_path)
    report = accuracy_report_path(int8)
    stale = exported.report.model_copy(update={"int8_sha256": "0" * 64})
    report.write_text(stale.model_dump_json())
    with pytest.raises(DetectorError, match="is for another file"):
        OnnxYoloDetector(config, tmp_path)
    report.write_text("{not json")
    with pytest.raises(DetectorError, match="unreadable INT8 accuracy report"):
        OnnxYoloDetector(config, tmp_path)
    shutil.copyfile(accuracy_report_path(exported.int8), report)
    assert OnnxYoloDetector(config, tmp_path).model_file == int8
    # the FP32 weights changed since the INT8 export: its INT8 sibling is stale
    fp32.unlink()
    fp32.write_bytes(b"other weights")
    with pytest.raises(DetectorError, match=r"was made from another FP32 model than .*480x640\.onnx"):
        OnnxYoloDetector(config, tmp_path)


def test_evaluation_frames_must_be_held_out(tmp_path: Path) -> None:
    fp32 = copy_fp32(tmp_path)
    video = require_media(VTEST)
    with pytest.raises(DetectorError, match="held out, but 1 are calibration frames"):
        export_int8(fp32, calib_video=video, calib_indices=[0, 10], eval_video=video, eval_indices=[10, 400])
    assert not int8_model_path(fp32).exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--int8"], "--int8 needs --calib-video"),
        (["--int8", "--calib-video", "/nonexistent.avi"], "video not found: /nonexistent.avi"),
        (["--int8", "--calib-video", str(VTEST), "--calib-range", "900", "950"], "--calib-range [900, 950]"),
        ([], "give --weights (export) and/or --int8"),
    ],
)
def test_cli_bad_int8_arguments_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert main(["--out", str(tmp_path / "m.onnx"), *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: ") and message in err[-1]


def test_cli_int8_needs_the_fp32_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["--int8", "--out", str(tmp_path / "m.onnx"), "--calib-video", str(require_media(VTEST))])
    assert code == 2
    assert capsys.readouterr().err.strip() == f"error: FP32 model not found: {tmp_path / 'm.onnx'} " + (
        "(export it first: give --weights)"
    )
