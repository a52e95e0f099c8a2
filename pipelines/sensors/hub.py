"""The sensor hub: readings -> rules -> `sensor_alarm` events; alarms + video findings -> `incident`s.

`SensorHub` is the logic, single-threaded, publishing what it produces on an `EventPublisher`.
It runs either
- embedded (`EmbeddedSensorHub`): a thread fed through a bounded queue by the API's readings (stored
  first, synchronously: the API's `ReadingSink`) and by a tee of the pipeline's event publisher;
- distributed (`pipelines/sensors/runner.py`): the `anfang sensors` process consuming `anfang.sensors`
  and `anfang.events`.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from events.ports import EventPublisher
from events.schema import Event
from events.sensors import SensorReading, SensorReadingStore, SensorRecord
from pipelines.sensors.config import SensorHubConfig
from pipelines.sensors.fusion import Fusion
from pipelines.sensors.rules import SensorRules

logger = logging.getLogger(__name__)


class SensorLookup(Protocol):
    def get(self, sensor_id: str) -> SensorRecord | None: ...


@dataclass(slots=True)
class HubStats:
    readings: int = 0
    alarms: int = 0
    incidents: int = 0
    unknown_sensor: int = 0
    rejected: int = 0
    rate_limited: int = 0
    dropped: int = 0  # embedded: queue full, not evaluated (readings stay stored)
    late: int = 0


class SensorHub:
    def __init__(
        self, sensors: SensorLookup, publisher: EventPublisher, config: SensorHubConfig, worker_id: str
    ) -> None:
        self.sensors = sensors
        self.publisher = publisher
        self.config = config
        self.rules = SensorRules(worker_id)
        self.fusion = Fusion(config.fusion, worker_id)
        self.stats = HubStats()

    def on_readings(self, readings: Sequence[SensorReading]) -> list[Event]:
        """Evaluates validated readings (per sensor, in time order); publishes and returns the events."""
        by_sensor: dict[str, list[SensorReading]] = {}
        for r in readings:
            by_sensor.setdefault(r.sensor_id, []).append(r)
        out: list[Event] = []
        for sensor_id, batch in by_sensor.items():
            record = self.sensors.get(sensor_id)
            if record is None:
                self.stats.unknown_sensor += len(batch)
                continue
            for reading in sorted(batch, key=lambda r: r.ts_ms):
                self.stats.readings += 1
                for alarm in self.rules.evaluate(record, reading):
                    out.append(alarm)
                    self.stats.alarms += getattr(alarm.attributes, "phase", "") == "start"
                    out.extend(self.fusion.on_alarm(alarm, record.spec))
        self.stats.late = self.rules.late
        return self._publish(out)

    def on_event(self, event: Event) -> list[Event]:
        """A pipeline event: fused with open or recent alarm episodes when it is a video finding."""
        return self._publish(self.fusion.on_finding(event))

    def _publish(self, events: list[Event]) -> list[Event]:
        for event in events:
            self.publisher.publish(event)
        self.stats.incidents = self.fusion.incidents
        return events


class TeePublisher:
    """An `EventPublisher` that also shows every published event to `observer` (which must not block)."""

    def __init__(self, inner: EventPublisher, observer: Callable[[Event], None]) -> None:
        self._inner = inner
        self._observer = observer

    def publish(self, event: Event) -> None:
        self._inner.publish(event)
        self._observer(event)

    def flush(self, timeout_s: float = 30.0) -> None:
        self._inner.flush(timeout_s)

    def close(self) -> None:
        self._inner.close()


_Item = tuple[str, Sequence[SensorReading] | Event]


class EmbeddedSensorHub:
    """The hub on a thread of this process; the API's `ReadingSink` (readings are stored, then queued)."""

    def __init__(self, hub: SensorHub, store: SensorReadingStore) -> None:
        self.hub = hub
        self._store = store
        self._queue: queue.Queue[_Item | None] = queue.Queue(hub.config.queue_max)
        self._thread = threading.Thread(target=self._run, name="sensor-hub", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def submit(self, readings: Sequence[SensorReading]) -> None:
        """Stores the batch (StoreError passes through: nothing queued), then queues it for the rules."""
        self._store.insert_readings(readings)
        self._offer(("readings", list(readings)), len(readings))

    def observe(self, event: Event) -> None:
        """A pipeline event (from `tee`); never blocks the pipeline: dropped and counted when full."""
        if self.hub.fusion.wants(event):
            self._offer(("event", event), 1)

    def tee(self, publisher: EventPublisher) -> TeePublisher:
        return TeePublisher(publisher, self.observe)

    def stop(self, timeout_s: float = 10.0) -> None:
        """Processes what is queued, then stops the thread."""
        if self._thread.is_alive():
            self._queue.put(None, timeout=timeout_s)
            self._thread.join(timeout=timeout_s)
        logger.info("sensor hub: %s", self.hub.stats)

    def _offer(self, item: _Item, count: int) -> None:
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            self.hub.stats.dropped += count
            if self.hub.stats.dropped == count or self.hub.stats.dropped % 1000 < count:
                logger.warning("sensor hub is behind: %d item(s) not evaluated", self.hub.stats.dropped)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            try:
                kind, payload = item
                if isinstance(payload, Event):
                    self.hub.on_event(payload)
                else:
                    self.hub.on_readings(payload)
            except Exception:  # the hub must outlive one bad item (a bus hiccup, a bug)
                logger.exception("sensor hub failed on %s", kind)
