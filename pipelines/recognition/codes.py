"""QR codes and barcodes in a camera's view: the frame (or the rules' regions) read every
`look_every_ms`; a code is reported when first seen and again only after it was gone `window_ms`
(once per appearance, not per frame). Payloads arrive sanitised and length-limited from the reader and
are never interpreted."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

from detectors.codes import CodeRead, CodeReader, CodeReaderConfig
from pipelines.recognition.stage import StageFrame

logger = logging.getLogger(__name__)

XYXY = tuple[float, float, float, float]


class CodeRecognitionConfig(BaseModel):
    """Code reading settings (env `ANFANG_CODES__*`)."""

    model_config = ConfigDict(extra="forbid")

    reader: CodeReaderConfig = Field(default_factory=CodeReaderConfig)
    look_every_ms: int = Field(default=300, ge=0, description="least time between two reads of a region")
    window_ms: int = Field(default=30_000, ge=0, description="a code gone this long is reported again")
    remembered_max: int = Field(default=10_000, ge=1, description="codes remembered for the window")


@dataclass(frozen=True, slots=True)
class CodeSeen:
    """A code appearing (first read of this appearance)."""

    format: str
    text: str
    payload_bytes: int
    truncated: bool
    xyxy: XYXY


class CodeRecognizer:
    name = "code"

    def __init__(
        self,
        regions: Sequence[XYXY],
        reader: CodeReader,
        reader_lock: threading.Lock,
        config: CodeRecognitionConfig,
    ) -> None:
        self._regions = list(regions) or [(0.0, 0.0, 1.0, 1.0)]
        self._reader, self._lock = reader, reader_lock
        self._config = config
        self._last_look: dict[int, int] = {}
        self._last_seen: dict[tuple[str, str], int] = {}

    def faces_in(self, frame: StageFrame) -> list[tuple[int, int, int, int]]:
        return []

    def observe(self, frame: StageFrame) -> list[CodeSeen]:
        now = frame.ts_ms
        h, w = frame.image_bgr.shape[:2]
        seen: list[CodeSeen] = []
        for i, (x1, y1, x2, y2) in enumerate(self._regions):
            last = self._last_look.get(i)
            if last is not None and now - last < self._config.look_every_ms:
                continue
            self._last_look[i] = now
            ox, oy = int(x1 * w), int(y1 * h)
            crop = frame.image_bgr[oy : int(y2 * h), ox : int(x2 * w)]
            if crop.size == 0:
                continue
            with self._lock:
                reads = self._reader.read(crop)
            seen += [s for r in reads if (s := self._appeared(r, now, ox, oy)) is not None]
        if len(self._last_seen) > self._config.remembered_max:
            horizon = now - self._config.window_ms
            self._last_seen = {k: t for k, t in self._last_seen.items() if t >= horizon}
        return seen

    def _appeared(self, read: CodeRead, now: int, ox: int, oy: int) -> CodeSeen | None:
        key = (read.format, read.text)
        last = self._last_seen.get(key)
        self._last_seen[key] = now
        if last is not None and now - last <= self._config.window_ms:
            return None  # the same appearance, still in view
        a, b, c, d = read.xyxy
        return CodeSeen(
            read.format, read.text, read.payload_bytes, read.truncated, (a + ox, b + oy, c + ox, d + oy)
        )
