"""Evidence snapshots: the frame with the finding's box drawn, JPEG, SHA-256 recorded in the event."""

from __future__ import annotations

import hashlib
import logging
import os
import uuid
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np

from detectors.base import FrameBGR
from events.schema import Snapshot
from pipelines.config import SnapshotConfig

logger = logging.getLogger(__name__)

_BOX_BGR = (0, 0, 255)


class EvidenceError(RuntimeError):
    """A snapshot could not be encoded or written (disk full, permissions)."""


class SnapshotWriter:
    """Writes `snapshots/<camera_id>/<YYYY-MM-DD>/<event_id>.jpg` under the data folder, atomically."""

    def __init__(self, data_dir: Path, config: SnapshotConfig) -> None:
        self._data_dir = data_dir
        self._config = config

    @property
    def enabled(self) -> bool:
        return self._config.enabled

    def write(
        self,
        frame_bgr: FrameBGR,
        *,
        camera_id: str,
        event_id: uuid.UUID,
        ts_ms: int,
        xyxy: tuple[float, float, float, float],
        caption: str,
    ) -> Snapshot:
        image = self._render(frame_bgr, xyxy, caption)
        ok, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, self._config.jpeg_quality])
        if not ok:
            raise EvidenceError(f"could not encode snapshot for event {event_id}")
        data = jpeg.tobytes()
        day = datetime.fromtimestamp(ts_ms / 1000, tz=UTC).strftime("%Y-%m-%d")
        rel = Path("snapshots") / camera_id / day / f"{event_id}.jpg"
        path = self._data_dir / rel
        tmp = path.with_suffix(".jpg.tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_bytes(data)
            os.replace(tmp, path)
        except OSError as exc:
            raise EvidenceError(f"cannot write snapshot {path}: {exc.strerror or exc}") from exc
        return Snapshot(uri=rel.as_posix(), sha256=hashlib.sha256(data).hexdigest())

    def _render(self, frame_bgr: FrameBGR, xyxy: tuple[float, float, float, float], caption: str) -> FrameBGR:
        h, w = frame_bgr.shape[:2]
        scale = min(1.0, self._config.max_width_px / w)
        image = frame_bgr if scale == 1.0 else cv2.resize(frame_bgr, (round(w * scale), round(h * scale)))
        image = np.array(image, dtype=np.uint8, copy=True, order="C")
        x1, y1, x2, y2 = (round(v * scale) for v in xyxy)
        cv2.rectangle(image, (x1, y1), (x2, y2), _BOX_BGR, 2)
        cv2.putText(
            image, caption, (x1, max(12, y1 - 4)), cv2.FONT_HERSHEY_SIMPLEX, 0.45, _BOX_BGR, 1, cv2.LINE_AA
        )
        return image
