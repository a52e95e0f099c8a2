"""QR codes and barcodes (zxing-cpp): format, sanitised payload, position. Payloads are never interpreted.

zxing-cpp reads 1-D (EAN/UPC, Code 128/39/93, ...) and 2-D (QR, Micro QR, Data Matrix, PDF417, Aztec)
symbols anywhere in a frame, at any rotation. bench/codes.py on 19 vtest frames with composited QR,
EAN-13 and Code 128 symbols (2-4 px per module, within 8 degrees): zxing-cpp 100 % exact, p50 15 ms per
768 x 576 frame (two binarizer passes); OpenCV 5's QRCodeDetectorAruco + cv2.barcode together 36.8 %
(no Code 128, small or turned symbols missed), p50 12 ms.

Payload text: a symbol whose content zxing-cpp classes as text is decoded as the symbol says (ECI, or
the symbology's default character set); binary content is decoded as UTF-8, each invalid sequence
becoming U+FFFD. `sanitise_payload` then replaces (does not drop, so that an operator sees something
was there) every control character with U+FFFD: C0 (tab and newline included), DEL, C1, lone
surrogates and the bidirectional-text controls (U+061C, U+200E/F, U+202A-U+202E, U+2066-U+2069, which
can make an escaped string display reordered); and cuts the text to `max_chars` characters, saying so.
`payload_bytes` keeps the length of the raw payload. Nothing is fetched, opened or parsed from it.
"""

from __future__ import annotations

import logging
import unicodedata
from dataclasses import dataclass
from typing import Literal

import numpy as np
import zxingcpp
from pydantic import BaseModel, ConfigDict, Field, field_validator

from detectors.base import DetectorError, FrameBGR

logger = logging.getLogger(__name__)

XYXY = tuple[int, int, int, int]
REPLACEMENT = "\ufffd"
_BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")

DEFAULT_FORMATS = (
    "QRCode",
    "MicroQRCode",
    "DataMatrix",
    "PDF417",
    "Aztec",
    "EAN13",
    "EAN8",
    "UPCA",
    "UPCE",
    "Code128",
    "Code39",
    "Code93",
)


class CodeReaderConfig(BaseModel):
    """Which symbologies are read and how payloads are limited."""

    model_config = ConfigDict(extra="forbid")

    formats: tuple[str, ...] = Field(
        default=DEFAULT_FORMATS,
        min_length=1,
        description="zxing-cpp format names (ITF and Codabar are left out: they misfire on textures)",
    )
    max_payload_chars: int = Field(
        default=1024, ge=1, le=1_000_000, description="payload text is cut to this many characters"
    )
    try_rotate: bool = Field(default=True, description="also look for symbols turned 90 / 270 degrees")
    try_downscale: bool = Field(default=True, description="also scan downscaled copies (large symbols)")
    try_invert: bool = Field(default=False, description="also look for light-on-dark symbols (slower)")
    binarizers: tuple[Literal["LocalAverage", "GlobalHistogram", "FixedThreshold"], ...] = Field(
        default=("LocalAverage", "FixedThreshold"),
        min_length=1,
        description="one zxing-cpp pass per binarizer, in turn, each adding the symbols not yet found (a "
        "blurred, turned EAN-13 at 2 px per module needs the fixed threshold)",
    )

    @field_validator("formats")
    @classmethod
    def _known_formats(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for name in value:
            try:
                zxingcpp.barcode_format_from_str(name)
            except ValueError as e:
                raise ValueError(f"unknown code format {name!r}") from e
        return value


@dataclass(frozen=True, slots=True)
class CodeRead:
    format: str  # zxing-cpp's name: QRCode, EAN13, Code128, ...
    text: str  # sanitised, at most max_payload_chars characters
    payload_bytes: int  # length of the raw payload
    truncated: bool
    xyxy: XYXY


def sanitise_payload(raw: bytes | str, max_chars: int) -> tuple[str, bool]:
    """(text, truncated): invalid UTF-8 and control characters become U+FFFD (see the module doc),
    then the text is cut to `max_chars` characters."""
    if max_chars < 1:
        raise ValueError(f"max_chars must be >= 1, got {max_chars}")
    text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
    clean = "".join(
        REPLACEMENT if ch in _BIDI_CONTROLS or unicodedata.category(ch) in ("Cc", "Cs") else ch for ch in text
    )
    return clean[:max_chars], len(clean) > max_chars


class CodeReader:
    """zxing-cpp over whole frames. Stateless between calls; one per worker thread."""

    def __init__(self, config: CodeReaderConfig | None = None) -> None:
        self.config = config or CodeReaderConfig()
        self._formats = zxingcpp.barcode_formats_from_str(",".join(self.config.formats))

    def read(self, image_bgr: FrameBGR) -> list[CodeRead]:
        """Every symbol found in the frame, once each (in the order found)."""
        if image_bgr.ndim not in (2, 3) or image_bgr.dtype != np.uint8:
            raise ValueError(f"expected a uint8 BGR or grey image, got {image_bgr.shape} {image_bgr.dtype}")
        image = np.ascontiguousarray(image_bgr)
        reads: list[CodeRead] = []
        for binarizer in self.config.binarizers:
            try:
                found = zxingcpp.read_barcodes(
                    image,
                    formats=self._formats,
                    try_rotate=self.config.try_rotate,
                    try_downscale=self.config.try_downscale,
                    try_invert=self.config.try_invert,
                    text_mode=zxingcpp.TextMode.Plain,
                    binarizer=getattr(zxingcpp.Binarizer, binarizer),
                )
            except Exception as e:
                raise DetectorError(f"code reading failed: {e}") from e
            for barcode in found:
                read = self._to_read(barcode) if barcode.valid else None
                if read is not None and not any(_same(r, read) for r in reads):
                    reads.append(read)
        return reads

    def _to_read(self, barcode: zxingcpp.Barcode) -> CodeRead:
        payload = barcode.bytes
        raw: bytes | str = payload if barcode.content_type == zxingcpp.ContentType.Binary else barcode.text
        text, truncated = sanitise_payload(raw, self.config.max_payload_chars)
        return CodeRead(barcode.format.name, text, len(payload), truncated, _xyxy(barcode.position))


def _same(a: CodeRead, b: CodeRead) -> bool:
    """The same symbol found twice: same format and text, overlapping boxes."""
    overlap = min(a.xyxy[2], b.xyxy[2]) >= max(a.xyxy[0], b.xyxy[0]) and min(a.xyxy[3], b.xyxy[3]) >= max(
        a.xyxy[1], b.xyxy[1]
    )
    return a.format == b.format and a.text == b.text and overlap


def _xyxy(position: zxingcpp.Position) -> XYXY:
    points = (position.top_left, position.top_right, position.bottom_right, position.bottom_left)
    xs, ys = [p.x for p in points], [p.y for p in points]
    return min(xs), min(ys), max(xs), max(ys)
