"""The sink: bus -> store in batches, committing only what is stored (at-least-once, deduped by event_id).

Loop: collect a batch (up to `batch_max` events, waiting at most `batch_wait_s` after the first one)
-> `store.insert` -> dead letters to their handler -> `consumer.commit`. A StoreError (or a BusError
from the dead-letter handler) is retried with exponential backoff and nothing is committed until it
succeeds, so nothing is lost: a sink that dies mid-batch leaves the batch uncommitted and it is
delivered again (the store skips ids it already has).

Stopping: with `drain_on_stop` (default) the loop ends once `stop` is set AND a poll comes back empty
(everything published so far is stored); without it, it ends at the next batch boundary. If the
store keeps failing after `stop`, the sink gives up after `stop_grace_s` without committing.
`idle_exit_s` ends the loop after that long without a message (for batch jobs and tests).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from events.dlq import log_dead_letters
from events.ports import BusError, ConsumedBatch, DeadLetter, EventConsumer, EventStore, StoreError

logger = logging.getLogger(__name__)

DeadLetterHandler = Callable[[Sequence[DeadLetter]], None]


@dataclass(slots=True)
class SinkStats:
    consumed: int = 0  # valid events read from the bus (redeliveries included)
    inserted: int = 0  # newly stored
    duplicates: int = 0  # consumed but already stored (or repeated within a batch)
    dead_letters: int = 0
    batches: int = 0
    store_retries: int = 0
    bus_errors: int = 0
    uncommitted: int = 0  # events left uncommitted because the sink stopped while the store failed


class _StoppedError(Exception):
    """The sink was told to stop while retrying and its grace period ran out."""


class _Retrier:
    def __init__(self, stop: threading.Event, initial_s: float, max_s: float, grace_s: float) -> None:
        self._stop = stop
        self._initial_s = initial_s
        self._max_s = max_s
        self._grace_s = grace_s
        self._give_up_at: float | None = None

    def wait_or_give_up(self, attempt: int, what: str, exc: Exception) -> None:
        """Sleeps before retry `attempt` (1-based); raises _StoppedError when stopping and out of grace."""
        delay = min(self._initial_s * 2 ** (attempt - 1), self._max_s)
        logger.warning("%s failed (attempt %d): %s; retrying in %.1f s", what, attempt, exc, delay)
        if not self._stop.is_set():
            self._stop.wait(delay)
            return
        if self._give_up_at is None:
            self._give_up_at = time.monotonic() + self._grace_s
        remaining = self._give_up_at - time.monotonic()
        if remaining <= 0:
            raise _StoppedError(f"{what} still failing after stop: {exc}")
        time.sleep(min(delay, remaining))


def _collect(consumer: EventConsumer, batch_max: int, batch_wait_s: float) -> ConsumedBatch:
    """Up to batch_max messages; returns as soon as full or batch_wait_s after the first arrived.

    A BusError while topping up returns what was already polled (it must be stored and committed,
    or a later commit would skip it); only an error on the first poll propagates.
    """
    first = consumer.poll(batch_wait_s, batch_max)
    events, dead = list(first.events), list(first.dead_letters)
    if not events and not dead:
        return first
    deadline = time.monotonic() + batch_wait_s
    while len(events) + len(dead) < batch_max:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        try:
            more = consumer.poll(remaining, batch_max - len(events) - len(dead))
        except BusError as exc:
            logger.warning("sink: %s; storing the %d messages already polled", exc, len(events) + len(dead))
            break
        events.extend(more.events)
        dead.extend(more.dead_letters)
    return ConsumedBatch(events=events, dead_letters=dead)


def run_sink(
    consumer: EventConsumer,
    store: EventStore,
    *,
    batch_max: int,
    batch_wait_s: float,
    stop: threading.Event,
    dead_letters: DeadLetterHandler | None = None,
    drain_on_stop: bool = True,
    idle_exit_s: float | None = None,
    retry_initial_s: float = 0.5,
    retry_max_s: float = 30.0,
    stop_grace_s: float = 10.0,
    progress_every_s: float = 10.0,
) -> SinkStats:
    if batch_max < 1:
        raise ValueError(f"batch_max must be >= 1, got {batch_max}")
    if batch_wait_s <= 0:
        raise ValueError(f"batch_wait_s must be > 0, got {batch_wait_s}")
    handle_dead = dead_letters if dead_letters is not None else log_dead_letters
    stats = SinkStats()
    last_message = last_progress = time.monotonic()
    while True:
        if stop.is_set() and not drain_on_stop:
            break
        try:
            batch = _collect(consumer, batch_max, batch_wait_s)
        except BusError as exc:
            stats.bus_errors += 1
            if stop.is_set():
                logger.warning("sink stopping: bus unavailable: %s", exc)
                break
            logger.warning("sink: %s; retrying in %.1f s", exc, retry_initial_s)
            stop.wait(retry_initial_s)
            continue
        now = time.monotonic()
        if not batch.events and not batch.dead_letters:
            if stop.is_set():
                break  # drained
            if idle_exit_s is not None and now - last_message >= idle_exit_s:
                logger.info("sink: no message for %.1f s, exiting", idle_exit_s)
                break
            continue
        last_message = now
        try:
            _deliver(
                batch, store, handle_dead, stats, _Retrier(stop, retry_initial_s, retry_max_s, stop_grace_s)
            )
        except _StoppedError as exc:
            stats.uncommitted = len(batch.events) + len(batch.dead_letters)
            logger.error(
                "sink stopping with %d messages not stored (left uncommitted on the bus): %s",
                stats.uncommitted,
                exc,
            )
            break
        try:
            consumer.commit()
        except BusError as exc:  # the batch will be delivered again; the store skips what it has
            stats.bus_errors += 1
            logger.warning("sink: %s (the batch will be redelivered and deduplicated)", exc)
        if now - last_progress >= progress_every_s:
            last_progress = now
            logger.info("sink: %s", stats)
    logger.info("sink stopped: %s", stats)
    return stats


def _deliver(
    batch: ConsumedBatch,
    store: EventStore,
    handle_dead: DeadLetterHandler,
    stats: SinkStats,
    retrier: _Retrier,
) -> None:
    """Stores the events and hands over the dead letters, retrying each until it succeeds."""
    if batch.events:
        attempt = 0
        while True:
            try:
                inserted = store.insert(batch.events)
                break
            except StoreError as exc:
                attempt += 1
                stats.store_retries += 1
                retrier.wait_or_give_up(attempt, f"store insert of {len(batch.events)} events", exc)
        stats.consumed += len(batch.events)
        stats.inserted += inserted
        stats.duplicates += len(batch.events) - inserted
    if batch.dead_letters:
        attempt = 0
        while True:
            try:
                handle_dead(batch.dead_letters)
                break
            except BusError as exc:
                attempt += 1
                retrier.wait_or_give_up(attempt, f"dead-letter delivery of {len(batch.dead_letters)}", exc)
        stats.dead_letters += len(batch.dead_letters)
    stats.batches += 1
