"""YOLO (ultralytics export) on ONNX Runtime: the default CPU people detector, FP32 or INT8."""

from __future__ import annotations

import ast
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import supervision as sv
from pydantic import BaseModel, ConfigDict, Field

from detectors.base import DetectorError, FrameBGR, ModelInfo
from detectors.int8 import int8_model_path, is_int8_path, require_accepted_int8
from detectors.postprocess import FloatArray, Letterbox, Letterboxer, decode_yolo_output, unletterbox_xyxy

logger = logging.getLogger(__name__)


class OnnxYoloConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["onnx"] = "onnx"
    model_path: Path = Field(
        description="FP32 ONNX file exported by python -m detectors.export; relative paths are under the "
        "data folder. With precision: int8 the INT8 sibling beside it is loaded instead"
    )
    precision: Literal["fp32", "int8"] = Field(
        default="fp32",
        description="fp32: load model_path as it is. int8: load the INT8 sibling of model_path "
        "(x.onnx -> x.int8.onnx, made by python -m detectors.export --int8), only when its accuracy "
        "report (x.int8.accuracy.json) is there, says accepted and names the SHA-256 of that file and "
        "of model_path (the FP32 it was made from); otherwise a DetectorError says why",
    )
    input_hw: tuple[int, int] | None = Field(
        default=None, description="network input (height, width); None = read from the model (must be fixed)"
    )
    confidence: float = Field(default=0.25, gt=0, le=1)
    iou: float = Field(default=0.45, gt=0, le=1, description="NMS IoU threshold")
    class_names: dict[int, str] = Field(
        default_factory=lambda: {0: "person"},
        description="labels by class id; set, they replace the model's own names id by id; "
        "left unset, the model's names (ONNX metadata or the export's .json) win and this default "
        "only names a model that carries none",
    )
    intra_op_threads: int = Field(default=2, ge=1, description="ONNX Runtime intra-op threads")
    intra_op_spinning: bool = Field(
        default=False,
        description="let idle ONNX Runtime threads busy-wait: a little faster on an otherwise idle machine, "
        "much slower when cameras, decoders or other processes share the cores",
    )
    providers: list[str] = Field(
        default_factory=lambda: ["CPUExecutionProvider"],
        min_length=1,
        description="ONNX Runtime execution providers in order of preference, e.g. "
        "[CUDAExecutionProvider, CPUExecutionProvider] with onnxruntime-gpu",
    )
    model_name: str = "yolov8s-people"
    model_version: str = "1"
    max_detections: int = Field(default=300, ge=1, description="boxes kept per frame after NMS")


def one_line(exc: BaseException) -> str:
    """The first line of an exception's message (library errors can span pages)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def resolve_model_path(model_path: Path, base_dir: Path, what: str = "model") -> Path:
    """Relative paths are under `base_dir` (the data folder); a missing file is a clear DetectorError."""
    path = model_path if model_path.is_absolute() else base_dir / model_path
    if not path.is_file():
        raise DetectorError(f"{what} not found: {path} (run deploy/setup.sh or fix detector.model_path)")
    return path


def resolve_onnx_model(config: OnnxYoloConfig, base_dir: Path) -> Path:
    """The file `config` selects: model_path, or its INT8 sibling, which must pass the accuracy gate.

    Any `*.int8.onnx` file goes through the gate, whichever way it was named.
    """
    if config.precision == "int8" and not is_int8_path(config.model_path):
        path = resolve_model_path(int8_model_path(config.model_path), base_dir, "INT8 ONNX model")
        require_accepted_int8(path, fp32_path=path.with_name(config.model_path.name))
        return path
    path = resolve_model_path(
        config.model_path, base_dir, "INT8 ONNX model" if is_int8_path(config.model_path) else "ONNX model"
    )
    if is_int8_path(path):
        require_accepted_int8(path)
    return path


def merge_class_names(
    model_names: dict[int, str] | None, override: dict[int, str] | None, fallback: dict[int, str]
) -> dict[int, str]:
    """The model's own names, with `override` replacing per id; `fallback` when the model names none."""
    names = dict(model_names) if model_names else dict(fallback)
    if override:
        names.update(override)
    return names


def label_table(names: dict[int, str], num_classes: int) -> np.ndarray[Any, np.dtype[np.str_]]:
    """class id -> label lookup array (ids without a name are labelled by their number)."""
    size = max(num_classes, max(names, default=-1) + 1)
    return np.array([names.get(i, str(i)) for i in range(size)], dtype=np.str_)


def _parse_names(raw: Any) -> dict[int, str] | None:
    if isinstance(raw, str):
        try:
            raw = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            return None
    if isinstance(raw, dict):
        try:
            return {int(k): str(v) for k, v in raw.items()}
        except (TypeError, ValueError):
            return None
    return None


def _names_from_sidecar(model_file: Path) -> dict[int, str] | None:
    sidecar = model_file.with_suffix(".json")
    if not sidecar.is_file():
        return None
    try:
        meta = json.loads(sidecar.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        logger.warning("ignoring unreadable model metadata %s: %s", sidecar, exc)
        return None
    return _parse_names(meta.get("class_names")) if isinstance(meta, dict) else None


class OnnxYoloDetector:
    """Letterbox -> ONNX Runtime -> confidence filter + class-aware NMS -> boxes in frame pixels.

    A model exported with a dynamic batch axis runs `detect_batch` as one inference call.
    """

    def __init__(self, config: OnnxYoloConfig, base_dir: Path) -> None:
        self._load(config, resolve_onnx_model(config, base_dir))

    @classmethod
    def unchecked(cls, config: OnnxYoloConfig, path: Path) -> OnnxYoloDetector:
        """Load `path` as it is, skipping the INT8 accuracy gate: for the export's own accuracy check."""
        detector = cls.__new__(cls)
        detector._load(config, path)
        return detector

    def _load(self, config: OnnxYoloConfig, path: Path) -> None:
        import onnxruntime as ort

        self._config = config
        options = ort.SessionOptions()
        options.intra_op_num_threads = config.intra_op_threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        options.add_session_config_entry(
            "session.intra_op.allow_spinning", "1" if config.intra_op_spinning else "0"
        )
        missing = [p for p in config.providers if p not in ort.get_available_providers()]
        if missing:
            raise DetectorError(
                f"ONNX Runtime execution provider(s) {missing} not available here "
                f"(available: {ort.get_available_providers()})"
            )
        try:
            self._session = ort.InferenceSession(str(path), options, providers=config.providers)
        except Exception as exc:  # onnxruntime raises its own untyped errors for bad files
            raise DetectorError(f"cannot load ONNX model {path}: {one_line(exc)}") from exc
        inputs, outputs = self._session.get_inputs(), self._session.get_outputs()
        if len(inputs) != 1 or len(outputs) < 1:
            raise DetectorError(
                f"{path}: expected 1 input and >= 1 output, got {len(inputs)} and {len(outputs)}"
            )
        if inputs[0].type != "tensor(float)":
            raise DetectorError(f"{path}: input is {inputs[0].type}; export a float32 model (no half)")
        self._input_name: str = inputs[0].name
        self._output_name: str = outputs[0].name
        self._input_hw = self._pick_input_hw(path, inputs[0].shape, config.input_hw)
        batch_dim = inputs[0].shape[0]
        self._dynamic_batch = not (isinstance(batch_dim, int) and batch_dim > 0)
        if not self._dynamic_batch and batch_dim != 1:
            raise DetectorError(
                f"{path}: input batch is fixed at {batch_dim}; export with batch 1 or dynamic"
            )
        self._batch_tensor: FloatArray = np.zeros((0, 3, *self._input_hw), dtype=np.float32)
        num_classes = self._num_classes(path, outputs[0].shape)

        meta = self._session.get_modelmeta().custom_metadata_map
        model_names = _parse_names(meta.get("names")) or _names_from_sidecar(path)
        override = config.class_names if "class_names" in config.model_fields_set else None
        self._names = merge_class_names(model_names, override, config.class_names)
        self._labels = label_table(self._names, num_classes)
        self._letterboxer = Letterboxer(self._input_hw)
        self._model = ModelInfo(config.model_name, config.model_version)
        self._path = path
        logger.info(
            "ONNX detector %s: input_hw=%s batch=%s classes=%s threads=%d",
            path.name,
            self._input_hw,
            "dynamic" if self._dynamic_batch else 1,
            self._names,
            config.intra_op_threads,
        )

    @staticmethod
    def _pick_input_hw(path: Path, shape: list[Any], configured: tuple[int, int] | None) -> tuple[int, int]:
        if len(shape) != 4:
            raise DetectorError(f"{path}: expected an NCHW image input, got shape {shape}")
        model_hw = (shape[2], shape[3])
        fixed = all(isinstance(d, int) and d > 0 for d in model_hw)
        if configured is None:
            if not fixed:
                raise DetectorError(f"{path}: input size is dynamic {model_hw}; set detector.input_hw")
            return int(model_hw[0]), int(model_hw[1])
        if fixed and tuple(model_hw) != tuple(configured):
            raise DetectorError(
                f"{path}: detector.input_hw={configured} but the model's input is fixed at {model_hw}"
            )
        return configured

    @staticmethod
    def _num_classes(path: Path, shape: list[Any]) -> int:
        rows = shape[1] if len(shape) == 3 else None
        if not isinstance(rows, int) or rows < 5:
            raise DetectorError(
                f"{path}: unsupported output shape {shape}; expected 1 x (4 + classes) x N "
                "(an ultralytics detect export without nms/end2end)"
            )
        return rows - 4

    @property
    def model(self) -> ModelInfo:
        return self._model

    @property
    def class_names(self) -> dict[int, str]:
        return dict(self._names)

    @property
    def input_hw(self) -> tuple[int, int]:
        return self._input_hw

    @property
    def model_file(self) -> Path:
        """The ONNX file loaded (the INT8 sibling with precision: int8)."""
        return self._path

    @property
    def batch_dynamic(self) -> bool:
        """True when one inference call takes several frames (the model has a dynamic batch axis)."""
        return self._dynamic_batch

    def detect(self, frame_bgr: FrameBGR) -> sv.Detections:
        try:
            params = self._letterboxer(frame_bgr)
        except ValueError as exc:
            raise DetectorError(str(exc)) from exc
        (raw,) = self._session.run([self._output_name], {self._input_name: self._letterboxer.tensor})
        return self._to_detections(raw[0], params)

    def detect_batch(self, frames_bgr: Sequence[FrameBGR]) -> list[sv.Detections]:
        """`detect` on each frame, in one inference call when the model's batch axis is dynamic.

        Frames may differ in size (each is letterboxed on its own); results come in the frames' order.
        """
        if len(frames_bgr) <= 1 or not self._dynamic_batch:
            return [self.detect(frame) for frame in frames_bgr]
        n = len(frames_bgr)
        if self._batch_tensor.shape[0] < n:
            self._batch_tensor = np.zeros((n, 3, *self._input_hw), dtype=np.float32)
        batch = self._batch_tensor[:n]
        try:
            params = [self._letterboxer.into(f, batch[i : i + 1]) for i, f in enumerate(frames_bgr)]
        except ValueError as exc:
            raise DetectorError(str(exc)) from exc
        (raw,) = self._session.run([self._output_name], {self._input_name: batch})
        return [self._to_detections(raw[i], p) for i, p in enumerate(params)]

    def _to_detections(self, raw: FloatArray, params: Letterbox) -> sv.Detections:
        xyxy, confidence, class_id = decode_yolo_output(
            raw, self._config.confidence, self._config.iou, self._config.max_detections
        )
        return sv.Detections(
            xyxy=unletterbox_xyxy(xyxy, params),
            confidence=confidence,
            class_id=class_id.astype(int),
            data={"label": self._labels[class_id]},
        )
