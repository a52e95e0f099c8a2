"""The face index's HNSW graph kept on disk, so that a restarted process need not build it again.

One graph per folder: `faces-hnsw.json` (how many rows the graph holds, the SHA-256 of those rows' keys
and vectors in order, the graph parameters, and the graph's file) names `faces-hnsw-<digest>.faiss`
(faiss' own format; named by content, so a description never names another graph). A process whose
first rows are exactly those (same keys, same vectors, same order, same parameters) reads the graph and
only adds its later rows; anything else (an erased identity, a changed parameter, an unreadable file) is a
miss and the graph is built as usual. Files are replaced atomically; a failure to write is logged, never
raised (the cache only saves time).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import faiss
import numpy as np
import numpy.typing as npt

logger = logging.getLogger(__name__)

META_FILE = "faces-hnsw.json"
GRAPH_PREFIX = "faces-hnsw-"


@dataclass(frozen=True, slots=True)
class CachedGraph:
    """What the cached graph holds: `rows` first rows whose keys and vectors hash to `digest`."""

    rows: int
    digest: str
    hnsw_m: int
    hnsw_ef_construction: int

    @property
    def graph_file(self) -> str:
        return f"{GRAPH_PREFIX}{self.digest[:32]}.faiss"


class RowDigest:
    """SHA-256 over rows in order: each row's keys and its float32 vector bytes."""

    def __init__(self) -> None:
        self._sha = hashlib.sha256()
        self.rows = 0

    def update(self, keys: list[tuple[str, str]], vectors: npt.NDArray[np.float32]) -> None:
        if len(keys) != len(vectors):
            raise ValueError(f"{len(keys)} keys for {len(vectors)} vectors")
        for (identity_id, embedding_id), vector in zip(keys, vectors, strict=True):
            self._sha.update(f"{len(identity_id)}:{identity_id}{len(embedding_id)}:{embedding_id}".encode())
            self._sha.update(np.ascontiguousarray(vector, dtype=np.float32).tobytes())
        self.rows += len(keys)

    def hexdigest(self) -> str:
        return self._sha.hexdigest()


def read_meta(folder: Path) -> CachedGraph | None:
    """The cached graph's description, or None when there is none (or it cannot be read)."""
    try:
        data = json.loads((folder / META_FILE).read_text())
        return CachedGraph(**data)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError) as exc:
        logger.warning("face index cache %s unreadable, ignored: %s", folder / META_FILE, exc)
        return None


def read_graph(folder: Path, meta: CachedGraph) -> faiss.IndexHNSWFlat | None:
    """The cached graph if it holds the rows its description says, else None."""
    path = folder / meta.graph_file
    try:
        graph = faiss.read_index(str(path))
    except (RuntimeError, OSError) as exc:  # faiss raises RuntimeError on a bad or missing file
        logger.warning("face index cache %s unreadable, ignored: %s", path, exc)
        return None
    if not isinstance(graph, faiss.IndexHNSWFlat) or graph.ntotal != meta.rows:
        logger.warning("face index cache %s does not hold %d rows, ignored", path, meta.rows)
        return None
    return graph


def write(folder: Path, graph: faiss.IndexHNSWFlat, meta: CachedGraph) -> None:
    """Writes the graph under its content name, then the description naming it, then drops older graphs."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{meta.graph_file}.{os.getpid()}.tmp"
        faiss.write_index(graph, str(tmp))
        os.replace(tmp, folder / meta.graph_file)
        tmp = folder / f".{META_FILE}.{os.getpid()}.tmp"
        tmp.write_text(json.dumps(asdict(meta)))
        os.replace(tmp, folder / META_FILE)
        for old in folder.glob(f"{GRAPH_PREFIX}*.faiss"):
            if old.name != meta.graph_file:
                old.unlink(missing_ok=True)
        logger.info("face index: graph of %d rows cached in %s", meta.rows, folder)
    except (OSError, RuntimeError) as exc:
        logger.warning("face index: could not cache the graph in %s: %s", folder, exc)
