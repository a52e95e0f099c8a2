"""The sink loop with fakes (order of insert/commit, retries, draining) and on the real embedded parts."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from events.bus.inproc import InProcessBus
from events.ports import BusError, ConsumedBatch, DeadLetter, EventGroupBy, EventPage, EventQuery, StoreError
from events.schema import Event
from events.sink import SinkStats, run_sink
from events.store.chdb_store import ChdbStore
from tests.unit.events_samples import make_event


class FakeConsumer:
    """Hands out scripted batches; remembers what is returned but not committed; logs every call."""

    def __init__(self, batches: Sequence[ConsumedBatch], log: list[str]) -> None:
        self._batches = list(batches)
        self._log = log
        self.in_flight: list[Event] = []
        self.committed: list[Event] = []
        self.polls = 0

    def poll(self, timeout_s: float, max_records: int) -> ConsumedBatch:
        self.polls += 1
        if not self._batches:
            time.sleep(min(timeout_s, 0.01))
            return ConsumedBatch([], [])
        batch = self._batches.pop(0)
        assert len(batch.events) + len(batch.dead_letters) <= max_records
        self.in_flight.extend(batch.events)
        self._log.append(f"poll {len(batch.events)}")
        return batch

    def commit(self) -> None:
        self._log.append(f"commit {len(self.in_flight)}")
        self.committed.extend(self.in_flight)
        self.in_flight.clear()

    def close(self) -> None:
        pass


class FakeStore:
    def __init__(self, log: list[str], fail_times: int = 0) -> None:
        self.rows: dict[uuid.UUID, Event] = {}
        self._log = log
        self.fail_times = fail_times

    def ensure_schema(self) -> None:
        pass

    def insert(self, events: Sequence[Event]) -> int:
        if self.fail_times:
            self.fail_times -= 1
            self._log.append("insert failed")
            raise StoreError("cannot reach ClickHouse at 127.0.0.1:9000: connection refused")
        new = [e for e in events if e.event_id not in self.rows]
        for e in new:
            self.rows.setdefault(e.event_id, e)
        self._log.append(f"insert {len(events)}")
        return len({e.event_id for e in new})

    def query(self, q: EventQuery) -> EventPage:
        raise NotImplementedError

    def get(self, event_id: uuid.UUID) -> Event | None:
        return self.rows.get(event_id)

    def count_by_type(self, camera_id: str | None = None) -> dict[str, int]:
        raise NotImplementedError

    def aggregate(self, q: EventQuery, group_by: EventGroupBy) -> dict[str, int]:
        raise NotImplementedError

    def close(self) -> None:
        pass


def _batches(sizes: Sequence[int], start: int = 0) -> list[ConsumedBatch]:
    out, i = [], start
    for n in sizes:
        out.append(ConsumedBatch([make_event(k) for k in range(i, i + n)], []))
        i += n
    return out


def _stopped() -> threading.Event:
    stop = threading.Event()
    stop.set()
    return stop


def _run(consumer: FakeConsumer, store: FakeStore, **overrides: Any) -> SinkStats:
    """run_sink with fast timings, stopped (drain and exit) unless told otherwise."""
    kwargs: dict[str, Any] = {
        "batch_max": 5,
        "batch_wait_s": 0.01,
        "stop": _stopped(),
        "retry_initial_s": 0.01,
        "retry_max_s": 0.02,
        **overrides,
    }
    return run_sink(consumer, store, **kwargs)


def test_store_failing_is_retried_and_commit_comes_only_after_the_insert() -> None:
    log: list[str] = []
    consumer = FakeConsumer(_batches([3, 2]), log)
    store = FakeStore(log, fail_times=2)
    stats = _run(consumer, store, batch_max=3)
    assert log == [
        "poll 3",
        "insert failed",
        "insert failed",
        "insert 3",
        "commit 3",
        "poll 2",
        "insert 2",
        "commit 2",
    ]
    assert len(store.rows) == 5
    assert [e.event_id for e in consumer.committed] == [make_event(i).event_id for i in range(5)]
    assert (stats.consumed, stats.inserted, stats.duplicates, stats.store_retries) == (5, 5, 0, 2)


def test_batches_are_filled_up_to_batch_max_but_never_beyond() -> None:
    log: list[str] = []
    consumer = FakeConsumer(_batches([2, 2, 2, 2, 1]), log)
    store = FakeStore(log)
    stats = _run(consumer, store, batch_max=4, batch_wait_s=1.0)
    inserts = [int(line.split()[1]) for line in log if line.startswith("insert")]
    assert inserts == [4, 4, 1]
    assert stats.batches == 3 and len(store.rows) == 9


def test_redelivered_events_count_as_duplicates() -> None:
    log: list[str] = []
    consumer = FakeConsumer(_batches([4]) + _batches([4]), log)  # the same 4 twice
    stats = _run(consumer, FakeStore(log), batch_max=4)
    assert (stats.consumed, stats.inserted, stats.duplicates) == (8, 4, 4)


def test_without_drain_a_set_stop_consumes_nothing() -> None:
    log: list[str] = []
    consumer = FakeConsumer(_batches([3]), log)
    stats = _run(consumer, FakeStore(log), batch_max=3, drain_on_stop=False)
    assert log == [] and stats.consumed == 0


def test_stop_while_the_store_is_down_gives_up_without_committing() -> None:
    log: list[str] = []
    consumer = FakeConsumer(_batches([3]), log)
    started = time.monotonic()
    stats = _run(consumer, FakeStore(log, fail_times=10**9), batch_max=3, stop_grace_s=0.2)
    assert time.monotonic() - started < 5
    assert not any(line.startswith("commit") for line in log)
    assert consumer.committed == [] and stats.uncommitted == 3 and stats.inserted == 0


def test_dead_letters_go_to_the_handler_which_is_retried() -> None:
    log: list[str] = []
    letters = [DeadLetter(raw=b"{oops", reason="invalid JSON: ...", key=b"cam")]
    consumer = FakeConsumer([ConsumedBatch([make_event(1)], letters)], log)
    received: list[DeadLetter] = []
    failures = [1]

    def handler(batch: Sequence[DeadLetter]) -> None:
        if failures[0]:
            failures[0] -= 1
            raise BusError("cannot reach Kafka at 127.0.0.1:9092")
        received.extend(batch)
        log.append("dlq")

    stats = _run(consumer, FakeStore(log), batch_max=5, dead_letters=handler)
    assert received == letters
    assert log == ["poll 1", "insert 1", "dlq", "commit 1"]
    assert stats.dead_letters == 1


def test_dead_letters_without_a_handler_are_logged_not_dropped(caplog: pytest.LogCaptureFixture) -> None:
    log: list[str] = []
    letters = [DeadLetter(raw=b"garbage", reason="invalid JSON: Expecting value", key=None)]
    consumer = FakeConsumer([ConsumedBatch([], letters)], log)
    with caplog.at_level(logging.ERROR, logger="events.dlq"):
        stats = _run(consumer, FakeStore(log), batch_max=5)
    assert stats.dead_letters == 1
    assert "invalid JSON: Expecting value" in caplog.text and "garbage" in caplog.text
    assert log == ["poll 0", "commit 0"]


def test_idle_exit_ends_a_sink_that_is_not_stopped() -> None:
    log: list[str] = []
    consumer = FakeConsumer(_batches([2]), log)
    started = time.monotonic()
    stats = _run(consumer, FakeStore(log), stop=threading.Event(), idle_exit_s=0.2)
    assert stats.inserted == 2
    assert 0.15 <= time.monotonic() - started < 3


@pytest.mark.parametrize(
    ("kwargs", "message"), [({"batch_max": 0}, "batch_max"), ({"batch_wait_s": 0}, "batch_wait_s")]
)
def test_bad_settings_are_refused(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _run(FakeConsumer([], []), FakeStore([]), **kwargs)


def test_inprocess_bus_to_chdb_stores_everything_once(tmp_path: Path) -> None:
    """Publishers, the sink thread and flush on the real embedded parts: 1,000 events, duplicates too."""
    bus = InProcessBus(100, publish_timeout_s=30)
    store = ChdbStore(tmp_path / "chdb")
    store.ensure_schema()
    stop = threading.Event()
    result: list[object] = []
    sink = threading.Thread(
        target=lambda: result.append(
            run_sink(bus.consumer(), store, batch_max=64, batch_wait_s=0.05, stop=stop, progress_every_s=0.5)
        )
    )
    sink.start()
    try:
        pub = bus.publisher()
        for i in range(1000):
            pub.publish(make_event(i))
        for i in range(0, 1000, 10):  # replays: same ids
            pub.publish(make_event(i))
        pub.flush(timeout_s=60)
        assert store.query(EventQuery(limit=1)).total == 1000  # all stored before flush returned
        stop.set()
        sink.join(timeout=30)
        assert not sink.is_alive()
        stats = result[0]
        assert isinstance(stats, SinkStats)
        assert (stats.consumed, stats.inserted, stats.duplicates) == (1100, 1000, 100)
    finally:
        stop.set()
        store.close()


def test_a_bus_error_while_filling_a_batch_keeps_what_was_already_polled() -> None:
    log: list[str] = []

    class FlakyConsumer(FakeConsumer):
        def poll(self, timeout_s: float, max_records: int) -> ConsumedBatch:
            if self.polls == 1:
                self.polls += 1
                raise BusError("Kafka at 127.0.0.1:9092: poll of anfang.events failed: disconnected")
            return super().poll(timeout_s, max_records)

    consumer = FlakyConsumer(_batches([2, 2]), log)
    stats = _run(consumer, FakeStore(log), batch_max=10, batch_wait_s=1.0)
    assert log[:3] == ["poll 2", "insert 2", "commit 2"]
    assert stats.inserted == 4 and len(consumer.committed) == 4
