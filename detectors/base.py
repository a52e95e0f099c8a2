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


def box_iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two (x1, y1, x2, y2) boxes; 0 when they do not overlap."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


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
