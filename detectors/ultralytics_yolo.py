"""ultralytics YOLO (torch) as a selectable backend: any .pt checkpoint a user points at."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

import numpy as np
import supervision as sv
from pydantic import BaseModel, ConfigDict, Field

from detectors.base import DetectorError, FrameBGR, ModelInfo
from detectors.onnx_yolo import label_table, merge_class_names, one_line, resolve_model_path

logger = logging.getLogger(__name__)


class UltralyticsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["ultralytics"] = "ultralytics"
    model_path: Path = Field(description=".pt checkpoint; relative paths are under the data folder")
    imgsz: tuple[int, int] = Field(default=(480, 640), description="inference size (height, width)")
    confidence: float = Field(default=0.25, gt=0, le=1)
    iou: float = Field(default=0.45, gt=0, le=1)
    class_names: dict[int, str] | None = Field(default=None, description="override the checkpoint's names")
    torch_threads: int = Field(default=2, ge=1)
    device: str = Field(default="cpu", description="torch device: cpu, cuda:0, ...")
    half: bool = Field(default=False, description="fp16 inference (GPU devices only)")
    model_name: str = "yolov8s-people"
    model_version: str = "1"
    max_detections: int = Field(default=300, ge=1, description="boxes kept per frame after NMS")


def import_ultralytics(config_dir: Path) -> ModuleType:
    """Import ultralytics offline: no downloads, no auto-installs, settings under `config_dir`.

    The environment must be set before ultralytics' first import in the process (it reads it then).
    """
    os.environ["YOLO_OFFLINE"] = "1"
    os.environ["YOLO_AUTOINSTALL"] = "False"
    os.environ.setdefault("YOLO_CONFIG_DIR", str(config_dir))
    import ultralytics

    return ultralytics


def _set_torch_threads(threads: int) -> None:
    import torch

    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)


class UltralyticsDetector:
    """`YOLO(path).predict` on the BGR frame, converted to `sv.Detections` with `data['label']`."""

    def __init__(self, config: UltralyticsConfig, base_dir: Path) -> None:
        self._config = config
        path = resolve_model_path(config.model_path, base_dir, "ultralytics model")
        ultralytics = import_ultralytics(base_dir / "ultralytics")
        try:
            self._yolo: Any = ultralytics.YOLO(str(path), task="detect")
        except Exception as exc:  # torch/ultralytics raise many types for bad checkpoints
            raise DetectorError(f"cannot load ultralytics model {path}: {one_line(exc)}") from exc
        model_names = {int(k): str(v) for k, v in dict(self._yolo.names).items()}
        self._names = merge_class_names(model_names, config.class_names, {0: "person"})
        self._labels = label_table(self._names, len(model_names))
        self._model = ModelInfo(config.model_name, config.model_version)
        # The first predict builds the predictor, whose select_device() resets torch's thread count to
        # ultralytics' NUM_THREADS (cpu_count - 1); warm up once, then apply ours.
        try:
            self._predict(np.zeros((*config.imgsz, 3), dtype=np.uint8))
        except Exception as exc:  # a checkpoint that loads but cannot run (wrong task, broken graph)
            raise DetectorError(f"ultralytics model {path} cannot run: {one_line(exc)}") from exc
        logger.info(
            "ultralytics detector %s: imgsz=%s classes=%s torch_threads=%d",
            path.name,
            config.imgsz,
            self._names,
            config.torch_threads,
        )

    @property
    def model(self) -> ModelInfo:
        return self._model

    @property
    def class_names(self) -> dict[int, str]:
        return dict(self._names)

    def _predict(self, frame_bgr: FrameBGR) -> Any:
        return self._predict_many([frame_bgr])[0]

    def _predict_many(self, frames_bgr: list[FrameBGR]) -> list[Any]:
        _set_torch_threads(self._config.torch_threads)
        results = self._yolo.predict(
            frames_bgr,
            imgsz=list(self._config.imgsz),
            conf=self._config.confidence,
            iou=self._config.iou,
            max_det=self._config.max_detections,
            device=self._config.device,
            quantize=16 if self._config.half else None,
            verbose=False,
        )
        _set_torch_threads(self._config.torch_threads)
        return list(results)

    def detect(self, frame_bgr: FrameBGR) -> sv.Detections:
        return self.detect_batch([frame_bgr])[0]

    def detect_batch(self, frames_bgr: Sequence[FrameBGR]) -> list[sv.Detections]:
        """One `predict` call on the list (ultralytics batches it on the model's device)."""
        if not frames_bgr:
            return []
        for frame_bgr in frames_bgr:
            if frame_bgr.ndim != 3 or frame_bgr.shape[2] != 3 or frame_bgr.dtype != np.uint8:
                raise DetectorError(
                    f"expected an H x W x 3 uint8 BGR frame, got {frame_bgr.dtype} {frame_bgr.shape}"
                )
        return [self._to_detections(result) for result in self._predict_many(list(frames_bgr))]

    def _to_detections(self, result: Any) -> sv.Detections:
        boxes = result.boxes.cpu()  # results stay on the model's device
        class_id = boxes.cls.numpy().astype(int)
        return sv.Detections(
            xyxy=boxes.xyxy.numpy().astype(np.float32),
            confidence=boxes.conf.numpy().astype(np.float32),
            class_id=class_id,
            data={"label": self._labels[class_id]},
        )
