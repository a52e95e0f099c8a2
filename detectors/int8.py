"""INT8 model files: their names, their accuracy report, and the gate that keeps a rejected one out.

An INT8 model is the sibling of its FP32 export: `people-yolov8s-480x640.onnx` ->
`people-yolov8s-480x640.int8.onnx`, with the accuracy report `people-yolov8s-480x640.int8.accuracy.json`
beside it (written by `python -m detectors.export --int8`, see detectors/quantize.py). A rejected
export still leaves its model file there, but its report says `accepted: false` and why; the detector
loads an INT8 file only when the report is there, accepted, its SHA-256 is the file's and, when the
FP32 file is there, its FP32 SHA-256 is that file's (no INT8 left over from other weights).
Light on purpose (json + hashlib): the ONNX detector imports it.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import supervision as sv
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from detectors.base import DetectorError

logger = logging.getLogger(__name__)

INT8_SUFFIX = ".int8.onnx"
REPORT_SUFFIX = ".accuracy.json"
REPORT_FORMAT = "anfang-int8-accuracy"


def int8_model_path(fp32_path: Path) -> Path:
    """`x.onnx` -> `x.int8.onnx` (an INT8 path is returned as it is)."""
    if is_int8_path(fp32_path):
        return fp32_path
    return fp32_path.with_name(fp32_path.name.removesuffix(".onnx") + INT8_SUFFIX)


def is_int8_path(path: Path) -> bool:
    return path.name.endswith(INT8_SUFFIX)


def accuracy_report_path(int8_path: Path) -> Path:
    """`x.int8.onnx` -> `x.int8.accuracy.json`."""
    return int8_path.with_name(int8_path.name.removesuffix(".onnx") + REPORT_SUFFIX)


def sha256_of(path: Path, chunk_bytes: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(chunk_bytes):
            digest.update(chunk)
    return digest.hexdigest()


class FrameSet(BaseModel):
    """Which frames of which video: calibration or evaluation."""

    model_config = ConfigDict(extra="forbid")

    video: str
    frame_indices: list[int]


class AccuracyReport(BaseModel):
    """INT8 boxes against FP32 boxes on held-out frames, the speed of both, and the verdict."""

    model_config = ConfigDict(extra="forbid")

    format: str = REPORT_FORMAT
    accepted: bool
    reason: str = Field(description="one line: why accepted or rejected")
    min_recall: float
    recall: float = Field(description="FP32 boxes matched by an INT8 box of the same class at iou_match")
    precision: float = Field(description="INT8 boxes matching an FP32 box of the same class at iou_match")
    iou_match: float
    fp32_boxes: int
    int8_boxes: int
    matched_boxes: int
    fp32_fps: float
    int8_fps: float
    speedup: float = Field(description="int8_fps / fp32_fps, measured interleaved in the same run")
    threads: int
    confidence: float
    nms_iou: float
    calibration: FrameSet
    evaluation: FrameSet
    fp32_model: str
    fp32_sha256: str
    int8_model: str
    int8_sha256: str
    quantization: dict[str, Any]
    onnxruntime_version: str


def write_report(report: AccuracyReport, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(report.model_dump_json(indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)


def read_report(path: Path) -> AccuracyReport:
    try:
        return AccuracyReport.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, ValidationError) as exc:
        cause = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DetectorError(f"unreadable INT8 accuracy report {path}: {cause}") from exc


def require_accepted_int8(int8_path: Path, fp32_path: Path | None = None) -> AccuracyReport:
    """The gate: the INT8 model's report exists, accepted it, and describes this very file.

    With `fp32_path` (when that file exists), the report must also name it as the model quantised:
    an INT8 file left over from other FP32 weights is refused.
    """
    report_path = accuracy_report_path(int8_path)
    fix = "set detector.precision: fp32, or re-export with python -m detectors.export --int8"
    if not report_path.is_file():
        raise DetectorError(f"INT8 model {int8_path} has no accuracy report {report_path.name}; {fix}")
    report = read_report(report_path)
    if not report.accepted:
        raise DetectorError(f"INT8 model {int8_path} failed its accuracy check ({report.reason}); {fix}")
    if report.int8_sha256 != sha256_of(int8_path):
        raise DetectorError(
            f"INT8 accuracy report {report_path.name} is for another file than {int8_path}; {fix}"
        )
    if fp32_path is not None and fp32_path.is_file() and report.fp32_sha256 != sha256_of(fp32_path):
        raise DetectorError(
            f"INT8 model {int8_path} was made from another FP32 model than {fp32_path}; {fix}"
        )
    return report


def match_boxes(
    reference: sv.Detections, candidate: sv.Detections, iou_match: float = 0.5
) -> tuple[int, int, int]:
    """Greedy one-to-one matching, candidate boxes by falling confidence, same class, IoU >= `iou_match`.

    Returns `(matched, reference boxes, candidate boxes)`.
    """
    n_ref, n_cand = len(reference), len(candidate)
    if n_ref == 0 or n_cand == 0:
        return 0, n_ref, n_cand
    iou: npt.NDArray[np.float32] = sv.box_iou_batch(reference.xyxy, candidate.xyxy)
    ref_cls, cand_cls = reference.class_id, candidate.class_id
    if ref_cls is not None and cand_cls is not None:
        iou = np.where(ref_cls[:, None] == cand_cls[None, :], iou, 0.0)
    confidence = candidate.confidence if candidate.confidence is not None else np.ones(n_cand)
    free = np.ones(n_ref, dtype=bool)
    matched = 0
    for j in np.argsort(-confidence, kind="stable"):
        overlaps = np.where(free, iou[:, j], -1.0)
        best = int(overlaps.argmax())
        if overlaps[best] >= iou_match:
            free[best] = False
            matched += 1
    return matched, n_ref, n_cand
