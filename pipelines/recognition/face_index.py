"""1:N face search: exact numpy search while small, a FAISS HNSW graph beyond, with erasure and negatives.

Vectors are 128-d float32 face embeddings, L2-normalised by the caller (`normalise` helps): a vector of
another dimension, with NaN/inf, or with a norm off 1 by more than `NORM_TOLERANCE` is refused with a
ValueError (silently renormalising would move distances the per-list thresholds were calibrated on).
Distances are Euclidean, in the encoder's units (dlib: same person ~0.12-0.44, different 0.69-0.86).

Layout: one row per (identity_id, embedding_id) in a growing float32 matrix. Below `exact_max_size`
live rows, search is one single-threaded matrix-vector product (einsum: BLAS threads stall under load);
above it the rows also go into a `faiss.IndexHNSWFlat` (faiss ids = row numbers), built once on crossing
the threshold and then extended row by row on add. HNSW cannot delete, so erasure marks rows dead: dead
rows are dropped from every result at once (and their vectors zeroed), and when dead rows exceed
`rebuild_dead_fraction` of all rows the matrix is compacted and the graph rebuilt.
The graph is built in a background thread (`index_build`; `build_threads` OpenMP threads, a million rows
take 15-30 min on 2 cores): meanwhile every search is answered exactly over the matrix (tens of ms at 1M
rows); `wait_ready` waits for it. With a cache folder the graph is kept between runs (`index_cache`).
FAISS HNSW was chosen over usearch on measured numbers (100k random unit vectors, 2 loaded cores, M=32):
faiss efS=64 0.35 ms p50, recall@1 0.999, build 28 s; usearch efS=32 0.51 ms, 0.989, build 92 s.

Negatives ("not this person"): `add_negative(identity_id, v)`; a query within `negative_radius` of any
negative of an identity gets no match of that identity (its other identities are untouched, and queries
far from the negative still match it). Negatives are few: checked exactly on every search.
Thread-safe: one lock around every operation (faiss HNSW is not safe for concurrent add and search).
"""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from events.faces import EMBEDDING_DIM
from pipelines.recognition.index_build import BuildSettings, build_graph

logger = logging.getLogger(__name__)

DIM = EMBEDDING_DIM
NORM_TOLERANCE = 1e-3
F32 = npt.NDArray[np.float32]


class FaceIndexConfig(BaseModel):
    """Index settings; the defaults are the values measured by bench/faces.py on a 2-core CPU."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    exact_max_size: int = Field(default=20_000, ge=0, description="live rows up to which search is exact")
    hnsw_m: int = Field(default=32, ge=4, description="HNSW graph degree")
    hnsw_ef_construction: int = Field(
        default=160, ge=8, description="HNSW build beam (recall vs build time: 1M rows in ~15 min on 2 cores)"
    )
    hnsw_ef_search: int = Field(default=128, ge=1, description="HNSW search beam (recall vs latency)")
    negative_radius: float = Field(
        default=0.15, ge=0.0, description="distance to a negative that blocks (near-identical faces only)"
    )
    rebuild_dead_fraction: float = Field(default=0.2, gt=0.0, le=1.0)
    build_threads: int = Field(
        default=1, ge=1, description="OpenMP threads of a background graph build (the cameras keep the rest)"
    )
    keep_graph: bool = Field(
        default=True,
        description="keep the built graph in the data folder (cache/faces; 784 MB at 1M faces) for the "
        "process's next start",
    )


@dataclass(frozen=True, slots=True)
class Match:
    identity_id: str
    embedding_id: str
    distance: float


def normalise(vector: npt.ArrayLike) -> F32:
    """The vector scaled to unit length as float32; ValueError for a zero or non-finite vector."""
    v = np.asarray(vector, dtype=np.float32).reshape(-1)
    norm = float(np.linalg.norm(v))
    if not math.isfinite(norm) or norm == 0.0:
        raise ValueError(f"cannot normalise a vector of norm {norm}")
    return (v / norm).astype(np.float32)


def check_vector(vector: npt.ArrayLike) -> F32:
    """The vector as a contiguous float32 (DIM,) array, or a ValueError saying what is wrong with it."""
    v = np.ascontiguousarray(np.asarray(vector, dtype=np.float32))
    if v.shape != (DIM,):
        raise ValueError(f"embedding must have shape ({DIM},), got {v.shape}")
    if not bool(np.isfinite(v).all()):
        raise ValueError("embedding contains NaN or infinity")
    norm = float(np.linalg.norm(v))
    if abs(norm - 1.0) > NORM_TOLERANCE:
        raise ValueError(f"embedding must be L2-normalised (norm {norm:.4f}); use normalise() first")
    return v


class FaceIndex:
    def __init__(self, config: FaceIndexConfig | None = None, cache_dir: Path | None = None) -> None:
        """`cache_dir`: where the graph is kept between runs (`index_cache`); None keeps it in memory only."""
        self.config = config or FaceIndexConfig()
        self._cache_dir = cache_dir
        #: where the installed graph came from: "" (none yet), "built" or "cache"
        self.graph_source = ""
        self._lock = threading.Lock()
        self._vectors: F32 = np.zeros((1024, DIM), np.float32)
        self._alive = np.zeros(1024, bool)
        self._keys: list[tuple[str, str]] = []
        self._row_of: dict[tuple[str, str], int] = {}
        self._rows_of_identity: dict[str, list[int]] = {}
        self._dead = 0
        self._hnsw: faiss.IndexHNSWFlat | None = None
        self._negatives: F32 = np.zeros((0, DIM), np.float32)
        self._negative_identity: list[str] = []
        self._generation = 0  # bumped whenever rows are renumbered (a build of older rows is stale)
        self._builder: threading.Thread | None = None
        self._ready = threading.Condition(self._lock)
        #: tests: the builder waits for this event before it installs its graph
        self.hold_install: threading.Event | None = None

    def __len__(self) -> int:
        with self._lock:
            return len(self._keys) - self._dead

    @property
    def uses_ann(self) -> bool:
        with self._lock:
            return self._hnsw is not None

    def wait_ready(self, timeout_s: float | None = None) -> bool:
        """Waits until no graph build is running (True), or `timeout_s` passed (False)."""
        with self._ready:
            return self._ready.wait_for(lambda: self._builder is None, timeout_s)

    def memory_bytes(self) -> int:
        """Vectors + HNSW links + negatives, in bytes (the index's own size, not the process RSS)."""
        with self._lock:
            graph = self._hnsw.hnsw if self._hnsw is not None else None
            links = int(graph.neighbors.size()) * 4 if graph is not None else 0  # type: ignore[attr-defined]
            hnsw_vectors = len(self._keys) * DIM * 4 if self._hnsw is not None else 0
            return (
                int(self._vectors.nbytes + self._alive.nbytes + self._negatives.nbytes) + links + hnsw_vectors
            )

    def add(self, identity_id: str, embedding_id: str, vector: npt.ArrayLike) -> None:
        self.add_many([(identity_id, embedding_id)], np.asarray(vector, dtype=np.float32)[None, :])

    def add_many(self, keys: list[tuple[str, str]], vectors: npt.ArrayLike) -> None:
        """Add rows in bulk (one HNSW build or extension for all of them); all checked before any is added."""
        batch = np.asarray(vectors, dtype=np.float32)
        if batch.ndim != 2 or batch.shape[0] != len(keys):
            raise ValueError(f"expected {len(keys)} vectors of shape ({DIM},), got array of {batch.shape}")
        checked = np.stack([check_vector(v) for v in batch]) if len(keys) else np.zeros((0, DIM), np.float32)
        if len(set(keys)) != len(keys):
            raise ValueError("duplicate (identity_id, embedding_id) in the batch")
        with self._lock:
            taken = [k for k in keys if k in self._row_of]
            if taken:
                raise ValueError(f"embedding already enrolled: {taken[0]}")
            start = len(self._keys)
            self._grow(start + len(keys))
            self._vectors[start : start + len(keys)] = checked
            self._alive[start : start + len(keys)] = True
            for i, key in enumerate(keys):
                self._keys.append(key)
                self._row_of[key] = start + i
                self._rows_of_identity.setdefault(key[0], []).append(start + i)
            if self._hnsw is not None:
                self._hnsw.add(checked)
            elif self._builder is None and len(self._keys) - self._dead > self.config.exact_max_size:
                self._compact_and_build()

    def remove_identity(self, identity_id: str) -> int:
        """Erase an identity: its embeddings and negatives leave every result now; returns rows removed."""
        with self._lock:
            rows = self._rows_of_identity.pop(identity_id, [])
            for row in rows:
                del self._row_of[self._keys[row]]
                self._alive[row] = False
                self._vectors[row] = 0.0
            self._dead += len(rows)
            keep = [i for i, owner in enumerate(self._negative_identity) if owner != identity_id]
            if len(keep) != len(self._negative_identity):
                self._negatives = np.ascontiguousarray(self._negatives[keep])
                self._negative_identity = [self._negative_identity[i] for i in keep]
            if self._dead and self._dead > self.config.rebuild_dead_fraction * len(self._keys):
                self._compact_and_build()
            return len(rows)

    def add_negative(self, identity_id: str, vector: npt.ArrayLike) -> None:
        """A face that is not `identity_id`: queries within `negative_radius` of it stop matching it."""
        v = check_vector(vector)
        with self._lock:
            self._negatives = np.concatenate([self._negatives, v[None, :]])
            self._negative_identity.append(identity_id)

    def search(self, vector: npt.ArrayLike, k: int = 1) -> list[Match]:
        """The k nearest live embeddings not blocked by a negative, nearest first (Euclidean distance)."""
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        q = check_vector(vector)
        with self._lock:
            blocked = self._blocked(q)
            n = len(self._keys)
            fetch = min(n, k + 8)
            while fetch:
                matches = self._filtered(q, fetch, k, blocked)
                if len(matches) >= k or fetch >= n:
                    return matches
                fetch = min(n, fetch * 4)
            return []

    def _blocked(self, q: F32) -> set[str]:
        if not self._negative_identity:
            return set()
        distances = np.linalg.norm(self._negatives - q, axis=1)
        near = np.flatnonzero(distances <= self.config.negative_radius)
        return {self._negative_identity[i] for i in near}

    def _filtered(self, q: F32, fetch: int, k: int, blocked: set[str]) -> list[Match]:
        rows, distances = self._nearest(q, fetch)
        matches: list[Match] = []
        for row, distance in zip(rows.tolist(), distances.tolist(), strict=True):
            if row < 0 or not self._alive[row]:
                continue
            identity_id, embedding_id = self._keys[row]
            if identity_id not in blocked:
                matches.append(Match(identity_id, embedding_id, distance))
                if len(matches) == k:
                    break
        return matches

    def _nearest(self, q: F32, fetch: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        if self._hnsw is not None:
            ef_search = max(self.config.hnsw_ef_search, fetch)
            params = faiss.SearchParametersHNSW(efSearch=ef_search)  # type: ignore[attr-defined]
            squared, rows = self._hnsw.search(q[None, :], fetch, params=params)
            return rows[0].astype(np.int64), np.sqrt(np.maximum(squared[0], 0.0)).astype(np.float64)
        n = len(self._keys)
        dots = np.einsum("ij,j->i", self._vectors[:n], q)  # single-threaded, unlike BLAS under load
        dots[~self._alive[:n]] = -np.inf
        top = np.argpartition(-dots, fetch - 1)[:fetch] if fetch < n else np.arange(n)
        top = top[np.argsort(-dots[top], kind="stable")]
        top = top[np.isfinite(dots[top])]
        return top.astype(np.int64), np.sqrt(np.maximum(2.0 - 2.0 * dots[top].astype(np.float64), 0.0))

    def _grow(self, rows: int) -> None:
        if rows <= len(self._vectors):
            return
        capacity = max(rows, 2 * len(self._vectors))
        vectors = np.zeros((capacity, DIM), np.float32)
        vectors[: len(self._keys)] = self._vectors[: len(self._keys)]
        alive = np.zeros(capacity, bool)
        alive[: len(self._keys)] = self._alive[: len(self._keys)]
        self._vectors, self._alive = vectors, alive

    def _compact_and_build(self) -> None:
        """Drop dead rows; build the HNSW graph over the live ones if above the exact threshold."""
        live = np.flatnonzero(self._alive[: len(self._keys)])
        self._keys = [self._keys[i] for i in live.tolist()]
        self._vectors = (
            np.ascontiguousarray(self._vectors[live]) if len(live) else np.zeros((1024, DIM), np.float32)
        )
        self._alive = np.ones(len(self._vectors), bool)
        self._alive[len(self._keys) :] = False
        self._row_of = {key: row for row, key in enumerate(self._keys)}
        self._rows_of_identity = {}
        for row, (identity_id, _) in enumerate(self._keys):
            self._rows_of_identity.setdefault(identity_id, []).append(row)
        self._dead = 0
        self._hnsw = None
        self._generation += 1
        logger.info("face index compacted: %d live rows", len(self._keys))
        if len(self._keys) > self.config.exact_max_size and self._builder is None:
            self._builder = threading.Thread(target=self._run_build, name="face-index-build", daemon=True)
            self._builder.start()

    # --- the background build's view of the index (`index_build.BuildSource`) ---

    def build_state(self) -> tuple[int, int, int]:
        with self._lock:
            return self._generation, len(self._keys), len(self._keys) - self._dead

    def rows_copy(self, generation: int, start: int, end: int) -> tuple[list[tuple[str, str]], F32] | None:
        with self._lock:
            if generation != self._generation:
                return None
            return self._keys[start:end], self._vectors[start:end].copy()

    def install(self, generation: int, graph: faiss.IndexHNSWFlat, done: int, origin: str) -> bool:
        with self._lock:
            if generation != self._generation:
                return False  # compacted meanwhile: the graph's row numbers are stale
            graph.add(self._vectors[done : len(self._keys)])
            if len(self._keys) - self._dead > self.config.exact_max_size:
                self._hnsw, self.graph_source = graph, origin
            logger.info("face index: graph over %d rows installed", len(self._keys))
            return True

    def _run_build(self) -> None:
        settings = BuildSettings(
            self.config.hnsw_m,
            self.config.hnsw_ef_construction,
            self.config.build_threads,
            self.config.exact_max_size,
            self._cache_dir,
        )
        try:
            build_graph(self, settings, self.hold_install)
        except Exception:
            logger.exception("face index: the HNSW build failed; searches stay exact")
        finally:
            with self._ready:
                self._builder = None
                self._ready.notify_all()
