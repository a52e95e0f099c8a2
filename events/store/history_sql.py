"""History reads over `events`, shared by the chDB and the ClickHouse-server stores.

No FINAL: inserts skip ids already stored, so a duplicate row exists only when two writers race past
that check (two sinks on one server), and ReplacingMergeTree folds it away at its next merge. Reads
therefore scan plain parts and drop repeats themselves: a page keeps the first row of each event_id
(repeats share ts_ms and event_id, so they sit side by side in the page order), and a keyset cursor
ends strictly before the last (ts_ms, event_id) served, so no id is served twice in a page or
across pages. Counts and aggregates count rows: they may count a raced duplicate until it is merged.

A page comes in two steps: the keys (camera_id, ts_ms, event_id) of its rows, which reads only small
columns, then those rows' payloads by primary key (a granule each). The key step narrows the scan by
time: it searches the last hour before the anchor (the cursor, `until_ms`, or now) first and widens
(a day, a week, a month, everything) only while the window holds fewer rows than the page needs.
Rows outside a window are all older than every row inside it, so a full window gives the exact page.

Everything here works on ClickHouse 18.16 as on chDB 26.x (no window functions, no FINAL settings).
"""

from __future__ import annotations

import unicodedata
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from events.hotlists import PATTERN_SEPARATORS
from events.ports import EventCursor, EventGroupBy, EventPage, EventQuery
from events.store import alert_state_sql
from events.store.runner import SqlBuilder
from events.store.sql import EVENTS_TABLE, Binder, InvalidQueryError, SqlValue, parse_payload

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
#: Lower bounds the key step tries before scanning everything, as spans back from its anchor.
DEFAULT_SCAN_WINDOWS_MS: tuple[int, ...] = (HOUR_MS, DAY_MS, 7 * DAY_MS, 31 * DAY_MS)
#: Longest free-text filter (characters): the filter is a substring search over every row's attributes.
TEXT_MAX_CHARS = 200
#: The event types the plate filter searches, and the code filter's.
PLATE_TYPES: tuple[SqlValue, ...] = ("plate_read", "plate_match")
CODE_TYPE = "code_read"

_HOUR_KEY = f"intDiv(ts_ms, {HOUR_MS})"
_GROUP_KEYS: dict[EventGroupBy, str] = {
    "type": "type",
    "camera": "camera_id",
    "hour": f"intDiv(ts_ms, {HOUR_MS}) * {HOUR_MS}",
}

#: Runs one SELECT built with the engine's binder (the stores' `select`).
Select = Callable[[SqlBuilder], list[tuple[Any, ...]]]


@dataclass(frozen=True, slots=True)
class RowKey:
    """Where one row sits in the primary key, and in the page order (with its payload when read)."""

    camera_id: str
    ts_ms: int
    event_id: uuid.UUID
    payload: str | None = None


def _values(items: Sequence[str]) -> tuple[SqlValue, ...]:
    return tuple(dict.fromkeys(str(i) for i in items))


def filter_conditions(database: str, q: EventQuery, bind: Binder) -> list[str]:
    """The filters of `q` (not its cursor nor paging) as conditions to AND; every value is bound."""
    conds = []
    if q.camera_id is not None:
        conds.append(f"camera_id = {bind(q.camera_id)}")
    if q.cameras:
        conds.append(f"camera_id IN {bind(_values(q.cameras))}")
    if q.scope is not None and not q.scope.unrestricted:
        allowed = [f"site_id IN {bind(_values(q.scope.sites))}"] if q.scope.sites else []
        allowed += [f"camera_id IN {bind(_values(q.scope.cameras))}"] if q.scope.cameras else []
        conds.append(f"({' OR '.join(allowed)})")
    if q.types:
        conds.append(f"type IN {bind(_values(q.types))}")
    if q.rule_ids:
        conds.append(f"rule_id IN {bind(_values(q.rule_ids))}")
    if q.labels:
        conds.append(f"label IN {bind(_values(q.labels))}")
    if q.since_ms is not None:
        conds += _at_or_after(q.since_ms, bind)
    if q.until_ms is not None:
        conds += _at_or_before(q.until_ms, bind)
    if q.alerts_only:
        conds.append("alert = 1")
    if q.text:
        conds.append(f"positionCaseInsensitiveUTF8(attributes, {bind(q.text)}) > 0")
    if q.plate:
        conds.append(f"type IN {bind(PLATE_TYPES)}")
        plate = like_pattern(normalise_pattern_text(q.plate))
        conds.append(f"visitParamExtractString(attributes, 'plate') LIKE {bind(plate)}")
    if q.code:
        conds.append(f"type = {bind(CODE_TYPE)}")
        conds.append(f"visitParamExtractString(attributes, 'payload') LIKE {bind(like_pattern(q.code))}")
    if q.statuses or q.assignee is not None:
        conds.append(alert_state_sql.state_filter_sql(database, q.statuses, q.assignee, bind))
    return conds


def like_pattern(pattern: str) -> str:
    """A plate/code search pattern as SQL LIKE: `*` any run, `?` one character, the rest literal."""
    escaped = pattern.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped.replace("*", "%").replace("?", "_")


def normalise_pattern_text(pattern: str) -> str:
    """A plate as stored: NFKC, upper case, separators (spaces, dots, dashes) dropped."""
    text = unicodedata.normalize("NFKC", pattern).upper()
    return "".join(ch for ch in text if ch not in PATTERN_SEPARATORS)


def _at_or_after(ts_ms: int, bind: Binder) -> list[str]:
    """`ts_ms >= x`, and the same on the sort key's hour (old servers prune by it only when told)."""
    return [f"ts_ms >= {bind(ts_ms)}", f"{_HOUR_KEY} >= {bind(ts_ms // HOUR_MS)}"]


def _at_or_before(ts_ms: int, bind: Binder) -> list[str]:
    return [f"ts_ms <= {bind(ts_ms)}", f"{_HOUR_KEY} <= {bind(ts_ms // HOUR_MS)}"]


def _where(conds: Sequence[str]) -> str:
    return f" WHERE {' AND '.join(conds)}" if conds else ""


def check_history_query(q: EventQuery) -> None:
    """What only the history filters can get wrong (the store's `check_query` checks paging)."""
    if q.text is not None and len(q.text) > TEXT_MAX_CHARS:
        raise InvalidQueryError(f"text must be at most {TEXT_MAX_CHARS} characters, got {len(q.text)}")
    for name, value in (("plate", q.plate), ("code", q.code)):
        if value is not None and len(value) > TEXT_MAX_CHARS:
            raise InvalidQueryError(f"{name} must be at most {TEXT_MAX_CHARS} characters, got {len(value)}")


def keys_sql(
    database: str, q: EventQuery, bind: Binder, *, lower_ms: int | None, rows: int, payload: bool = False
) -> str:
    """Keys (and with `payload`, payloads) of up to `rows` rows after `q.offset` in the page order, at
    or after `lower_ms` when given.

    With an offset, repeats are dropped in SQL (`LIMIT 1 BY`, costly over wide windows: offsets are
    the compatibility path); otherwise the caller drops them and the engine keeps its top-N sort.
    """
    conds = filter_conditions(database, q, bind)
    if q.after is not None:
        ts = bind(q.after.ts_ms)
        conds += _at_or_before(q.after.ts_ms, bind)
        conds.append(f"(ts_ms < {ts} OR (ts_ms = {ts} AND event_id < toUUID({bind(q.after.event_id)})))")
    if lower_ms is not None:
        conds += _at_or_after(lower_ms, bind)
    # `LIMIT offset, rows`: ClickHouse 18.16 has no `LIMIT rows OFFSET offset`
    limit = f" LIMIT 1 BY event_id LIMIT {int(q.offset)}, {int(rows)}" if q.offset else f" LIMIT {int(rows)}"
    columns = "camera_id, ts_ms, event_id, payload" if payload else "camera_id, ts_ms, event_id"
    return (
        f"SELECT {columns} FROM {database}.{EVENTS_TABLE}{_where(conds)} "
        f"ORDER BY ts_ms DESC, event_id DESC{limit}"
    )


def payloads_sql(database: str, keys: Sequence[RowKey], bind: Binder) -> str:
    """event_id and payload of the (non-empty) `keys`' rows, by primary key."""
    if not keys:
        raise ValueError("payloads_sql needs at least one key")
    lo = min(k.ts_ms for k in keys)
    hi = max(k.ts_ms for k in keys)
    wanted = tuple((k.camera_id, k.ts_ms, k.event_id) for k in keys)
    conds = [
        *_at_or_after(lo, bind),
        *_at_or_before(hi, bind),
        f"(camera_id, ts_ms, event_id) IN {bind(wanted)}",
    ]
    return f"SELECT event_id, payload FROM {database}.{EVENTS_TABLE}{_where(conds)}"


def count_sql(database: str, q: EventQuery, bind: Binder) -> str:
    """Rows matching `q`'s filters, in all pages."""
    return f"SELECT count() FROM {database}.{EVENTS_TABLE}{_where(filter_conditions(database, q, bind))}"


def aggregate_sql(database: str, q: EventQuery, group_by: EventGroupBy, bind: Binder) -> str:
    """(key, count) per group of the rows matching `q`'s filters, by key."""
    key = _GROUP_KEYS[group_by]
    where = _where(filter_conditions(database, q, bind))
    return f"SELECT {key} AS k, count() FROM {database}.{EVENTS_TABLE}{where} GROUP BY k ORDER BY k"


def get_sql(database: str, event_id: uuid.UUID, bind: Binder) -> str:
    return f"SELECT payload FROM {database}.{EVENTS_TABLE} WHERE event_id = {bind(event_id)} LIMIT 1"


def scan_bounds(q: EventQuery, now_ms: int, windows_ms: Sequence[int]) -> list[int | None]:
    """Lower bounds the key step tries, narrowest first; the last is None (no bound beyond `q`'s)."""
    anchor = now_ms
    if q.until_ms is not None:
        anchor = min(anchor, q.until_ms)
    if q.after is not None:
        anchor = min(anchor, q.after.ts_ms)
    bounds: list[int | None] = []
    for span in sorted(windows_ms):
        lower = anchor - span
        if q.since_ms is not None and lower <= q.since_ms:
            break
        bounds.append(lower)
    return [*bounds, None]


def _key(row: Sequence[Any]) -> RowKey:
    camera_id, ts_ms, event_id, *payload = row
    return RowKey(
        str(camera_id), int(str(ts_ms)), uuid.UUID(str(event_id)), str(payload[0]) if payload else None
    )


def _unique(keys: list[RowKey]) -> list[RowKey]:
    """First of each run of one event_id (a raced duplicate sits next to its twin)."""
    out: list[RowKey] = []
    for k in keys:
        if not out or out[-1].event_id != k.event_id:
            out.append(k)
    return out


def page_keys(
    select: Select, database: str, q: EventQuery, lower_ms: int | None, want: int, *, payload: bool = False
) -> list[RowKey]:
    """Up to `want` distinct keys from the window; asks again for more rows when repeats cut it short."""
    rows = want
    while True:
        build = partial(keys_sql, database, q, lower_ms=lower_ms, rows=rows, payload=payload)
        raw = [_key(r) for r in select(build)]
        keys = _unique(raw)
        if len(keys) >= want or len(raw) < rows:
            return keys[:want]
        rows *= 2


def query_events(
    select: Select,
    database: str,
    q: EventQuery,
    *,
    now_ms: int,
    windows_ms: Sequence[int],
    one_step: bool = False,
) -> EventPage:
    """One page of `q` (checked by the caller), newest first, with `next_cursor` and, if asked, the total.

    `one_step`: read the payloads with the keys (for engines that read the top rows' other columns
    lazily); otherwise keys first, then the page's payloads by primary key.
    """
    check_history_query(q)
    with_payload = one_step and not q.offset
    want = q.limit + 1  # one more than the page: is there a next one?
    keys: list[RowKey] = []
    for lower in scan_bounds(q, now_ms, windows_ms):
        keys = page_keys(select, database, q, lower, want, payload=with_payload)
        if len(keys) >= want:
            break
    page = keys[: q.limit]
    payloads = {k.event_id: k.payload for k in page if k.payload is not None}
    missing = [k for k in page if k.event_id not in payloads]
    if missing:
        for event_id, payload in select(partial(payloads_sql, database, missing)):
            payloads.setdefault(uuid.UUID(str(event_id)), str(payload))
    events = [parse_payload(p) for k in page if (p := payloads.get(k.event_id)) is not None]
    last = page[-1] if page else None
    next_cursor = EventCursor(last.ts_ms, last.event_id) if last is not None and len(keys) > q.limit else None
    total = count_events(select, database, q) if q.with_total else -1
    return EventPage(events=events, total=total, next_cursor=next_cursor)


def count_events(select: Select, database: str, q: EventQuery) -> int:
    check_history_query(q)
    return int(str(select(lambda b: count_sql(database, q, b))[0][0]))


def aggregate_events(select: Select, database: str, q: EventQuery, group_by: EventGroupBy) -> dict[str, int]:
    if group_by not in _GROUP_KEYS:
        raise InvalidQueryError(f"group_by must be one of {', '.join(_GROUP_KEYS)}, got {group_by!r}")
    check_history_query(q)
    rows = select(lambda b: aggregate_sql(database, q, group_by, b))
    return {str(k): int(str(n)) for k, n in rows}


def get_event_payload(select: Select, database: str, event_id: uuid.UUID) -> str | None:
    rows = select(lambda b: get_sql(database, event_id, b))
    return str(rows[0][0]) if rows else None
