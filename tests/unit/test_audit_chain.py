"""The hash-chained audit log on real chDB: appends from threads, every kind of tampering found and
named by chain and seq, restarts, several chains, hostile text, queries and paging.

`audit_log_contract`-style helpers take any `SqlRunner` plus a `mutate` function, so the ClickHouse
18.16 test (tests/integration/test_audit_clickhouse.py) runs the same checks on the server.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from events.audit import GENESIS_HASH, AuditCursor, AuditInvalidQueryError, AuditQuery, AuditRecord
from events.ports import StoreError
from events.store.audit_chain import row_hash
from events.store.audit_sql import AUDIT_COLUMNS, AUDIT_TABLE, HEADS_TABLE, HashChainedAuditLog
from events.store.chdb_store import ChdbStore
from events.store.runner import SqlRunner
from events.store.sql import SqlValue

T0_MS = 1_795_000_000_000
HOSTILE = [
    "o'brien\\'; DROP TABLE audit_log; --",
    'double "quotes" and `backticks`',
    "new\nline\r\ttab",
    "nul\0byte and \\0 text",
    "%(p0)s %s {p0} ?",
    "警报 émoji 🚨",
    "",
]

#: Runs a mutation (ALTER ... UPDATE/DELETE) on the engine and waits until it is applied.
Mutate = Callable[[str], None]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChdbStore]:
    s = ChdbStore(Path(tmp_path_factory.mktemp("audit")) / "chdb", database="audit_chain")
    s.ensure_schema()
    yield s
    s.close()


def chdb_mutate(store: ChdbStore) -> Mutate:
    def mutate(statement: str) -> None:
        store.command(lambda _: f"{statement} SETTINGS mutations_sync = 1")

    return mutate


def fresh(runner: SqlRunner, chain_id: str = "api-host1") -> HashChainedAuditLog:
    log = HashChainedAuditLog(runner, chain_id)
    log.ensure_schema()
    for table in (AUDIT_TABLE, HEADS_TABLE):
        runner.command(lambda _, t=table: f"TRUNCATE TABLE {runner.database}.{t}")  # type: ignore[misc]
    return log


def record(i: int, **fields: str) -> AuditRecord:
    base: dict[str, object] = {
        "ts_ms": T0_MS + i * 1000,
        "actor": f"user{i % 3}",
        "role": "operator",
        "action": ("auth.login", "alert.acknowledge", "export")[i % 3],
        "target": f"event:{i}",
        "source": "10.0.0.7",
        "outcome": ("ok", "ok", "denied")[i % 3],
        "purpose": "alert handling" if i % 2 else "",
        "detail": f"row {i}",
    }
    return AuditRecord.model_validate(base | fields)


def filled(runner: SqlRunner, n: int = 10, chain_id: str = "api-host1") -> HashChainedAuditLog:
    log = fresh(runner, chain_id)
    for i in range(n):
        log.append(record(i))
    return log


def stored_row(runner: SqlRunner, chain_id: str, seq: int) -> list[SqlValue]:
    rows = runner.select(
        lambda b: (
            f"SELECT {', '.join(AUDIT_COLUMNS)} FROM {runner.database}.{AUDIT_TABLE} "
            f"WHERE chain_id = {b(chain_id)} AND seq = {b(seq)}"
        )
    )
    assert len(rows) == 1
    return [v if isinstance(v, str) else int(v) for v in rows[0]]


def forge(runner: SqlRunner, chain_id: str, seq: int, prev_hash: str, **fields: str) -> None:
    """Inserts a row with a VALID hash of its own (what a forger who knows the scheme writes)."""
    rec = record(seq, **fields)
    values = {name: getattr(rec, name) for name in AUDIT_COLUMNS[2:-2]}
    digest = row_hash(chain_id, seq, values, prev_hash)
    row: list[SqlValue] = [chain_id, seq, *values.values(), prev_hash, digest]
    runner.insert_rows(AUDIT_TABLE, AUDIT_COLUMNS, [row])


def problems_of(log: HashChainedAuditLog) -> list[str]:
    result = log.verify()
    assert result.ok is (not result.problems)
    return result.problems


def assert_found(problems: Sequence[str], *patterns: str) -> None:
    for pattern in patterns:
        assert any(re.search(pattern, p) for p in problems), f"{pattern!r} not in {problems}"


# --- the contract, on any runner -----------------------------------------------------------------


def check_threads_make_one_intact_chain(runner: SqlRunner) -> None:
    log = fresh(runner)

    def write(k: int) -> None:
        for i in range(20):
            log.append(record(k * 20 + i))

    threads = [threading.Thread(target=write, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result = log.verify()
    assert (result.ok, result.rows, result.problems) == (True, 80, [])
    [chain] = result.chains
    assert (chain.chain_id, chain.first_seq, chain.last_seq, chain.head_seq) == ("api-host1", 0, 79, 79)
    seqs = [r[0] for r in runner.select(lambda _: f"SELECT seq FROM {runner.database}.{AUDIT_TABLE}")]
    assert sorted(int(s) for s in seqs) == list(range(80))


#: (what is done to a chain of 10 rows, SQL with {db}, problems verify must report)
TAMPERING: list[tuple[str, str, tuple[str, ...]]] = [
    *[
        (
            f"edit {col}",
            f"ALTER TABLE {{db}}.audit_log UPDATE {col} = {val} WHERE chain_id = 'api-host1' AND seq = 3",
            (r"^chain api-host1 seq 3: row edited",),
        )
        for col, val in [
            ("actor", "'mallory'"),
            ("role", "'admin'"),
            ("action", "'auth.logout'"),
            ("target", "'event:x'"),
            ("source", "'127.0.0.1'"),
            ("outcome", "'failed'"),
            ("purpose", "'curiosity'"),
            ("detail", "''"),
        ]
    ],
    (
        "edit ts_ms (a key column: copy the row with another time, delete the original)",
        "INSERT INTO {db}.audit_log SELECT chain_id, seq, ts_ms + 1, actor, role, action, target, source, "
        "outcome, purpose, detail, prev_hash, row_hash FROM {db}.audit_log WHERE seq = 3;"
        f"ALTER TABLE {{db}}.audit_log DELETE WHERE seq = 3 AND ts_ms = {T0_MS + 3000}",
        (r"^chain api-host1 seq 3: row edited",),
    ),
    (
        "edit prev_hash",
        f"ALTER TABLE {{db}}.audit_log UPDATE prev_hash = '{GENESIS_HASH}' WHERE seq = 3",
        (r"seq 3: row edited", r"seq 3: prev_hash does not match row seq 2"),
    ),
    (
        "recompute nothing but row_hash",
        f"ALTER TABLE {{db}}.audit_log UPDATE row_hash = '{'f' * 64}' WHERE seq = 3",
        (r"seq 3: row edited", r"seq 4: prev_hash does not match row seq 3"),
    ),
    *[
        (f"delete {what}", f"ALTER TABLE {{db}}.audit_log DELETE WHERE {where}", (pattern,))
        for what, where, pattern in [
            ("a middle row", "seq = 4", r"^chain api-host1: seq 4 missing \(deleted rows\)"),
            ("the first row", "seq = 0", r": seq 0 missing \(deleted rows\)"),
            ("two rows", "seq IN (5, 6)", r": seq 5\.\.6 missing"),
            ("the last row", "seq = 9", r": seq 9 missing \(deleted at the end"),
            ("the last rows", "seq >= 7", r": seq 7\.\.9 missing \(deleted at the end"),
            ("every row", "seq >= 0", r": seq 0\.\.9 missing \(every row deleted"),
        ]
    ],
]


def check_tampering_is_found(
    runner: SqlRunner, mutate: Mutate, statement: str, expected: Sequence[str]
) -> None:
    log = filled(runner)
    assert problems_of(log) == []
    for part in statement.format(db=runner.database).split(";"):
        mutate(part)
    problems = problems_of(log)
    assert_found(problems, *expected)
    assert all("api-host1" in p for p in problems)


def check_forgeries_with_valid_hashes_are_found(runner: SqlRunner, mutate: Mutate) -> None:
    """A forger who recomputes the hash of the row it writes still breaks a link or the head."""
    log = filled(runner)
    prev_4 = str(stored_row(runner, "api-host1", 4)[-1])
    forge(runner, "api-host1", 5, prev_4, actor="mallory")  # a second row 5 beside the real one
    assert_found(problems_of(log), r"^chain api-host1 seq 5: 2 rows share this seq")

    log = filled(runner)  # replace row 5: delete it, write a forged one linked to row 4
    mutate(f"ALTER TABLE {runner.database}.{AUDIT_TABLE} DELETE WHERE seq = 5")
    forge(runner, "api-host1", 5, prev_4, actor="mallory")
    problems = problems_of(log)
    assert_found(problems, r"^chain api-host1 seq 6: prev_hash does not match row seq 5")
    assert not any("seq 5 missing" in p for p in problems)

    log = filled(runner)  # rewrite the LAST row consistently: only the head record shows it
    prev_8 = str(stored_row(runner, "api-host1", 8)[-1])
    mutate(f"ALTER TABLE {runner.database}.{AUDIT_TABLE} DELETE WHERE seq = 9")
    forge(runner, "api-host1", 9, prev_8, actor="mallory")
    assert problems_of(log) == ["chain api-host1 seq 9: row differs from the chain's head record (rewritten)"]


def check_restarts_continue_the_chain(runner: SqlRunner, mutate: Mutate) -> None:
    filled(runner, 5)
    again = HashChainedAuditLog(runner, "api-host1")
    again.ensure_schema()
    for i in range(5, 8):
        again.append(record(i))
    result = again.verify()
    assert (result.ok, result.rows, result.chains[0].last_seq, result.chains[0].head_seq) == (True, 8, 7, 7)
    # rows deleted at the end while no writer ran: the next writer continues after the head
    mutate(f"ALTER TABLE {runner.database}.{AUDIT_TABLE} DELETE WHERE seq >= 6")
    third = HashChainedAuditLog(runner, "api-host1")
    third.append(record(8))
    assert stored_row(runner, "api-host1", 8)[1] == 8
    assert problems_of(third) == ["chain api-host1: seq 6..7 missing (deleted rows)"]


def check_chains_are_verified_each_on_its_own(runner: SqlRunner, mutate: Mutate) -> None:
    a = filled(runner, 6, chain_id="api-a")
    b = HashChainedAuditLog(runner, "api-b")
    for i in range(4):
        b.append(record(i))
        a.append(record(10 + i))
    result = b.verify()  # any writer verifies every chain
    assert result.ok and result.rows == 14
    assert [(c.chain_id, c.rows, c.head_seq) for c in result.chains] == [("api-a", 10, 9), ("api-b", 4, 3)]
    mutate(
        f"ALTER TABLE {runner.database}.{AUDIT_TABLE} UPDATE detail = 'x' "
        "WHERE chain_id = 'api-a' AND seq = 2"
    )
    result = a.verify()
    assert result.problems == ["chain api-a seq 2: row edited (its content does not match its hash)"]
    assert [(c.chain_id, c.problems) for c in result.chains] == [("api-a", 1), ("api-b", 0)]


def check_hostile_text_is_stored_and_hashed_exactly(runner: SqlRunner) -> None:
    log = fresh(runner)
    for i, text in enumerate(HOSTILE):
        log.append(record(i, actor=text or "x", target=text, detail=text, purpose=text[::-1]))
    log.append(record(99, detail="lone \ud800 surrogate"))
    assert problems_of(log) == []
    rows = log.query(AuditQuery(limit=100)).rows
    by_seq = {r.seq: r.record for r in rows}
    for i, text in enumerate(HOSTILE):
        assert (by_seq[i].target, by_seq[i].detail, by_seq[i].purpose) == (text, text, text[::-1])
    assert by_seq[len(HOSTILE)].detail == "lone ? surrogate"
    assert log.query(AuditQuery(actor=HOSTILE[0], limit=10)).rows[0].record.actor == HOSTILE[0]


def check_queries_filter_and_page(runner: SqlRunner) -> None:
    log = filled(runner, 12)
    everything = log.query(AuditQuery(limit=100)).rows
    assert [r.seq for r in everything] == list(range(11, -1, -1))
    assert everything[0].row_hash == str(stored_row(runner, "api-host1", 11)[-1])
    cases: list[tuple[AuditQuery, list[int]]] = [
        (AuditQuery(actor="user1"), [10, 7, 4, 1]),
        (AuditQuery(actions=("export", "auth.login")), [11, 9, 8, 6, 5, 3, 2, 0]),
        (AuditQuery(target="event:5"), [5]),
        (AuditQuery(outcome="denied"), [11, 8, 5, 2]),
        (AuditQuery(since_ms=T0_MS + 3000, until_ms=T0_MS + 5000), [5, 4, 3]),
        (AuditQuery(actor="user1", outcome="denied"), []),
        (AuditQuery(actor="' OR 1=1 --"), []),
        (AuditQuery(chain_id="nope"), []),
        (AuditQuery(after=AuditCursor(T0_MS + 2000, "api-host1", 2)), [1, 0]),
    ]
    for q, seqs in cases:
        assert [r.seq for r in log.query(q).rows] == seqs, q
    seen: list[int] = []
    cursor = None
    while True:
        page = log.query(AuditQuery(limit=5, after=cursor))
        seen += [r.seq for r in page.rows]
        if cursor is None:
            log.append(record(50))  # arrives while paging: never shifts the pages
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == list(range(11, -1, -1))
    for bad in (AuditQuery(limit=0), AuditQuery(limit=10_001), AuditQuery(since_ms=5, until_ms=4)):
        with pytest.raises(AuditInvalidQueryError):
            log.query(bad)


# --- on chDB --------------------------------------------------------------------------------------


def test_threads_make_one_intact_chain(store: ChdbStore) -> None:
    check_threads_make_one_intact_chain(store)


@pytest.mark.parametrize(("statement", "expected"), [t[1:] for t in TAMPERING], ids=[t[0] for t in TAMPERING])
def test_tampering_is_found(store: ChdbStore, statement: str, expected: tuple[str, ...]) -> None:
    check_tampering_is_found(store, chdb_mutate(store), statement, expected)


def test_forgeries_with_valid_hashes_are_found(store: ChdbStore) -> None:
    check_forgeries_with_valid_hashes_are_found(store, chdb_mutate(store))


def test_restarts_continue_the_chain(store: ChdbStore) -> None:
    check_restarts_continue_the_chain(store, chdb_mutate(store))


def test_chains_are_verified_each_on_its_own(store: ChdbStore) -> None:
    check_chains_are_verified_each_on_its_own(store, chdb_mutate(store))


def test_hostile_text_is_stored_and_hashed_exactly(store: ChdbStore) -> None:
    check_hostile_text_is_stored_and_hashed_exactly(store)


def test_queries_filter_and_page(store: ChdbStore) -> None:
    check_queries_filter_and_page(store)


def test_many_problems_are_capped(store: ChdbStore) -> None:
    log = filled(store, 10)
    capped = HashChainedAuditLog(store, "other", max_problems=3)
    chdb_mutate(store)(f"ALTER TABLE {store.database}.{AUDIT_TABLE} UPDATE detail = 'x' WHERE seq >= 2")
    result = capped.verify()
    assert not result.ok and result.chains[0].problems == 8
    assert result.problems[3:] == ["... and 5 more problems"] and len(result.problems) == 4
    assert len(log.verify().problems) == 8


class FlakyRunner:
    """A runner whose inserts into `fail_table` raise while `failing` is set."""

    def __init__(self, inner: ChdbStore, fail_table: str) -> None:
        self.inner, self.fail_table, self.failing = inner, fail_table, True
        self.database, self.features = inner.database, inner.features
        self.select, self.command = inner.select, inner.command

    def insert_rows(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[SqlValue]]) -> None:
        if self.failing and table == self.fail_table:
            raise StoreError("connection reset")
        self.inner.insert_rows(table, columns, rows)


def test_a_head_that_cannot_be_written_is_written_with_the_next_row(store: ChdbStore) -> None:
    fresh(store)
    runner = FlakyRunner(store, HEADS_TABLE)
    log = HashChainedAuditLog(runner, "api-host1")
    log.append(record(0))
    log.append(record(1))  # rows stored, heads not
    assert log.verify().chains[0].head_seq is None
    runner.failing = False
    log.append(record(2))
    result = log.verify()
    assert (result.ok, result.rows, result.chains[0].head_seq) == (True, 3, 2)


def test_a_row_that_cannot_be_written_raises_and_the_chain_resyncs(store: ChdbStore) -> None:
    fresh(store)
    runner = FlakyRunner(store, AUDIT_TABLE)
    log = HashChainedAuditLog(runner, "api-host1")
    with pytest.raises(StoreError, match="connection reset"):
        log.append(record(0))
    HashChainedAuditLog(store, "api-host1").append(record(1))  # e.g. the failed insert landed after all
    runner.failing = False
    log.append(record(2))
    result = log.verify()
    assert (result.ok, result.rows, result.chains[0].last_seq) == (True, 2, 1)


def test_chain_ids_are_checked(store: ChdbStore) -> None:
    for bad in ("", "x" * 201):
        with pytest.raises(ValueError, match="chain_id"):
            HashChainedAuditLog(store, bad)
