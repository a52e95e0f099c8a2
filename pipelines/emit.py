"""Turns a rule's `Finding` into a typed `Event` (normalised box, deterministic id, alert flag)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from detectors.base import ModelInfo
from events.schema import Event, EventAttributes, ModelRef, Severity, Snapshot, make_event_id
from pipelines.analytics.base import Finding
from pipelines.analytics.spec import RuleBase


@dataclass(frozen=True, slots=True)
class EmitContext:
    """What every event of one camera worker shares."""

    camera_id: str
    site_id: str
    worker_id: str
    model: ModelInfo
    rules: dict[str, RuleBase]


def event_id_for(ctx: EmitContext, finding: Finding, ts_ms: int) -> uuid.UUID:
    """Deterministic: replaying the same frame yields the same id, so the store dedupes."""
    return make_event_id(
        ctx.camera_id, finding.rule_id, finding.track_id, ts_ms, finding.attributes.model_dump_json()
    )


def build_event(
    ctx: EmitContext, finding: Finding, ts_ms: int, resolution_wh: tuple[int, int], snapshot: Snapshot | None
) -> Event:
    rule = ctx.rules[finding.rule_id]
    severity = finding.severity or rule.severity
    w, h = resolution_wh
    x1, y1, x2, y2 = finding.xyxy

    def clamp(v: float) -> float:
        return min(1.0, max(0.0, v))

    return Event(
        event_id=event_id_for(ctx, finding, ts_ms),
        ts_ms=ts_ms,
        camera_id=ctx.camera_id,
        site_id=ctx.site_id,
        type=finding.type,
        severity=severity,
        alert=severity.rank >= rule.alert_severity.rank,
        rule_id=finding.rule_id,
        track_id=finding.track_id,
        label=finding.label,
        confidence=round(min(1.0, max(0.0, finding.confidence)), 4),
        bbox_xyxy=(clamp(x1 / w), clamp(y1 / h), clamp(x2 / w), clamp(y2 / h)),
        attributes=finding.attributes,
        snapshot=snapshot,
        model=ModelRef(name=ctx.model.name, version=ctx.model.version),
        worker_id=ctx.worker_id,
    )


#: The pseudo-rule and model of the events the camera supervisor emits about camera health.
HEALTH_RULE_ID = "camera-health"
HEALTH_MODEL = ModelRef(name="anfang-supervisor", version="1")


def build_health_event(
    ctx: EmitContext,
    ts_ms: int,
    attributes: EventAttributes,
    severity: Severity,
    alert: bool,
) -> Event:
    """A `camera_offline` / `camera_online` event: whole frame, no track, no snapshot."""
    return Event(
        event_id=make_event_id(ctx.camera_id, HEALTH_RULE_ID, None, ts_ms, attributes.model_dump_json()),
        ts_ms=ts_ms,
        camera_id=ctx.camera_id,
        site_id=ctx.site_id,
        type=attributes.type,
        severity=severity,
        alert=alert,
        rule_id=HEALTH_RULE_ID,
        track_id=None,
        label="camera",
        confidence=1.0,
        bbox_xyxy=(0.0, 0.0, 1.0, 1.0),
        attributes=attributes,
        model=HEALTH_MODEL,
        worker_id=ctx.worker_id,
    )
