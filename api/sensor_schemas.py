"""Models of `/v1/sensors`: the sensor as registered, readings in and out, the history query.

The sensor body is `events.sensors.SensorSpec` itself (the YAML's `sensors:` item), and a reading
in is `events.sensors.ReadingInput`: the API, the YAML config and the Kafka path share one model.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from api.sensor_services import IngestCounters
from events.sensors import ReadingInput, SensorReading, SensorRecord, SensorSpec

#: `openapi_extra` of POST readings: the body is read by hand (size-limited), shown as its model.
READINGS_BODY_OPENAPI = {
    "requestBody": {
        "required": True,
        "description": "A JSON list of readings (or one reading); the batch is taken or refused whole.",
        "content": {
            "application/json": {"schema": {"type": "array", "items": ReadingInput.model_json_schema()}}
        },
    }
}


class IngestOut(BaseModel):
    accepted: int = Field(ge=0, description="readings this API process accepted since it started")
    rejected_batches: int = Field(ge=0, description="batches refused with 422 since it started")
    rate_limited: int = Field(ge=0, description="readings refused with 429 (over the rate) since it started")


class SensorOut(BaseModel):
    id: str
    version: int = Field(ge=1, description="the spec's version in the registry (each PUT adds one)")
    updated_ts_ms: int = Field(ge=0, description="UTC ms of the spec's last change")
    spec: SensorSpec
    ingest: IngestOut

    @classmethod
    def from_record(cls, record: SensorRecord, counters: IngestCounters) -> SensorOut:
        return cls(
            id=record.sensor_id,
            version=record.version,
            updated_ts_ms=record.updated_ts_ms,
            spec=record.spec,
            ingest=IngestOut(
                accepted=counters.accepted,
                rejected_batches=counters.rejected_batches,
                rate_limited=counters.rate_limited,
            ),
        )


class SensorListOut(BaseModel):
    items: list[SensorOut]
    total: int = Field(ge=0)


class ReadingsAcceptedOut(BaseModel):
    sensor_id: str
    accepted: int = Field(ge=1, description="readings taken (embedded: stored; distributed: on the broker)")


class ReadingOut(BaseModel):
    ts_ms: int
    value: float
    unit: str

    @classmethod
    def from_reading(cls, reading: SensorReading) -> ReadingOut:
        return cls(ts_ms=reading.ts_ms, value=reading.value, unit=reading.unit)


class ReadingPageOut(BaseModel):
    sensor_id: str
    items: list[ReadingOut] = Field(description="newest first")
    limit: int
    next_until_ms: int | None = Field(
        description="until_ms of the next (older) page; null when this page is the last"
    )


class ReadingQueryParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    since_ms: int | None = Field(default=None, ge=0, description="UTC epoch ms, inclusive lower bound")
    until_ms: int | None = Field(default=None, ge=0, description="UTC epoch ms, inclusive upper bound")
    limit: int | None = Field(default=None, ge=1, description="page size (default and maximum are settings)")

    @model_validator(mode="after")
    def _window(self) -> ReadingQueryParams:
        if self.since_ms is not None and self.until_ms is not None and self.since_ms > self.until_ms:
            raise ValueError(f"since_ms ({self.since_ms}) is after until_ms ({self.until_ms})")
        return self


__all__ = [
    "READINGS_BODY_OPENAPI",
    "IngestOut",
    "ReadingInput",
    "ReadingOut",
    "ReadingPageOut",
    "ReadingQueryParams",
    "ReadingsAcceptedOut",
    "SensorListOut",
    "SensorOut",
]
