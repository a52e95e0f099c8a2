"""History at scale: the console's queries over N stored events (default 10M, 90 days) in chDB, through
the API and as the same SQL run directly.

Fill: bench/history_fill.py generates the events inside the engine (INSERT ... SELECT from numbers(),
1M per statement, oldest first), then OPTIMIZE ... FINAL (the state merges converge to); the newest
day then arrives again as 200 small inserts of fresh events (unmerged parts, as a running sink leaves
them). 10,000 alert state rows sit in `alert_state`.

Queries (each `--runs` times after a warm-up; p50/p95 in ms):
  newest alerts  GET /v1/alerts?limit=50             (with states, total)
  counts by type GET /v1/alerts/counts
  camera day     GET /v1/events?camera_id=..&since_ms=..&until_ms=..&limit=50
  cursor 100k    GET /v1/events?limit=50&cursor=<cursor at depth 100,000>
  offset 100k    GET /v1/events?limit=50&offset=100000   (compatibility path, for comparison)
"Direct" replays the SQL statements the store ran for that request, on the same engine, in order.
Ratio = API p95 / direct p95 (target <= 1.2); absolute target <= 100 ms. "Before" runs the SQL the
store ran before this change (FINAL everywhere, one count per type, offset paging), directly.

    .venv/bin/python -m bench.history [--events 10000000] [--days 90] [--runs 40] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import httpx

from api.app import create_app
from api.config import ApiConfig
from api.principal import Principal
from api.schemas import EventTypeOut
from bench.history_fill import TYPES, fill_sql
from events.alert_state import AlertAction, AlertStateRow, AlertStatus
from events.auth import Role
from events.store.alert_state_sql import ALERT_STATE_COLUMNS, ALERT_STATE_TABLE, AlertStateSqlStore, state_row
from events.store.chdb_store import ChdbStore
from events.store.runner import SqlBuilder
from events.store.sql import sql_literal

logger = logging.getLogger("bench.history")
DAY_MS = 86_400_000
DB = "bench"
AUTH = {"Authorization": "Bearer bench"}


class BenchAuthenticator:
    """Every credential is an unrestricted admin (sign-in's own cost is measured by bench/api.py)."""

    def authenticate(self, credential: str) -> Principal:
        return Principal(name="bench", role=Role.ADMIN)


class Recorder:
    """Wraps the store's `select` to keep the SQL text of each statement it runs."""

    def __init__(self, store: ChdbStore) -> None:
        self.inner = store.select
        self.statements: list[str] | None = None

    def __call__(self, build: SqlBuilder) -> list[tuple[Any, ...]]:
        if self.statements is not None:
            self.statements.append(build(sql_literal))
        return self.inner(build)


def fill(store: ChdbStore, events: int, days: int, now_ms: int) -> float:
    t0 = time.perf_counter()
    span_ms, start_ms, step = days * DAY_MS, now_ms - days * DAY_MS, 1_000_000
    for first in range(0, events, step):
        rows = min(step, events - first)
        store._run(fill_sql(DB, rows=rows, first=first, start_ms=start_ms, span_ms=span_ms, total=events))
        logger.info("filled %d / %d", first + rows, events)
    store._run(f"OPTIMIZE TABLE {DB}.events FINAL")
    fresh = max(1, events // days)  # the newest day again, as a sink writes it: many small parts
    rows = max(1, fresh // 200)
    for first in range(0, fresh, rows):
        store._run(
            fill_sql(
                DB,
                rows=min(rows, fresh - first),
                first=first,
                start_ms=now_ms - DAY_MS,
                span_ms=DAY_MS,
                total=fresh,
                seed=events,
            )
        )
    AlertStateSqlStore(store).ensure_schema()
    acked = [
        state_row(
            AlertStateRow(
                uuid.UUID(str(i)),
                1,
                AlertAction.ACKNOWLEDGE,
                "op",
                now_ms,
                AlertStatus.ACKNOWLEDGED,
                None,
                None,
                0,
            )
        )
        for (i,) in store._rows(f"SELECT event_id FROM {DB}.events WHERE alert = 1 LIMIT 10000")
    ]
    store.insert_rows(ALERT_STATE_TABLE, ALERT_STATE_COLUMNS, acked)
    return time.perf_counter() - t0


def settle(store: ChdbStore, timeout_s: float = 180.0) -> int:
    """Waits until no merge of `events` runs (as between a sink's bursts); the active parts left."""
    deadline = time.monotonic() + timeout_s
    where = f"database = '{DB}' AND table = 'events'"
    while time.monotonic() < deadline and int(
        store._rows(f"SELECT count() FROM system.merges WHERE {where}")[0][0]
    ):
        time.sleep(1.0)
    return int(store._rows(f"SELECT count() FROM system.parts WHERE {where} AND active")[0][0])


def replay(store: ChdbStore, statements: list[str]) -> None:
    for statement in statements:
        store._rows(statement)


def timed(call: Callable[[], object], runs: int) -> list[float]:
    for _ in range(3):
        call()
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        call()
        out.append((time.perf_counter() - t) * 1000)
    return out


def p95(xs: list[float]) -> float:
    return statistics.quantiles(xs, n=20, method="inclusive")[18] if len(xs) > 1 else xs[0]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--events", type=int, default=10_000_000)
    p.add_argument("--days", type=int, default=90)
    p.add_argument("--runs", type=int, default=40)
    p.add_argument("--data-dir", type=Path, default=None, help="keep the store here (default: a temp folder)")
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="anfang-bench-history-") as tmp:
        folder = args.data_dir or Path(tmp)
        store = ChdbStore(folder / "chdb", database=DB)
        try:
            store.ensure_schema()
            now_ms = int(time.time() * 1000)
            filled = store._rows(f"SELECT count() FROM {DB}.events")[0][0]
            fill_s = fill(store, args.events, args.days, now_ms) if int(filled) == 0 else 0.0
            parts = settle(store)
            logger.info("merges settled: %d active parts", parts)
            run(store, args.runs, now_ms, fill_s)
        finally:
            store.close()
    sys.stdout.write(f"total bench time: {time.perf_counter() - started:.0f} s\n")
    return 0


def run(store: ChdbStore, runs: int, now_ms: int, fill_s: float) -> None:
    asyncio.run(measure(store, runs, now_ms, fill_s))
    before(store, now_ms - 2 * DAY_MS, max(5, runs // 8))


async def measure(store: ChdbStore, runs: int, now_ms: int, fill_s: float) -> None:
    """Each query through the ASGI app (auth, validation, JSON; the sync route in the threadpool as under
    uvicorn) and as its SQL replayed directly, alternating, so both see the same machine load."""
    recorder = Recorder(store)
    store.select = recorder  # type: ignore[method-assign]
    app = create_app(
        store,
        Path(tempfile.gettempdir()),
        config=ApiConfig(
            alerts_cache_ttl_s=0
        ),  # every request runs its queries (the cache: bench/api_throughput)
        authenticator=BenchAuthenticator(),
        event_types=[EventTypeOut(type=t, title=t, attributes_schema={}) for t in dict.fromkeys(TYPES)],
        alert_states=AlertStateSqlStore(store),
    )
    rows = store._rows(f"SELECT count(), sum(alert), min(ts_ms), max(ts_ms) FROM {DB}.events")[0]
    day_lo = now_ms - 2 * DAY_MS
    urls = {
        "newest alerts": "/v1/alerts?limit=50",
        "counts by type": "/v1/alerts/counts",
        "camera day": f"/v1/events?camera_id=cam-7&since_ms={day_lo}&until_ms={day_lo + DAY_MS}&limit=50",
        "cursor 100k": f"/v1/events?limit=50&cursor={deep_cursor(store, 100_000)}",
        "offset 100k": "/v1/events?limit=50&offset=100000",
    }
    days = (int(rows[3]) - int(rows[2])) / DAY_MS
    out = sys.stdout
    out.write(f"\nchDB, {int(rows[0]):,} events ({int(rows[1]):,} alerts) over {days:.0f} days; ")
    out.write(f"fill {fill_s:.0f} s; {runs} runs each\n")
    out.write(
        f"{'query':16} {'API p50':>8} {'API p95':>8} {'SQL p50':>8} {'SQL p95':>8} {'ratio':>6} "
        "stmts  target\n"
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench", headers=AUTH) as client:
        for name, url in urls.items():
            recorder.statements = []
            r = await client.get(url)
            assert r.status_code == 200, (url, r.status_code, r.text[:300])
            statements, recorder.statements = recorder.statements or [], None
            api: list[float] = []
            direct: list[float] = []
            for k in range(runs + 3):
                first, second = (api, direct) if k % 2 else (direct, api)
                for series in (first, second):
                    t = time.perf_counter()
                    if series is api:
                        await client.get(url)
                    else:
                        replay(store, statements)
                    if k >= 3:  # warm-up
                        series.append((time.perf_counter() - t) * 1000)
            ratio = p95(api) / p95(direct)
            ok = "ok" if p95(api) <= 100 and ratio <= 1.2 else "MISSED"
            out.write(
                f"{name:16} {statistics.median(api):8.1f} {p95(api):8.1f} {statistics.median(direct):8.1f} "
                f"{p95(direct):8.1f} {ratio:6.2f} {len(statements):5}  {ok}\n"
            )


def deep_cursor(store: ChdbStore, depth: int) -> str:
    row = store._rows(
        f"SELECT ts_ms, event_id FROM {DB}.events "
        f"ORDER BY ts_ms DESC, event_id DESC LIMIT 1 OFFSET {depth - 1}"
    )[0]
    return f"{int(row[0])}_{uuid.UUID(str(row[1])).hex}"


def before(store: ChdbStore, day_lo: int, runs: int) -> None:
    """The SQL the store ran before this change (FINAL reads, a count per type, offsets), directly."""
    ev = f"{DB}.events FINAL"
    order = "ORDER BY ts_ms DESC, event_id DESC"
    per_type = [f"SELECT count() FROM {ev} WHERE type = '{t}' AND alert = 1" for t in dict.fromkeys(TYPES)]
    day = f"camera_id = 'cam-7' AND ts_ms >= {day_lo} AND ts_ms <= {day_lo + DAY_MS}"
    old = {
        "newest alerts": [
            f"SELECT payload FROM {ev} WHERE alert = 1 {order} LIMIT 50 OFFSET 0",
            f"SELECT count() FROM {ev} WHERE alert = 1",
        ],
        "counts by type": [*per_type, f"SELECT count() FROM {ev} WHERE alert = 1"],
        "camera day": [
            f"SELECT payload FROM {ev} WHERE {day} {order} LIMIT 50 OFFSET 0",
            f"SELECT count() FROM {ev} WHERE {day}",
        ],
        "offset 100k": [
            f"SELECT payload FROM {ev} {order} LIMIT 50 OFFSET 100000",
            f"SELECT count() FROM {ev}",
        ],
    }
    sys.stdout.write(
        f"\nthe previous store's SQL (FINAL, a count per type, offsets) on this table, direct, {runs} runs:\n"
    )
    for name, statements in old.items():
        ms = timed(partial(replay, store, statements), runs)
        sys.stdout.write(
            f"{name:16} p50 {statistics.median(ms):8.1f}  p95 {p95(ms):8.1f}  "
            f"({len(statements)} statements)\n"
        )


if __name__ == "__main__":
    sys.exit(main())
