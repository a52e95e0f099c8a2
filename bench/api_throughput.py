"""API throughput with sign-in: `/v1/alerts` requests/s through the whole stack ÷ a bare FastAPI endpoint.

Both servers run one uvicorn worker in a subprocess on this machine, one after the other; the load
comes from this process (asyncio + httpx, keep-alive, `--concurrency` requests in flight) for
`--seconds` each.

- ours: `anfang`'s app (embedded chDB with `--events` stored alerts, the real JWT authenticator with
  a signed-in operator, alert state attached to every item), `GET /v1/alerts?limit=50` with the
  operator's access token.
- bare: a FastAPI app with one route returning the same page's JSON bytes (no auth, no store).

Target: ours ÷ bare >= 0.5. Live push latency: bench/live.py; history at 10M events: bench/history.py.

    .venv/bin/python -m bench.api_throughput [--events 20000] [--seconds 10] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from tests.integration.signin import add_user

REPO = Path(__file__).resolve().parents[1]
PASSWORD = "benchmark password 1"
logger = logging.getLogger("bench.api")

SERVE_OURS = """
import sys, time
from pathlib import Path
from anfang.api_wiring import build_api_services
from anfang.commands import ApiParts, ApiServer
from anfang.settings import Settings
from anfang.wiring import make_store
settings = Settings(data_dir=Path(sys.argv[1]), api_port=int(sys.argv[2]))
store = make_store(settings)
services = build_api_services(settings, store, process="bench", registry=None)
server = ApiServer(store, settings, ApiParts(services=services))
server.start()
while True:
    time.sleep(1)
"""

SERVE_BARE = """
import sys, uvicorn
from fastapi import FastAPI, Response
body = open(sys.argv[1], "rb").read()
app = FastAPI()
@app.get("/v1/alerts")
def alerts() -> Response:
    return Response(body, media_type="application/json")
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning")
"""

SEED = """
import sys
from pathlib import Path
from events.store.chdb_store import ChdbStore
from tests.unit.events_samples import build_event
import time
n = int(sys.argv[2])
t0 = int(time.time() * 1000) - n * 1000  # one alert a second up to now, as a live deployment has them
store = ChdbStore(Path(sys.argv[1]))
store.ensure_schema()
for start in range(0, n, 5000):
    store.insert([build_event(ts_ms=t0 + i * 1000, camera_id=f"cam-{i % 8}", alert=True,
                              track_id=i) for i in range(start, min(n, start + 5000))])
store.close()
"""


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(code: str, *args: str, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-c", code, *args, str(port)], cwd=REPO, env=env)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{base}/openapi.json", timeout=1)
            return proc, base
        except httpx.HTTPError:
            if proc.poll() is not None:
                raise SystemExit(f"server exited with {proc.returncode}") from None
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("server did not start")


async def _load(
    url: str, headers: dict[str, str], seconds: float, concurrency: int
) -> tuple[int, list[float]]:
    done = 0
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(headers=headers, limits=limits, timeout=30) as client:

        async def worker() -> None:
            nonlocal done
            while time.perf_counter() < deadline:
                t0 = time.perf_counter()
                r = await client.get(url)
                if r.status_code != 200:
                    raise SystemExit(f"{url}: {r.status_code} {r.text[:200]}")
                latencies.append(time.perf_counter() - t0)
                done += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return done, latencies


def _measure(name: str, url: str, headers: dict[str, str], args: argparse.Namespace) -> float:
    asyncio.run(_load(url, headers, 2.0, args.concurrency))  # warm-up
    done, latencies = asyncio.run(_load(url, headers, args.seconds, args.concurrency))
    latencies.sort()
    rate = done / float(args.seconds)
    p50, p99 = latencies[len(latencies) // 2], latencies[int(len(latencies) * 0.99)]
    logger.info(
        "%-6s %8.1f req/s   p50 %6.1f ms   p99 %6.1f ms   (%d requests)",
        name,
        rate,
        p50 * 1e3,
        p99 * 1e3,
        done,
    )
    return rate


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=20_000, help="alerts stored before measuring")
    parser.add_argument("--seconds", type=float, default=10.0, help="measuring time per server")
    parser.add_argument("--concurrency", type=int, default=16, help="requests in flight")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="anfang-bench-api-") as tmp:
        data = Path(tmp) / "data"
        env = {
            **os.environ,
            "ANFANG_DATA_DIR": str(data),
            "ANFANG_MODE": "embedded",
            "PYTHONPATH": str(REPO),
        }
        subprocess.run(
            [sys.executable, "-c", SEED, str(data / "chdb"), str(args.events)], cwd=REPO, env=env, check=True
        )
        add_user(env, "bench", "operator", PASSWORD)
        ours, base = _start(SERVE_OURS, str(data), env=env)
        try:
            token = httpx.post(
                f"{base}/v1/auth/token", data={"username": "bench", "password": PASSWORD}, timeout=30
            )
            headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
            page = httpx.get(f"{base}/v1/alerts", params={"limit": 50}, headers=headers, timeout=30)
            page.raise_for_status()
            logger.info(
                "/v1/alerts?limit=50 over %d stored alerts: %d bytes a page", args.events, len(page.content)
            )
            rate_ours = _measure("ours", f"{base}/v1/alerts?limit=50", headers, args)
        finally:
            ours.terminate()
            ours.wait(timeout=30)
        body_file = Path(tmp) / "page.json"
        body_file.write_bytes(json.dumps(page.json()).encode())
        bare, base = _start(SERVE_BARE, str(body_file), env=env)
        try:
            rate_bare = _measure("bare", f"{base}/v1/alerts", {}, args)
        finally:
            bare.terminate()
            bare.wait(timeout=30)
    ratio = rate_ours / rate_bare
    logger.info("ours / bare = %.2f (target >= 0.5: %s)", ratio, "met" if ratio >= 0.5 else "NOT met")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
