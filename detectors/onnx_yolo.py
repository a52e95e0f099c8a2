"""YOLO (ultralytics export) on ONNX Runtime: the default CPU people detector."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class OnnxYoloConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["onnx"] = "onnx"
    model_path: Path = Field(description="ONNX file exported by ultralytics; relative paths are under the data folder")
    input_hw: tuple[int, int] | None = Field(
        default=None, description="network input (height, width); None = read from the model (must be fixed)"
    )
    confidence: float = Field(default=0.25, gt=0, le=1)
    iou: float = Field(default=0.45, gt=0, le=1, description="NMS IoU threshold")
    class_names: dict[int, str] = Field(default_factory=lambda: {0: "person"})
    intra_op_threads: int = Field(default=2, ge=1, description="ONNX Runtime intra-op threads")
    model_name: str = "yolov8s-people"
    model_version: str = "1"
