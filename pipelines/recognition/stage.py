"""The recognition stage: secondary models on crops of tracked objects, between tracking and the rules.

A `Recognizer` (faces, plates, codes, ...) looks at one camera's tracked detections on each analysed
frame, keeps its own per-track state (best crops, votes) and returns results (typed by the recogniser);
rules read them from `FrameContext.recognitions` with `of(ResultType)`. A camera runs only the
recognisers its rules ask for (`RuleBase.recognizers`); a recogniser is built per camera by a factory the
composition root supplies, so models are shared and loaded once per process.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from detectors.base import Detections, FrameBGR

logger = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class StageFrame:
    """What a recogniser sees of one analysed frame."""

    camera_id: str
    ts_ms: int
    image_bgr: FrameBGR
    tracked: Detections


class Recognizer(Protocol):
    name: str

    def observe(self, frame: StageFrame) -> Sequence[object]:
        """Update per-track state with this frame; results for this frame (may be empty)."""
        ...

    def faces_in(self, frame: StageFrame) -> list[tuple[int, int, int, int]]:
        """Face boxes (pixels) this recogniser saw on the frame: the privacy blur's hint."""
        ...


@dataclass(slots=True)
class Recognitions:
    """One frame's results of every recogniser of the camera."""

    results: list[object] = field(default_factory=list)
    face_boxes_xyxy: list[tuple[int, int, int, int]] = field(default_factory=list)

    def of(self, kind: type[T]) -> list[T]:
        return [r for r in self.results if isinstance(r, kind)]


#: Builds a camera's recogniser from the camera's rules (`camera_id`, the rules asking for it).
RecognizerFactory = Callable[[str, Sequence[object]], Recognizer]


class RecognitionStage:
    """The recognisers of one camera, run in order on every analysed frame."""

    def __init__(
        self, recognizers: Sequence[Recognizer], built_for: Sequence[tuple[str, tuple[object, ...]]] = ()
    ) -> None:
        self.recognizers = list(recognizers)
        # (recogniser name, the rules it was built for) of each recogniser, where known
        self._built_for = list(built_for)

    @classmethod
    def for_rules(
        cls,
        camera_id: str,
        rules: Sequence[object],
        factories: Mapping[str, RecognizerFactory],
        previous: RecognitionStage | None = None,
    ) -> RecognitionStage | None:
        """The stage the camera's rules need, None when none needs one. A rule names the recognisers it
        reads in its config's `recognizers` class attribute; one without a factory here is an error.
        A recogniser of `previous` (the camera's stage before a reconfiguration) built for the same rules
        is kept with its per-track state (votes, what it read)."""
        wanted: dict[str, list[object]] = {}
        for rule in rules:
            for name in getattr(rule, "recognizers", ()):
                wanted.setdefault(name, []).append(rule)
        if not wanted:
            return None
        missing = sorted(set(wanted) - set(factories))
        if missing:
            raise ValueError(
                f"camera {camera_id}: rules need recognisers {missing} that this process does not run"
            )
        built_for = [(name, tuple(rules_of)) for name, rules_of in wanted.items()]
        return cls(
            [cls._kept(previous, key) or factories[key[0]](camera_id, key[1]) for key in built_for], built_for
        )

    @staticmethod
    def _kept(previous: RecognitionStage | None, key: tuple[str, tuple[object, ...]]) -> Recognizer | None:
        """The previous stage's recogniser built for the same name and rules (configs compare by value)."""
        if previous is None:
            return None
        for built_for, recognizer in zip(previous._built_for, previous.recognizers, strict=False):
            if built_for == key:
                return recognizer
        return None

    def run(self, frame: StageFrame) -> Recognitions:
        out = Recognitions()
        for recognizer in self.recognizers:
            out.results.extend(recognizer.observe(frame))
            out.face_boxes_xyxy.extend(recognizer.faces_in(frame))
        return out
