"""Camera tamper: covered, defocused or moved (`detectors.tamper`, against the camera's learned view),
one event when it is confirmed and one when the view returns (`phase`)."""

from __future__ import annotations

from typing import Final, Literal

from pydantic import ConfigDict, Field

from detectors.tamper import TamperConfig, TamperDetector
from events.schema import EventAttributes, Severity
from pipelines.analytics.base import Finding, FrameContext
from pipelines.analytics.spec import CameraGeometry, EventKind, RuleBase, RulePlugin

TYPE: Final = "camera_tamper"


class CameraTamperConfig(RuleBase):
    type: Literal["camera_tamper"]
    severity: Severity = Severity.HIGH
    detector: TamperConfig = Field(default_factory=TamperConfig, description="what counts as tampered")


class CameraTamperAttributes(EventAttributes):
    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal["camera_tamper"] = TYPE
    kind: Literal["covered", "defocused", "moved"]
    phase: Literal["tampered", "recovered"]
    score: float = Field(ge=0, le=1, description="how far the deciding measure is past its baseline")
    since_ts_ms: int | None = Field(default=None, description="when the tamper began")


class CameraTamper:
    def __init__(self, config: CameraTamperConfig) -> None:
        self.rule_id = config.id
        self._detector = TamperDetector(config.detector)
        self._reported = False

    def evaluate(self, ctx: FrameContext) -> list[Finding]:
        if ctx.frame is None:
            return []
        result = self._detector.update(ctx.frame(), ctx.ts_ms)
        if result.kind is None:
            return []
        if result.state == "tampered" and not self._reported:
            self._reported = True
            phase: Literal["tampered", "recovered"] = "tampered"
            severity = None
        elif result.state == "recovered" and self._reported:
            self._reported = False
            phase, severity = "recovered", Severity.INFO
        else:
            return []
        w, h = ctx.resolution_wh
        attributes = CameraTamperAttributes(
            kind=result.kind,
            phase=phase,
            score=round(min(1.0, max(0.0, result.score)), 3),
            since_ts_ms=result.since_ts_ms,
        )
        whole = (0.0, 0.0, float(w), float(h))
        return [Finding(self.rule_id, TYPE, "camera", 1.0, whole, attributes, severity=severity)]


def build(config: RuleBase, geometry: CameraGeometry) -> CameraTamper:
    assert isinstance(config, CameraTamperConfig)
    return CameraTamper(config)


PLUGIN = RulePlugin(
    kind=EventKind(TYPE, "Camera tamper", CameraTamperAttributes), config=CameraTamperConfig, build=build
)
