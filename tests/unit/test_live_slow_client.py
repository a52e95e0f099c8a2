"""A WebSocket client that stops reading is disconnected after `live_send_timeout_s`, on a real uvicorn."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
import websockets

from api.app import create_app
from api.config import ApiConfig
from api.deps import ApiContext
from events.bus.broadcast import EventBroadcaster
from events.schema import Event, EventAttributes, ModelRef, Severity
from tests.unit.api_fakes import FakeAuthenticator, FakeEventStore


def big_event(i: int) -> Event:
    """An alert whose frame is ~200 kB, so a few hundred fill every buffer between server and client."""
    return Event(
        event_id=uuid.uuid4(),
        ts_ms=1_795_000_000_000 + i,
        camera_id="cam-1",
        site_id="hq",
        type="bulky",
        severity=Severity.HIGH,
        alert=True,
        rule_id="bulky",
        label="person",
        confidence=0.9,
        bbox_xyxy=(0.1, 0.1, 0.5, 0.9),
        attributes=EventAttributes(type="bulky", pad="x" * 200_000),
        model=ModelRef(name="m", version="1"),
        worker_id="w",
    )


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[int, EventBroadcaster, ApiContext]]:
    broadcaster = EventBroadcaster()
    config = ApiConfig(live_send_timeout_s=0.5, live_queue_max=4, live_ping_interval_s=60)
    app = create_app(
        FakeEventStore(), tmp_path, config=config, authenticator=FakeAuthenticator(), broadcaster=broadcaster
    )
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", ws_per_message_deflate=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    yield server.servers[0].sockets[0].getsockname()[1], broadcaster, app.state.ctx
    server.should_exit = True
    thread.join(timeout=10)


def test_a_client_that_stops_reading_is_dropped_without_holding_back_the_publisher(
    served: tuple[int, EventBroadcaster, ApiContext],
) -> None:
    port, broadcaster, ctx = served
    assert ctx.live is not None

    async def stall() -> float:
        url = f"ws://127.0.0.1:{port}/v1/alerts/live?token=operator"
        async with websockets.connect(
            url, compression=None, max_queue=1, max_size=None, close_timeout=0.1
        ) as ws:
            await ws.recv()  # hello, then never read again
            started = time.monotonic()
            publish_s = 0.0
            while ctx.live is not None and ctx.live.clients and time.monotonic() - started < 20:
                t = time.monotonic()
                for i in range(50):
                    broadcaster.publish(big_event(i))
                publish_s = max(publish_s, time.monotonic() - t)
                await asyncio.sleep(0.05)
            return publish_s

    slowest_publish_s = asyncio.run(stall())
    assert ctx.live.clients == 0  # disconnected by the watchdog
    assert broadcaster.subscribers == 0
    assert broadcaster.dropped > 0  # it fell behind first: its oldest were dropped
    assert slowest_publish_s < 0.5  # the publisher never waited for it
