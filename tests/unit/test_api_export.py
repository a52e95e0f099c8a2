"""/v1/events/export: CSV and Parquet read back equal the query (scope and filters applied), streamed in
pages (one Parquet row group each), capped, audited with a purpose, for exporters only."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq  # type: ignore[import-untyped]
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.config import ApiConfig
from api.export import EXPORT_COLUMNS, export_record
from events.schema import Event, Snapshot
from events.store.chdb_store import ChdbStore
from tests.unit.api_fakes import T0_MS, FakeAuthenticator, FakeEventStore, ListAuditSink, bearer, make_event
from tests.unit.events_samples import newest_first, with_attributes

PAGE_ROWS = 4


def seed() -> list[Event]:
    """13 events: cam-1 (site north) and cam-2 (south), snapshots on even ones, a note with text that
    needs CSV quoting (comma, quote, newline, non-ASCII)."""
    events = []
    for i in range(12):
        event = make_event(
            ts_ms=T0_MS + i * 1000,
            camera_id=f"cam-{1 + i % 2}",
            site_id="north" if i % 2 == 0 else "south",
            alert=i % 3 != 0,
            track_id=i if i % 4 else None,
            label="car" if i % 5 == 0 else "person",
        )
        if i % 2 == 0:
            event = event.model_copy(
                update={"snapshot": Snapshot(uri=f"snapshots/{i}.jpg", sha256="cd" * 32)}
            )
        events.append(event)
    note = make_event(ts_ms=T0_MS + 50_000, camera_id="cam-1", site_id="north", track_id=77)
    return [*events, with_attributes(note, "note", text='gate, "left"\nopen — 京A')]


@pytest.fixture
def events() -> list[Event]:
    return seed()


@pytest.fixture
def audit() -> ListAuditSink:
    return ListAuditSink()


def client_for(
    events: list[Event], audit: ListAuditSink, credential: str = "auditor", **config: Any
) -> TestClient:
    app = create_app(
        FakeEventStore(events),
        Path("/nonexistent"),
        authenticator=FakeAuthenticator(),
        audit=audit,
        config=ApiConfig(export_page_rows=PAGE_ROWS, **config),
    )
    return TestClient(app, headers=bearer(credential))


def read_csv(content: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(content.decode())))


def as_csv_text(event: Event) -> dict[str, str]:
    """What an export row of `event` reads back as from the CSV (every value as text)."""
    out = {}
    for name, value in export_record(event).items():
        if name == "time_utc":
            out[name] = value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
        elif isinstance(value, list):
            out[name] = json.dumps(value)
        else:
            out[name] = "" if value is None else str(value)
    return out


EXPORT_CASES: list[tuple[str, str, dict[str, Any], Any]] = [
    ("everything", "auditor", {}, lambda e: True),
    (
        "alerts of cam-2",
        "admin",
        {"alerts_only": True, "camera_id": "cam-2"},
        lambda e: e.alert and e.camera_id == "cam-2",
    ),
    ("free text", "auditor", {"q": "LEFT"}, lambda e: e.type == "note"),
    ("scoped auditor", "auditor@site:north", {}, lambda e: e.site_id == "north"),
    ("scoped, asking for the other camera", "auditor@cam-1", {"camera": ["cam-2"]}, lambda e: False),
    (
        "window",
        "auditor",
        {"since_ms": T0_MS + 3000, "until_ms": T0_MS + 8000},
        lambda e: T0_MS + 3000 <= e.ts_ms <= T0_MS + 8000,
    ),
]


@pytest.mark.parametrize(
    ("credential", "params", "keep"), [c[1:] for c in EXPORT_CASES], ids=[c[0] for c in EXPORT_CASES]
)
def test_csv_reads_back_equal_to_the_query(
    events: list[Event], audit: ListAuditSink, credential: str, params: dict[str, Any], keep: Any
) -> None:
    r = client_for(events, audit, credential).get("/v1/events/export", params={**params, "purpose": "case 7"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "text/csv; charset=utf-8"
    assert r.headers["content-disposition"].startswith('attachment; filename="anfang-events-')
    expected = newest_first(e for e in events if keep(e))
    rows = read_csv(r.content)
    assert rows == [as_csv_text(e) for e in expected]
    assert r.content.decode().splitlines()[0] == ",".join(EXPORT_COLUMNS)
    assert r.headers["x-total-count"] == str(len(expected))


@pytest.mark.parametrize(
    ("credential", "params", "keep"), [c[1:] for c in EXPORT_CASES], ids=[c[0] for c in EXPORT_CASES]
)
def test_parquet_reads_back_equal_to_the_query_one_row_group_per_page(
    events: list[Event], audit: ListAuditSink, credential: str, params: dict[str, Any], keep: Any
) -> None:
    r = client_for(events, audit, credential).get(
        "/v1/events/export", params={**params, "purpose": "case 7", "format": "parquet"}
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/vnd.apache.parquet"
    expected = newest_first(e for e in events if keep(e))
    parquet = pq.ParquetFile(io.BytesIO(r.content))
    assert parquet.num_row_groups == -(-len(expected) // PAGE_ROWS)
    assert parquet.schema_arrow.names == list(EXPORT_COLUMNS)
    assert parquet.read().to_pylist() == [export_record(e) for e in expected]


def test_an_export_is_audited_with_its_purpose_and_filters(events: list[Event], audit: ListAuditSink) -> None:
    client = client_for(events, audit, "auditor@site:north")
    r = client.get(
        "/v1/events/export", params={"purpose": "GDPR request 12", "label": "car", "format": "parquet"}
    )
    assert r.status_code == 200
    (record,) = audit.records
    assert (record.action, record.actor, record.target, record.purpose, record.outcome) == (
        "export",
        "test-auditor",
        "events:parquet",
        "GDPR request 12",
        "ok",
    )
    assert record.detail == "2 events; filters label=['car']"


def test_the_store_is_read_in_keyset_pages(events: list[Event], audit: ListAuditSink) -> None:
    store = FakeEventStore(events)
    app = create_app(
        store, Path("/x"), authenticator=FakeAuthenticator(), config=ApiConfig(export_page_rows=5)
    )
    r = TestClient(app, headers=bearer("admin")).get("/v1/events/export", params={"purpose": "p"})
    assert len(read_csv(r.content)) == len(events)
    pages = [q for q in store.queries if not q.with_total]
    assert [q.limit for q in pages] == [5, 5, 5]
    assert [q.after is None for q in pages] == [True, False, False]
    assert all(q.offset == 0 for q in store.queries)


@pytest.mark.parametrize(
    ("credential", "params", "status", "message"),
    [
        ("auditor", {}, 422, "Field required"),
        ("auditor", {"purpose": ""}, 422, "at least 1 character"),
        ("auditor", {"purpose": "p", "format": "xlsx"}, 422, "'csv' or 'parquet'"),
        ("operator", {"purpose": "p"}, 403, "needs exports"),
        ("integrator", {"purpose": "p"}, 403, "needs exports"),
        ("auditor", {"purpose": "p", "max": 1}, 422, "Extra inputs are not permitted"),
    ],
)
def test_refusals(
    events: list[Event],
    audit: ListAuditSink,
    credential: str,
    params: dict[str, Any],
    status: int,
    message: str,
) -> None:
    r = client_for(events, audit, credential).get("/v1/events/export", params=params)
    assert r.status_code == status, r.text
    assert message in r.text
    assert [a.action for a in audit.records] == (["access.denied"] if status == 403 else [])


def test_more_rows_than_an_export_may_hold_is_422_and_nothing_is_sent(
    events: list[Event], audit: ListAuditSink
) -> None:
    client = client_for(events, audit, export_max_rows=5)
    r = client.get("/v1/events/export", params={"purpose": "p"})
    assert r.status_code == 422
    assert r.json()["detail"][0]["msg"].startswith(
        f"{len(events)} events match, more than one export may hold (5)"
    )
    assert audit.records == []
    assert (
        client.get(
            "/v1/events/export", params={"purpose": "p", "alerts_only": True, "camera_id": "cam-1"}
        ).status_code
        == 200
    )


def test_an_empty_export_is_a_valid_file(events: list[Event], audit: ListAuditSink) -> None:
    client = client_for(events, audit)
    for fmt in ("csv", "parquet"):
        r = client.get("/v1/events/export", params={"purpose": "p", "format": fmt, "camera_id": "cam-404"})
        assert r.status_code == 200
        if fmt == "csv":
            assert read_csv(r.content) == []
        else:
            assert pq.read_table(io.BytesIO(r.content)).num_rows == 0


def test_export_record_flattens_every_event_field() -> None:
    event = make_event(ts_ms=T0_MS + 1, track_id=None)
    record = export_record(event)
    assert set(record) == set(EXPORT_COLUMNS)
    assert record["attributes"] == event.attributes.model_dump_json() and record["track_id"] is None


@pytest.fixture(scope="module")
def chdb_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChdbStore]:
    store = ChdbStore(tmp_path_factory.mktemp("export") / "chdb", database="export_test")
    store.ensure_schema()
    yield store
    store.close()


def test_a_real_store_streams_every_page_once(chdb_store: ChdbStore) -> None:
    """Over chDB (keyset pages read from the threadpool, scan windows): all 301 events, newest first."""
    events = [
        make_event(ts_ms=T0_MS + i * 7_000, camera_id=f"cam-{i % 3}", track_id=i, alert=i % 2 == 0)
        for i in range(301)
    ]
    chdb_store.insert(events)
    app = create_app(
        chdb_store, Path("/x"), authenticator=FakeAuthenticator(), config=ApiConfig(export_page_rows=40)
    )
    client = TestClient(app, headers=bearer("auditor@cam-0,cam-2"))
    r = client.get("/v1/events/export", params={"purpose": "p", "format": "parquet"})
    expected = newest_first(e for e in events if e.camera_id != "cam-1")
    parquet = pq.ParquetFile(io.BytesIO(r.content))
    assert parquet.read().to_pylist() == [export_record(e) for e in expected]
    assert parquet.num_row_groups == -(-len(expected) // 40)
    rows = read_csv(client.get("/v1/events/export", params={"purpose": "p", "alerts_only": True}).content)
    assert [row["event_id"] for row in rows] == [str(e.event_id) for e in expected if e.alert]
