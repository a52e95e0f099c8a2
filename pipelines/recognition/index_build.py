"""The face index's HNSW graph, built in a background thread while the index answers exactly.

The builder reads the index only through `BuildSource` (its rows now, copies of some of them, and the
install of a finished graph), so the index's lock is held only for those short steps: a graph over the
rows as they are, then over the rows added since in chunks, then (under the lock) over the last few rows
and installed. Rows renumbered by a compaction meanwhile (the index's generation moved) make the graph
stale: it is dropped and built again. With a cache folder, a graph kept by an earlier run over the same
first rows is read instead of built (`index_cache`), and a newly built one is kept for the next run.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import faiss
import numpy as np
import numpy.typing as npt

from events.faces import EMBEDDING_DIM
from pipelines.recognition import index_cache

logger = logging.getLogger(__name__)

BUILD_CHUNK = 50_000  # rows added to a graph between checks that it is still wanted
CATCH_UP_UNDER_LOCK = 256  # rows left for the graph when it is installed (searches wait meanwhile)
FILLING_STILL_S = 2.0  # an index not growing this long is filled (a cached graph of more rows is stale)

Key = tuple[str, str]
F32 = npt.NDArray[np.float32]


class BuildSource(Protocol):
    """What the builder may ask of the index (each call takes the index's lock briefly)."""

    def build_state(self) -> tuple[int, int, int]:
        """(generation, rows, live rows)."""
        ...

    def rows_copy(self, generation: int, start: int, end: int) -> tuple[list[Key], F32] | None:
        """Keys and a copy of the vectors of rows [start, end), or None when the generation moved."""
        ...

    def install(self, generation: int, graph: faiss.IndexHNSWFlat, done: int, origin: str) -> bool:
        """Adds rows [done, ...) to the graph and installs it (if still above the exact threshold); False
        when the generation moved (the graph is stale)."""
        ...


@dataclass(frozen=True, slots=True)
class BuildSettings:
    hnsw_m: int
    hnsw_ef_construction: int
    build_threads: int
    exact_max_size: int
    cache_dir: Path | None = None


def build_graph(
    source: BuildSource, settings: BuildSettings, hold_install: threading.Event | None = None
) -> None:
    """Builds (or reads) and installs the graph; returns when it is installed or no longer wanted.
    `hold_install` (tests): waited for before installing."""
    t0 = time.monotonic()
    faiss.omp_set_num_threads(settings.build_threads)  # this thread's OpenMP team only
    while True:
        generation, _, live = source.build_state()
        if live <= settings.exact_max_size:
            return  # compacted below the threshold meanwhile: exact search it is
        graph, digest, origin = _start_graph(source, settings, generation)
        cached = digest.rows
        while (chunk := _next_rows(source, generation, digest.rows)) is not None:
            keys, rows = chunk
            graph.add(rows)
            digest.update(keys, rows)
        if settings.cache_dir is not None and digest.rows > cached:
            index_cache.write(settings.cache_dir, graph, _described(settings, digest))
        if hold_install is not None:
            hold_install.wait()
        if source.install(generation, graph, digest.rows, origin):
            logger.info("face index: HNSW graph ready in %.1f s (%s)", time.monotonic() - t0, origin)
            return


def _next_rows(source: BuildSource, generation: int, done: int) -> tuple[list[Key], F32] | None:
    """The next chunk for the graph outside the lock; None when the rest is small enough to add under
    it, or the rows were renumbered."""
    current, rows, _ = source.build_state()
    if current != generation or rows - done <= CATCH_UP_UNDER_LOCK:
        return None
    return source.rows_copy(generation, done, min(rows, done + BUILD_CHUNK))


def _new_graph(settings: BuildSettings) -> faiss.IndexHNSWFlat:
    graph = faiss.IndexHNSWFlat(EMBEDDING_DIM, settings.hnsw_m)
    graph.hnsw.efConstruction = settings.hnsw_ef_construction
    return graph


def _described(settings: BuildSettings, digest: index_cache.RowDigest) -> index_cache.CachedGraph:
    return index_cache.CachedGraph(
        digest.rows, digest.hexdigest(), settings.hnsw_m, settings.hnsw_ef_construction
    )


def _start_graph(
    source: BuildSource, settings: BuildSettings, generation: int
) -> tuple[faiss.IndexHNSWFlat, index_cache.RowDigest, str]:
    """(graph, digest of the rows it holds, "cache" or "built"): the cached graph when the index's first
    rows are the ones it was built over, else an empty one."""
    empty = (_new_graph(settings), index_cache.RowDigest(), "built")
    folder = settings.cache_dir
    meta = index_cache.read_meta(folder) if folder is not None else None
    params = (settings.hnsw_m, settings.hnsw_ef_construction)
    if folder is None or meta is None or (meta.hnsw_m, meta.hnsw_ef_construction) != params:
        return empty
    if not _wait_for_rows(source, meta.rows, generation):
        return empty
    digest = index_cache.RowDigest()
    while digest.rows < meta.rows:
        chunk = source.rows_copy(generation, digest.rows, min(meta.rows, digest.rows + BUILD_CHUNK))
        if chunk is None:
            return empty
        digest.update(*chunk)
    if digest.hexdigest() != meta.digest:
        logger.info("face index: the cached graph is of other rows; building")
        return empty
    graph = index_cache.read_graph(folder, meta)
    return empty if graph is None else (graph, digest, "cache")


def _wait_for_rows(source: BuildSource, rows: int, generation: int) -> bool:
    """Waits while the index is still being filled (at start, from the store or the topic) until it holds
    `rows` rows; False when it stops growing short of them or is renumbered."""
    last, still_since = -1, time.monotonic()
    while True:
        current, n, _ = source.build_state()
        if n >= rows or current != generation:
            return n >= rows and current == generation
        if n != last:
            last, still_since = n, time.monotonic()
        elif time.monotonic() - still_since > FILLING_STILL_S:
            return False
        time.sleep(0.05)
