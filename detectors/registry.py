"""Select a detector backend by its config's `type` field."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field

from detectors.base import Detector
from detectors.onnx_yolo import OnnxYoloConfig
from detectors.ultralytics_yolo import UltralyticsConfig

DetectorConfig = Annotated[OnnxYoloConfig | UltralyticsConfig, Field(discriminator="type")]


def build_detector(config: OnnxYoloConfig | UltralyticsConfig, base_dir: Path) -> Detector:
    """Build the configured backend; relative model paths resolve against `base_dir` (the data folder)."""
    if isinstance(config, OnnxYoloConfig):
        from detectors.onnx_yolo import OnnxYoloDetector

        return OnnxYoloDetector(config, base_dir)
    from detectors.ultralytics_yolo import UltralyticsDetector

    return UltralyticsDetector(config, base_dir)
