"""The hot-page cache of /v1/alerts: served from memory until its TTL or until news invalidates it."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from fastapi.testclient import TestClient

from api.app import create_app
from api.config import ApiConfig
from api.page_cache import PageCache
from events.bus.broadcast import EventBroadcaster
from tests.unit.api_fakes import T0_MS, FakeAuthenticator, FakeEventStore, bearer, make_event


class Clock:
    def __init__(self) -> None:
        self.now_s = 0.0

    def __call__(self) -> float:
        return self.now_s


def test_a_page_is_kept_for_its_ttl_then_computed_again() -> None:
    clock, calls = Clock(), []
    cache = PageCache(1.0, clock=clock)

    def compute() -> bytes:
        calls.append(1)
        return f"page {len(calls)}".encode()

    assert [cache.get("k", compute) for _ in range(3)] == [b"page 1"] * 3
    clock.now_s = 1.5
    assert cache.get("k", compute) == b"page 2"
    assert (cache.hits, cache.misses) == (2, 2)


def test_invalidation_drops_pages_and_a_page_computed_across_it_is_not_kept() -> None:
    cache = PageCache(60.0)
    assert cache.get("k", lambda: b"old") == b"old"
    cache.invalidate()
    assert cache.get("k", lambda: b"new") == b"new"

    def racing() -> bytes:
        cache.invalidate()  # news arrives while the page is being computed
        return b"maybe stale"

    assert cache.get("j", racing) == b"maybe stale"
    assert cache.get("j", lambda: b"fresh") == b"fresh"


def test_concurrent_misses_of_one_key_compute_once() -> None:
    cache, calls, gate = PageCache(60.0), [], threading.Event()

    def slow() -> bytes:
        calls.append(1)
        gate.wait(5)
        return b"page"

    threads = [threading.Thread(target=cache.get, args=("k", slow)) for _ in range(8)]
    for t in threads:
        t.start()
    time.sleep(0.2)
    gate.set()
    for t in threads:
        t.join(5)
    assert len(calls) == 1


def test_a_ttl_of_zero_never_caches() -> None:
    cache, calls = PageCache(0), []

    def compute() -> bytes:
        calls.append(1)
        return b"x"

    for _ in range(3):
        cache.get("k", compute)
    assert len(calls) == 3


def test_the_alerts_route_shows_a_new_alert_once_the_broadcast_announced_it(tmp_path: Path) -> None:
    store, broadcaster = FakeEventStore([make_event(ts_ms=T0_MS, alert=True)]), EventBroadcaster()
    app = create_app(
        store,
        tmp_path,
        config=ApiConfig(alerts_cache_ttl_s=60),
        authenticator=FakeAuthenticator(),
        broadcaster=broadcaster,
    )
    client = TestClient(app, headers=bearer("operator"))

    def listed() -> int:
        return len(client.get("/v1/alerts").json()["items"])

    assert listed() == 1
    newer = make_event(ts_ms=T0_MS + 1000, alert=True, track_id=99)
    store.insert([newer])
    assert listed() == 1  # cached: nothing announced the new alert
    broadcaster.publish(newer)
    assert listed() == 2
    other_scope = client.get("/v1/alerts", headers=bearer("operator@nowhere")).json()["items"]
    assert other_scope == []  # the scope is part of the key
