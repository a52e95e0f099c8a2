"""Licence plates: PP-OCRv4 text detection + recognition (rapidocr_onnxruntime), format-checked reads.

The OCR models (PP-OCRv4 det + rec, Chinese and Latin) ship inside the rapidocr_onnxruntime wheel;
nothing is downloaded. Detection runs with the image's longer side limited to `det_limit_side_len`
(640 px; rapidocr's default "min 736" makes a 720p frame cost ~1 s). Every OCR line is checked with
`detectors.plate_format.parse_plate`. A suspect line (it fits no format, or fits one not issued in the
colour its pixels show) that looks like a plate (4-12 characters, a province character or 3+ digits)
is recognised again, without detection, from crops widened by `reread_extend` (the detector often cuts
off a red 警/使/领 or WJ); failing that, one junk character at either end is dropped (a plate frame's
stroke). Lines that fit nothing alone are joined with their same-row neighbours (the separator dot
split them), then with the taller row under them (two-row plates). Whatever still fits no format is
dropped: a read is a valid plate or nothing. Several reads of one place: the most confident stays.

Colour: the pixels of the plate region (text box grown by `colour_margin`) vote in HSV for blue,
yellow, green, white, black; a format issued in known colours picks the one of those with most votes
(an ordinary plate is blue or yellow), an extra pattern's read takes the overall winner.
Confidence: the OCR score (mean character probability) x `fix_penalty` per confusion fix, x
`colour_mismatch_penalty` when the colour seen is not one the format is issued in (a misread special
character: a black 领 plate read as an ordinary one) and no wider re-read fixed it.

Measured with bench/codes.py on this machine (2 CPU cores shared with other jobs, load 1.7-3.8), the 64
rendered plates of tests/plate_render.py: whole 768 x 576 frame 100.0 % exact, p50 347 ms (p95 501);
vehicle-sized region 93.8 %, p50 155 ms (red 警 misread, W read as N); rapidocr's recogniser alone on
the plate's box 90.6 %, p50 34 ms. HyperLPR3 was not measured: its wheel holds no models and fetches
them from its author's server on first use (offline: impossible); HyperLPR2 ships models but needs
cv2.CascadeClassifier, gone from OpenCV 5.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from detectors.base import DetectorError, FrameBGR, box_iou
from detectors.plate_format import (
    PROVINCES,
    PlateColour,
    PlateText,
    compile_pattern,
    normalise_plate,
    parse_plate,
)
from detectors.plate_lines import XYXY, TextLine, join, join_rows, plate_colour, row_below, shift

logger = logging.getLogger(__name__)


class PlateReaderConfig(BaseModel):
    """How plates are found and read."""

    model_config = ConfigDict(extra="forbid")

    det_limit_side_len: int = Field(default=640, ge=32, le=4096, description="OCR detection input size (px)")
    det_limit_type: Literal["max", "min"] = Field(
        default="max", description="max: the longer side is limited to det_limit_side_len (fast)"
    )
    min_ocr_score: float = Field(default=0.5, ge=0.0, le=1.0, description="OCR lines below are ignored")
    fix_penalty: float = Field(
        default=0.9, gt=0.0, le=1.0, description="confidence factor per confusion fix applied"
    )
    colour_mismatch_penalty: float = Field(
        default=0.5,
        gt=0.0,
        le=1.0,
        description="confidence factor when the plate's colour fits not its format",
    )
    colour_margin: float = Field(
        default=0.15, ge=0.0, le=1.0, description="text box grown by this share of its height for colour"
    )
    reread_extend: tuple[Annotated[float, Field(ge=0.0, le=5.0)], ...] = Field(
        default=(0.5, 1.0),
        description="a suspect line (no format, or one not issued in the colour seen) is recognised again "
        "from its box widened on each side by these multiples of its height, in turn",
    )
    max_rereads: int = Field(default=6, ge=0, le=100, description="re-read lines per image, at most")
    intra_op_threads: int = Field(
        default=-1, ge=-1, le=64, description="ONNX Runtime threads (-1: its default)"
    )
    extra_patterns: dict[str, str] = Field(
        default_factory=dict, description="other plate formats: name -> regex on the normalised text"
    )

    @field_validator("extra_patterns")
    @classmethod
    def _patterns_compile(cls, value: dict[str, str]) -> dict[str, str]:
        for name, regex in value.items():
            compile_pattern(name, regex)
        return value


@dataclass(frozen=True, slots=True)
class PlateRead:
    text: str  # canonical (parse_plate), e.g. 京A12345
    raw_text: str  # what the OCR read, e.g. 京A·I2345
    format: str
    colour: PlateColour | None
    confidence: float
    xyxy: XYXY  # in the pixels of the image given to `read`
    fixes: tuple[str, ...] = ()


class PlateReader:
    """rapidocr over a frame or a region of it. Not thread-safe: one per worker thread."""

    def __init__(self, config: PlateReaderConfig | None = None) -> None:
        self.config = config or PlateReaderConfig()
        self._patterns = tuple(compile_pattern(n, r) for n, r in self.config.extra_patterns.items())
        try:
            from rapidocr_onnxruntime import RapidOCR  # type: ignore[import-untyped]

            self._ocr: Any = RapidOCR(
                det_limit_side_len=self.config.det_limit_side_len,
                det_limit_type=self.config.det_limit_type,
                text_score=self.config.min_ocr_score,
                intra_op_num_threads=self.config.intra_op_threads,
                use_cls=False,
            )
        except Exception as e:
            raise DetectorError(f"cannot load the plate OCR (rapidocr_onnxruntime): {e}") from e

    def read(self, image_bgr: FrameBGR, roi_xyxy: XYXY | None = None) -> list[PlateRead]:
        """Valid plates in `image_bgr` (or in its region `roi_xyxy`), most confident first."""
        if image_bgr.ndim != 3 or image_bgr.shape[2] != 3 or image_bgr.dtype != np.uint8:
            raise ValueError(
                f"expected an H x W x 3 uint8 BGR image, got {image_bgr.shape} {image_bgr.dtype}"
            )
        x0, y0 = 0, 0
        crop = image_bgr
        if roi_xyxy is not None:
            height, width = image_bgr.shape[:2]
            x0, y0 = max(0, int(roi_xyxy[0])), max(0, int(roi_xyxy[1]))
            x1, y1 = min(width, int(roi_xyxy[2])), min(height, int(roi_xyxy[3]))
            if x1 - x0 < 8 or y1 - y0 < 8:
                return []
            crop = np.ascontiguousarray(image_bgr[y0:y1, x0:x1])
        try:
            result, _ = self._ocr(crop, use_cls=False)
        except Exception as e:
            raise DetectorError(f"plate OCR failed: {e}") from e
        lines = [TextLine(np.asarray(q, np.float64), str(t), float(s)) for q, t, s in result or ()]
        reads = [self._to_read(crop, line, plate) for line, plate in self._plates(crop, lines)]
        reads.sort(key=lambda r: -r.confidence)
        kept: list[PlateRead] = []
        for r in reads:  # one read per place: the most confident
            if all(box_iou(r.xyxy, k.xyxy) < 0.3 for k in kept):
                kept.append(r)
        return [
            PlateRead(r.text, r.raw_text, r.format, r.colour, r.confidence, shift(r.xyxy, x0, y0), r.fixes)
            for r in kept
        ]

    def _parse(self, raw: str, trim: bool = False) -> PlateText | None:
        """`raw` as a plate; with `trim`, also without one character at either end."""
        plate = parse_plate(raw, self._patterns)
        if plate is not None or not trim:
            return plate
        text = normalise_plate(raw)
        for trimmed in (text[1:], text[:-1], text[1:-1]):
            plate = parse_plate(trimmed) if len(trimmed) >= 6 else None
            if plate is not None:
                return plate
        return None

    def _reread(
        self, image: FrameBGR, line: TextLine, colour: PlateColour | None
    ) -> tuple[TextLine, PlateText] | None:
        """`line` recognised again from wider crops (no detection): the first read that fits a format
        issued in `colour` (when known)."""
        x1, y1, x2, y2 = line.box
        h = y2 - y1
        height, width = image.shape[:2]
        for extend in self.config.reread_extend:
            box = (
                max(0, int(x1 - extend * h)),
                max(0, int(y1 - h / 6)),
                min(width, int(x2 + extend * h) + 1),
                min(height, int(y2 + h / 6) + 1),
            )
            crop = np.ascontiguousarray(image[box[1] : box[3], box[0] : box[2]])
            try:
                result, _ = self._ocr(crop, use_det=False, use_cls=False)
            except Exception as e:
                raise DetectorError(f"plate OCR failed: {e}") from e
            for text, score in result or ():
                plate = self._parse(str(text)) if float(score) >= self.config.min_ocr_score else None
                if plate is not None and _colour_fits(plate, colour):
                    quad = np.array([box[:2], (box[2], box[1]), box[2:], (box[0], box[3])], np.float64)
                    return TextLine(quad, str(text), float(score)), plate
        return None

    def _plates(self, image: FrameBGR, lines: list[TextLine]) -> list[tuple[TextLine, PlateText]]:
        """Lines that read as plates: alone, re-read wider when they fit no format or a format not issued
        in the colour seen (a red 领 read as 4 makes an ordinary plate of a black one), trimmed, or with
        a neighbour."""
        found: list[tuple[TextLine, PlateText]] = []
        left: list[TextLine] = []
        rereads = 0
        for detected in lines:
            line, plate = detected, self._parse(detected.text)
            colour = plate_colour(image, line.xyxy, (), self.config.colour_margin)
            suspect = plate is None or not _colour_fits(plate, colour)
            if suspect and rereads < self.config.max_rereads and _plate_like(line.text):
                rereads += 1
                again = self._reread(image, line, colour)
                if again is not None:
                    line, plate = again
            plate = plate or self._parse(line.text, trim=True)
            if plate is not None:
                found.append((line, plate))
            else:
                left.append(line)
        rows = join_rows(left)
        pending: list[TextLine] = []
        for row in rows:
            plate = self._parse(row.text, trim=True)  # (a line alone has failed this already: cheap)
            if plate is not None:
                found.append((row, plate))
            else:
                pending.append(row)
        for upper in pending:  # two-row plates: province and letter above the rest
            lower = next((b for b in pending if row_below(upper, b)), None)
            plate = self._parse(upper.text + lower.text) if lower is not None else None
            if lower is not None and plate is not None:
                found.append((join(upper, lower), plate))
        return found

    def _to_read(self, image: FrameBGR, line: TextLine, plate: PlateText) -> PlateRead:
        height, width = image.shape[:2]
        x1, y1, x2, y2 = line.box
        xyxy = (max(0, int(x1)), max(0, int(y1)), min(width, int(np.ceil(x2))), min(height, int(np.ceil(y2))))
        score = line.score
        score *= self.config.fix_penalty ** len(plate.fixes)
        if not _colour_fits(plate, plate_colour(image, xyxy, (), self.config.colour_margin)):
            score *= self.config.colour_mismatch_penalty
        confidence = float(np.clip(score, 0.0, 1.0))
        colour = plate_colour(image, xyxy, plate.colours, self.config.colour_margin)
        return PlateRead(plate.text, line.text, plate.format, colour, confidence, xyxy, plate.fixes)


def _plate_like(raw: str) -> bool:
    """Worth a second look: 4-12 characters with a province/series character or at least 3 digits."""
    text = normalise_plate(raw)
    digits = sum(ch.isascii() and ch.isdigit() for ch in text)
    return 4 <= len(text) <= 12 and (digits >= 3 or any(ch in PROVINCES or ch == "使" for ch in text))


def _colour_fits(plate: PlateText, colour: PlateColour | None) -> bool:
    return colour is None or not plate.colours or colour in plate.colours
