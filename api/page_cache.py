"""A short-lived cache of hot list pages (the consoles' newest-alerts page), invalidated by news.

Every console open on the alert feed asks for the same newest page; each answer costs several store
queries. Pages are kept for `ttl_s` per (query, scope) and dropped whenever something that could
change them happens in this process: an event on the live broadcast (new alerts) or an alert action.
Changes this process cannot see (another API instance's action; the store catching up behind the bus)
are bounded by the TTL. Concurrent misses of one key compute it once.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable


class PageCache:
    def __init__(
        self, ttl_s: float, max_entries: int = 256, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._ttl_s = ttl_s
        self._max_entries = max_entries
        self._clock = clock
        self._lock = threading.Lock()
        self._pages: OrderedDict[Hashable, tuple[float, int, bytes]] = OrderedDict()
        self._key_locks: dict[Hashable, threading.Lock] = {}
        self._generation = 0  # bumped by invalidate(): a page computed before it is not kept
        self.hits = 0
        self.misses = 0

    @property
    def enabled(self) -> bool:
        return self._ttl_s > 0

    def invalidate(self) -> None:
        with self._lock:
            self._generation += 1
            self._pages.clear()

    def get(self, key: Hashable, compute: Callable[[], bytes]) -> bytes:
        """The cached page for `key`, or `compute()` (kept for `ttl_s` unless invalidated meanwhile)."""
        if not self.enabled:
            return compute()
        cached = self._fresh(key)
        if cached is not None:
            return cached
        with self._lock:
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            cached = self._fresh(key)  # another thread may have computed it while this one waited
            if cached is not None:
                return cached
            with self._lock:
                self.misses += 1
                generation = self._generation
            page = compute()
            with self._lock:
                if generation == self._generation:
                    self._pages[key] = (self._clock() + self._ttl_s, generation, page)
                    self._pages.move_to_end(key)
                    while len(self._pages) > self._max_entries:
                        self._pages.popitem(last=False)
                self._key_locks.pop(key, None)
            return page

    def _fresh(self, key: Hashable) -> bytes | None:
        with self._lock:
            entry = self._pages.get(key)
            if entry is None or entry[0] <= self._clock() or entry[1] != self._generation:
                return None
            self.hits += 1
            return entry[2]
