"""/v1/hotlists: lists and entries; every entry checked before any is stored, every change audited with
its actor (and purpose when given) and published to the workers as the whole list after the store took it
(fakes: tests/unit/hotlist_fakes.py)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.config import ApiConfig
from events.hotlists import HotlistChange
from tests.unit.api_fakes import ListAuditSink, signed_in_client
from tests.unit.hotlist_fakes import MemoryHotlistStore, RecordingHotlists

PURPOSE = "stolen vehicle reports, case 2026-3"
FUTURE_MS = 4_102_444_800_000


@dataclass
class Rig:
    client: TestClient
    store: MemoryHotlistStore
    published: RecordingHotlists
    audit: ListAuditSink

    def hotlist(self, name: str = "stolen", **fields: Any) -> str:
        r = self.client.post("/v1/hotlists", json={"name": name, **fields})
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    def add(self, hotlist_id: str, *entries: Any, **params: str) -> Any:
        body = [{"pattern": e} if isinstance(e, str) else e for e in entries]
        return self.client.post(f"/v1/hotlists/{hotlist_id}/entries", json=body, params=params)

    def last(self) -> HotlistChange:
        return self.published.changes[-1]

    def actions(self, outcome: str = "ok") -> list[str]:
        return [r.action for r in self.audit.records if r.outcome == outcome]


def make_rig(
    tmp_path: Path,
    credential: str = "admin",
    config: ApiConfig | None = None,
    *,
    store: bool = True,
    publisher: bool = True,
) -> Rig:
    memory, published, audit = MemoryHotlistStore(), RecordingHotlists(), ListAuditSink()
    client = signed_in_client(
        tmp_path,
        audit,
        credential,
        config,
        hotlist_store=memory if store else None,
        hotlists=published if publisher else None,
    )
    return Rig(client, memory, published, audit)


@pytest.fixture
def rig(tmp_path: Path) -> Rig:
    return make_rig(tmp_path)


def test_create_read_change_a_hotlist(rig: Rig) -> None:
    hid = rig.hotlist("stolen vehicles", purpose=PURPOSE, severity="critical", max_distance=2)
    stored = rig.store.hotlists[hid]
    assert (stored.purpose, stored.max_distance, stored.created_by) == (PURPOSE, 2, "test-admin")
    assert rig.published.changes == [HotlistChange(hotlist_id=hid, hotlist=stored, entries=[])]
    listed = rig.client.get("/v1/hotlists").json()["items"]
    assert [h["id"] for h in listed] == [hid] and listed[0]["severity"] == "critical"
    rig.add(hid, "京A12345")
    r = rig.client.patch(f"/v1/hotlists/{hid}", json={"max_distance": 0, "name": "stolen"})
    assert r.status_code == 200, r.text
    assert (r.json()["max_distance"], r.json()["name"], r.json()["version"]) == (0, "stolen", 2)
    assert r.json()["purpose"] == PURPOSE  # kept: a PATCH's purpose is only its audited reason
    assert rig.client.get(f"/v1/hotlists/{hid}").json()["max_distance"] == 0
    change = rig.last()  # the whole list again, with its entries
    assert change.hotlist == rig.store.hotlists[hid] and [e.pattern for e in change.entries] == ["京A12345"]
    assert rig.actions() == ["hotlist.create", "hotlist.entry.add", "hotlist.update"]
    assert [(r.purpose, r.actor) for r in rig.audit.records] == [(PURPOSE, "test-admin")] + [
        ("", "test-admin")
    ] * 2


def test_patch_removes_the_expiry_with_null(rig: Rig) -> None:
    hid = rig.hotlist(expires_ts_ms=FUTURE_MS)
    r = rig.client.patch(f"/v1/hotlists/{hid}", json={"purpose": PURPOSE, "expires_ts_ms": None})
    assert r.status_code == 200 and r.json()["expires_ts_ms"] is None
    assert rig.audit.records[-1].purpose == PURPOSE and "expires_ts_ms=None" in rig.audit.records[-1].detail


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"name": "x", "max_distance": 3}, 422),
        ({"name": "x", "max_distance": -1}, 422),
        ({"name": "x", "severity": "apocalyptic"}, 422),
        ({"name": ""}, 422),
        ({"name": "x", "expires_ts_ms": 1000}, 422),  # in the past
        ({"name": "x", "expires_ts_ms": 2**64}, 422),  # beyond the Int64 column (and year 9999)
        ({"name": "x", "purpose": "p" * 501}, 422),
        ({"name": "x", "colour": "red"}, 422),
        ({"name": "stolen"}, 409),  # its name is taken
        ({"name": " STOLEN "}, 409),
    ],
)
def test_bad_hotlists_are_refused_and_nothing_is_stored(rig: Rig, body: dict[str, Any], status: int) -> None:
    rig.hotlist("stolen")
    r = rig.client.post("/v1/hotlists", json=body)
    assert r.status_code == status, r.text
    assert len(rig.store.hotlists) == 1 and len(rig.published.changes) == 1


def test_entries_are_normalised_typed_and_published_as_the_whole_list(rig: Rig) -> None:
    hid = rig.hotlist()
    first = rig.add(hid, "京A·12345", {"pattern": "沪b*9", "note": "seen at gate 2"}, PURPOSE="x")
    assert first.status_code == 201, first.text
    r = rig.add(hid, {"pattern": "粤Z 1234港", "match": "exact", "expires_ts_ms": FUTURE_MS}, purpose=PURPOSE)
    assert r.status_code == 201, r.text
    added = r.json()["items"]
    assert [(e["pattern"], e["match"]) for e in added] == [("粤Z1234港", "exact")]
    listed = rig.client.get(f"/v1/hotlists/{hid}/entries").json()
    assert [(e["pattern"], e["match"], e["note"]) for e in listed["items"]] == [
        ("京A12345", "fuzzy", ""),
        ("沪B*9", "wildcard", "seen at gate 2"),
        ("粤Z1234港", "exact", ""),
    ]
    assert (listed["total"], listed["limit"]) == (3, 50)
    assert [e.entry_id for e in rig.last().entries] == [e["id"] for e in listed["items"]]
    record = rig.audit.records[-1]
    assert (record.action, record.target, record.purpose) == ("hotlist.entry.add", f"hotlist:{hid}", PURPOSE)
    assert added[0]["id"] in record.detail and "粤Z1234港" in record.detail
    page = rig.client.get(f"/v1/hotlists/{hid}/entries", params={"limit": 1, "offset": 1}).json()
    assert [e["pattern"] for e in page["items"]] == ["沪B*9"] and page["total"] == 3


@pytest.mark.parametrize(
    ("bad", "words"),
    [
        ("", "String should have at least 1 character"),
        (" · ", "is empty"),
        ("*", "at least 2 letters or digits"),
        ("京*", "at least 2 letters or digits"),
        ("京A[0-9]", "characters other than letters, digits"),
        ("京A1\x00", "characters other than letters, digits"),
        ("京A12345678901234567", "longer than 16"),
        ("<script>", "characters other than letters, digits"),
    ],
)
def test_an_invalid_pattern_is_422_naming_it_and_its_index_and_nothing_is_stored(
    rig: Rig, bad: str, words: str
) -> None:
    hid = rig.hotlist()
    r = rig.add(hid, "京A12345", bad, "沪B12345")
    assert r.status_code == 422, r.text
    (error,) = [e for e in r.json()["detail"] if e["loc"][1] == 1]
    assert error["loc"] == ["body", 1, "pattern"] and words in error["msg"]
    if bad:  # the service's own refusal names the entry and its pattern
        assert error["msg"].startswith("entry 1: ") and repr(bad) in error["msg"]
    assert rig.store.entries == {} and len(rig.published.changes) == 1
    assert rig.actions("failed") == (["hotlist.entry.add"] if bad else [])


@pytest.mark.parametrize(
    ("entries", "status", "words"),
    [
        ([], 422, "at least one entry"),
        (["京A12345", "京A·12345"], 422, "entry 1: '京A12345' repeats entry 0"),
        (["沪B12345", "京A1234?"], 409, "'京A1234?' (entry 1) is he_"),  # the list holds it
        ([{"pattern": "京A*", "match": "exact"}], 422, "has wildcards"),
        ([{"pattern": "京A12345", "match": "wildcard"}], 422, "Input should be 'exact' or 'fuzzy'"),
        ([{"pattern": "京A12345", "expires_ts_ms": 5}], 422, "the expiry is in the past"),
        ([{"pattern": "京A12345", "expires_ts_ms": 2**63}], 422, "less than or equal to 253402300799999"),
        ([{"pattern": "京A12345", "note": "n" * 201}], 422, "at most 200 characters"),
        (["京A00001", "京A00002", "京A00003"], 422, "would hold 4 entries; at most 3"),
        ([{"pattern": "京A12345", "note": "n" * 200}] * 400, 413, "Content Too Large"),  # the body limit
    ],
)
def test_bad_entry_requests_store_nothing(
    tmp_path: Path, entries: list[Any], status: int, words: str
) -> None:
    rig = make_rig(tmp_path, config=ApiConfig(hotlist_entries_max=3))
    hid = rig.hotlist()
    assert rig.add(hid, "京A1234?").status_code == 201
    before = (dict(rig.store.entries), len(rig.published.changes))
    r = rig.add(hid, *entries)
    assert r.status_code == status, r.text
    assert words in r.text
    assert (dict(rig.store.entries), len(rig.published.changes)) == before


def test_deleting_an_entry_publishes_the_list_without_it(rig: Rig) -> None:
    hid, other = rig.hotlist(), rig.hotlist("banned")
    ids = [e["id"] for e in rig.add(hid, "京A12345", "沪B12345").json()["items"]]
    foreign = rig.add(other, "苏E55555").json()["items"][0]["id"]
    r = rig.client.delete(f"/v1/hotlists/{hid}/entries/{ids[0]}", params={"purpose": PURPOSE})
    assert r.status_code == 200, r.text
    assert (r.json()["id"], r.json()["deleted"], r.json()["version"]) == (ids[0], True, 2)
    assert [e.entry_id for e in rig.last().entries] == [ids[1]] and rig.last().hotlist_id == hid
    assert [e["id"] for e in rig.client.get(f"/v1/hotlists/{hid}/entries").json()["items"]] == [ids[1]]
    record = rig.audit.records[-1]
    assert (record.action, record.target, record.purpose) == (
        "hotlist.entry.remove",
        f"hotlist_entry:{ids[0]}",
        PURPOSE,
    )
    changes = len(rig.published.changes)
    for entry_id in (ids[0], foreign, "he_nope", "he_'%"):  # gone, another list's, unknown
        assert rig.client.delete(f"/v1/hotlists/{hid}/entries/{entry_id}").status_code == 404
    assert len(rig.published.changes) == changes and other in {
        e.hotlist_id for e in rig.store.entries.values()
    }


def test_deleting_a_list_erases_it_and_tells_the_workers(rig: Rig) -> None:
    hid, other = rig.hotlist(), rig.hotlist("banned")
    rig.add(hid, "京A12345", "沪B*")
    rig.add(other, "苏E55555")
    r = rig.client.delete(f"/v1/hotlists/{hid}")
    assert r.status_code == 200, r.text
    assert r.json() == {"id": hid, "entries": 2}
    assert rig.last() == HotlistChange(hotlist_id=hid, hotlist=None, entries=[])
    assert rig.client.get(f"/v1/hotlists/{hid}").status_code == 404
    assert rig.client.get(f"/v1/hotlists/{hid}/entries").status_code == 404
    assert [e.pattern for e in rig.store.list_entries()] == ["苏E55555"]
    record = rig.audit.records[-1]
    assert (record.action, record.detail, record.purpose) == ("hotlist.delete", "2 entries erased", "")
    assert rig.client.delete(f"/v1/hotlists/{hid}").status_code == 404
    assert rig.actions("failed")[-1] == "hotlist.delete"


@pytest.mark.parametrize("hotlist_id", ["hl_nope", "hl_'%20OR%201=1", "x" * 100])
def test_unknown_lists_are_404(rig: Rig, hotlist_id: str) -> None:
    rig.hotlist()
    for method, path in [("GET", ""), ("PATCH", ""), ("GET", "/entries"), ("POST", "/entries")]:
        body = {"PATCH": {"severity": "low"}, "POST": [{"pattern": "京A12345"}]}.get(method)
        r = rig.client.request(method, f"/v1/hotlists/{hotlist_id}{path}", json=body)
        assert r.status_code == 404, (method, path, r.text)
        assert "not found" in r.json()["detail"]


def test_without_a_store_or_publisher_the_routes_say_so(tmp_path: Path) -> None:
    bare = make_rig(tmp_path, store=False, publisher=False)
    r = bare.client.get("/v1/hotlists")
    assert r.status_code == 503 and "no hotlist store" in r.json()["detail"]
    read_only = make_rig(tmp_path, publisher=False)
    assert read_only.client.get("/v1/hotlists").status_code == 200
    r = read_only.client.post("/v1/hotlists", json={"name": "x"})
    assert r.status_code == 503 and "no hotlist publisher" in r.json()["detail"]
    assert read_only.store.hotlists == {}


def test_a_change_the_workers_cannot_get_is_stored_and_answered_503(rig: Rig) -> None:
    hid = rig.hotlist()
    rig.published.fail = True
    r = rig.add(hid, "京A12345", purpose=PURPOSE)
    assert r.status_code == 503 and "saved, but the running workers could not be told" in r.json()["detail"]
    assert [e.pattern for e in rig.store.list_entries(hid)] == ["京A12345"]
    failed = [r for r in rig.audit.records if r.outcome == "failed"]
    assert [(f.action, f.purpose) for f in failed] == [("hotlist.entry.add", PURPOSE)]


def test_a_store_failure_is_503(rig: Rig) -> None:
    rig.store.failing.add("put_hotlist")
    r = rig.client.post("/v1/hotlists", json={"name": "x"})
    assert r.status_code == 503 and "store unavailable" in r.json()["detail"]
    assert rig.published.changes == []


@pytest.mark.parametrize(
    ("credential", "reads", "writes"),
    [("admin", 200, 201), ("operator", 200, 403), ("auditor", 200, 403), ("integrator", 200, 201)],
)
def test_roles(tmp_path: Path, credential: str, reads: int, writes: int) -> None:
    rig = make_rig(tmp_path, credential)
    assert rig.client.get("/v1/hotlists").status_code == reads
    assert rig.client.post("/v1/hotlists", json={"name": "x"}).status_code == writes
    if writes == 403:
        assert rig.audit.records[-1].action == "access.denied" and rig.store.hotlists == {}
