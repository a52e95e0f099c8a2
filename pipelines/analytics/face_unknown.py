"""Unknown face: a tracked person's face seen for at least `min_seen_s` that matches no watchlist,
once per track (cameras that enable it; e.g. a staff-only door). No encoding is kept in the event."""

from __future__ import annotations

from typing import ClassVar, Final, Literal

from pydantic import ConfigDict, Field

from events.schema import EventAttributes
from pipelines.analytics.base import Finding, FrameContext, ReportedOnce
from pipelines.analytics.spec import CameraGeometry, EventKind, RuleBase, RulePlugin
from pipelines.recognition.faces import FaceTrackResult

TYPE: Final = "face_unknown"


class FaceUnknownConfig(RuleBase):
    type: Literal["face_unknown"]
    min_seen_s: float = Field(default=3.0, ge=0, description="the face is seen at least this long")
    min_faces: int = Field(default=2, ge=1, description="faces of the track that voted (not one glimpse)")

    recognizers: ClassVar[tuple[str, ...]] = ("face",)


class FaceUnknownAttributes(EventAttributes):
    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal["face_unknown"] = TYPE
    seen_s: float = Field(ge=0, description="from the track's first face to this frame")
    faces: int = Field(ge=1)
    nearest_distance: float | None = Field(default=None, description="distance to the nearest identity")
    face_xyxy: tuple[int, int, int, int] = Field(description="the face on this frame, pixels")


class FaceUnknown:
    def __init__(self, config: FaceUnknownConfig) -> None:
        self.rule_id = config.id
        self._config = config
        self._reported: ReportedOnce[int] = ReportedOnce()

    def evaluate(self, ctx: FrameContext) -> list[Finding]:
        findings: list[Finding] = []
        for r in ctx.recognitions.of(FaceTrackResult):
            seen_ms = ctx.ts_ms - r.first_face_ts_ms
            if r.decision.known or r.label not in self._config.labels:
                continue
            if seen_ms < self._config.min_seen_s * 1000 or r.decision.faces < self._config.min_faces:
                continue
            if not self._reported.first(r.track_id):
                continue
            attributes = FaceUnknownAttributes(
                seen_s=round(seen_ms / 1000, 3),
                faces=r.decision.faces,
                nearest_distance=None if r.decision.distance is None else round(r.decision.distance, 4),
                face_xyxy=r.face_xyxy,
            )
            findings.append(
                Finding(self.rule_id, TYPE, r.label, 1.0, r.person_xyxy, attributes, track_id=r.track_id)
            )
        return findings


def build(config: RuleBase, geometry: CameraGeometry) -> FaceUnknown:
    assert isinstance(config, FaceUnknownConfig)
    return FaceUnknown(config)


PLUGIN = RulePlugin(
    kind=EventKind(TYPE, "Unknown face", FaceUnknownAttributes),
    config=FaceUnknownConfig,
    build=build,
)
