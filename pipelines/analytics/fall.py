"""Fall: a tracked person seen upright, then fallen in `confirm_frames` of the last `window_frames`.

Each frame classifies a track's posture by its box first: flat (height / width at most `fallen_aspect`)
is fallen, tall (at least `upright_aspect`) is upright whatever the label says (the sample model labels
some walking people `Fall` for a few frames); in between, a label in `fallen_labels` is fallen and one
in `upright_labels` upright; otherwise unknown.
A track is armed once it has been upright in `confirm_frames` of its last `window_frames`: a box never
seen upright (an object detected as fallen from its first frame) never alerts. An armed track fires
when it has been fallen in `confirm_frames` of its last `window_frames`, within `max_transition_s` of
its last upright frame (and `cooldown_s` after its previous fall); it then re-arms only once upright
again (one event per fall). `stationary_px` (default 15 px) keeps a person lying still whose label
flickers from falling again and again. Filter small objects with `min_box_area_px` rather than
`min_box_height_px`: a fallen person's box is short.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass
from enum import Enum
from typing import Final, Literal

from pydantic import ConfigDict, Field, model_validator

from events.schema import EventAttributes
from pipelines.analytics.base import XYXY, Cooldown, Finding, FrameContext, tracked_rows, watched_by
from pipelines.analytics.spec import CameraGeometry, EventKind, RuleBase, RulePlugin

logger = logging.getLogger(__name__)

TYPE: Final = "fall"

#: Track states unseen for this long are forgotten.
_FORGET_MS: Final = 60_000


def _upright_labels() -> list[str]:
    return ["person", "Normal"]


def _fallen_labels() -> list[str]:
    return ["person_down", "Fall"]


def _all_labels() -> list[str]:
    return [*_upright_labels(), *_fallen_labels()]


class FallConfig(RuleBase):
    type: Literal["fall"]
    labels: list[str] = Field(default_factory=_all_labels, description="object labels the rule watches")
    upright_labels: list[str] = Field(
        default_factory=_upright_labels, description="labels of a standing person"
    )
    fallen_labels: list[str] = Field(default_factory=_fallen_labels, description="labels of a fallen person")
    upright_aspect: float = Field(default=1.6, gt=0, description="box height / width at or above: upright")
    fallen_aspect: float = Field(
        default=0.8, ge=0, description="box height / width at or below: fallen (0 = by label only)"
    )
    confirm_frames: int = Field(default=6, ge=1, description="K: frames of the window that must agree")
    window_frames: int = Field(
        default=8,
        ge=1,
        description="M: the last frames of a track looked at (6 of 8 at 10 analysed fps: the sample "
        "model's Fall label flickers for 3-5 frames on people walking in vtest.avi)",
    )
    max_height_ratio: float = Field(
        default=0.75,
        gt=0,
        le=1,
        description="a fallen frame counts only when the box is at most this share of its height when last "
        "upright (a person who falls loses height; one who spreads their arms does not); 1 = off",
    )
    max_transition_s: float = Field(
        default=10.0, ge=0, description="the fall is confirmed at most this long after upright (0 = any)"
    )
    stationary_px: float = Field(
        default=15.0, ge=0, description="no new event about an object that moved no more than this; 0 = off"
    )

    @model_validator(mode="after")
    def _k_of_m(self) -> FallConfig:
        if self.confirm_frames > self.window_frames:
            raise ValueError(f"confirm_frames ({self.confirm_frames}) > window_frames ({self.window_frames})")
        if self.fallen_aspect >= self.upright_aspect:
            raise ValueError(f"fallen_aspect ({self.fallen_aspect}) must be below upright_aspect")
        return self


class FallAttributes(EventAttributes):
    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal["fall"] = TYPE
    confirmed_frames: int = Field(ge=1, description="frames of the window in which the person was fallen")
    aspect_before: float = Field(ge=0, description="box height / width when last seen upright")
    aspect_after: float = Field(ge=0, description="box height / width on the confirming frame")
    upright_seen_ts_ms: int = Field(ge=0, description="when the person was last seen upright (UTC ms)")


class Posture(Enum):
    UPRIGHT = "upright"
    FALLEN = "fallen"
    UNKNOWN = "unknown"


@dataclass(slots=True)
class _Track:
    window: deque[Posture]
    last_seen_ms: int
    armed: bool = False
    upright_ms: int | None = None
    upright_aspect: float = 0.0
    upright_height_px: float = 0.0


class Fall:
    def __init__(self, rule: FallConfig) -> None:
        self.rule_id = rule.id
        self._rule = rule
        self._upright = set(rule.upright_labels)
        self._fallen = set(rule.fallen_labels)
        self._max_transition_ms = int(rule.max_transition_s * 1000)
        self._cooldown = Cooldown(int(rule.cooldown_s * 1000))
        self._tracks: dict[int, _Track] = {}

    def posture(self, label: str, aspect: float) -> Posture:
        rule = self._rule
        if aspect <= rule.fallen_aspect:
            return Posture.FALLEN
        if aspect >= rule.upright_aspect:  # a tall box is a standing person, whatever its label says
            return Posture.UPRIGHT
        if label in self._fallen:
            return Posture.FALLEN
        if label in self._upright:
            return Posture.UPRIGHT
        return Posture.UNKNOWN

    def evaluate(self, ctx: FrameContext) -> list[Finding]:
        ts_ms = ctx.ts_ms
        watched = watched_by(ctx, self._rule)
        findings: list[Finding] = []
        for track_id, label, conf, xyxy in tracked_rows(watched):
            aspect = _aspect(xyxy)
            track = self._tracks.get(track_id)
            if track is None:
                track = self._tracks[track_id] = _Track(deque(maxlen=self._rule.window_frames), ts_ms)
            track.last_seen_ms = ts_ms
            posture = self.posture(label, aspect)
            height_px = xyxy[3] - xyxy[1]
            if (
                posture is Posture.FALLEN
                and height_px > self._rule.max_height_ratio * track.upright_height_px
            ):
                posture = Posture.UNKNOWN  # as tall as when standing: not down
            track.window.append(posture)
            if posture is Posture.UPRIGHT:
                track.upright_ms, track.upright_aspect = ts_ms, aspect
                track.upright_height_px = height_px
            if track.window.count(Posture.UPRIGHT) >= self._rule.confirm_frames:
                track.armed = True
            fallen = track.window.count(Posture.FALLEN)
            if not track.armed or fallen < self._rule.confirm_frames or track.upright_ms is None:
                continue
            if self._max_transition_ms and ts_ms - track.upright_ms > self._max_transition_ms:
                continue
            if not self._cooldown.ready(track_id, ts_ms):
                continue
            self._cooldown.mark(track_id, ts_ms)
            track.armed = False
            track.window.clear()  # re-arms only on upright frames seen after this fall
            logger.debug(
                "%s: track %d fell (%d of %d frames)",
                self.rule_id,
                track_id,
                fallen,
                self._rule.window_frames,
            )
            attributes = FallAttributes(
                confirmed_frames=fallen,
                aspect_before=round(track.upright_aspect, 3),
                aspect_after=round(aspect, 3),
                upright_seen_ts_ms=track.upright_ms,
            )
            findings.append(
                Finding(
                    rule_id=self.rule_id,
                    type=TYPE,
                    track_id=track_id,
                    label=label,
                    confidence=conf,
                    xyxy=xyxy,
                    attributes=attributes,
                )
            )
        self._tracks = {t: s for t, s in self._tracks.items() if ts_ms - s.last_seen_ms <= _FORGET_MS}
        self._cooldown.forget_except(set(self._tracks))
        return findings


def _aspect(xyxy: XYXY) -> float:
    width = max(xyxy[2] - xyxy[0], 1e-6)
    return max(xyxy[3] - xyxy[1], 0.0) / width


def build(config: RuleBase, geometry: CameraGeometry) -> Fall:
    assert isinstance(config, FallConfig)
    return Fall(config)


PLUGIN = RulePlugin(kind=EventKind(TYPE, "Fall", FallAttributes), config=FallConfig, build=build)
