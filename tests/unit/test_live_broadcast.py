"""EventBroadcaster fan-out (order, drop-oldest, filters, wake-ups), BroadcastingPublisher, asyncio bridge."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from api.live_bridge import AsyncSubscription, LoopWaker
from events.bus.broadcast import BroadcastingPublisher, EventBroadcaster
from events.ports import BusError
from events.schema import Event
from tests.unit.events_samples import build_event

T0_MS = 1_795_000_000_000


def events(n: int, **fields: object) -> list[Event]:
    return [build_event(ts_ms=T0_MS + i, track_id=i, **fields) for i in range(n)]  # type: ignore[arg-type]


def test_every_subscriber_gets_every_event_in_the_same_order_with_concurrent_publishers() -> None:
    b = EventBroadcaster()
    subs = [b.subscribe(max_queued=1000) for _ in range(3)]
    batches = [events(100, camera_id=f"cam-{t}") for t in range(4)]
    threads = [threading.Thread(target=lambda es=es: [b.publish(e) for e in es]) for es in batches]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    received = [[e.event_id for e in s.drain()] for s in subs]
    assert len(received[0]) == 400
    assert received[0] == received[1] == received[2]
    for batch in batches:  # each publisher's own order is kept
        ids = {e.event_id for e in batch}
        assert [i for i in received[0] if i in ids] == [e.event_id for e in batch]
    assert b.published == 400


def test_a_slow_subscriber_loses_its_oldest_events_and_counts_them_without_slowing_the_others() -> None:
    b = EventBroadcaster()
    slow = b.subscribe(max_queued=3, name="slow")
    fast = b.subscribe(max_queued=100, name="fast")
    published = events(5)
    started = time.perf_counter()
    for e in published:
        assert b.publish(e) == 2
    assert time.perf_counter() - started < 1.0  # never waits for anyone
    assert [e.event_id for e in slow.drain()] == [e.event_id for e in published[2:]]
    assert slow.dropped == 2
    assert [e.event_id for e in fast.drain()] == [e.event_id for e in published]
    assert fast.dropped == 0
    assert b.dropped == 2
    slow.close()
    assert b.dropped == 2  # a closed subscriber's drops still count


@pytest.mark.parametrize(
    ("camera_id", "taken"),
    [("cam-1", 1), ("cam-2", 0)],
)
def test_a_filter_decides_what_a_subscriber_receives(camera_id: str, taken: int) -> None:
    b = EventBroadcaster()
    sub = b.subscribe(max_queued=10, accepts=lambda e: e.camera_id == "cam-1")
    assert b.publish(events(1, camera_id=camera_id)[0]) == taken
    assert sub.pending == taken


def test_a_failing_filter_or_wake_up_does_not_stop_the_fan_out() -> None:
    b = EventBroadcaster()

    def broken(event: Event) -> bool:
        raise KeyError("boom")

    def broken_wake() -> None:
        raise RuntimeError("boom")

    b.subscribe(max_queued=10, accepts=broken)
    woken = b.subscribe(max_queued=10, on_ready=broken_wake)
    ok = b.subscribe(max_queued=10)
    assert b.publish(events(1)[0]) == 2
    assert woken.pending == 1 and ok.pending == 1


def test_the_wake_up_comes_once_per_burst_when_the_queue_was_empty() -> None:
    b = EventBroadcaster()
    wakes: list[int] = []
    sub = b.subscribe(max_queued=10, on_ready=lambda: wakes.append(1))
    for e in events(3):
        b.publish(e)
    assert len(wakes) == 1
    assert len(sub.drain()) == 3
    b.publish(events(1)[0])
    assert len(wakes) == 2


def test_a_closed_subscription_receives_nothing_and_is_forgotten() -> None:
    b = EventBroadcaster()
    with b.subscribe(max_queued=10) as sub:
        assert b.subscribers == 1
    assert b.subscribers == 0 and sub.closed
    assert b.publish(events(1)[0]) == 0
    assert sub.get(timeout_s=0.01) is None


def test_get_waits_for_an_event_from_another_thread() -> None:
    b = EventBroadcaster()
    sub = b.subscribe(max_queued=10)
    event = events(1)[0]
    timer = threading.Timer(0.05, b.publish, args=(event,))
    timer.start()
    got = sub.get(timeout_s=5.0)
    timer.join()
    assert got is not None and got.event_id == event.event_id
    assert sub.get(timeout_s=0.01) is None


def test_subscribe_refuses_a_queue_of_zero() -> None:
    with pytest.raises(ValueError, match="max_queued"):
        EventBroadcaster().subscribe(max_queued=0)


class RecordingPublisher:
    def __init__(self, fail: bool = False) -> None:
        self.events: list[Event] = []
        self.fail = fail
        self.calls: list[str] = []

    def publish(self, event: Event) -> None:
        if self.fail:
            raise BusError("bus full")
        self.events.append(event)

    def flush(self, timeout_s: float = 30.0) -> None:
        self.calls.append(f"flush {timeout_s:g}")

    def close(self) -> None:
        self.calls.append("close")


def test_broadcasting_publisher_publishes_to_the_bus_then_to_the_live_feed() -> None:
    b = EventBroadcaster()
    sub = b.subscribe(max_queued=10)
    inner = RecordingPublisher()
    publisher = BroadcastingPublisher(inner, b)
    event = events(1)[0]
    publisher.publish(event)
    publisher.flush(3.0)
    publisher.close()
    assert inner.events == [event]
    assert sub.drain() == [event]
    assert inner.calls == ["flush 3", "close"]


def test_an_event_the_bus_refused_is_never_shown_live() -> None:
    b = EventBroadcaster()
    sub = b.subscribe(max_queued=10)
    publisher = BroadcastingPublisher(RecordingPublisher(fail=True), b)
    with pytest.raises(BusError):
        publisher.publish(events(1)[0])
    assert sub.pending == 0


def test_asyncio_subscribers_are_woken_from_another_thread_with_one_loop_call_per_burst() -> None:
    b = EventBroadcaster()
    published = events(3)

    async def main() -> tuple[list[list[Event]], int]:
        loop = asyncio.get_running_loop()
        calls = 0
        original = loop.call_soon_threadsafe

        def counting(*args: object, **kwargs: object) -> object:
            nonlocal calls
            calls += 1
            return original(*args, **kwargs)  # type: ignore[arg-type]

        loop.call_soon_threadsafe = counting  # type: ignore[method-assign, assignment]
        waker = LoopWaker(loop)
        subs = [AsyncSubscription(b, waker, max_queued=10, accepts=None, name=f"s{i}") for i in range(20)]
        publisher = threading.Thread(target=lambda: [b.publish(e) for e in published])
        batches = asyncio.gather(*(s.next_batch(timeout_s=5.0) for s in subs))
        await asyncio.sleep(0.01)  # every subscriber waits on an empty queue
        publisher.start()
        got = await batches
        publisher.join()
        for i, s in enumerate(subs):  # what the first wake-up did not catch comes with the next one
            while len(got[i]) < len(published):
                more = await s.next_batch(timeout_s=5.0)
                assert more, f"subscriber {i} got {len(got[i])} events"
                got[i] += more
            s.close()
        return got, calls

    got, calls = asyncio.run(main())
    assert all([e.event_id for e in batch] == [e.event_id for e in published] for batch in got)
    assert 1 <= calls <= len(published)  # not one per subscriber per event (20 x 3)


def test_next_batch_times_out_with_nothing() -> None:
    async def main() -> list[Event]:
        sub = AsyncSubscription(
            EventBroadcaster(), LoopWaker(asyncio.get_running_loop()), max_queued=1, accepts=None, name="x"
        )
        return await sub.next_batch(timeout_s=0.02)

    assert asyncio.run(main()) == []
