"""YOLO pre/post-processing in numpy: letterbox, raw-output decoding, class-aware NMS, box mapping.

Matches ultralytics' own maths (LetterBox, non_max_suppression, scale_boxes) so the ONNX backend finds
the same boxes as the torch one. Pure functions plus one reusable, preallocating `Letterboxer`.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

#: Letterbox padding grey, as ultralytics uses.
PAD_VALUE = 114
#: Per-class coordinate offset that keeps boxes of different classes apart in one NMS pass.
_CLASS_OFFSET_PX = 7680.0

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class Letterbox:
    """How a frame of `src_hw` maps into a network input of `dst_hw`: scale, then pad left/top."""

    src_hw: tuple[int, int]
    dst_hw: tuple[int, int]
    scale: float
    resized_hw: tuple[int, int]
    pad_left_px: int
    pad_top_px: int


def letterbox_params(src_hw: tuple[int, int], dst_hw: tuple[int, int]) -> Letterbox:
    """Keep the aspect ratio, fit inside `dst_hw`, centre with padding (ultralytics' rounding)."""
    src_h, src_w = src_hw
    dst_h, dst_w = dst_hw
    if min(src_h, src_w, dst_h, dst_w) <= 0:
        raise ValueError(f"letterbox sizes must be positive: src_hw={src_hw} dst_hw={dst_hw}")
    scale = min(dst_h / src_h, dst_w / src_w)
    resized_w, resized_h = round(src_w * scale), round(src_h * scale)
    pad_left = round((dst_w - resized_w) / 2 - 0.1)
    pad_top = round((dst_h - resized_h) / 2 - 0.1)
    return Letterbox(src_hw, dst_hw, scale, (resized_h, resized_w), pad_left, pad_top)


class Letterboxer:
    """Letterboxes BGR frames into one preallocated NCHW float32 RGB 0..1 tensor (reused every call)."""

    def __init__(self, dst_hw: tuple[int, int]) -> None:
        self._dst_hw = dst_hw
        self._canvas = np.full((*dst_hw, 3), PAD_VALUE, dtype=np.uint8)
        self.tensor: FloatArray = np.zeros((1, 3, *dst_hw), dtype=np.float32)
        self._params: Letterbox | None = None
        self._resized: npt.NDArray[np.uint8] | None = None

    def __call__(self, frame_bgr: npt.NDArray[np.uint8]) -> Letterbox:
        """Fill `self.tensor` from `frame_bgr` (H x W x 3 uint8 BGR); returns the mapping used."""
        if frame_bgr.ndim != 3 or frame_bgr.shape[2] != 3 or frame_bgr.dtype != np.uint8:
            raise ValueError(
                f"expected an H x W x 3 uint8 BGR frame, got {frame_bgr.dtype} {frame_bgr.shape}"
            )
        src_hw = (int(frame_bgr.shape[0]), int(frame_bgr.shape[1]))
        params = self._params
        if params is None or params.src_hw != src_hw:
            params = self._params = letterbox_params(src_hw, self._dst_hw)
            self._canvas.fill(PAD_VALUE)
            self._resized = np.empty((*params.resized_hw, 3), dtype=np.uint8)
        rh, rw = params.resized_hw
        top, left = params.pad_top_px, params.pad_left_px
        if (rh, rw) == src_hw:
            self._canvas[top : top + rh, left : left + rw] = frame_bgr
        else:
            resized = cv2.resize(frame_bgr, (rw, rh), dst=self._resized, interpolation=cv2.INTER_LINEAR)
            self._canvas[top : top + rh, left : left + rw] = resized
        # BGR -> RGB, HWC -> CHW, uint8 -> float32 / 255 in one pass into the preallocated tensor.
        np.multiply(self._canvas[:, :, ::-1].transpose(2, 0, 1), np.float32(1 / 255), out=self.tensor[0])
        return params


def decode_yolo_output(
    output: FloatArray, confidence: float, iou: float, max_detections: int
) -> tuple[FloatArray, FloatArray, IntArray]:
    """Raw YOLOv8-style head output `(4 + nc, N)` (cx, cy, w, h, class scores) -> kept boxes.

    Returns `(xyxy, confidence, class_id)` in network-input pixels, best first, after a confidence
    filter (strictly above `confidence`) and class-aware NMS at `iou`, at most `max_detections`.
    """
    if output.ndim != 2 or output.shape[0] < 5:
        raise ValueError(f"expected a (4 + classes, N) YOLO output, got shape {output.shape}")
    scores_all = output[4:]
    class_id = scores_all.argmax(axis=0)
    scores = scores_all[class_id, np.arange(output.shape[1])]
    keep = np.flatnonzero(scores > confidence)
    if keep.size == 0:
        return np.empty((0, 4), np.float32), np.empty(0, np.float32), np.empty(0, np.int64)
    cxcywh = output[:4, keep].T
    xyxy = np.empty_like(cxcywh)
    half_wh = cxcywh[:, 2:4] / 2
    xyxy[:, :2] = cxcywh[:, :2] - half_wh
    xyxy[:, 2:] = cxcywh[:, :2] + half_wh
    scores_kept = scores[keep].astype(np.float32, copy=False)
    classes_kept = class_id[keep].astype(np.int64, copy=False)
    order = nms_class_aware(xyxy, scores_kept, classes_kept, iou)[:max_detections]
    return xyxy[order].astype(np.float32, copy=False), scores_kept[order], classes_kept[order]


def nms_class_aware(xyxy: FloatArray, scores: FloatArray, class_id: IntArray, iou: float) -> IntArray:
    """Greedy NMS per class (boxes of different classes never suppress each other).

    Returns the kept indices, highest score first; ties keep the lower index (stable, deterministic).
    """
    if len(xyxy) == 0:
        return np.empty(0, np.int64)
    boxes = xyxy.astype(np.float64) + (class_id.astype(np.float64) * _CLASS_OFFSET_PX)[:, None]
    areas = np.maximum(boxes[:, 2] - boxes[:, 0], 0) * np.maximum(boxes[:, 3] - boxes[:, 1], 0)
    order = np.argsort(-scores, kind="stable")
    kept: list[int] = []
    while order.size:
        best = int(order[0])
        kept.append(best)
        rest = order[1:]
        inter_w = np.clip(
            np.minimum(boxes[best, 2], boxes[rest, 2]) - np.maximum(boxes[best, 0], boxes[rest, 0]), 0, None
        )
        inter_h = np.clip(
            np.minimum(boxes[best, 3], boxes[rest, 3]) - np.maximum(boxes[best, 1], boxes[rest, 1]), 0, None
        )
        inter = inter_w * inter_h
        union = areas[best] + areas[rest] - inter
        overlap = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
        order = rest[overlap <= iou]
    return np.asarray(kept, dtype=np.int64)


def unletterbox_xyxy(xyxy: FloatArray, params: Letterbox) -> FloatArray:
    """Network-input boxes -> source-frame pixels, clipped to the frame."""
    out = xyxy.astype(np.float32, copy=True)
    out[:, [0, 2]] -= params.pad_left_px
    out[:, [1, 3]] -= params.pad_top_px
    out /= np.float32(params.scale)
    src_h, src_w = params.src_hw
    out[:, [0, 2]] = np.clip(out[:, [0, 2]], 0, src_w)
    out[:, [1, 3]] = np.clip(out[:, [1, 3]], 0, src_h)
    return out
