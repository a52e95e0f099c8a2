"""Face match: a tracked person's face voted to be a watchlist identity, once per track and identity.

The recognition stage (`pipelines.recognition.faces`) decides per track over its best faces; this rule
turns a known decision into one event. The event's severity is the watchlist's; its attributes carry
the identity, the list, the distance and the track's best face encoding (what "not this person" turns
into a negative). The evidence snapshot leaves only this face unblurred.
"""

from __future__ import annotations

from typing import ClassVar, Final, Literal

from pydantic import ConfigDict, Field

from events.schema import EventAttributes, Severity
from pipelines.analytics.base import Finding, FrameContext, ReportedOnce
from pipelines.analytics.spec import CameraGeometry, EventKind, RuleBase, RulePlugin
from pipelines.recognition.faces import FaceTrackResult

TYPE: Final = "face_match"
_EMBEDDING_DECIMALS = 6


class FaceMatchConfig(RuleBase):
    type: Literal["face_match"]
    severity: Severity = Severity.HIGH
    watchlists: list[str] = Field(
        default_factory=list, description="watchlist ids this rule reports; empty = every list"
    )
    min_confidence: float = Field(default=0.0, ge=0, le=1, description="least vote confidence reported")
    min_faces: int = Field(default=3, ge=1, description="faces of the track that voted before it is reported")

    recognizers: ClassVar[tuple[str, ...]] = ("face",)


class FaceMatchAttributes(EventAttributes):
    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal["face_match"] = TYPE
    identity_id: str
    identity_name: str
    watchlist_id: str
    watchlist_name: str
    distance: float = Field(ge=0, description="quality-weighted mean distance of the voting faces")
    threshold: float = Field(gt=0, description="the list's threshold the distance was under")
    vote_share: float = Field(ge=0, le=1)
    faces: int = Field(ge=1, description="faces of the track that were kept and voted")
    face_xyxy: tuple[int, int, int, int] = Field(description="the face on this frame, pixels")
    face_embedding: list[float] = Field(
        min_length=128, max_length=128, description="the track's best face encoding (for 'not this person')"
    )


class FaceMatch:
    def __init__(self, config: FaceMatchConfig) -> None:
        self.rule_id = config.id
        self._config = config
        self._reported: ReportedOnce[tuple[int, str]] = ReportedOnce()

    def evaluate(self, ctx: FrameContext) -> list[Finding]:
        findings: list[Finding] = []
        for r in ctx.recognitions.of(FaceTrackResult):
            d = r.decision
            if d.identity_id is None or r.identity is None or r.watchlist is None:
                continue
            if self._config.watchlists and r.watchlist.watchlist_id not in self._config.watchlists:
                continue
            if d.faces < self._config.min_faces or d.confidence < self._config.min_confidence:
                continue
            if r.label not in self._config.labels:
                continue
            if not self._reported.first((r.track_id, d.identity_id)):
                continue
            attributes = FaceMatchAttributes(
                identity_id=d.identity_id,
                identity_name=r.identity.name,
                watchlist_id=r.watchlist.watchlist_id,
                watchlist_name=r.watchlist.name,
                distance=round(d.distance or 0.0, 4),
                threshold=d.threshold or r.watchlist.threshold,
                vote_share=round(d.vote_share, 4),
                faces=d.faces,
                face_xyxy=r.face_xyxy,
                face_embedding=[round(float(v), _EMBEDDING_DECIMALS) for v in r.embedding],
            )
            findings.append(
                Finding(
                    self.rule_id,
                    TYPE,
                    r.label,
                    round(d.confidence, 4),
                    r.person_xyxy,
                    attributes,
                    track_id=r.track_id,
                    severity=r.watchlist.severity,
                    reveal_xyxy=r.face_xyxy,
                )
            )
        return findings


def build(config: RuleBase, geometry: CameraGeometry) -> FaceMatch:
    assert isinstance(config, FaceMatchConfig)
    return FaceMatch(config)


PLUGIN = RulePlugin(
    kind=EventKind(TYPE, "Face matched a watchlist", FaceMatchAttributes),
    config=FaceMatchConfig,
    build=build,
)
