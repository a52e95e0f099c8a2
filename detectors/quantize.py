"""Static INT8 quantisation of an exported YOLO ONNX model, checked against the FP32 model it came from.

ONNX Runtime's `quantize_static`: QDQ format, per-channel int8 weights, uint8 activations with
MinMax ranges from calibration frames letterboxed exactly as the detector does (the same
`Letterboxer`). The detection head's decoding (anchor concat, DFL softmax/conv, dist2bbox
Sub/Add/Div, stride Mul, class Sigmoid, final Concat) stays float: quantised, the final Concat shares
one scale between pixel coordinates (0..640) and class scores (0..1) and every score rounds to zero.
Those nodes are found by shape (every output's last axis is the anchor count), not by name.

The accuracy check runs both models on held-out frames (never calibration frames): recall and
precision of INT8 boxes against FP32 boxes (same class, IoU >= 0.5), and both speeds measured
interleaved, frame by frame, in the same run. See detectors/int8.py for the report and the gate.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import onnx

from detectors.base import DetectorError, FrameBGR
from detectors.int8 import (
    AccuracyReport,
    FrameSet,
    accuracy_report_path,
    int8_model_path,
    match_boxes,
    sha256_of,
    write_report,
)
from detectors.onnx_yolo import OnnxYoloConfig, OnnxYoloDetector, one_line
from detectors.postprocess import FloatArray, Letterboxer
from detectors.video_frames import read_frames

logger = logging.getLogger(__name__)

DEFAULT_MIN_RECALL = 0.97
IOU_MATCH = 0.5


def head_decode_nodes(model: onnx.ModelProto) -> list[str]:
    """Names of the nodes that decode the head: every node whose outputs all end in the anchor axis.

    Raises DetectorError when the model is not a (batch, 4 + classes, anchors) YOLO export.
    """
    graph = model.graph
    dims = graph.output[0].type.tensor_type.shape.dim if graph.output else []
    anchors = dims[2].dim_value if len(dims) == 3 else 0
    if anchors <= 0:
        raise DetectorError(
            "expected a YOLO output (batch, 4 + classes, anchors) with a fixed anchor count; "
            f"got {[d.dim_value or d.dim_param for d in dims]}"
        )
    inferred = onnx.shape_inference.infer_shapes(model)
    last_axis: dict[str, int] = {}
    for info in [*inferred.graph.value_info, *inferred.graph.output]:
        shape = info.type.tensor_type.shape.dim
        if shape:
            last_axis[info.name] = shape[-1].dim_value
    nodes = [n for n in graph.node if n.output and all(last_axis.get(o) == anchors for o in n.output)]
    producers = {o for n in nodes for o in n.output}
    if graph.output[0].name not in producers or any(not n.name for n in nodes):
        raise DetectorError("cannot find the detection head's decoding nodes (unnamed or unexpected graph)")
    return [n.name for n in nodes]


def calibration_tensors(frames: Sequence[FrameBGR], input_hw: tuple[int, int]) -> list[FloatArray]:
    """Each frame letterboxed into its own 1 x 3 x H x W tensor, exactly as the detector feeds it."""
    boxer = Letterboxer(input_hw)
    tensors: list[FloatArray] = []
    for frame in frames:
        boxer(frame)
        tensors.append(boxer.tensor.copy())
    return tensors


class _FrameReader:
    """A `CalibrationDataReader` over prepared tensors (duck-typed: ORT calls get_next until None)."""

    def __init__(self, input_name: str, tensors: list[FloatArray]) -> None:
        self._input_name = input_name
        self._tensors = tensors
        self._next = 0

    def get_next(self) -> dict[str, FloatArray] | None:
        if self._next >= len(self._tensors):
            return None
        self._next += 1
        return {self._input_name: self._tensors[self._next - 1]}

    def rewind(self) -> None:
        self._next = 0


def _input_of(model: onnx.ModelProto) -> tuple[str, tuple[int, int]]:
    (image,) = model.graph.input
    dims = image.type.tensor_type.shape.dim
    if len(dims) != 4 or dims[2].dim_value <= 0 or dims[3].dim_value <= 0:
        raise DetectorError(f"expected an NCHW image input with fixed H and W, got {image.name} {dims}")
    return image.name, (dims[2].dim_value, dims[3].dim_value)


def quantize_int8(fp32: Path, out: Path, calib_frames: Sequence[FrameBGR]) -> dict[str, Any]:
    """Write the INT8 QDQ model of `fp32` to `out`; returns the settings used (for the report)."""
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    if not calib_frames:
        raise DetectorError("no calibration frames")
    model = onnx.load(str(fp32))
    input_name, input_hw = _input_of(model)
    excluded = head_decode_nodes(model)
    reader = _FrameReader(input_name, calibration_tensors(calib_frames, input_hw))
    logger.info(
        "quantising %s on %d calibration frames; %d head nodes stay float",
        fp32.name,
        len(calib_frames),
        len(excluded),
    )
    started_s = time.perf_counter()
    try:
        quantize_static(
            str(fp32),
            str(out),
            reader,
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.MinMax,
            nodes_to_exclude=excluded,
        )
    except Exception as exc:  # onnxruntime.quantization raises untyped errors
        raise DetectorError(f"INT8 quantisation of {fp32} failed: {one_line(exc)}") from exc
    logger.info(
        "quantised in %.1f s: %s (%.1f MB)", time.perf_counter() - started_s, out, out.stat().st_size / 1e6
    )
    return {
        "method": "onnxruntime.quantization.quantize_static",
        "format": "QDQ",
        "per_channel": True,
        "activation_type": "QUInt8",
        "weight_type": "QInt8",
        "calibrate_method": "MinMax",
        "calibration_frames": len(calib_frames),
        "nodes_to_exclude": excluded,
    }


@dataclass(frozen=True, slots=True)
class Comparison:
    matched_boxes: int
    fp32_boxes: int
    int8_boxes: int
    fp32_fps: float
    int8_fps: float

    @property
    def recall(self) -> float:
        return self.matched_boxes / self.fp32_boxes if self.fp32_boxes else 0.0

    @property
    def precision(self) -> float:
        return self.matched_boxes / self.int8_boxes if self.int8_boxes else 0.0


def compare_models(
    fp32: OnnxYoloDetector, int8: OnnxYoloDetector, frames: Sequence[FrameBGR], iou_match: float = IOU_MATCH
) -> Comparison:
    """Both detectors on every frame, interleaved frame by frame so load changes hit both alike."""
    for frame in frames[:2]:  # warm-up: first runs allocate
        fp32.detect(frame)
        int8.detect(frame)
    fp32_s = int8_s = 0.0
    matched = n_fp32 = n_int8 = 0
    for frame in frames:
        t0 = time.perf_counter()
        reference = fp32.detect(frame)
        t1 = time.perf_counter()
        candidate = int8.detect(frame)
        t2 = time.perf_counter()
        fp32_s, int8_s = fp32_s + t1 - t0, int8_s + t2 - t1
        m, r, c = match_boxes(reference, candidate, iou_match)
        matched, n_fp32, n_int8 = matched + m, n_fp32 + r, n_int8 + c
    return Comparison(matched, n_fp32, n_int8, len(frames) / fp32_s, len(frames) / int8_s)


def export_int8(
    fp32: Path,
    *,
    calib_video: Path,
    calib_indices: Sequence[int],
    eval_video: Path,
    eval_indices: Sequence[int],
    min_recall: float = DEFAULT_MIN_RECALL,
    threads: int = 2,
) -> AccuracyReport:
    """Quantise `fp32` into its INT8 sibling, check it on held-out frames, write the accuracy report.

    The model file is written either way; the report's `accepted` says whether it may be loaded.
    Raises DetectorError for bad inputs (missing model or video, overlapping frame sets, no FP32 boxes).
    """
    import onnxruntime as ort

    if not fp32.is_file():
        raise DetectorError(f"FP32 model not found: {fp32} (export it first: give --weights)")
    same_video = calib_video.resolve() == eval_video.resolve()
    shared = sorted(set(calib_indices) & set(eval_indices)) if same_video else []
    if shared:
        raise DetectorError(f"evaluation frames must be held out, but {len(shared)} are calibration frames")
    if not calib_indices or not eval_indices:
        raise DetectorError("need at least one calibration frame and one evaluation frame")
    calib_frames = read_frames(calib_video, calib_indices)
    eval_frames = read_frames(eval_video, eval_indices)
    out = int8_model_path(fp32)
    partial = out.with_name(f".{out.name}.{os.getpid()}.partial")
    try:
        settings = quantize_int8(fp32, partial, calib_frames)
        config = OnnxYoloConfig(model_path=fp32, intra_op_threads=threads)
        comparison = compare_models(
            OnnxYoloDetector.unchecked(config, fp32), OnnxYoloDetector.unchecked(config, partial), eval_frames
        )
        if comparison.fp32_boxes == 0:
            raise DetectorError(
                f"the FP32 model finds nothing on the {len(eval_frames)} evaluation frames: "
                "choose frames with objects in them"
            )
        partial.replace(out)
    finally:
        partial.unlink(missing_ok=True)
    recall = comparison.recall
    accepted = recall >= min_recall
    verdict = ">=" if accepted else "<"
    reason = (
        f"recall {recall:.4f} {verdict} min_recall {min_recall} on {len(eval_frames)} held-out frames "
        f"({comparison.matched_boxes}/{comparison.fp32_boxes} FP32 boxes matched at IoU {IOU_MATCH})"
    )
    report = AccuracyReport(
        accepted=accepted,
        reason=reason,
        min_recall=min_recall,
        recall=round(recall, 5),
        precision=round(comparison.precision, 5),
        iou_match=IOU_MATCH,
        fp32_boxes=comparison.fp32_boxes,
        int8_boxes=comparison.int8_boxes,
        matched_boxes=comparison.matched_boxes,
        fp32_fps=round(comparison.fp32_fps, 2),
        int8_fps=round(comparison.int8_fps, 2),
        speedup=round(comparison.int8_fps / comparison.fp32_fps, 3),
        threads=threads,
        confidence=config.confidence,
        nms_iou=config.iou,
        calibration=FrameSet(video=str(calib_video), frame_indices=list(calib_indices)),
        evaluation=FrameSet(video=str(eval_video), frame_indices=list(eval_indices)),
        fp32_model=fp32.name,
        fp32_sha256=sha256_of(fp32),
        int8_model=out.name,
        int8_sha256=sha256_of(out),
        quantization=settings,
        onnxruntime_version=str(ort.__version__),
    )
    write_report(report, accuracy_report_path(out))
    log = logger.info if accepted else logger.warning
    log(
        "INT8 %s: %s; precision %.4f; %.1f FPS vs FP32 %.1f FPS (x%.2f)",
        "accepted" if accepted else "REJECTED",
        reason,
        report.precision,
        report.int8_fps,
        report.fp32_fps,
        report.speedup,
    )
    return report
