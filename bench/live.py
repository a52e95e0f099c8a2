"""Live push latency: from `EventBroadcaster.publish` to 200 connected WebSocket clients.

A real uvicorn server (the anfang API with a broadcaster) runs in a subprocess on a free port; the
clients (the `websockets` package) share one asyncio loop in this process. The server publishes
`--events` alerts `--interval-ms` apart, each stamped with its wall-clock publish time; every client
records receive time - publish time. Then a burst of `--burst` alerts back to back gives the rate
(events/s reaching every client, frames/s in all). Reported for the default server (permessage-deflate
on, as uvicorn serves) and without compression.

    .venv/bin/python -m bench.live [--clients 200] [--events 200] [--interval-ms 50] [--burst 1000]

`--attach ws://HOST:PORT/v1/alerts/live?token=... --seconds 60` instead connects the clients to a
running anfang (e.g. `anfang demo` on an RTSP camera) and reports receive time - the event's `ts_ms`
(the frame's capture time): the end-to-end latency, inference included.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import socket
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

SERVE = "--serve"
logger = logging.getLogger("bench.live")


def _percentiles(values_ms: list[float]) -> str:
    if not values_ms:
        return "no samples"
    q = statistics.quantiles(values_ms, n=100, method="inclusive")
    return f"p50 {q[49]:.1f} ms, p99 {q[98]:.1f} ms, max {max(values_ms):.1f} ms (n={len(values_ms)})"


# --- the server process --------------------------------------------------------------------------------


def serve(port: int, deflate: bool) -> None:
    import uvicorn

    from api.app import create_app
    from api.config import ApiConfig
    from events.bus.broadcast import EventBroadcaster
    from events.schema import Event, EventAttributes, ModelRef, Severity
    from tests.unit.api_fakes import FakeAuthenticator, FakeEventStore

    broadcaster = EventBroadcaster()
    config = ApiConfig(live_queue_max=100_000, live_clients_max=10_000, live_ping_interval_s=3600)
    app = create_app(
        FakeEventStore(),
        Path(tempfile.mkdtemp()),
        config=config,
        authenticator=FakeAuthenticator(),
        broadcaster=broadcaster,
    )
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", ws_per_message_deflate=deflate)
    )
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.02)
    reply("ready")

    def event(i: int) -> Event:
        now_ns = time.time_ns()
        return Event(
            event_id=uuid.uuid4(),
            ts_ms=now_ns // 1_000_000,
            camera_id="bench-cam",
            site_id="bench",
            type="bench_live",
            severity=Severity.HIGH,
            alert=True,
            rule_id="bench",
            label="person",
            confidence=0.9,
            bbox_xyxy=(0.1, 0.1, 0.5, 0.9),
            attributes=EventAttributes(type="bench_live", seq=i, sent_ns=now_ns),
            model=ModelRef(name="bench", version="1"),
            worker_id="bench",
        )

    for line in sys.stdin:
        cmd, *args = line.split()
        if cmd == "clients":
            while broadcaster.subscribers < int(args[0]):
                time.sleep(0.01)
        elif cmd == "latency":
            count, interval_s = int(args[0]), float(args[1]) / 1000
            for i in range(count):
                broadcaster.publish(event(i))
                time.sleep(interval_s)
        elif cmd == "burst":
            started = time.perf_counter()
            for i in range(int(args[0])):
                broadcaster.publish(event(i))
            logger.info("server: %s events published in %.3f s", args[0], time.perf_counter() - started)
        elif cmd == "quit":
            break
        reply(json.dumps({"dropped": broadcaster.dropped, "published": broadcaster.published}))
    server.should_exit = True


def reply(line: str) -> None:
    """One line to the parent (the server's stdout is the command channel)."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


# --- the clients ---------------------------------------------------------------------------------------


class Clients:
    """N WebSocket clients in this loop, recording per event the delay of each client."""

    def __init__(self) -> None:
        self.delays_ms: list[float] = []
        self.received = 0
        self.last_ns = 0

    async def client(self, url: str, compression: str | None, ready: asyncio.Event, stamp: str) -> None:
        import websockets

        async with websockets.connect(url, compression=compression, max_size=None, max_queue=None) as ws:
            await ws.recv()  # hello
            ready.set()
            async for message in ws:
                now_ns = time.time_ns()
                frame = json.loads(message)
                if frame["kind"] != "event":
                    continue
                event = frame["event"]
                sent_ns = event["attributes"]["sent_ns"] if stamp == "sent_ns" else event["ts_ms"] * 1_000_000
                self.delays_ms.append((now_ns - sent_ns) / 1e6)
                self.received += 1
                self.last_ns = now_ns


async def connect(clients: Clients, url: str, n: int, compression: str | None, stamp: str) -> list[Any]:
    tasks, ready = [], []
    for _ in range(n):
        flag = asyncio.Event()
        tasks.append(asyncio.create_task(clients.client(url, compression, flag, stamp)))
        ready.append(flag)
        if len(tasks) % 50 == 0:
            await asyncio.sleep(0.05)  # a gentle ramp: the listen backlog is finite
    await asyncio.wait_for(asyncio.gather(*(f.wait() for f in ready)), timeout=60)
    return tasks


async def run_local(args: argparse.Namespace, deflate: bool) -> dict[str, Any]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.live", SERVE, str(port), "1" if deflate else "0",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert server.stdin is not None and server.stdout is not None

    async def command(line: str) -> dict[str, Any]:
        assert server.stdin is not None and server.stdout is not None
        server.stdin.write(f"{line}\n".encode())
        await server.stdin.drain()
        return json.loads(await server.stdout.readline())  # type: ignore[no-any-return]

    assert (await server.stdout.readline()).strip() == b"ready"
    clients = Clients()
    url = f"ws://127.0.0.1:{port}/v1/alerts/live?token=operator"
    tasks = await connect(clients, url, args.clients, "deflate" if deflate else None, "sent_ns")
    await command(f"clients {args.clients}")
    await command(f"latency {args.events} {args.interval_ms}")
    await asyncio.sleep(1.0)
    latency = list(clients.delays_ms)
    expected = args.events * args.clients
    clients.delays_ms.clear()
    before = clients.received
    started_ns = time.time_ns()
    await command(f"burst {args.burst}")
    deadline = time.monotonic() + 60
    while clients.received - before < args.burst * args.clients and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    elapsed_s = (clients.last_ns - started_ns) / 1e9
    stats = await command("stats")
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    server.stdin.write(b"quit\n")
    await server.stdin.drain()
    await server.wait()
    burst_frames = clients.received - before
    return {
        "deflate": deflate,
        "latency": _percentiles(latency),
        "latency_received": f"{len(latency)}/{expected}",
        "burst_events_per_s": round(args.burst / elapsed_s, 1) if elapsed_s > 0 else None,
        "burst_frames_per_s": round(burst_frames / elapsed_s) if elapsed_s > 0 else None,
        "burst_received": f"{burst_frames}/{args.burst * args.clients}",
        "burst_p99": _percentiles(clients.delays_ms),
        "dropped": stats["dropped"],
    }


async def run_attached(args: argparse.Namespace) -> None:
    clients = Clients()
    tasks = await connect(clients, args.attach, args.clients, None, "ts_ms")
    await asyncio.sleep(args.seconds)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    logger.info(
        "%d clients, %g s: capture (ts_ms) -> client %s",
        args.clients,
        args.seconds,
        _percentiles(clients.delays_ms),
    )


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    if argv[:1] == [SERVE]:
        serve(int(argv[1]), argv[2] == "1")
        return 0
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--clients", type=int, default=200)
    p.add_argument("--events", type=int, default=200)
    p.add_argument("--interval-ms", type=float, default=50.0)
    p.add_argument("--burst", type=int, default=1000)
    p.add_argument("--attach", help="ws:// URL (with ?token=) of a running anfang's /v1/alerts/live")
    p.add_argument("--seconds", type=float, default=60.0)
    args = p.parse_args(argv)
    if args.attach:
        asyncio.run(run_attached(args))
        return 0
    logger.info(
        "live push: %d WebSocket clients, %d events %g ms apart, burst of %d",
        args.clients, args.events, args.interval_ms, args.burst,
    )  # fmt: skip
    for deflate in (True, False):
        logger.info("%s", json.dumps(asyncio.run(run_local(args, deflate))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
