"""In-process fan-out of events to live subscribers (what feeds the API's live alert push).

`EventBroadcaster.publish` hands each event to every subscription whose filter accepts it. Each
subscription has its own bounded queue: when a slow subscriber falls behind, its oldest event is
dropped and counted, so the publisher (the pipeline, or the Kafka reader) never waits for a client.
Publishing is serialised, so every subscriber sees the events in the same order.

Waking consumers: a subscription calls its `on_ready` callback (on the publisher's thread, outside any
lock) when its queue goes from empty to non-empty, i.e. once per burst, not once per event; an asyncio
consumer turns that into a `call_soon_threadsafe` (see api/live_bridge.py). Thread consumers use `get`.

`BroadcastingPublisher` wraps the pipeline's `EventPublisher` in embedded mode: an event reaches the
live feed once the bus has taken it (an event the bus refused is never shown live).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable

from events.ports import EventPublisher
from events.schema import Event

logger = logging.getLogger(__name__)

EventFilter = Callable[[Event], bool]
ReadyCallback = Callable[[], None]


class Subscription:
    """One subscriber's bounded queue (drop-oldest). Thread-safe; made by `EventBroadcaster.subscribe`."""

    def __init__(
        self,
        broadcaster: EventBroadcaster,
        max_queued: int,
        accepts: EventFilter | None,
        on_ready: ReadyCallback | None,
        name: str,
    ) -> None:
        self.max_queued = max_queued
        self.name = name
        self.dropped = 0  # events dropped because this subscriber fell behind
        self._broadcaster = broadcaster
        self._accepts = accepts
        self._on_ready = on_ready
        self._cond = threading.Condition(threading.Lock())
        self._queue: deque[Event] = deque()
        self._closed = False

    def _offer(self, event: Event) -> bool | None:
        """Queues `event` if the filter takes it: None when not taken, else whether the queue was empty
        (then the consumer needs waking)."""
        if self._accepts is not None:
            try:
                if not self._accepts(event):
                    return None
            except Exception:  # a broken filter must not stop the fan-out to the others
                logger.exception("live subscriber %s: filter failed on event %s", self.name, event.event_id)
                return None
        with self._cond:
            if self._closed:
                return None
            was_empty = not self._queue
            if len(self._queue) >= self.max_queued:
                self._queue.popleft()
                self.dropped += 1
                if self.dropped == 1:
                    logger.warning(
                        "live subscriber %s fell behind: dropping its oldest events (queue of %d)",
                        self.name,
                        self.max_queued,
                    )
            self._queue.append(event)
            self._cond.notify()
        return was_empty

    def _ready(self) -> None:
        if self._on_ready is not None:
            try:
                self._on_ready()
            except Exception:
                logger.exception("live subscriber %s: wake-up callback failed", self.name)

    def drain(self) -> list[Event]:
        """Every queued event, oldest first (never blocks)."""
        with self._cond:
            items = list(self._queue)
            self._queue.clear()
            return items

    def get(self, timeout_s: float) -> Event | None:
        """The oldest queued event, waiting up to `timeout_s` (None on timeout or when closed)."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while not self._queue and not self._closed:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._cond.wait(remaining)
            return self._queue.popleft() if self._queue else None

    @property
    def pending(self) -> int:
        with self._cond:
            return len(self._queue)

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Stops receiving (idempotent); queued events are discarded."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            self._queue.clear()
            self._cond.notify_all()
        self._broadcaster._remove(self)
        if self.dropped:
            logger.info("live subscriber %s closed; it had dropped %d events", self.name, self.dropped)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class EventBroadcaster:
    """Thread-safe fan-out of events to subscriptions, each with its own bounded drop-oldest queue."""

    def __init__(self) -> None:
        self._publish_lock = threading.Lock()  # one publish at a time: the same order for everyone
        self._subs_lock = threading.Lock()
        self._subs: tuple[Subscription, ...] = ()  # copied on change, read without a lock
        self._published = 0
        self._dropped_by_closed = 0
        self._listeners: tuple[Callable[[Event], None], ...] = ()

    def on_publish(self, listener: Callable[[Event], None]) -> None:
        """Calls `listener(event)` on the publisher's thread for every event (keep it short; errors are
        logged, never raised to the publisher): e.g. to drop cached pages when news arrives."""
        with self._subs_lock:
            self._listeners = (*self._listeners, listener)

    def subscribe(
        self,
        *,
        max_queued: int,
        accepts: EventFilter | None = None,
        on_ready: ReadyCallback | None = None,
        name: str = "subscriber",
    ) -> Subscription:
        """A new subscription receiving the events published from now on that `accepts` takes.

        `accepts` and `on_ready` run on the publisher's thread: keep them short and non-blocking.
        """
        if max_queued < 1:
            raise ValueError(f"max_queued must be >= 1, got {max_queued}")
        sub = Subscription(self, max_queued, accepts, on_ready, name)
        with self._subs_lock:
            self._subs = (*self._subs, sub)
        return sub

    def publish(self, event: Event) -> int:
        """Hands `event` to every subscription that takes it, never waiting; returns how many took it."""
        taken = 0
        woken: list[Subscription] = []
        with self._publish_lock:
            self._published += 1
            for sub in self._subs:
                was_empty = sub._offer(event)
                if was_empty is not None:
                    taken += 1
                    if was_empty:
                        woken.append(sub)
        for sub in woken:
            sub._ready()
        for listener in self._listeners:
            try:
                listener(event)
            except Exception:  # a listener must never stop the publisher
                logger.exception("broadcast listener failed on event %s", event.event_id)
        return taken

    def _remove(self, sub: Subscription) -> None:
        with self._subs_lock:
            if sub in self._subs:
                self._subs = tuple(s for s in self._subs if s is not sub)
                self._dropped_by_closed += sub.dropped

    @property
    def subscribers(self) -> int:
        return len(self._subs)

    @property
    def published(self) -> int:
        return self._published

    @property
    def dropped(self) -> int:
        """Events dropped for slow subscribers so far (closed ones included)."""
        with self._subs_lock:
            return self._dropped_by_closed + sum(s.dropped for s in self._subs)


class BroadcastingPublisher:
    """An `EventPublisher` that publishes to `inner` (the bus), then shows the event to the broadcaster."""

    def __init__(self, inner: EventPublisher, broadcaster: EventBroadcaster) -> None:
        self._inner = inner
        self._broadcaster = broadcaster

    def publish(self, event: Event) -> None:
        self._inner.publish(event)
        try:
            self._broadcaster.publish(event)
        except Exception:  # the live feed must never stop the pipeline
            logger.exception("live broadcast of event %s failed", event.event_id)

    def flush(self, timeout_s: float = 30.0) -> None:
        self._inner.flush(timeout_s)

    def close(self) -> None:
        self._inner.close()
