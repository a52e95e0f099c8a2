"""The distributed sensor hub loop (`anfang sensors`): readings from `anfang.sensors`, video findings
from `anfang.events`, alarms and incidents back to `anfang.events`.

Each round: poll readings; check every message against its sensor (the same `check_readings` as the
API: unknown sensor, unit, timestamps, NaN, batch size) and, unless the API already did, the per-sensor
rate limit; store what passed (one insert), evaluate it, fuse it with the findings polled from the
events topic; flush the publisher; then commit both consumers. A crash between store and commit
replays the round: readings are deduplicated by (sensor, ts_ms) and events by their deterministic id.
Rejected messages go to the dead-letter handler with the reason; rate-limited ones are counted.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence

from events.ports import DeadLetter, EventConsumer
from events.sensors import (
    ORIGIN_API,
    ReadingConsumer,
    ReadingsRejectedError,
    SensorReading,
    SensorReadingStore,
    TokenBuckets,
    check_readings,
)
from pipelines.sensors.hub import HubStats, SensorHub

logger = logging.getLogger(__name__)

DeadLetterHandler = Callable[[Sequence[DeadLetter]], None]


def _now_ms() -> int:
    return int(time.time() * 1000)


class SensorRound:
    """One poll-evaluate-commit round; `run_sensor_hub` repeats it until stopped."""

    def __init__(
        self,
        hub: SensorHub,
        readings: ReadingConsumer,
        store: SensorReadingStore,
        *,
        events: EventConsumer | None = None,
        dead_letters: DeadLetterHandler | None = None,
        now_ms: Callable[[], int] = _now_ms,
    ) -> None:
        self.hub = hub
        self.readings = readings
        self.events = events
        self.store = store
        self.dead_letters = dead_letters
        self.now_ms = now_ms
        limits = hub.config.ingest
        self.buckets = TokenBuckets(limits.rate_per_s, limits.burst)

    def run_once(self) -> int:
        """Returns how many messages (readings and events) the round handled."""
        config = self.hub.config
        batch = self.readings.poll(config.poll_timeout_s, config.poll_max_records)
        dead = list(batch.dead_letters)
        accepted: list[SensorReading] = []
        now_ms = self.now_ms()
        for msg in batch.messages:
            record = self.hub.sensors.get(msg.sensor_id)
            if record is None:
                self.hub.stats.unknown_sensor += 1
                dead.append(DeadLetter(msg.raw, f"{msg.where}: unknown sensor {msg.sensor_id!r}"))
                continue
            try:
                readings = check_readings(record.spec, msg.payload, now_ms, config.ingest)
            except ReadingsRejectedError as exc:
                self.hub.stats.rejected += 1
                dead.append(DeadLetter(msg.raw, f"{msg.where}: {exc}", msg.sensor_id.encode()))
                continue
            if msg.origin != ORIGIN_API and self.buckets.take(msg.sensor_id, len(readings)) > 0:
                self.hub.stats.rate_limited += len(readings)
                continue
            accepted.extend(readings)
        if dead:
            for letter in dead:
                logger.warning("reading refused: %s", letter.reason)
            if self.dead_letters is not None:
                self.dead_letters(dead)
        if accepted:
            self.store.insert_readings(accepted)
            self.hub.on_readings(accepted)
        handled = len(batch.messages) + len(batch.dead_letters)
        if self.events is not None:
            found = self.events.poll(0.0 if handled else config.poll_timeout_s, config.poll_max_records)
            for event in found.events:
                self.hub.on_event(event)
            handled += len(found.events)
        self.hub.publisher.flush()
        self.readings.commit()
        if self.events is not None:
            self.events.commit()
        return handled

    def close(self) -> None:
        """Closes the consumers, the dead-letter handler (if closable) and the hub's publisher."""
        self.readings.close()
        if self.events is not None:
            self.events.close()
        close_dead = getattr(self.dead_letters, "close", None)
        if callable(close_dead):
            close_dead()
        self.hub.publisher.close()


def run_sensor_hub(
    rounds: SensorRound, stop: threading.Event, *, idle_exit_s: float | None = None
) -> HubStats:
    """Runs rounds until `stop` (or `idle_exit_s` without a message); logs the counters now and then."""
    hub = rounds.hub
    last_log = last_busy = time.monotonic()
    while not stop.is_set():
        if rounds.run_once():
            last_busy = time.monotonic()
        elif idle_exit_s is not None and time.monotonic() - last_busy >= idle_exit_s:
            break
        if time.monotonic() - last_log >= hub.config.stats_every_s:
            logger.info("sensor hub: %s", hub.stats)
            last_log = time.monotonic()
    logger.info("sensor hub stopped: %s", hub.stats)
    return hub.stats
