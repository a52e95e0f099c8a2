"""ultralytics YOLO (torch) as a selectable backend: any .pt checkpoint a user points at."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class UltralyticsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["ultralytics"] = "ultralytics"
    model_path: Path = Field(description=".pt checkpoint; relative paths are under the data folder")
    imgsz: tuple[int, int] = Field(default=(480, 640), description="inference size (height, width)")
    confidence: float = Field(default=0.25, gt=0, le=1)
    iou: float = Field(default=0.45, gt=0, le=1)
    class_names: dict[int, str] | None = Field(default=None, description="override the checkpoint's names")
    torch_threads: int = Field(default=2, ge=1)
    model_name: str = "yolov8s-people"
    model_version: str = "1"
