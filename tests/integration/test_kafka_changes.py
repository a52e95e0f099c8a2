"""Face gallery changes over a real Kafka broker: what an API publishes reaches a worker's gallery in
seconds, a new reader rebuilds the whole gallery from the compacted topic, erasure removes it."""

from __future__ import annotations

import time
import uuid

import numpy as np
import pytest

from events.bus.kafka_bus import ensure_topics
from events.bus.kafka_changes import KafkaGalleryPublisher, KafkaGalleryReader
from events.faces import (
    FaceNegative,
    IdentityChange,
    NegativeChange,
    Watchlist,
    WatchlistChange,
    change_key,
    erasure_changes,
)
from pipelines.recognition.face_index import normalise
from pipelines.recognition.gallery import FaceGallery
from tests.integration.conftest import LocalServers

pytestmark = pytest.mark.integration


def wait_for(check: object, timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if callable(check) and check():
            return True
        time.sleep(0.05)
    return False


def test_changes_reach_running_and_new_workers_and_erasure_removes(local_servers: LocalServers) -> None:
    bootstrap, topic = local_servers.kafka_bootstrap, f"anfang.faces-{uuid.uuid4().hex[:8]}"
    ensure_topics(bootstrap, partitions=1, topics=(topic,), compacted=(topic,))
    rng = np.random.default_rng(5)
    vector = [float(v) for v in normalise(rng.standard_normal(128))]
    publisher = KafkaGalleryPublisher(bootstrap, topic)
    running = FaceGallery()
    reader = KafkaGalleryReader(bootstrap, running.apply, topic)
    try:
        wl = Watchlist(
            watchlist_id="wl_1", name="wanted", purpose="test list", created_ts_ms=0, updated_ts_ms=0
        )
        started = time.monotonic()
        publisher.publish(WatchlistChange(watchlist_id="wl_1", watchlist=wl))
        publisher.publish(IdentityChange(identity_id="id_1", watchlist_id="wl_1", name="A", vectors=[vector]))
        assert wait_for(lambda: len(running.candidates(vector)) == 1)
        logged_s = time.monotonic() - started
        assert logged_s < 5.0  # "within seconds"
        negative = FaceNegative(
            negative_id="neg_1",
            identity_id="id_1",
            watchlist_id="wl_1",
            vector=vector,
            camera_id="cam",
            track_id=3,
            created_ts_ms=0,
        )
        publisher.publish(NegativeChange(negative=negative))
        assert wait_for(lambda: running.blocked_for("cam", 3) == frozenset({"id_1"}))

        fresh = FaceGallery()  # a worker started later: the topic alone rebuilds its gallery
        late = KafkaGalleryReader(bootstrap, fresh.apply, topic)
        try:
            assert fresh.identity("id_1") is not None and fresh.blocked_for("cam", 3) == frozenset({"id_1"})
        finally:
            late.close()

        for change in erasure_changes("id_1", "wl_1", [negative]):  # what the API sends on erasure
            publisher.publish(change)
        assert wait_for(lambda: running.identity("id_1") is None and running.candidates(vector) == [])
        assert running.blocked_for("cam", 3) == frozenset()
        latest: dict[str, object] = {}  # the latest record per key: what compaction keeps
        after = KafkaGalleryReader(bootstrap, lambda c: latest.__setitem__(change_key(c), c), topic)
        after.close()
        gone = [latest["identity:id_1"], latest["negative:neg_1"]]
        assert gone == [
            IdentityChange(identity_id="id_1", watchlist_id="wl_1", removed=True),
            NegativeChange(negative_id="neg_1", negative=None),
        ]  # no vector of the erased identity, nor of its negative, is the latest of any key
    finally:
        reader.close()
        publisher.close()


def test_a_full_hotlist_of_5000_entries_with_long_notes_crosses_the_topic(
    local_servers: LocalServers,
) -> None:
    from events.bus.kafka_changes import KafkaChangePublisher, KafkaChangeReader
    from events.hotlists import Hotlist, HotlistChange, HotlistEntry, hotlist_change, hotlist_change_key
    from pipelines.recognition.hotlist_book import HotlistBook

    bootstrap, topic = local_servers.kafka_bootstrap, f"anfang.hotlists-{uuid.uuid4().hex[:8]}"
    ensure_topics(bootstrap, partitions=1, topics=(topic,), compacted=(topic,))
    hotlist = Hotlist(hotlist_id="hl_big", name="big", created_ts_ms=0, updated_ts_ms=0)
    entries = [
        HotlistEntry(
            entry_id=f"e{i}",
            hotlist_id="hl_big",
            pattern=f"京A{i:05d}",
            note="被盗车辆" * 50,
            created_ts_ms=0,
        )
        for i in range(5000)
    ]
    change = hotlist_change(hotlist, entries)
    assert len(change.model_dump_json().encode()) > 2_000_000  # far over Kafka's 1 MB default, unzipped
    publisher: KafkaChangePublisher[HotlistChange] = KafkaChangePublisher(
        bootstrap, topic, key=hotlist_change_key, encode=lambda c: c.model_dump_json().encode(), client_id="t"
    )
    book = HotlistBook()
    reader = KafkaChangeReader(
        bootstrap, topic, book.apply, decode=HotlistChange.model_validate_json, client_id="r"
    )
    try:
        publisher.publish(change)
        assert wait_for(lambda: book.match("京A04999", 0) is not None)
        found = book.match("京A04999", 0)
        assert found is not None and found[0].entry_id == "e4999"
    finally:
        reader.close()
        publisher.close()
