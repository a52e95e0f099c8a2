"""Evidence snapshots: the frame with the finding's box drawn, JPEG, SHA-256 recorded in the event.

Privacy (per camera, `PrivacyConfig`): before anything is drawn, every face the face finder sees on the
frame (plus the faces the recognition stage found) is blurred, except the one box to reveal (a matched
watchlist face); with `blur_persons` whole people are blurred too. Only where the camera keeps originals
is the unblurred frame written, under `originals/` (same relative path), for audited unmasking.
"""

from __future__ import annotations

import hashlib
import logging
import os
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np

from detectors.base import FrameBGR, box_iou
from events.schema import Snapshot
from pipelines.config import PrivacyConfig, SnapshotConfig

logger = logging.getLogger(__name__)

_BOX_BGR = (0, 0, 255)
XYXY_PX = tuple[int, int, int, int]
#: Finds faces on a whole frame (pixels); the privacy blur's detector.
FaceFinder = Callable[[FrameBGR], list[XYXY_PX]]
_REVEAL_IOU = 0.3  # a found face overlapping the revealed box this much is the revealed face


class EvidenceError(RuntimeError):
    """A snapshot could not be encoded or written (disk full, permissions)."""


class SnapshotWriter:
    """Writes `snapshots/<camera_id>/<YYYY-MM-DD>/<event_id>.jpg` under the data folder, atomically."""

    def __init__(self, data_dir: Path, config: SnapshotConfig, face_finder: FaceFinder | None = None) -> None:
        self._data_dir = data_dir
        self._config = config
        self._face_finder = face_finder
        # the last frame searched and its faces (holding the frame keeps `is` from matching a newer one)
        self._last_faces: tuple[FrameBGR, list[XYXY_PX]] | None = None

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
        privacy: PrivacyConfig | None = None,
        reveal_xyxy: XYXY_PX | None = None,
        face_hints: Sequence[XYXY_PX] = (),
        person_boxes: Sequence[tuple[float, float, float, float]] = (),
    ) -> Snapshot:
        """Writes the snapshot (blurred as `privacy` says; no policy = nothing blurred) and, where the
        policy keeps originals, the unblurred one."""
        day = datetime.fromtimestamp(ts_ms / 1000, tz=UTC).strftime("%Y-%m-%d")
        name = Path(camera_id) / day / f"{event_id}.jpg"
        shown = frame_bgr
        original_sha256: str | None = None
        if privacy is not None and (privacy.blur_faces or privacy.blur_persons):
            shown = self.blurred(frame_bgr, privacy, reveal_xyxy, face_hints, person_boxes)
            if privacy.keep_original:
                original = self._render(frame_bgr, xyxy, caption)
                original_sha256 = hashlib.sha256(
                    self._write_jpeg(Path("originals") / name, original, event_id)
                ).hexdigest()
        data = self._write_jpeg(Path("snapshots") / name, self._render(shown, xyxy, caption), event_id)
        return Snapshot(
            uri=(Path("snapshots") / name).as_posix(),
            sha256=hashlib.sha256(data).hexdigest(),
            original_sha256=original_sha256,
        )

    def blurred(
        self,
        frame_bgr: FrameBGR,
        privacy: PrivacyConfig,
        reveal_xyxy: XYXY_PX | None,
        face_hints: Sequence[XYXY_PX] = (),
        person_boxes: Sequence[tuple[float, float, float, float]] = (),
    ) -> FrameBGR:
        """A copy of the frame with faces (and, by policy, people) blurred except the revealed face."""
        boxes: list[tuple[float, float, float, float]] = []
        if privacy.blur_faces:
            found = list(face_hints) + self._faces_of(frame_bgr)
            boxes += [tuple(map(float, b)) for b in found if not _same_face(b, reveal_xyxy)]  # type: ignore[misc]
        if privacy.blur_persons:
            boxes += [b for b in person_boxes if reveal_xyxy is None or not _contains(b, reveal_xyxy)]
        image = np.array(frame_bgr, dtype=np.uint8, copy=True, order="C")
        for box in boxes:
            blur_region(image, box)
        return image

    def _faces_of(self, frame_bgr: FrameBGR) -> list[XYXY_PX]:
        """The face finder's faces on the frame, found once for all the events of one frame."""
        if self._face_finder is None:
            return []
        if self._last_faces is not None and self._last_faces[0] is frame_bgr:
            return self._last_faces[1]
        faces = self._face_finder(frame_bgr)
        self._last_faces = (frame_bgr, faces)
        return faces

    def _write_jpeg(self, rel: Path, image: FrameBGR, event_id: uuid.UUID) -> bytes:
        ok, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, self._config.jpeg_quality])
        if not ok:
            raise EvidenceError(f"could not encode snapshot for event {event_id}")
        data: bytes = jpeg.tobytes()
        path = self._data_dir / rel
        tmp = path.with_suffix(".jpg.tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_bytes(data)
            os.replace(tmp, path)
        except OSError as exc:
            raise EvidenceError(f"cannot write snapshot {path}: {exc.strerror or exc}") from exc
        return data

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


def blur_region(image: FrameBGR, xyxy: tuple[float, float, float, float], pad: float = 0.2) -> None:
    """Pixelates then blurs the box (grown by `pad` of its size) in place: not reversible, no detector
    finds a face in it."""
    h, w = image.shape[:2]
    x1, y1, x2, y2 = xyxy
    px, py = pad * (x2 - x1), pad * (y2 - y1)
    a, b = max(0, int(x1 - px)), max(0, int(y1 - py))
    c, d = min(w, round(x2 + px)), min(h, round(y2 + py))
    if c - a < 2 or d - b < 2:
        return
    region = image[b:d, a:c]
    small = cv2.resize(region, (max(1, (c - a) // 12), max(1, (d - b) // 12)), interpolation=cv2.INTER_AREA)
    coarse = cv2.resize(small, (c - a, d - b), interpolation=cv2.INTER_NEAREST)
    k = max(3, ((min(c - a, d - b) // 4) | 1))
    image[b:d, a:c] = cv2.GaussianBlur(coarse, (k, k), 0)


def _same_face(box: Sequence[float], reveal: XYXY_PX | None) -> bool:
    return reveal is not None and box_iou(box, reveal) >= _REVEAL_IOU


def _contains(outer: Sequence[float], inner: Sequence[float]) -> bool:
    cx, cy = (inner[0] + inner[2]) / 2, (inner[1] + inner[3]) / 2
    return outer[0] <= cx <= outer[2] and outer[1] <= cy <= outer[3]
