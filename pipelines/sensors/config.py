"""Settings of the sensor hub (`ANFANG_SENSORS__...`): reading limits, fusion, queue sizes."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

from events.schema import EVENT_TYPE_PATTERN
from events.sensors import ReadingLimits

DEFAULT_FUSION_TYPES = ("fire", "smoke", "crowd", "fall", "zone_intrusion", "loitering")


class FusionConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(default=True, description="fuse sensor alarms with video findings into incidents")
    window_s: float = Field(
        default=60.0, gt=0, le=3600, description="Δt: a finding this close to an alarm episode is fused"
    )
    event_types: tuple[str, ...] = Field(
        default=DEFAULT_FUSION_TYPES, description="video event types that fuse with a sensor alarm"
    )
    late_s: float = Field(
        default=60.0, ge=0, le=3600, description="how late (event time) a finding or alarm may still arrive"
    )
    max_findings: int = Field(default=10_000, ge=1, description="video findings kept for matching")

    @field_validator("event_types")
    @classmethod
    def _type_names(cls, types: tuple[str, ...]) -> tuple[str, ...]:
        bad = [t for t in types if not re.match(EVENT_TYPE_PATTERN, t)]
        if bad:
            raise ValueError(f"not event type names: {bad}")
        return types


class SensorHubConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    ingest: ReadingLimits = Field(
        default_factory=ReadingLimits, description="batch size, timestamp window, rate limit per sensor"
    )
    fusion: FusionConfig = Field(default_factory=FusionConfig)
    queue_max: int = Field(
        default=10_000, ge=1, description="embedded: batches and findings waiting for the hub thread"
    )
    poll_max_records: int = Field(default=500, ge=1, description="distributed: messages per poll")
    poll_timeout_s: float = Field(default=0.2, gt=0, le=5, description="distributed: wait per poll")
    stats_every_s: float = Field(default=60.0, gt=0, description="how often the hub logs its counters")
