"""The in-process bus: bounded (never drops), flush waits for commits, uncommitted events come back."""

from __future__ import annotations

import threading
import time

import pytest

from events.bus.inproc import InProcessBus
from events.ports import BusError
from events.schema import Event
from tests.unit.events_samples import make_event


def test_poll_hands_out_in_publish_order_and_commit_frees_room() -> None:
    bus = InProcessBus(10)
    pub, con = bus.publisher(), bus.consumer()
    events = [make_event(i) for i in range(5)]
    for e in events:
        pub.publish(e)
    assert bus.uncommitted == 5
    first = con.poll(0.1, 3)
    second = con.poll(0.1, 10)
    assert first.events + second.events == events
    assert first.dead_letters == [] and second.dead_letters == []
    assert bus.uncommitted == 5  # handed out is not committed
    con.commit()
    assert bus.uncommitted == 0


def test_poll_on_empty_bus_waits_about_the_timeout() -> None:
    con = InProcessBus(10).consumer()
    started = time.monotonic()
    assert con.poll(0.2, 10).events == []
    assert 0.15 <= time.monotonic() - started < 1.0


def test_poll_wakes_up_when_an_event_arrives() -> None:
    bus = InProcessBus(10)
    pub, con = bus.publisher(), bus.consumer()
    threading.Timer(0.1, pub.publish, args=(make_event(1),)).start()
    started = time.monotonic()
    assert con.poll(5.0, 10).events == [make_event(1)]
    assert time.monotonic() - started < 2.0


def test_full_bus_blocks_then_raises_instead_of_dropping() -> None:
    bus = InProcessBus(3, publish_timeout_s=0.2)
    pub, con = bus.publisher(), bus.consumer()
    for i in range(3):
        pub.publish(make_event(i))
    con.poll(0.1, 10)  # handed out but not committed: still counts against the bound
    started = time.monotonic()
    with pytest.raises(BusError, match=r"in-process bus full: 3 events .*max_events=3"):
        pub.publish(make_event(3))
    assert time.monotonic() - started >= 0.15
    con.commit()
    pub.publish(make_event(3))  # room again
    assert con.poll(0.1, 10).events == [make_event(3)]


def test_blocked_publisher_resumes_when_the_consumer_commits() -> None:
    bus = InProcessBus(2, publish_timeout_s=5.0)
    pub, con = bus.publisher(), bus.consumer()
    pub.publish(make_event(0))
    pub.publish(make_event(1))

    def drain() -> None:
        con.poll(1.0, 10)
        con.commit()

    threading.Timer(0.1, drain).start()
    started = time.monotonic()
    pub.publish(make_event(2))
    assert 0.05 <= time.monotonic() - started < 4.0
    assert con.poll(1.0, 10).events == [make_event(2)]


def test_flush_waits_until_everything_published_is_committed() -> None:
    bus = InProcessBus(100)
    pub, con = bus.publisher(), bus.consumer()
    for i in range(20):
        pub.publish(make_event(i))
    committed: list[int] = []

    def consume() -> None:
        while len(committed) < 20:
            batch = con.poll(0.5, 7)
            time.sleep(0.02)
            con.commit()
            committed.extend(e.track_id or 0 for e in batch.events)

    t = threading.Thread(target=consume)
    t.start()
    pub.flush(timeout_s=5.0)
    assert len(committed) == 20  # flush returned only after the last commit
    t.join()


def test_flush_times_out_with_a_bus_error_when_nobody_consumes() -> None:
    bus = InProcessBus(10)
    pub = bus.publisher()
    pub.publish(make_event(0))
    with pytest.raises(BusError, match=r"flush timed out after 0\.1 s: 1 events still not stored"):
        pub.flush(timeout_s=0.1)
    assert bus.uncommitted == 1  # still there, not dropped


def test_flush_on_empty_bus_returns_at_once() -> None:
    started = time.monotonic()
    InProcessBus(10).publisher().flush(timeout_s=5.0)
    assert time.monotonic() - started < 0.5


def test_uncommitted_events_are_redelivered_in_order_after_close() -> None:
    bus = InProcessBus(10)
    pub = bus.publisher()
    events = [make_event(i) for i in range(5)]
    for e in events:
        pub.publish(e)
    first = bus.consumer()
    assert first.poll(0.1, 2).events == events[:2]
    first.commit()
    assert first.poll(0.1, 2).events == events[2:4]  # in flight, never committed
    first.close()
    second = bus.consumer()
    assert second.poll(0.1, 10).events == events[2:]
    second.commit()
    assert bus.uncommitted == 0


def test_closed_ends_refuse_use() -> None:
    bus = InProcessBus(10)
    pub, con = bus.publisher(), bus.consumer()
    pub.close()
    con.close()
    with pytest.raises(BusError, match="publisher is closed"):
        pub.publish(make_event(0))
    with pytest.raises(BusError, match="consumer is closed"):
        con.poll(0.0, 1)
    with pytest.raises(BusError, match="consumer is closed"):
        con.commit()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_events": 0}, "max_events must be >= 1"),
        ({"max_events": 1, "publish_timeout_s": -1}, "publish_timeout_s"),
    ],
)
def test_bad_settings_are_refused(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        InProcessBus(**kwargs)  # type: ignore[arg-type]


def test_bad_poll_size_and_non_events_are_refused() -> None:
    bus = InProcessBus(10)
    with pytest.raises(ValueError, match="max_records must be >= 1"):
        bus.consumer().poll(0.0, 0)
    with pytest.raises(TypeError, match="takes an Event"):
        bus.publisher().publish({"event_id": "x"})  # type: ignore[arg-type]


def test_many_publishers_one_consumer_nothing_lost_nothing_twice() -> None:
    bus = InProcessBus(50, publish_timeout_s=10.0)
    con = bus.consumer()
    per_thread, threads_n = 300, 4

    def produce(t: int) -> None:
        pub = bus.publisher()
        for i in range(per_thread):
            pub.publish(make_event(t * per_thread + i))

    threads = [threading.Thread(target=produce, args=(t,)) for t in range(threads_n)]
    for t in threads:
        t.start()
    seen: list[Event] = []
    deadline = time.monotonic() + 20
    while len(seen) < per_thread * threads_n and time.monotonic() < deadline:
        seen.extend(con.poll(0.2, 64).events)
        con.commit()
    for t in threads:
        t.join()
    ids = [e.event_id for e in seen]
    assert len(ids) == per_thread * threads_n
    assert len(set(ids)) == len(ids)
    assert bus.uncommitted == 0


def test_the_publisher_reports_what_the_sink_has_not_committed() -> None:
    bus = InProcessBus(10)
    publisher, consumer = bus.publisher(), bus.consumer()
    for i in range(3):
        publisher.publish(make_event(i))
    assert publisher.uncommitted == 3
    assert len(consumer.poll(0.1, 10).events) == 3
    assert publisher.uncommitted == 3  # polled is not stored
    consumer.commit()
    assert publisher.uncommitted == 0
