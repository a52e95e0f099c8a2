"""The embedded bus: a bounded, thread-safe, in-process log with Kafka-like poll/commit semantics.

Every published event gets an offset. `poll` hands events out (they are then "in flight" for that
consumer); `commit` marks the consumer's in-flight events done; a consumer closed with uncommitted
events puts them back at the head of the queue, so the next consumer gets them again (at-least-once
within the process; the store dedupes by event_id). The bound counts events published but not yet
committed: a publisher waits up to `publish_timeout_s` for room, then raises BusError (never drops).
Events are immutable pydantic models and pass by reference: no serialisation in-process.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import deque

from events.ports import BusError, ConsumedBatch
from events.schema import Event

_Record = tuple[int, Event]


class InProcessBus:
    def __init__(self, max_events: int, *, publish_timeout_s: float = 10.0) -> None:
        if max_events < 1:
            raise ValueError(f"max_events must be >= 1, got {max_events}")
        if publish_timeout_s < 0:
            raise ValueError(f"publish_timeout_s must be >= 0, got {publish_timeout_s}")
        self.max_events = max_events
        self.publish_timeout_s = publish_timeout_s
        self._cond = threading.Condition()
        self._ready: deque[_Record] = deque()
        self._in_flight: dict[int, list[_Record]] = {}  # consumer id -> records handed out
        self._next_offset = 0
        self._uncommitted = 0
        self._consumer_ids = itertools.count()

    def publisher(self) -> InProcessPublisher:
        return InProcessPublisher(self)

    def consumer(self) -> InProcessConsumer:
        with self._cond:
            consumer_id = next(self._consumer_ids)
            self._in_flight[consumer_id] = []
        return InProcessConsumer(self, consumer_id)

    @property
    def uncommitted(self) -> int:
        """Events published and not yet committed (queued or in flight)."""
        with self._cond:
            return self._uncommitted

    # -- called by publishers / consumers, under no lock ----------------------------------------

    def _publish(self, event: Event) -> None:
        if not isinstance(event, Event):
            raise TypeError(f"publish() takes an Event, got {type(event).__name__}")
        deadline = time.monotonic() + self.publish_timeout_s
        with self._cond:
            while self._uncommitted >= self.max_events:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise BusError(
                        f"in-process bus full: {self._uncommitted} events published but not stored for "
                        f"{self.publish_timeout_s:g} s (max_events={self.max_events}); "
                        "the sink is stopped or not keeping up"
                    )
                self._cond.wait(remaining)
            self._ready.append((self._next_offset, event))
            self._next_offset += 1
            self._uncommitted += 1
            self._cond.notify_all()

    def _lowest_uncommitted(self) -> int:
        candidates = [records[0][0] for records in self._in_flight.values() if records]
        if self._ready:
            candidates.append(self._ready[0][0])
        return min(candidates, default=self._next_offset)

    def _flush(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        with self._cond:
            target = self._next_offset
            while self._lowest_uncommitted() < target:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise BusError(
                        f"in-process bus flush timed out after {timeout_s:g} s: "
                        f"{self._uncommitted} events still not stored (is the sink running?)"
                    )
                self._cond.wait(remaining)

    def _poll(self, consumer_id: int, timeout_s: float, max_records: int) -> list[Event]:
        if max_records < 1:
            raise ValueError(f"max_records must be >= 1, got {max_records}")
        deadline = time.monotonic() + max(timeout_s, 0.0)
        with self._cond:
            while not self._ready:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return []
                self._cond.wait(remaining)
            taken = [self._ready.popleft() for _ in range(min(max_records, len(self._ready)))]
            self._in_flight[consumer_id].extend(taken)
            return [event for _, event in taken]

    def _commit(self, consumer_id: int) -> None:
        with self._cond:
            records = self._in_flight[consumer_id]
            if records:
                self._uncommitted -= len(records)
                records.clear()
                self._cond.notify_all()

    def _close_consumer(self, consumer_id: int) -> None:
        """Uncommitted records go back to the head of the queue, in offset order."""
        with self._cond:
            records = self._in_flight.pop(consumer_id, [])
            if records:
                merged = sorted([*records, *self._ready], key=lambda r: r[0])
                self._ready = deque(merged)
                self._cond.notify_all()


class InProcessPublisher:
    def __init__(self, bus: InProcessBus) -> None:
        self._bus = bus
        self._closed = False

    def publish(self, event: Event) -> None:
        if self._closed:
            raise BusError("in-process publisher is closed")
        self._bus._publish(event)

    def flush(self, timeout_s: float = 30.0) -> None:
        """Waits until every event published so far (by anyone) is committed by a consumer."""
        self._bus._flush(timeout_s)

    @property
    def uncommitted(self) -> int:
        """Events published on the bus (by anyone) and not yet committed by its sink: the sink's lag."""
        return self._bus.uncommitted

    def close(self) -> None:
        self._closed = True


class InProcessConsumer:
    def __init__(self, bus: InProcessBus, consumer_id: int) -> None:
        self._bus = bus
        self._id = consumer_id
        self._closed = False

    def poll(self, timeout_s: float, max_records: int) -> ConsumedBatch:
        if self._closed:
            raise BusError("in-process consumer is closed")
        return ConsumedBatch(events=self._bus._poll(self._id, timeout_s, max_records), dead_letters=[])

    def commit(self) -> None:
        if self._closed:
            raise BusError("in-process consumer is closed")
        self._bus._commit(self._id)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._bus._close_consumer(self._id)
