"""What every detector backend shares: the `Detections` type, the `Detector` protocol, model identity.

`Detections` is supervision's validated numpy container (`xyxy` pixels, `confidence`, `class_id`,
optional `tracker_id`, `data`); every backend converts into it, every rule consumes it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt
import supervision as sv

Detections = sv.Detections

#: A decoded frame: H x W x 3, uint8, BGR.
FrameBGR = npt.NDArray[np.uint8]


class DetectorError(RuntimeError):
    """A detector could not be built or run (missing weights, bad model file, ...): a user-facing cause."""


@dataclass(frozen=True, slots=True)
class ModelInfo:
    name: str
    version: str


@runtime_checkable
class Detector(Protocol):
    """Finds objects in one BGR frame. Thread-compatible, not thread-safe: one instance per worker."""

    @property
    def model(self) -> ModelInfo: ...

    @property
    def class_names(self) -> dict[int, str]: ...

    def detect(self, frame_bgr: FrameBGR) -> Detections:
        """Returns detections in the frame's pixel coordinates, `data['label']` holding class names."""
        ...

    def detect_batch(self, frames_bgr: Sequence[FrameBGR]) -> list[Detections]:
        """`detect` on each frame, in the frames' order; one inference call where the backend batches
        (ONNX with a dynamic batch axis, ultralytics' predict on a list), else a loop."""
        ...
