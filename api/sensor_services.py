"""Sensors at run time, without HTTP: the registry, readings ingestion (validated, rate-limited) and
the readings history.

Ingestion checks the whole batch before anything is handed on (nothing is stored half): an unknown
sensor is `SensorNotFoundError` (404); a bad item, wrong unit, timestamp out of the window, NaN or an
oversized batch is `ReadingsRejectedError` (422, each error's `loc` naming the item and field); a
sensor over its rate is `SensorRateLimitedError` (429, counted). The batch then goes to the injected
`ReadingSink`: the embedded hub (stored at once) or the readings topic (acknowledged by the broker).

Failures are typed; `api.app` maps them: 404, 409, 422, 429, and 503 for a missing or failing
registry, sink or store.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from api.services import NotFoundError
from events.cameras import RegistryError
from events.ports import BusError
from events.sensors import (
    ReadingLimits,
    ReadingQuery,
    ReadingSink,
    ReadingsRejectedError,
    SensorReading,
    SensorReadingStore,
    SensorRecord,
    SensorRegistry,
    SensorSpec,
    TokenBuckets,
    check_readings,
)

logger = logging.getLogger(__name__)


class SensorNotFoundError(NotFoundError):
    """No sensor with this id (-> 404)."""


class SensorExistsError(RuntimeError):
    """POST of a sensor id that is already registered (-> 409)."""


class SensorScopeError(PermissionError):
    """A scoped principal registering or moving a sensor outside its scope (-> 403)."""


class SensorsDisabledError(RuntimeError):
    """This process serves no sensors, or cannot take readings (-> 503)."""


class SensorUnavailableError(RuntimeError):
    """The sensor registry or the readings sink failed (-> 503)."""


class SensorBodyError(ValueError):
    """A body that is valid JSON for the model but wrong for the request (-> 422, `loc` from the body)."""

    def __init__(self, message: str, errors: list[dict[str, Any]]) -> None:
        super().__init__(message)
        self.errors = errors


class SensorRateLimitedError(RuntimeError):
    """A sensor sent more readings than its rate allows (-> 429 with Retry-After)."""

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


@dataclass(slots=True)
class IngestCounters:
    """What this process did with one sensor's readings since it started."""

    accepted: int = 0
    rejected_batches: int = 0
    rate_limited: int = 0


@contextmanager
def _registry_call(what: str) -> Iterator[None]:
    try:
        yield
    except RegistryError as exc:
        raise SensorUnavailableError(f"sensor registry unavailable ({what}): {exc}") from exc


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
        raise ReadingsRejectedError(
            [{"type": "json_invalid", "loc": (), "msg": f"not JSON: {exc}"}]
        ) from None


def _now_ms() -> int:
    return int(time.time() * 1000)


class SensorService:
    def __init__(
        self,
        registry: SensorRegistry,
        *,
        sink: ReadingSink | None,
        readings: SensorReadingStore | None,
        limits: ReadingLimits | None = None,
        now_ms: Callable[[], int] = _now_ms,
    ) -> None:
        self.registry = registry
        self.sink = sink
        self.readings = readings
        self.limits = limits or ReadingLimits()
        self._now_ms = now_ms
        self._buckets = TokenBuckets(self.limits.rate_per_s, self.limits.burst)
        self._counters: dict[str, IngestCounters] = {}

    def counters(self, sensor_id: str) -> IngestCounters:
        return self._counters.get(sensor_id) or IngestCounters()

    def all(self) -> list[SensorRecord]:
        with _registry_call("list"):
            return self.registry.list()

    def get(self, sensor_id: str) -> SensorRecord:
        with _registry_call("get"):
            record = self.registry.get(sensor_id)
        if record is None:
            raise SensorNotFoundError(f"sensor {sensor_id!r} not found")
        return record

    def add(self, spec: SensorSpec) -> SensorRecord:
        with _registry_call("add"):
            if self.registry.get(spec.id) is not None:
                raise SensorExistsError(f"sensor {spec.id!r} already exists (PUT /v1/sensors/{spec.id})")
            record = self.registry.put(spec)
        logger.info("sensor %s added (%s, %s)", spec.id, spec.kind.value, spec.unit)
        return record

    def replace(self, sensor_id: str, spec: SensorSpec) -> SensorRecord:
        if spec.id != sensor_id:
            msg = f"the body's id {spec.id!r} differs from the path's {sensor_id!r}"
            raise SensorBodyError(
                msg, [{"type": "value_error", "loc": ("id",), "msg": msg, "input": spec.id}]
            )
        self.get(sensor_id)
        with _registry_call("replace"):
            record = self.registry.put(spec)
        logger.info("sensor %s replaced (version %d)", sensor_id, record.version)
        return record

    def remove(self, sensor_id: str) -> None:
        with _registry_call("remove"):
            removed = self.registry.delete(sensor_id)
        if not removed:
            raise SensorNotFoundError(f"sensor {sensor_id!r} not found")
        logger.info("sensor %s removed", sensor_id)

    def ingest(self, sensor_id: str, body: bytes) -> int:
        """Validates the whole batch (a JSON body), takes it from the sensor's rate, hands it on;
        returns its size."""
        record = self.get(sensor_id)
        if self.sink is None:
            raise SensorsDisabledError("this process takes no readings (no readings sink)")
        counters = self._counters.setdefault(sensor_id, IngestCounters())
        try:
            readings = check_readings(record.spec, _json(body), self._now_ms(), self.limits)
        except ReadingsRejectedError:
            counters.rejected_batches += 1
            raise
        wait_s = self._buckets.take(sensor_id, len(readings), self._now_ms() / 1000)
        if wait_s > 0:
            counters.rate_limited += len(readings)
            if counters.rate_limited == len(readings) or counters.rate_limited % 1000 < len(readings):
                logger.warning(
                    "sensor %s over its rate: %d reading(s) refused", sensor_id, counters.rate_limited
                )
            raise SensorRateLimitedError(
                f"sensor {sensor_id!r} is over its rate ({self.limits.rate_per_s:g} readings/s, "
                f"burst {self.limits.burst}): retry in {wait_s:.1f} s",
                retry_after_s=wait_s,
            )
        try:
            self.sink.submit(readings)
        except BusError as exc:
            raise SensorUnavailableError(f"readings not accepted: {exc}") from exc
        counters.accepted += len(readings)
        return len(readings)

    def history(self, q: ReadingQuery) -> list[SensorReading]:
        """A sensor's readings, newest first (404 for a sensor not in the registry)."""
        self.get(q.sensor_id)
        if self.readings is None:
            raise SensorsDisabledError("this process has no readings store")
        return self.readings.query_readings(q)
