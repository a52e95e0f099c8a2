"""1:N face search: top-1 latency and recall@1 of the FaceIndex's HNSW path against exact search.

Synthetic identities: n random unit vectors in 128-d (one embedding per identity; random directions are
~1.41 apart, the hard case for a graph index since they have no low-dimensional structure). Queries:
`--queries` stored vectors picked at random, each moved by a noise vector of norm uniform in 0.2-0.4 and
renormalised, so the true match is known and sits at a realistic same-person distance (~0.2-0.4).
Per size, in the same run: exact search (the index's single-threaded numpy path, timed on up to 200
queries; recall ground truth for all queries by blocked matrix products), then a FaceIndex forced onto
HNSW (build time of `add_many`, index bytes, RSS delta), its p50/p95 per single query (one thread)
and recall@1 vs exact and vs the true identity. Targets at 1M: top-1 <= 2 ms, recall@1 >= 0.99.
`--usearch` adds a raw usearch HNSW row with the same degree and beam, for the comparison (usearch is not
in the lock: `.venv/bin/pip install usearch` first).

    .venv/bin/python bench/faces.py [--sizes 10000 100000 1000000] [--queries 1000] [--usearch]
    .venv/bin/python bench/faces.py --startup 200000   # a worker's start: searchable when, graph when
    .venv/bin/python bench/faces.py --startup 200000 --cache /tmp/g   # twice: graph built, then read
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path

import faiss
import numpy as np

from pipelines.recognition.face_index import DIM, F32, FaceIndex, FaceIndexConfig

logger = logging.getLogger("bench.faces")


def rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def synthetic(n: int, queries: int, seed: int = 0) -> tuple[F32, F32, np.ndarray]:
    rng = np.random.default_rng(seed)
    vectors = np.empty((n, DIM), np.float32)
    for start in range(0, n, 100_000):
        block = rng.standard_normal((min(100_000, n - start), DIM), dtype=np.float32)
        vectors[start : start + len(block)] = block / np.linalg.norm(block, axis=1, keepdims=True)
    truth = rng.integers(0, n, queries)
    noise = rng.standard_normal((queries, DIM), dtype=np.float32)
    noise *= (rng.uniform(0.2, 0.4, queries) / np.linalg.norm(noise, axis=1))[:, None].astype(np.float32)
    q = vectors[truth] + noise
    return vectors, (q / np.linalg.norm(q, axis=1, keepdims=True)).astype(np.float32), truth


def exact_top1(vectors: F32, queries: F32) -> np.ndarray:
    best = np.full(len(queries), -np.inf, np.float32)
    rows = np.zeros(len(queries), np.int64)
    for start in range(0, len(vectors), 100_000):
        dots = queries @ vectors[start : start + 100_000].T
        arg = dots.argmax(axis=1)
        top = dots[np.arange(len(queries)), arg]
        better = top > best
        best[better], rows[better] = top[better], arg[better] + start
    return rows


def percentiles_ms(latencies_s: list[float]) -> tuple[float, float]:
    p50, p95 = np.percentile(latencies_s, [50, 95]) * 1000
    return float(p50), float(p95)


def bench_size(
    n: int, n_queries: int, config: FaceIndexConfig, with_usearch: bool, ef_sweep: list[int] | None = None
) -> None:
    vectors, queries, truth = synthetic(n, n_queries)
    distances = np.linalg.norm(queries - vectors[truth], axis=1)
    exact_rows = exact_top1(vectors, queries)
    exact_lat = []
    for q in queries[:200]:
        t0 = time.perf_counter()
        int(np.argmax(np.einsum("ij,j->i", vectors, q)))
        exact_lat.append(time.perf_counter() - t0)
    e50, e95 = percentiles_ms(exact_lat)
    logger.info(
        "n=%d: true-match distance %.2f-%.2f (median %.2f); exact top-1 p50 %.3f ms p95 %.3f ms, "
        "recall vs truth %.4f",
        n,
        distances.min(),
        distances.max(),
        float(np.median(distances)),
        e50,
        e95,
        float(np.mean(exact_rows == truth)),
    )
    keys = [(f"id{i}", "e0") for i in range(n)]
    rss0, t0 = rss_mib(), time.perf_counter()
    # every core builds here (a worker's background build takes `build_threads`, 1 by default)
    index = FaceIndex(config.model_copy(update={"exact_max_size": 0, "build_threads": os.cpu_count() or 1}))
    index.add_many(keys, vectors)
    if not index.wait_ready(timeout_s=7200):
        raise SystemExit("the HNSW build did not finish within 2 h")
    build_s, rss_delta = time.perf_counter() - t0, rss_mib() - rss0
    faiss.omp_set_num_threads(1)
    for ef_search in ef_sweep or [config.hnsw_ef_search]:
        index.config = index.config.model_copy(update={"hnsw_ef_search": ef_search})
        lat, hits = [], []
        for q in queries:
            t0 = time.perf_counter()
            top = index.search(q, k=1)
            lat.append(time.perf_counter() - t0)
            hits.append(int(top[0].identity_id[2:]) if top else -1)
        a50, a95 = percentiles_ms(lat)
        found = np.array(hits)
        logger.info(
            "n=%d: faiss HNSW M=%d efC=%d efS=%d: build %.1f s, index %.0f MiB (RSS +%.0f MiB incl. keys), "
            "top-1 p50 %.3f ms p95 %.3f ms, recall@1 vs exact %.4f (vs truth %.4f)",
            n,
            config.hnsw_m,
            config.hnsw_ef_construction,
            ef_search,
            build_s,
            index.memory_bytes() / 2**20,
            rss_delta,
            a50,
            a95,
            float(np.mean(found == exact_rows)),
            float(np.mean(found == truth)),
        )
    del index
    if with_usearch:
        bench_usearch(vectors, queries, exact_rows, config)


def bench_usearch(vectors: F32, queries: F32, exact_rows: np.ndarray, config: FaceIndexConfig) -> None:
    from usearch.index import Index

    rss0, t0 = rss_mib(), time.perf_counter()
    index = Index(
        ndim=DIM,
        metric="l2sq",
        dtype="f32",
        connectivity=config.hnsw_m,
        expansion_add=config.hnsw_ef_construction,
        expansion_search=config.hnsw_ef_search,
    )
    index.add(np.arange(len(vectors), dtype=np.uint64), vectors, threads=os.cpu_count() or 1)
    build_s, rss_delta = time.perf_counter() - t0, rss_mib() - rss0
    lat, hits = [], []
    for q in queries:
        t0 = time.perf_counter()
        found = index.search(q, 1, threads=1)
        lat.append(time.perf_counter() - t0)
        hits.append(int(found.keys[0]))
    p50, p95 = percentiles_ms(lat)
    logger.info(
        "n=%d: usearch HNSW M=%d efC=%d efS=%d: build %.1f s, index %.0f MiB (RSS +%.0f MiB), "
        "top-1 p50 %.3f ms p95 %.3f ms, recall@1 vs exact %.4f",
        len(vectors),
        config.hnsw_m,
        config.hnsw_ef_construction,
        config.hnsw_ef_search,
        build_s,
        index.memory_usage / 2**20,
        rss_delta,
        p50,
        p95,
        float(np.mean(np.array(hits) == exact_rows)),
    )


def bench_startup(n: int, n_queries: int, config: FaceIndexConfig, cache_dir: Path | None = None) -> None:
    """A worker's start with n enrolled identities and the default settings: the gallery adds them one by
    one (as `FaceGallery.apply_all` does), searches are answered at once (exactly) while the graph is built
    in the background with `build_threads`, then by the graph."""
    vectors, queries, truth = synthetic(n, n_queries, seed=1)
    index = FaceIndex(config, cache_dir)
    t0 = time.perf_counter()
    for i in range(n):
        index.add_many([(f"id{i}", "e0")], vectors[i : i + 1])
    load_s = time.perf_counter() - t0

    def timed() -> tuple[float, float, float]:
        lat, hits = [], 0
        for q, row in zip(queries, truth.tolist(), strict=True):
            t = time.perf_counter()
            top = index.search(q, k=1)
            lat.append(time.perf_counter() - t)
            hits += bool(top) and top[0].identity_id == f"id{row}"
        p50, p95 = percentiles_ms(lat)
        return p50, p95, hits / len(queries)

    during = timed() if not index.uses_ann else None
    if not index.wait_ready(timeout_s=7200):
        raise SystemExit("the HNSW build did not finish within 2 h")
    ready_s = time.perf_counter() - t0
    after = timed()
    logger.info(
        "startup n=%d (build_threads %d, graph %s): all identities searchable after %.1f s%s; HNSW ready "
        "after %.1f s: top-1 p50 %.2f ms p95 %.2f ms, recall@1 vs truth %.4f",
        n,
        config.build_threads,
        index.graph_source,
        load_s,
        ""
        if during is None
        else f" (exact meanwhile: p50 {during[0]:.1f} ms p95 {during[1]:.1f} ms, recall@1 {during[2]:.4f})",
        ready_s,
        *after,
    )


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    p.add_argument("--queries", type=int, default=1000)
    p.add_argument("--ef-search", type=int, default=None, help="override the HNSW search beam")
    p.add_argument("--ef-sweep", type=int, nargs="+", default=None, help="search beams measured on one build")
    p.add_argument("--ef-construction", type=int, default=None, help="override the HNSW build beam")
    p.add_argument("--m", type=int, default=None, help="override the HNSW graph degree")
    p.add_argument("--usearch", action="store_true", help="also measure usearch with the same parameters")
    p.add_argument(
        "--startup", type=int, default=None, help="only measure a worker's start with this many identities"
    )
    p.add_argument(
        "--cache",
        type=Path,
        default=None,
        help="with --startup: start twice, the graph kept here (built, read)",
    )
    args = p.parse_args()
    config = FaceIndexConfig()
    for flag, field in (
        ("ef_search", "hnsw_ef_search"),
        ("ef_construction", "hnsw_ef_construction"),
        ("m", "hnsw_m"),
    ):
        if getattr(args, flag):
            config = config.model_copy(update={field: getattr(args, flag)})
    logger.info(
        "cpu cores %d, load average %s; exact path used below %d live rows",
        os.cpu_count(),
        " ".join(f"{x:.2f}" for x in os.getloadavg()),
        config.exact_max_size,
    )
    for n in [] if args.startup else args.sizes:
        bench_size(n, args.queries, config, args.usearch, args.ef_sweep)
    if args.startup:
        for _ in range(2 if args.cache else 1):
            bench_startup(args.startup, args.queries, config, args.cache)
    logger.info("load average at the end %s", " ".join(f"{x:.2f}" for x in os.getloadavg()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
