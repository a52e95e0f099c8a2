"""/v1/audit and /v1/audit/verify over a real hash-chained log in chDB: who may read, filters, cursor
paging, refusals of bad input, a camera-scoped reader, reading not audited, tampering reported."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.config import ApiConfig
from events.audit import AuditRecord
from events.store.audit_sql import AUDIT_TABLE, HEADS_TABLE, HashChainedAuditLog
from events.store.chdb_store import ChdbStore
from tests.unit.api_fakes import T0_MS, FakeAuthenticator, bearer

#: (actor, action, target, outcome, purpose) of the seeded rows, oldest first (ts_ms = T0_MS + i s).
SEED: list[tuple[str, str, str, str, str]] = [
    ("alice", "auth.login", "", "ok", ""),
    ("mallory", "auth.login", "", "failed", ""),
    ("alice", "alert.acknowledge", "event:1", "ok", ""),
    ("bob", "snapshot.view", "event:1", "ok", "alert handling"),
    ("test-auditor", "export", "events", "ok", "incident 42"),
    ("key:k1", "camera.update", "camera:lobby", "ok", ""),
    ("bob", "access.denied", "GET /v1/users", "denied", ""),
    ("alice", "alert.resolve", "event:1", "ok", ""),
    ("test-auditor", "snapshot.view", "event:2", "ok", "review"),
]
NEWEST_FIRST = list(range(len(SEED) - 1, -1, -1))


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChdbStore]:
    s = ChdbStore(Path(tmp_path_factory.mktemp("api-audit")) / "chdb", database="api_audit")
    s.ensure_schema()
    yield s
    s.close()


@pytest.fixture
def log(store: ChdbStore) -> HashChainedAuditLog:
    log = HashChainedAuditLog(store, "api-test")
    log.ensure_schema()
    for table in (AUDIT_TABLE, HEADS_TABLE):
        store.command(lambda _, t=table: f"TRUNCATE TABLE {store.database}.{t}")  # type: ignore[misc]
    for i, (actor, action, target, outcome, purpose) in enumerate(SEED):
        record = {"actor": actor, "action": action, "target": target, "outcome": outcome, "purpose": purpose}
        log.append(AuditRecord.model_validate({"ts_ms": T0_MS + i * 1000, "source": "10.0.0.9", **record}))
    return log


@pytest.fixture
def client(store: ChdbStore, log: HashChainedAuditLog, tmp_path: Path) -> TestClient:
    app = create_app(
        store,
        tmp_path,
        config=ApiConfig(page_limit_default=4, page_limit_max=6),
        authenticator=FakeAuthenticator(),
        audit=log,
        audit_log=log,
    )
    return TestClient(app, raise_server_exceptions=False)


def seqs(body: dict[str, Any]) -> list[int]:
    return [item["seq"] for item in body["items"]]


def rows_stored(store: ChdbStore) -> int:
    return int(store.select(lambda _: f"SELECT count() FROM {store.database}.{AUDIT_TABLE}")[0][0])


@pytest.mark.parametrize("path", ["/v1/audit", "/v1/audit/verify"])
@pytest.mark.parametrize(
    ("headers", "status"),
    [
        (bearer("admin"), 200),
        (bearer("auditor"), 200),
        (bearer("operator"), 403),
        (bearer("integrator"), 403),
        ({}, 401),
        (bearer("forged-token"), 401),
        ({"Authorization": "Basic YWRtaW46YWRtaW4="}, 401),
    ],
)
def test_only_auditors_and_admins_read_the_trail(
    client: TestClient, store: ChdbStore, path: str, headers: dict[str, str], status: int
) -> None:
    before = rows_stored(store)
    r = client.get(path, headers=headers)
    assert r.status_code == status, r.text
    if status == 401:
        assert r.headers["www-authenticate"] == "Bearer"
    # reading is not audited; a refused role is (access.denied), a missing credential is not
    assert rows_stored(store) == before + (1 if status == 403 else 0)


def test_items_carry_every_field_newest_first(client: TestClient) -> None:
    body = client.get("/v1/audit", params={"limit": 6}, headers=bearer("auditor")).json()
    assert seqs(body) == NEWEST_FIRST[:6] and body["limit"] == 6
    assert body["items"][0] == {
        "seq": 8,
        "ts_ms": T0_MS + 8000,
        "actor": "test-auditor",
        "role": "",
        "action": "snapshot.view",
        "target": "event:2",
        "source": "10.0.0.9",
        "outcome": "ok",
        "purpose": "review",
        "detail": "",
        "chain_id": "api-test",
    }


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"actor": "alice"}, [7, 2, 0]),
        ({"action": ["auth.login", "export"]}, [4, 1, 0]),
        ({"target": "event:1"}, [7, 3, 2]),
        ({"outcome": "denied"}, [6]),
        ({"since_ms": T0_MS + 2000, "until_ms": T0_MS + 4000}, [4, 3, 2]),
        ({"actor": "bob", "outcome": "ok"}, [3]),
        ({"actor": "' OR 1=1 --"}, []),
        ({"target": "x'); DROP TABLE audit_log; --"}, []),
        ({"action": ["%(p0)s", "\\' OR ''='"]}, []),
    ],
)
def test_filters(client: TestClient, params: dict[str, Any], expected: list[int]) -> None:
    r = client.get("/v1/audit", params=params, headers=bearer("admin"))
    assert r.status_code == 200, r.text
    assert seqs(r.json()) == expected


def test_cursor_pages_cover_everything_once_while_rows_arrive(
    client: TestClient, log: HashChainedAuditLog
) -> None:
    seen: list[int] = []
    params: dict[str, Any] = {"limit": 4}
    while True:
        body = client.get("/v1/audit", params=params, headers=bearer("auditor")).json()
        seen += seqs(body)
        if not body["next_cursor"]:
            break
        log.append(AuditRecord(ts_ms=T0_MS + 60_000, actor="late", action="auth.login"))
        params["cursor"] = body["next_cursor"]
    assert seen == NEWEST_FIRST


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 7}, "limit"),  # over page_limit_max
        ({"cursor": "not a cursor"}, "cursor"),
        ({"cursor": _b64(b"[1, 2]")}, "cursor"),
        ({"cursor": _b64(b'[1, "", 2]')}, "cursor"),
        ({"cursor": _b64(b'[-1, "api-test", 2]')}, "cursor"),
        ({"cursor": _b64(b'[1e3, "api-test", 2]')}, "cursor"),
        ({"cursor": "x" * 401}, "cursor"),
        ({"outcome": "maybe"}, "outcome"),
        ({"since_ms": -1}, "since_ms"),
        ({"until_ms": 2**70}, "until_ms"),
        ({"since_ms": 5, "until_ms": 4}, None),
        ({"action": ""}, None),
        ({"actr": "alice"}, "actr"),
    ],
)
def test_bad_parameters_are_a_422(client: TestClient, params: dict[str, Any], field: str | None) -> None:
    r = client.get("/v1/audit", params=params, headers=bearer("auditor"))
    assert r.status_code == 422, r.text
    if field is not None:
        assert any(e["loc"][-1] == field for e in r.json()["detail"]), r.json()


def test_a_camera_scoped_reader_sees_only_its_own_actions(client: TestClient) -> None:
    scoped = bearer("auditor@cam-a")
    assert seqs(client.get("/v1/audit", headers=scoped).json()) == [8, 4]
    assert seqs(client.get("/v1/audit", params={"actor": "alice"}, headers=scoped).json()) == []
    assert seqs(client.get("/v1/audit", params={"actor": "test-auditor"}, headers=scoped).json()) == [8, 4]


def test_verify_reports_an_intact_trail_then_the_edit(client: TestClient, store: ChdbStore) -> None:
    body = client.get("/v1/audit/verify", headers=bearer("auditor")).json()
    assert (body["ok"], body["rows"], body["problems"]) == (True, len(SEED), [])
    assert body["chains"] == [
        {"chain_id": "api-test", "rows": 9, "first_seq": 0, "last_seq": 8, "head_seq": 8, "problems": 0}
    ]
    store.command(
        lambda _: (
            f"ALTER TABLE {store.database}.{AUDIT_TABLE} UPDATE outcome = 'ok' WHERE seq = 1 "
            "SETTINGS mutations_sync = 1"
        )
    )
    store.command(
        lambda _: (
            f"ALTER TABLE {store.database}.{AUDIT_TABLE} DELETE WHERE seq = 8 SETTINGS mutations_sync = 1"
        )
    )
    body = client.get("/v1/audit/verify", headers=bearer("admin")).json()
    assert (body["ok"], body["rows"]) == (False, 8)
    assert body["problems"] == [
        "chain api-test seq 1: row edited (its content does not match its hash)",
        "chain api-test: seq 8 missing (deleted at the end: the head record says the chain reaches it)",
    ]


def test_without_an_audit_log_the_routes_answer_503(store: ChdbStore, tmp_path: Path) -> None:
    app = create_app(store, tmp_path, authenticator=FakeAuthenticator())
    client = TestClient(app, raise_server_exceptions=False)
    for path in ("/v1/audit", "/v1/audit/verify"):
        r = client.get(path, headers=bearer("auditor"))
        assert r.status_code == 503 and "no audit log" in r.json()["detail"]


def test_the_openapi_document_declares_the_routes(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    params = {p["name"] for p in paths["/v1/audit"]["get"]["parameters"]}
    assert {"actor", "action", "target", "outcome", "since_ms", "until_ms", "limit", "cursor"} <= params
    assert "/v1/audit/verify" in paths
