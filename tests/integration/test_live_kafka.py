"""Distributed live feed: two API instances, each with its own Kafka reader, both push every new event."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketTestSession

from api.app import create_app
from api.config import ApiConfig
from events.bus.broadcast import EventBroadcaster
from events.bus.kafka_bus import KafkaPublisher, ensure_topics
from events.bus.kafka_live import KafkaLiveFeed
from tests.integration.conftest import LocalServers
from tests.unit.api_fakes import FakeAuthenticator, FakeEventStore
from tests.unit.events_samples import build_event

pytestmark = [pytest.mark.integration]

T0_MS = 1_795_000_000_000


@pytest.fixture
def events_topic(local_servers: LocalServers) -> Iterator[str]:
    from kafka.admin import KafkaAdminClient

    topic = f"anfang.test-live-{uuid.uuid4().hex[:10]}.events"
    assert ensure_topics(local_servers.kafka_bootstrap, partitions=3, topics=(topic,)) == [topic]
    yield topic
    admin = KafkaAdminClient(bootstrap_servers=local_servers.kafka_bootstrap)
    try:
        admin.delete_topics([topic], raise_errors=False)
    finally:
        admin.close()


def next_event(ws: WebSocketTestSession, within_s: float = 15.0) -> dict[str, Any]:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        frame: dict[str, Any] = ws.receive_json()  # pings every 0.1 s: never blocks long
        if frame["kind"] == "event":
            return frame["event"]  # type: ignore[no-any-return]
    raise AssertionError(f"no event within {within_s} s")


def test_two_api_instances_each_push_every_new_event(
    local_servers: LocalServers, events_topic: str, tmp_path: Path
) -> None:
    bootstrap = local_servers.kafka_bootstrap
    publisher = KafkaPublisher(bootstrap, topic=events_topic, linger_ms=0)
    before = build_event(ts_ms=T0_MS, camera_id="cam-0")
    publisher.publish(before)  # published before the instances start: not live any more
    publisher.flush(10)
    broadcasters = [EventBroadcaster(), EventBroadcaster()]
    feeds = [
        KafkaLiveFeed(bootstrap, b, topic=events_topic, client_id=f"live-test-{i}")
        for i, b in enumerate(broadcasters)
    ]
    apps = [
        create_app(
            FakeEventStore(),
            tmp_path,
            config=ApiConfig(live_ping_interval_s=0.1),
            authenticator=FakeAuthenticator(),
            broadcaster=b,
        )
        for b in broadcasters
    ]
    for feed in feeds:
        feed.start()
    try:
        with (
            TestClient(apps[0]) as c0,
            TestClient(apps[1]) as c1,
            c0.websocket_connect("/v1/alerts/live?token=operator") as ws0,
            c1.websocket_connect("/v1/alerts/live?token=auditor") as ws1,
        ):
            assert ws0.receive_json()["kind"] == ws1.receive_json()["kind"] == "hello"
            publisher._producer.producer.send(events_topic, key=b"cam-x", value=b"not an event")
            sent = [build_event(ts_ms=T0_MS + i, camera_id=f"cam-{i}") for i in range(1, 4)]
            for e in sent:  # keyed by camera: spread over the partitions
                publisher.publish(e)
            publisher.flush(10)
            for ws in (ws0, ws1):
                got = {next_event(ws)["event_id"] for _ in sent}
                assert got == {str(e.event_id) for e in sent}  # and not `before`
        deadline = time.monotonic() + 10  # the bad record may sit in another partition, read later
        while any(f.skipped < 1 for f in feeds) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [f.received for f in feeds] == [3, 3]
        assert [f.skipped for f in feeds] == [1, 1]  # logged and skipped, the feed went on
    finally:
        for feed in feeds:
            feed.close()
        publisher.close()
