"""A process's plate and code readers (loaded on first use, each shared under its lock) and the plate
hotlists: builds each camera's plate and code recognisers from the rules that read them."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from detectors.codes import CodeReader
from detectors.plates import PlateReader
from pipelines.recognition.codes import CodeRecognitionConfig, CodeRecognizer
from pipelines.recognition.hotlist_book import HotlistBook
from pipelines.recognition.plates import XYXY, PlateRecognitionConfig, PlateRecognizer
from pipelines.recognition.stage import RecognizerFactory


def _regions(rules: Sequence[object]) -> list[XYXY]:
    found: list[XYXY] = []
    for rule in rules:
        for box in getattr(rule, "regions_xyxy", []):
            if tuple(box) not in found:
                found.append(tuple(box))
    return found


class ReaderRuntime:
    def __init__(
        self,
        hotlists: HotlistBook | None = None,
        plates: PlateRecognitionConfig | None = None,
        codes: CodeRecognitionConfig | None = None,
    ) -> None:
        self.hotlists = hotlists or HotlistBook()
        self.plates = plates or PlateRecognitionConfig()
        self.codes = codes or CodeRecognitionConfig()
        self._plate_lock, self._code_lock = threading.Lock(), threading.Lock()
        self._plate_reader: PlateReader | None = None
        self._code_reader: CodeReader | None = None

    def plate_reader(self) -> PlateReader:
        with self._plate_lock:
            if self._plate_reader is None:
                self._plate_reader = PlateReader(self.plates.reader)
            return self._plate_reader

    def code_reader(self) -> CodeReader:
        with self._code_lock:
            if self._code_reader is None:
                self._code_reader = CodeReader(self.codes.reader)
            return self._code_reader

    def plate_recognizer(self, camera_id: str, rules: Sequence[object]) -> PlateRecognizer:
        labels = sorted({str(label) for rule in rules for label in getattr(rule, "labels", [])})
        reader = self.plate_reader()
        return PlateRecognizer(labels, _regions(rules), reader, self._plate_lock, self.hotlists, self.plates)

    def code_recognizer(self, camera_id: str, rules: Sequence[object]) -> CodeRecognizer:
        return CodeRecognizer(_regions(rules), self.code_reader(), self._code_lock, self.codes)

    def factories(self) -> dict[str, RecognizerFactory]:
        return {"plate": self.plate_recognizer, "code": self.code_recognizer}
