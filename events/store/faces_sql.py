"""`FaceStore` on ClickHouse: watchlists, identities, enrolled faces and negatives.

Watchlists and identities are versioned rows (ReplacingMergeTree(version), every read takes the newest
version itself, as in auth_sql). Enrolled faces (`face_embeddings`: the vector and the JPEG bytes in a
String column) and negatives are plain MergeTree rows. Erasure is physical: `ALTER TABLE ... DELETE`
on every table holding the identity's data, then the store waits until `system.mutations` says those
mutations are done (18.16 has no `mutations_sync`), so a fresh SELECT finds nothing once it returns.
The SQL runs unchanged on ClickHouse 18.16 and on chDB.
"""

from __future__ import annotations

import logging
from array import array
from collections.abc import Iterator, Sequence
from functools import partial
from typing import Any, TypeVar

from events.faces import Erasure, FaceEmbedding, FaceNegative, Identity, Watchlist, same_person
from events.store.records_sql import Condition, RecordSqlStore, TableSpec, in_sql
from events.store.sql import Binder, latest_sql

logger = logging.getLogger(__name__)

WATCHLISTS_TABLE = "watchlists"
IDENTITIES_TABLE = "identities"
EMBEDDINGS_TABLE = "face_embeddings"
NEGATIVES_TABLE = "face_negatives"
#: The tables holding an identity's data, all with `identity_id` and `watchlist_id` columns.
IDENTITY_TABLES = (IDENTITIES_TABLE, EMBEDDINGS_TABLE, NEGATIVES_TABLE)

WATCHLIST_COLUMNS: tuple[str, ...] = tuple(Watchlist.model_fields)
IDENTITY_COLUMNS: tuple[str, ...] = tuple(Identity.model_fields)
EMBEDDING_COLUMNS: tuple[str, ...] = tuple(FaceEmbedding.model_fields)
NEGATIVE_COLUMNS: tuple[str, ...] = tuple(FaceNegative.model_fields)
_EMBEDDING_NO_IMAGE = tuple(c for c in EMBEDDING_COLUMNS if c != "image_jpeg")
#: The image comes back hex-encoded: a JSON result (chDB) or a str (driver) cannot carry raw bytes.
_IMAGE_AS_HEX = "hex(image_jpeg) AS image_hex"

_STRINGS = "watchlist_id identity_id embedding_id negative_id image_sha256 name reference purpose severity"
_TYPES = {
    **dict.fromkeys((*_STRINGS.split(), "created_by", "camera_id", "event_id"), "String"),
    **dict.fromkeys(("expires_ts_ms", "track_id"), "Nullable(Int64)"),
    **dict.fromkeys(("created_ts_ms", "updated_ts_ms"), "Int64"),
    **dict.fromkeys(("threshold", "quality"), "Float64"),
    "version": "UInt64",
    "vector": "Array(Float32)",
    "image_jpeg": "String",  # the JPEG's bytes
}

R = TypeVar("R", Watchlist, Identity, FaceEmbedding, FaceNegative)


def _parse(model: type[R], columns: Sequence[str], row: Sequence[Any]) -> R:
    """A record from a row (as `records_sql.parse_record`), the image's bytes from their hex."""
    values = dict(zip(columns, row, strict=True))
    if "vector" in values:  # the Float32 values exactly, whichever text or double the engine gave
        values["vector"] = array("f", (float(v) for v in values["vector"])).tolist()
    if "image_jpeg" in values:
        values["image_jpeg"] = bytes.fromhex(str(values["image_jpeg"]))
    return model.model_validate(values)


def _chunks(items: Sequence[str], size: int) -> Iterator[tuple[str, ...]]:
    for start in range(0, len(items), size):
        yield tuple(items[start : start + size])


#: One round of erasure: (column, ids) = the rows whose `identity_id` or `watchlist_id` is one of the ids.
_Step = tuple[str, tuple[str, ...]]


class FaceSqlStore(RecordSqlStore):
    """`events.faces.FaceStore` on a `SqlRunner` (ChdbStore or ClickHouseStore); tables in its database."""

    TABLES = (
        TableSpec(WATCHLISTS_TABLE, WATCHLIST_COLUMNS, "watchlist_id"),
        TableSpec(IDENTITIES_TABLE, IDENTITY_COLUMNS, "identity_id"),
        TableSpec(EMBEDDINGS_TABLE, EMBEDDING_COLUMNS, "(identity_id, embedding_id)", "MergeTree"),
        TableSpec(NEGATIVES_TABLE, NEGATIVE_COLUMNS, "(identity_id, negative_id)", "MergeTree"),
    )
    TYPES = _TYPES

    # --- watchlists and identities (versioned) ---

    def put_watchlist(self, record: Watchlist) -> None:
        self._insert(WATCHLISTS_TABLE, WATCHLIST_COLUMNS, [record])

    def get_watchlist(self, watchlist_id: str) -> Watchlist | None:
        found = self._latest(Watchlist, WATCHLISTS_TABLE, WATCHLIST_COLUMNS, "watchlist_id", watchlist_id)
        return found[0] if found else None

    def list_watchlists(self) -> list[Watchlist]:
        found = self._latest(Watchlist, WATCHLISTS_TABLE, WATCHLIST_COLUMNS, "watchlist_id")
        return sorted(found, key=lambda w: (w.name, w.watchlist_id))

    def put_identity(self, record: Identity) -> None:
        self._insert(IDENTITIES_TABLE, IDENTITY_COLUMNS, [record])

    def get_identity(self, identity_id: str) -> Identity | None:
        found = self._latest(Identity, IDENTITIES_TABLE, IDENTITY_COLUMNS, "identity_id", identity_id)
        return found[0] if found else None

    def list_identities(self, watchlist_id: str | None = None) -> list[Identity]:
        """By name; the watchlist filter applies to each identity's newest version."""

        def build(bind: Binder) -> str:
            latest = latest_sql(self._db, IDENTITIES_TABLE, IDENTITY_COLUMNS, "identity_id")
            where = "" if watchlist_id is None else f" WHERE watchlist_id = {bind(watchlist_id)}"
            return f"SELECT {', '.join(IDENTITY_COLUMNS)} FROM ({latest}){where}"

        found = [_parse(Identity, IDENTITY_COLUMNS, r) for r in self._runner.select(build)]
        return sorted(found, key=lambda i: (i.name, i.identity_id))

    def find_identities(self, watchlist_id: str, name: str, reference: str) -> list[Identity]:
        """Candidates are the ids with a version whose name contains `name` in any case (ClickHouse's
        case folding is not Python's); their newest versions are then checked exactly."""

        def build(bind: Binder) -> str:
            ids = (
                f"SELECT identity_id FROM {self._db}.{IDENTITIES_TABLE} "
                f"WHERE watchlist_id = {bind(watchlist_id)} "
                f"AND positionCaseInsensitiveUTF8(name, {bind(name.strip())}) > 0"
            )
            where = f" WHERE identity_id IN ({ids})"
            return latest_sql(self._db, IDENTITIES_TABLE, IDENTITY_COLUMNS, "identity_id", where)

        found = [_parse(Identity, IDENTITY_COLUMNS, r) for r in self._runner.select(build)]
        return [i for i in found if i.watchlist_id == watchlist_id and same_person(i, name, reference)]

    def _latest(
        self, model: type[R], table: str, columns: Sequence[str], key: str, value: str | None = None
    ) -> list[R]:
        def build(bind: Binder) -> str:
            where = "" if value is None else f" WHERE {key} = {bind(value)}"
            return latest_sql(self._db, table, columns, key, where)

        return [_parse(model, columns, r) for r in self._runner.select(build)]

    # --- enrolled faces and negatives ---

    def add_embeddings(self, records: list[FaceEmbedding]) -> None:
        self._insert(EMBEDDINGS_TABLE, EMBEDDING_COLUMNS, records)

    def list_embeddings(
        self, identity_id: str | None = None, *, with_images: bool = False
    ) -> list[FaceEmbedding]:
        """Oldest first; without images the image column is not read at all."""
        columns = EMBEDDING_COLUMNS if with_images else _EMBEDDING_NO_IMAGE
        return self._faces(FaceEmbedding, EMBEDDINGS_TABLE, columns, "identity_id", identity_id)

    def get_embedding(self, embedding_id: str) -> FaceEmbedding | None:
        found = self._faces(FaceEmbedding, EMBEDDINGS_TABLE, EMBEDDING_COLUMNS, "embedding_id", embedding_id)
        return found[0] if found else None

    def image_shas(self, watchlist_id: str) -> set[str]:
        def build(bind: Binder) -> str:
            table = f"{self._db}.{EMBEDDINGS_TABLE}"
            return f"SELECT DISTINCT image_sha256 FROM {table} WHERE watchlist_id = {bind(watchlist_id)}"

        return {str(row[0]) for row in self._runner.select(build)}

    def add_negative(self, record: FaceNegative) -> None:
        self._insert(NEGATIVES_TABLE, NEGATIVE_COLUMNS, [record])

    def list_negatives(self, identity_id: str | None = None) -> list[FaceNegative]:
        """Oldest first."""
        return self._faces(FaceNegative, NEGATIVES_TABLE, NEGATIVE_COLUMNS, "identity_id", identity_id)

    def _faces(
        self, model: type[R], table: str, columns: Sequence[str], key: str, value: str | None
    ) -> list[R]:
        """Rows of a plain MergeTree table, oldest first (`columns[0]` is the record's id)."""
        select = ", ".join(_IMAGE_AS_HEX if c == "image_jpeg" else c for c in columns)

        def build(bind: Binder) -> str:
            where = "" if value is None else f" WHERE {key} = {bind(value)}"
            return f"SELECT {select} FROM {self._db}.{table}{where} ORDER BY created_ts_ms, {columns[0]}"

        return [_parse(model, columns, r) for r in self._runner.select(build)]

    # --- erasure ---

    def erase_identity(self, identity_id: str) -> Erasure:
        erasure, _ids = self._erase([("identity_id", (identity_id,))])
        return erasure

    def erase_watchlist(self, watchlist_id: str) -> Erasure:
        """The watchlist, every row stamped with it, and every identity whose newest version is in it."""
        erasure, _ids = self._erase(self._watchlist_steps([watchlist_id]))
        return erasure

    def expire(self, now_ms: int) -> list[tuple[str, str]]:
        """Erases what is due at `now_ms`: identities past their own expiry, expired watchlists and all
        of their identities. Returns what went, as ("identity", id) and ("watchlist", id) pairs."""
        due: Condition = lambda bind: f"expires_ts_ms <= {bind(now_ms)}"  # noqa: E731
        watchlist_ids = self._latest_ids(WATCHLISTS_TABLE, ("watchlist_id", "expires_ts_ms"), due)
        own = self._latest_ids(IDENTITIES_TABLE, ("identity_id", "expires_ts_ms"), due)
        steps = self._watchlist_steps(watchlist_ids) if watchlist_ids else []
        steps += [("identity_id", chunk) for chunk in _chunks(own, self._max_ids)]
        _erasure, identity_ids = self._erase(steps)
        if identity_ids or watchlist_ids:
            logger.info("expired %d identities and %d watchlists", len(identity_ids), len(watchlist_ids))
        return [("identity", i) for i in sorted(identity_ids)] + [("watchlist", w) for w in watchlist_ids]

    def _watchlist_steps(self, watchlist_ids: Sequence[str]) -> list[_Step]:
        in_lists = partial(in_sql, "watchlist_id", tuple(watchlist_ids))
        members = self._latest_ids(IDENTITIES_TABLE, ("identity_id", "watchlist_id"), in_lists)
        chunks = _chunks(members, self._max_ids)
        return [("watchlist_id", tuple(watchlist_ids)), *(("identity_id", chunk) for chunk in chunks)]

    def _latest_ids(self, table: str, columns: Sequence[str], condition: Condition) -> list[str]:
        """The ids (`columns[0]`) whose newest version meets the condition (on `columns`), sorted."""

        def build(bind: Binder) -> str:
            latest = latest_sql(self._db, table, columns, columns[0])
            return f"SELECT {columns[0]} FROM ({latest}) WHERE {condition(bind)}"

        return sorted(str(r[0]) for r in self._runner.select(build))

    def _erase(self, steps: Sequence[_Step]) -> tuple[Erasure, set[str]]:
        """Runs the steps in turn: counts what each finds, deletes it, waits until it is gone (so no row
        is counted twice). A step that finds nothing mutates nothing. Returns the counts and the ids."""
        identity_ids: set[str] = set()
        rows = dict.fromkeys(IDENTITY_TABLES, 0)
        for column, values in steps:
            tables = IDENTITY_TABLES + ((WATCHLISTS_TABLE,) if column == "watchlist_id" else ())
            where = partial(in_sql, column, values)
            ids, counts = self._count(tables, where)
            if not any(counts.values()):
                continue
            identity_ids |= ids
            for table in IDENTITY_TABLES:
                rows[table] += counts[table]
            self._delete(tables, where)
        erasure = Erasure(len(identity_ids), rows[EMBEDDINGS_TABLE], rows[NEGATIVES_TABLE])
        return erasure, identity_ids

    def _count(self, tables: Sequence[str], where: Condition) -> tuple[set[str], dict[str, int]]:
        """The identity ids and each table's rows that `where` finds, in one query."""

        def build(bind: Binder) -> str:
            condition = where(bind)
            ids = f"(SELECT groupUniqArray(identity_id) FROM {self._db}.{IDENTITIES_TABLE} WHERE {condition})"
            counts = [f"(SELECT count() FROM {self._db}.{t} WHERE {condition})" for t in tables]
            return f"SELECT {', '.join([ids, *counts])}"

        ids, *counts = self._runner.select(build)[0]
        return {str(i) for i in ids}, {t: int(str(n)) for t, n in zip(tables, counts, strict=True)}
