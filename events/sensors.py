"""Hazard sensors as data that travels: the sensor spec (with its rules), readings, and their ports.

A sensor (gas, smoke, temperature, body temperature, seismic, humidity, generic) reports readings
`{ts_ms, value, unit}` over HTTP or the `anfang.sensors` topic. Its *spec* is the sensor exactly as in
the YAML config's `sensors:` list; it lives here (not in pipelines) because the API validates it too.
The rules are evaluated by `pipelines/sensors`; here they are only configuration.

- `SensorSpec`: id, kind, unit (checked per kind), site, linked cameras/zones, rules.
- `SensorReading`: one stored reading; `ReadingInput`: one reading as a client sends it.
- `ReadingLimits` + `check_readings`: the one validation of a batch (API and Kafka path alike);
  `TokenBuckets`: the per-sensor rate limit.
- `SensorRegistry`: the sensors of a deployment, stored by the camera registry machinery (a JSON file
  embedded, a compacted topic distributed) as plain `{"id": ...}` specs; see `events/registry`.
- `SensorReadingStore` / `ReadingSink`: where readings are kept and where the API hands them.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from events.cameras import CameraRegistry, RegistryError
from events.ports import DeadLetter
from events.schema import Severity

logger = logging.getLogger(__name__)

SENSORS_TOPIC = "anfang.sensors"
SENSOR_REGISTRY_TOPIC = "anfang.sensor-registry"
SENSOR_ID_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"


class SensorKind(StrEnum):
    GAS = "gas"
    SMOKE = "smoke"
    TEMPERATURE = "temperature"
    BODY_TEMPERATURE = "body_temperature"
    SEISMIC = "seismic"
    HUMIDITY = "humidity"
    GENERIC = "generic"


#: The units a sensor of each kind may report in (a generic sensor: any non-empty unit).
UNITS_BY_KIND: dict[SensorKind, tuple[str, ...]] = {
    SensorKind.GAS: ("ppm", "%LEL", "mg/m3"),
    SensorKind.SMOKE: ("%obs/m", "dB/m", "mg/m3", "ppm"),
    SensorKind.TEMPERATURE: ("C", "F"),
    SensorKind.BODY_TEMPERATURE: ("C", "F"),
    SensorKind.SEISMIC: ("gal", "m/s2", "mmi"),
    SensorKind.HUMIDITY: ("%RH",),
    SensorKind.GENERIC: (),
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _RuleBase(_Strict):
    id: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$", description="unique within the sensor")
    severity: Severity = Field(default=Severity.HIGH, description="severity of the alarm")
    alert_severity: Severity = Field(
        default=Severity.MEDIUM, description="alarms at or above this severity are alerts"
    )
    sustained_for_s: float = Field(
        default=0.0, ge=0, le=86_400, description="the condition must hold this long before it alarms"
    )


class ThresholdRule(_RuleBase):
    """Alarm while the value is at or above (`>=`) or at or below (`<=`) `limit`."""

    type: Literal["threshold"] = "threshold"
    op: Literal[">=", "<="] = Field(default=">=", description="direction of the condition")
    limit: float = Field(allow_inf_nan=False, description="in the sensor's unit")
    hysteresis: float = Field(
        default=0.0, ge=0, allow_inf_nan=False, description="the alarm clears only this far past the limit"
    )


class RateOfRiseRule(_RuleBase):
    """Alarm while the value rises at least `per_min` units per minute (measured over `window_s`)."""

    type: Literal["rate_of_rise"] = "rate_of_rise"
    per_min: float = Field(gt=0, allow_inf_nan=False, description="sensor units per minute")
    window_s: float = Field(default=60.0, gt=0, le=3600, description="the rise is measured over this span")
    min_span_s: float = Field(
        default=5.0, gt=0, le=3600, description="no rate before readings span this long (noise)"
    )


class IntensityRule(_RuleBase):
    """Seismic only: alarm at or above `min_intensity` on the sensor's intensity scale."""

    type: Literal["intensity"] = "intensity"
    min_intensity: int = Field(ge=1, le=12, description="intensity degree (I..XII as 1..12)")


SensorRule = Annotated[ThresholdRule | RateOfRiseRule | IntensityRule, Field(discriminator="type")]


class SensorSpec(_Strict):
    """A sensor as in the YAML config's `sensors:` list and the body of POST/PUT /v1/sensors."""

    id: str = Field(pattern=SENSOR_ID_PATTERN, description="unique; the Kafka key of its readings")
    kind: SensorKind
    unit: str = Field(min_length=1, max_length=16, description="the unit every reading must carry")
    site_id: str = Field(default="default-site", min_length=1, max_length=64)
    name: str = Field(default="", max_length=200, description="for people")
    camera_ids: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(
        default_factory=list, max_length=64, description="cameras watching the sensor's area (fusion)"
    )
    zone_ids: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(
        default_factory=list, max_length=64, description="zones (of those cameras) the sensor covers"
    )
    intensity_scale: Literal["gb17742", "mmi"] = Field(
        default="gb17742", description="seismic: GB/T 17742-2020 (China) or Modified Mercalli"
    )
    rules: list[SensorRule] = Field(default_factory=list, max_length=32)

    @model_validator(mode="after")
    def _check(self) -> SensorSpec:
        units = UNITS_BY_KIND[self.kind]
        if units and self.unit not in units:
            raise ValueError(
                f"unit {self.unit!r} is not one of {self.kind.value}'s units: {', '.join(units)}"
            )
        ids = [r.id for r in self.rules]
        if len(ids) != len(set(ids)):
            raise ValueError(f"rule ids must be unique per sensor: {ids}")
        if any(isinstance(r, IntensityRule) for r in self.rules) and self.kind != SensorKind.SEISMIC:
            raise ValueError("intensity rules are for seismic sensors only")
        if self.kind == SensorKind.SEISMIC and self.unit == "mmi" and self.intensity_scale != "mmi":
            raise ValueError("a sensor reporting in mmi needs intensity_scale: mmi")
        return self

    @property
    def event_camera_id(self) -> str:
        """The camera_id of this sensor's events: its first linked camera, else `sensor:<id>`."""
        return self.camera_ids[0] if self.camera_ids else f"sensor:{self.id}"


@dataclass(frozen=True, slots=True)
class SensorRecord:
    """One sensor of the registry: its spec, a version counter and when it last changed."""

    spec: SensorSpec
    version: int
    updated_ts_ms: int

    @property
    def sensor_id(self) -> str:
        return self.spec.id


class ReadingInput(_Strict):
    """One reading as a client sends it (HTTP body item, Kafka message)."""

    ts_ms: int = Field(ge=0, description="UTC epoch ms of the measurement")
    value: float = Field(allow_inf_nan=False, description="in `unit`; NaN and infinities are refused")
    unit: str = Field(min_length=1, max_length=16, description="must be the sensor's unit")


READINGS_ADAPTER: TypeAdapter[list[ReadingInput]] = TypeAdapter(list[ReadingInput])


@dataclass(frozen=True, slots=True)
class SensorReading:
    """A validated reading, as stored in `sensor_readings`."""

    sensor_id: str
    ts_ms: int
    value: float
    unit: str


class ReadingLimits(_Strict):
    """What a batch of readings may be, on the HTTP and the Kafka path alike."""

    batch_max: int = Field(default=1000, ge=1, description="readings per request / message")
    body_max_bytes: int = Field(default=1024 * 1024, ge=1, description="largest POST readings body")
    max_future_s: float = Field(default=60.0, ge=0, description="refuse ts_ms further ahead of now")
    max_age_s: float = Field(default=86_400.0, gt=0, description="refuse ts_ms older than this")
    rate_per_s: float = Field(default=50.0, gt=0, description="sustained readings/s per sensor")
    burst: int = Field(
        default=2000, ge=1, description="readings a sensor may send at once (at least batch_max)"
    )

    @model_validator(mode="after")
    def _check(self) -> ReadingLimits:
        if self.burst < self.batch_max:
            raise ValueError(f"burst ({self.burst}) must be at least batch_max ({self.batch_max})")
        return self


class ReadingsRejectedError(ValueError):
    """A batch refused as a whole; `errors` are pydantic-style dicts with `loc` relative to the batch."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors[:3]))
        self.errors = errors


def check_readings(spec: SensorSpec, raw: Any, now_ms: int, limits: ReadingLimits) -> list[SensorReading]:
    """The batch `raw` (a JSON list, or one reading object) as readings of `spec`; ReadingsRejectedError."""
    items = raw if isinstance(raw, list) else [raw]
    if not items:
        raise ReadingsRejectedError([{"type": "too_short", "loc": (), "msg": "no readings in the batch"}])
    if len(items) > limits.batch_max:
        msg = f"{len(items)} readings: at most {limits.batch_max} per batch"
        raise ReadingsRejectedError([{"type": "too_long", "loc": (), "msg": msg}])
    try:
        parsed = READINGS_ADAPTER.validate_python(items)
    except ValidationError as exc:
        raise ReadingsRejectedError(
            [
                {"type": e["type"], "loc": tuple(e["loc"]), "msg": e["msg"], "input": e.get("input")}
                for e in exc.errors(include_url=False, include_context=False)
            ]
        ) from None
    lo_ms, hi_ms = now_ms - int(limits.max_age_s * 1000), now_ms + int(limits.max_future_s * 1000)
    errors: list[dict[str, Any]] = []
    for i, r in enumerate(parsed):
        if r.unit != spec.unit:
            msg = f"unit {r.unit!r} is not the sensor's unit {spec.unit!r}"
            errors.append({"type": "unit", "loc": (i, "unit"), "msg": msg, "input": r.unit})
        if r.ts_ms > hi_ms:
            ahead_s = (r.ts_ms - now_ms) / 1000
            msg = f"ts_ms is {ahead_s:.0f} s in the future (at most {limits.max_future_s:g} s)"
            errors.append({"type": "ts_future", "loc": (i, "ts_ms"), "msg": msg, "input": r.ts_ms})
        elif r.ts_ms < lo_ms:
            msg = f"ts_ms is {(now_ms - r.ts_ms) / 1000:.0f} s old (at most {limits.max_age_s:g} s)"
            errors.append({"type": "ts_too_old", "loc": (i, "ts_ms"), "msg": msg, "input": r.ts_ms})
    if errors:
        raise ReadingsRejectedError(errors)
    return [SensorReading(spec.id, r.ts_ms, r.value, r.unit) for r in parsed]


class TokenBuckets:
    """A token bucket per sensor (`rate_per_s`, capacity `burst`); thread-safe; idle buckets forgotten."""

    def __init__(self, rate_per_s: float, burst: int, *, max_keys: int = 100_000) -> None:
        self.rate_per_s, self.burst, self._max_keys = rate_per_s, burst, max_keys
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, monotonic time)
        self._lock = threading.Lock()

    def take(self, key: str, n: int, now_s: float | None = None) -> float:
        """0.0 when `n` tokens were taken; else the seconds until they would be (nothing taken)."""
        now_s = time.monotonic() if now_s is None else now_s
        with self._lock:
            tokens, last_s = self._buckets.get(key, (float(self.burst), now_s))
            tokens = min(float(self.burst), tokens + max(0.0, now_s - last_s) * self.rate_per_s)
            if n <= tokens:
                self._buckets[key] = (tokens - n, now_s)
                return 0.0
            self._buckets[key] = (tokens, now_s)
            if len(self._buckets) > self._max_keys:
                self._buckets = {k: v for k, v in self._buckets.items() if v[0] < self.burst}
            if n > self.burst:
                return math.inf
            return (n - tokens) / self.rate_per_s


@dataclass(frozen=True, slots=True)
class ReadingQuery:
    sensor_id: str
    since_ms: int | None = None
    until_ms: int | None = None
    limit: int = 100


@runtime_checkable
class SensorReadingStore(Protocol):
    def insert_readings(self, readings: Sequence[SensorReading]) -> int:
        """Store readings (a reading of the same sensor and ts_ms replaces the earlier one)."""
        ...

    def query_readings(self, q: ReadingQuery) -> list[SensorReading]:
        """Newest first, time bounds inclusive."""
        ...


class ReadingSink(Protocol):
    def submit(self, readings: Sequence[SensorReading]) -> None:
        """Hand over a validated batch (stored, or on the bus, when it returns); BusError / StoreError."""
        ...


#: Origin of readings the API validated and rate-limited before putting them on the bus.
ORIGIN_API = "api"


@dataclass(frozen=True, slots=True)
class ReadingMessage:
    """One message of the readings topic: key = sensor id, value = a reading or a list (JSON)."""

    sensor_id: str
    payload: Any
    origin: str
    raw: bytes
    where: str


@dataclass(frozen=True, slots=True)
class ReadingBatch:
    messages: list[ReadingMessage]
    dead_letters: list[DeadLetter]


class ReadingConsumer(Protocol):
    def poll(self, timeout_s: float, max_records: int) -> ReadingBatch: ...

    def commit(self) -> None: ...

    def close(self) -> None: ...


class SensorRegistry:
    """The sensors of a deployment over a `CameraRegistry` backend (a file or a compacted topic).

    The backend stores opaque specs keyed by `"id"`; this adds the sensor model on top. A stored spec
    this version cannot read (written by a newer one) is skipped with a warning, never lost.
    """

    def __init__(self, backend: CameraRegistry) -> None:
        self._backend = backend

    def _record(self, raw: Any) -> SensorRecord | None:
        try:
            spec = SensorSpec.model_validate(raw.spec)
        except ValidationError as exc:
            logger.warning("sensor %s in the registry is not readable, skipped: %s", raw.camera_id, exc)
            return None
        return SensorRecord(spec=spec, version=raw.version, updated_ts_ms=raw.updated_ts_ms)

    def list(self) -> list[SensorRecord]:
        return [r for r in map(self._record, self._backend.list()) if r is not None]

    def get(self, sensor_id: str) -> SensorRecord | None:
        raw = self._backend.get(sensor_id)
        return None if raw is None else self._record(raw)

    def put(self, spec: SensorSpec) -> SensorRecord:
        record = self._record(self._backend.put(spec.model_dump(mode="json")))
        if record is None:
            raise RegistryError(f"sensor {spec.id} was stored but cannot be read back")
        return record

    def delete(self, sensor_id: str) -> bool:
        return self._backend.delete(sensor_id)

    def close(self) -> None:
        self._backend.close()
