"""What the abandoned- and removed-object rules share: one static-object detector per rule, and a
region reported once (by when it began and where it is)."""

from __future__ import annotations

import numpy as np

from detectors.base import Detections
from detectors.static_objects import StaticObjectDetector, StaticObjectsConfig, StaticRegion
from pipelines.analytics.base import FrameContext

XYXY = tuple[float, float, float, float]


class StaticRegions:
    def __init__(self, config: StaticObjectsConfig) -> None:
        self._detector = StaticObjectDetector(config)
        self._reported: set[tuple[int, int, int]] = set()

    def new_regions(self, ctx: FrameContext, kind: str) -> list[StaticRegion]:
        """Regions of `kind` reported for the first time on this frame."""
        if ctx.frame is None:
            return []
        fresh = []
        for region in self._detector.update(ctx.frame(), ctx.ts_ms).regions:
            if region.kind != kind or not region.visible:
                continue
            x1, y1, x2, y2 = region.xyxy
            key = (region.first_seen_ts_ms, round((x1 + x2) / 40), round((y1 + y2) / 40))
            if key not in self._reported:
                self._reported.add(key)
                fresh.append(region)
        if len(self._reported) > 10_000:
            self._reported.clear()
        return fresh


def near(detections: Detections, labels: list[str], xyxy: XYXY, radius_px: float) -> bool:
    """Whether a detection labelled one of `labels` has its box within `radius_px` of the box `xyxy`."""
    if len(detections) == 0:
        return False
    names = detections.data.get("label")
    mask = np.isin(names, labels) if names is not None else np.zeros(len(detections), bool)
    if not mask.any():
        return False
    boxes = detections.xyxy[mask]
    x1, y1, x2, y2 = xyxy
    dx = np.maximum(0.0, np.maximum(boxes[:, 0] - x2, x1 - boxes[:, 2]))
    dy = np.maximum(0.0, np.maximum(boxes[:, 1] - y2, y1 - boxes[:, 3]))
    return bool((np.hypot(dx, dy) <= radius_px).any())
