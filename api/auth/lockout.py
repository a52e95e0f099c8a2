"""Temporary lockout after repeated failed sign-ins, per username and per source address.

`login_max_failures` failures of one username (or `login_max_failures_per_source` from one address)
within `login_failure_window_s` lock it for `lockout_s`: sign-ins are refused (429, Retry-After)
before the password is even checked, so a locked account cannot be probed. The state is in memory,
per process: with several API instances each counts its own failures (an attacker spread over N
instances gets N times the attempts), and a restart forgets it. At most `lockout_max_entries`
usernames and addresses are remembered; the least recently failed are dropped first.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field

from api.auth.config import AuthConfig
from api.auth.errors import LockedOutError


@dataclass(slots=True)
class _Failures:
    times_s: deque[float] = field(default_factory=deque)
    locked_until_s: float = 0.0


class _Counter:
    def __init__(self, max_failures: int, config: AuthConfig) -> None:
        self._max_failures = max_failures
        self._window_s = config.login_failure_window_s
        self._lockout_s = config.lockout_s
        self._max_entries = config.lockout_max_entries
        self._entries: OrderedDict[str, _Failures] = OrderedDict()

    def locked_for_s(self, key: str, now_s: float) -> float:
        entry = self._entries.get(key)
        return 0.0 if entry is None else max(0.0, entry.locked_until_s - now_s)

    def fail(self, key: str, now_s: float) -> None:
        entry = self._entries.pop(key, None) or _Failures()
        self._entries[key] = entry  # most recent last
        entry.times_s.append(now_s)
        while entry.times_s and entry.times_s[0] <= now_s - self._window_s:
            entry.times_s.popleft()
        if len(entry.times_s) >= self._max_failures:
            entry.locked_until_s = now_s + self._lockout_s
            entry.times_s.clear()
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    def clear(self, key: str) -> None:
        self._entries.pop(key, None)

    def __len__(self) -> int:
        return len(self._entries)


class LoginLockout:
    def __init__(self, config: AuthConfig, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._users = _Counter(config.login_max_failures, config)
        self._sources = _Counter(config.login_max_failures_per_source, config)
        self._lock = threading.Lock()

    def check(self, username: str, source: str) -> None:
        """Raises LockedOutError (with the seconds left) when the username or the address is locked."""
        now_s = self._clock()
        with self._lock:
            wait_s = max(self._users.locked_for_s(username, now_s), self._sources.locked_for_s(source, now_s))
        if wait_s > 0:
            raise LockedOutError(wait_s)

    def failed(self, username: str, source: str) -> None:
        now_s = self._clock()
        with self._lock:
            self._users.fail(username, now_s)
            if source:
                self._sources.fail(source, now_s)

    def succeeded(self, username: str) -> None:
        """A right password clears the username's failures (not the address's: one right password
        must not reset a spray of guesses at other accounts)."""
        with self._lock:
            self._users.clear(username)

    def remembered(self) -> int:
        """Usernames and addresses with failures on record (bounded by lockout_max_entries each)."""
        with self._lock:
            return len(self._users) + len(self._sources)
