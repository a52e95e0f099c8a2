"""History exports: the events of a query as CSV or Parquet, produced page by page.

The store is read in keyset pages (`page_rows` events each, newest first), and each page becomes one
CSV chunk or one Parquet row group that is handed to the response before the next page is read: a
huge range never sits in memory. The row cap is checked by counting before the first byte is sent.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]

from api.public_events import public_event
from events.ports import EventQuery, EventStore
from events.schema import Event

logger = logging.getLogger(__name__)

MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "parquet": "application/vnd.apache.parquet"}

#: Columns of an export, in order, with their Parquet types (CSV writes their text).
EXPORT_SCHEMA = pa.schema(
    [
        ("event_id", pa.string()),
        ("ts_ms", pa.int64()),
        ("time_utc", pa.timestamp("ms", tz="UTC")),
        ("camera_id", pa.string()),
        ("site_id", pa.string()),
        ("type", pa.string()),
        ("severity", pa.string()),
        ("alert", pa.bool_()),
        ("rule_id", pa.string()),
        ("track_id", pa.int64()),
        ("label", pa.string()),
        ("confidence", pa.float64()),
        ("bbox_xyxy", pa.list_(pa.float64())),
        ("attributes", pa.string()),
        ("snapshot_uri", pa.string()),
        ("snapshot_sha256", pa.string()),
        ("model_name", pa.string()),
        ("model_version", pa.string()),
        ("worker_id", pa.string()),
        ("schema_version", pa.string()),
    ]
)
EXPORT_COLUMNS: tuple[str, ...] = tuple(EXPORT_SCHEMA.names)


class ExportTooLargeError(ValueError):
    """More events match than one export may hold (-> 422: narrow the filters)."""


def export_record(event: Event) -> dict[str, Any]:
    """One export row: the event's fields flattened (attributes as their JSON)."""
    snapshot = event.snapshot
    return {
        "event_id": str(event.event_id),
        "ts_ms": event.ts_ms,
        "time_utc": datetime.fromtimestamp(event.ts_ms / 1000, tz=UTC),
        "camera_id": event.camera_id,
        "site_id": event.site_id,
        "type": event.type,
        "severity": event.severity.value,
        "alert": event.alert,
        "rule_id": event.rule_id,
        "track_id": event.track_id,
        "label": event.label,
        "confidence": event.confidence,
        "bbox_xyxy": list(event.bbox_xyxy),
        "attributes": public_event(event).attributes.model_dump_json(),
        "snapshot_uri": snapshot.uri if snapshot is not None else "",
        "snapshot_sha256": snapshot.sha256 if snapshot is not None else "",
        "model_name": event.model.name,
        "model_version": event.model.version,
        "worker_id": event.worker_id,
        "schema_version": event.schema_version,
    }


def count_for_export(store: EventStore, q: EventQuery, *, max_rows: int) -> int:
    """How many events `q` matches; `ExportTooLargeError` when more than `max_rows`."""
    total = store.query(replace(q, limit=1, offset=0, after=None, with_total=True)).total
    if total > max_rows:
        raise ExportTooLargeError(
            f"{total} events match, more than one export may hold ({max_rows}): "
            "narrow the time range or filters"
        )
    return total


def event_pages(store: EventStore, q: EventQuery, *, page_rows: int, max_rows: int) -> Iterator[list[Event]]:
    """The events of `q`, newest first, in keyset pages of `page_rows`, at most `max_rows` in all."""
    query = replace(q, limit=page_rows, offset=0, after=None, with_total=False)
    sent = 0
    while sent < max_rows:
        page = store.query(replace(query, limit=min(page_rows, max_rows - sent)))
        if page.events:
            sent += len(page.events)
            yield page.events
        if page.next_cursor is None:
            return
        query = replace(query, after=page.next_cursor)


def _csv_text(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    if isinstance(value, list):
        return json.dumps(value)
    if value is None:
        return ""
    return value


def csv_chunks(pages: Iterator[list[Event]]) -> Iterator[bytes]:
    """A header line, then one chunk of CSV lines per page."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(EXPORT_COLUMNS)
    yield buffer.getvalue().encode()
    for events in pages:
        buffer.seek(0)
        buffer.truncate()
        for event in events:
            record = export_record(event)
            writer.writerow([_csv_text(record[c]) for c in EXPORT_COLUMNS])
        yield buffer.getvalue().encode()


class _Drain:
    """A write-only file that keeps what was written until `take()` (Parquet's output, chunk by chunk)."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []
        self._written = 0
        self.closed = False

    def write(self, data: bytes) -> int:
        self._chunks.append(bytes(data))
        self._written += len(data)
        return len(data)

    def tell(self) -> int:
        return self._written

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    def take(self) -> bytes:
        data, self._chunks = b"".join(self._chunks), []
        return data


def parquet_chunks(pages: Iterator[list[Event]]) -> Iterator[bytes]:
    """A Parquet file: one row group per page, each sent as soon as it is written, then the footer."""
    sink = _Drain()
    writer = pq.ParquetWriter(sink, EXPORT_SCHEMA, compression="zstd")
    try:
        for events in pages:
            columns: dict[str, list[Any]] = {c: [] for c in EXPORT_COLUMNS}
            for event in events:
                for name, value in export_record(event).items():
                    columns[name].append(value)
            writer.write_table(pa.table(columns, schema=EXPORT_SCHEMA))
            yield sink.take()
    finally:
        writer.close()
    yield sink.take()
