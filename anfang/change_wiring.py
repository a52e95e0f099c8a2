"""What the wiring of the lists workers hold in memory (face galleries, plate hotlists) shares: their
compacted topic, the publisher the API tells the workers with, the expiry sweeper, and closing.

Embedded, the API's publisher is the process's own in-memory holder (a change applies at once);
distributed, it is a Kafka publisher to the compacted topic every worker reads.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from typing import Protocol, TypeVar

from anfang.settings import Settings

logger = logging.getLogger(__name__)


class _Closing(Protocol):
    def close(self) -> None: ...


P = TypeVar("P")
K = TypeVar("K", bound=_Closing)


def change_publisher(
    settings: Settings, local: P, kafka: Callable[[Settings], K], closers: list[Callable[[], None]]
) -> P | K:
    """`local` (the in-memory holder) embedded; distributed, `kafka(settings)`, closed by `closers`."""
    if settings.mode != "distributed":
        return local
    publisher = kafka(settings)
    closers.append(publisher.close)
    return publisher


def ensure_compacted_topic(settings: Settings, topic: str) -> None:
    from events.bus.kafka_bus import ensure_topics

    ensure_topics(
        settings.kafka_bootstrap, 1, topics=(topic,), timeout_s=settings.connect_timeout_s, compacted=(topic,)
    )


def close_all(closers: list[Callable[[], None]]) -> None:
    """Calls the closers, last first, each once; one that raises does not stop the others."""
    while closers:
        with contextlib.suppress(Exception):
            closers.pop()()


def start_sweeper(sweep: Callable[[int], int], every_s: float, what: str) -> Callable[[], None]:
    """A daemon thread calling `sweep(now_ms)` every `every_s` (retention: erases what expired and says
    how many); returns its stop function."""
    stop = threading.Event()

    def run() -> None:
        while not stop.wait(every_s):
            try:
                erased = sweep(int(time.time() * 1000))
                if erased:
                    logger.info("%s retention: %d expired item(s) erased", what, erased)
            except Exception as exc:  # the sweeper outlives a store hiccup; the next round retries
                logger.warning("%s retention sweep failed (retrying in %g s): %s", what, every_s, exc)

    thread = threading.Thread(target=run, name=f"{what}-expiry", daemon=True)
    thread.start()

    def close() -> None:
        stop.set()
        thread.join(timeout=5.0)

    return close
