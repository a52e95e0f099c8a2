"""Geometry and colour of plate text lines for detectors.plates: joining OCR lines into plates, the
plate background's colour. Pure numpy / OpenCV, no models.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from detectors.base import FrameBGR
from detectors.plate_format import PLATE_COLOURS, PlateColour

XYXY = tuple[int, int, int, int]


@dataclass(frozen=True, slots=True)
class TextLine:
    """One OCR line: its quadrilateral in image pixels, text and score (0..1)."""

    quad: np.ndarray  # 4 x 2, float
    text: str
    score: float

    @property
    def box(self) -> tuple[float, float, float, float]:
        (x1, y1), (x2, y2) = self.quad.min(axis=0), self.quad.max(axis=0)
        return float(x1), float(y1), float(x2), float(y2)

    @property
    def xyxy(self) -> XYXY:
        x1, y1, x2, y2 = self.box
        return int(x1), int(y1), int(x2), int(y2)


def plate_colour(
    image: FrameBGR, xyxy: XYXY, allowed: tuple[PlateColour, ...] = (), margin: float = 0.15
) -> PlateColour | None:
    """The plate background's colour by an HSV pixel vote over `xyxy` grown by `margin` x its height;
    restricted to `allowed` when given; None when no pixel votes for any colour."""
    x1, y1, x2, y2 = xyxy
    grow = round((y2 - y1) * margin)
    height, width = image.shape[:2]
    region = image[
        max(0, y1 - grow) : min(height, y2 + grow), max(0, x1 - grow // 2) : min(width, x2 + grow // 2)
    ]
    if region.size == 0:
        return None
    hsv = cv2.cvtColor(region, cv2.COLOR_BGR2HSV).reshape(-1, 3).astype(np.int32)
    hue, sat, val = hsv[:, 0], hsv[:, 1], hsv[:, 2]
    chromatic = (sat >= 60) & (val >= 60)
    votes = {
        "blue": int(np.count_nonzero(chromatic & (hue >= 95) & (hue <= 130))),
        "yellow": int(np.count_nonzero(chromatic & (hue >= 12) & (hue <= 34))),
        "green": int(np.count_nonzero((sat >= 35) & (val >= 60) & (hue >= 35) & (hue <= 90))),
        "white": int(np.count_nonzero((sat < 50) & (val >= 110))),
        "black": int(np.count_nonzero(val < 70)),
    }
    candidates = [c for c in PLATE_COLOURS if not allowed or c in allowed]
    best = max(candidates, key=lambda c: votes[c])
    return best if votes[best] > 0 else None


def join(a: TextLine, b: TextLine) -> TextLine:
    """One line of two: texts in order, the boxes' union, the score weighted by characters."""
    x1, y1 = np.minimum(a.quad.min(axis=0), b.quad.min(axis=0))
    x2, y2 = np.maximum(a.quad.max(axis=0), b.quad.max(axis=0))
    quad = np.array([(x1, y1), (x2, y1), (x2, y2), (x1, y2)], np.float64)
    score = (a.score * len(a.text) + b.score * len(b.text)) / max(1, len(a.text) + len(b.text))
    return TextLine(quad, a.text + b.text, score)


def same_row(a: TextLine, b: TextLine) -> bool:
    """b continues a on its right, on the same row (the separator dot split them)."""
    ax1, ay1, ax2, ay2 = a.box
    bx1, by1, _, by2 = b.box
    h = max(ay2 - ay1, by2 - by1)
    row_overlap = min(ay2, by2) - max(ay1, by1)
    return row_overlap >= 0.5 * min(ay2 - ay1, by2 - by1) and ax1 + 0.3 * (ax2 - ax1) < bx1 <= ax2 + 1.5 * h


def row_below(a: TextLine, b: TextLine) -> bool:
    """b is the lower, taller row of a two-row plate whose upper row is a."""
    ax1, ay1, ax2, ay2 = a.box
    bx1, by1, bx2, by2 = b.box
    column_overlap = min(ax2, bx2) - max(ax1, bx1)
    return (
        column_overlap > 0
        and by1 >= ay1 + 0.5 * (ay2 - ay1)
        and by1 - ay2 <= 0.6 * (by2 - by1)
        and ay2 - ay1 < by2 - by1
    )


def join_rows(lines: list[TextLine]) -> list[TextLine]:
    """Lines joined with their same-row neighbours, left to right."""
    rows: list[TextLine] = []
    for line in sorted(lines, key=lambda x: x.box[0]):
        at = next((i for i, row in enumerate(rows) if same_row(row, line)), None)
        if at is None:
            rows.append(line)
        else:
            rows[at] = join(rows[at], line)
    return rows


def shift(xyxy: XYXY, dx: int, dy: int) -> XYXY:
    return xyxy[0] + dx, xyxy[1] + dy, xyxy[2] + dx, xyxy[3] + dy
