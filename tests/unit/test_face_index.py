"""FaceIndex: exact vs HNSW agreement, erasure, negatives, bad input, concurrency (synthetic unit vectors)."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from pipelines.recognition import index_build
from pipelines.recognition.face_index import DIM, F32, FaceIndex, FaceIndexConfig, normalise

EXACT = FaceIndexConfig()
ANN = FaceIndexConfig(exact_max_size=100, hnsw_m=16, hnsw_ef_construction=40, hnsw_ef_search=64)
PATHS = [pytest.param(EXACT, id="exact"), pytest.param(ANN, id="hnsw")]


def unit(rng: np.random.Generator, n: int) -> F32:
    v = rng.standard_normal((n, DIM)).astype(np.float32)
    unit_rows: F32 = (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)
    return unit_rows


def near(v: F32, distance: float, rng: np.random.Generator) -> F32:
    """A unit vector at about `distance` from v (noise of that norm, renormalised)."""
    noise = rng.standard_normal(DIM).astype(np.float32)
    return normalise(v + noise / np.linalg.norm(noise) * distance)


def filled(config: FaceIndexConfig, vectors: F32, per_identity: int = 1) -> FaceIndex:
    index = FaceIndex(config)
    keys = [(f"id{i // per_identity}", f"e{i}") for i in range(len(vectors))]
    index.add_many(keys, vectors)
    assert index.wait_ready(timeout_s=60)
    return index


def test_exact_and_hnsw_agree_on_top1() -> None:
    rng = np.random.default_rng(1)
    vectors = unit(rng, 3000)
    exact, ann = filled(EXACT, vectors), filled(ANN, vectors)
    assert not exact.uses_ann and ann.uses_ann and len(ann) == len(exact) == 3000
    truth = rng.integers(0, 3000, 200)
    agree = 0
    for row in truth.tolist():
        q = near(vectors[row], 0.3, rng)
        e, a = exact.search(q, k=3), ann.search(q, k=3)
        assert e[0].embedding_id == f"e{row}" and 0.2 < e[0].distance < 0.4
        assert [m.distance for m in e] == sorted(m.distance for m in e)
        agree += a[0].embedding_id == e[0].embedding_id
        assert (
            a[0].distance == pytest.approx(e[0].distance, abs=1e-4) or a[0].embedding_id != e[0].embedding_id
        )
    assert agree / len(truth) >= 0.99


@pytest.mark.parametrize("config", PATHS)
def test_erasure_removes_every_embedding_and_negative(config: FaceIndexConfig) -> None:
    rng = np.random.default_rng(2)
    vectors = unit(rng, 400)
    index = filled(config, vectors, per_identity=4)  # id0..id99, 4 embeddings each
    index.add_negative("id7", near(vectors[0], 0.1, rng))
    assert index.remove_identity("id7") == 4
    assert index.remove_identity("id7") == 0
    assert len(index) == 396
    for row in range(28, 32):
        for m in index.search(vectors[row], k=50):
            assert m.identity_id != "id7"
    assert index.search(vectors[0])[0].identity_id == "id0"  # its negative went with it: id0 unaffected
    index.add("id7", "e28", vectors[28])  # re-enrolment after erasure is allowed
    assert index.search(vectors[28])[0].embedding_id == "e28"


def test_erasure_past_rebuild_fraction_compacts_and_drops_ann() -> None:
    rng = np.random.default_rng(3)
    vectors = unit(rng, 300)
    index = filled(ANN, vectors, per_identity=100)
    assert index.uses_ann
    index.remove_identity("id0")  # 1/3 dead > 0.2: compacted, 200 live rows still above 100: rebuilt
    assert index.wait_ready(timeout_s=60)
    assert index.uses_ann and len(index) == 200
    index.remove_identity("id1")  # 100 live rows: back to exact
    assert not index.uses_ann and len(index) == 100
    assert {m.identity_id for m in index.search(vectors[0], k=100)} == {"id2"}


@pytest.mark.parametrize("config", PATHS)
def test_negative_blocks_near_queries_of_that_identity_only(config: FaceIndexConfig) -> None:
    rng = np.random.default_rng(4)
    vectors = unit(rng, 300)
    index = filled(config, vectors, per_identity=3)  # id0 = e0, e1, e2
    wrong_face = near(vectors[0], 0.35, rng)  # matched id0 (via e0) but was someone else
    assert index.search(wrong_face)[0].identity_id == "id0"
    index.add_negative("id0", wrong_face)
    cases = [
        (wrong_face, False),
        (near(wrong_face, 0.1, rng), False),  # near-identical face: blocked
        (near(vectors[0], 0.15, rng), True),  # the true person, far from the negative: matches
        (near(vectors[1], 0.3, rng), True),  # another embedding of id0: still matches
    ]
    for query, matches_id0 in cases:
        top = index.search(query, k=1)
        assert (top[0].identity_id == "id0") is matches_id0, (query, top)
    other = near(vectors[10], 0.3, rng)
    index.add_negative("id0", other)  # a negative of id0 near id3's face does not block id3
    assert index.search(other)[0].identity_id == "id3"


def test_searches_stay_exact_while_the_graph_is_built_and_rows_added_meanwhile_get_in() -> None:
    rng = np.random.default_rng(6)
    vectors = unit(rng, 1200)
    index = FaceIndex(ANN)
    index.hold_install = threading.Event()
    index.add_many([(f"id{i}", f"e{i}") for i in range(1000)], vectors[:1000])  # crosses 100: a build starts
    assert not index.uses_ann and not index.wait_ready(timeout_s=0.2)  # held before installing
    for i in range(1000, 1200):  # enrolled during the build
        index.add(f"id{i}", f"e{i}", vectors[i])
    index.remove_identity("id5")
    for row in (0, 999, 1000, 1199):  # answered meanwhile, exactly
        top = index.search(near(vectors[row], 0.2, rng))[0]
        assert top.embedding_id == f"e{row}" and top.distance == pytest.approx(0.2, abs=0.01)
    index.hold_install.set()
    assert index.wait_ready(timeout_s=60) and index.uses_ann and len(index) == 1199
    assert [index.search(vectors[row])[0].embedding_id for row in (0, 999, 1000, 1199)] == [
        "e0",
        "e999",
        "e1000",
        "e1199",
    ]
    assert all(m.identity_id != "id5" for m in index.search(vectors[5], k=20))


def test_a_build_overtaken_by_a_compaction_is_redone_over_the_new_rows() -> None:
    rng = np.random.default_rng(7)
    vectors = unit(rng, 600)
    index = FaceIndex(ANN)
    index.hold_install = threading.Event()
    index.add_many([(f"id{i // 200}", f"e{i}") for i in range(600)], vectors)  # id0..id2, 200 rows each
    index.remove_identity("id0")  # 1/3 dead: compacted (rows renumbered) while the first build is held
    index.hold_install.set()
    assert index.wait_ready(timeout_s=60) and index.uses_ann and len(index) == 400
    for row in (200, 399, 400, 599):  # a stale graph would answer with the old row numbers
        assert index.search(vectors[row])[0].embedding_id == f"e{row}"
    assert {m.identity_id for m in index.search(vectors[0], k=50)} <= {"id1", "id2"}


@pytest.fixture
def every_row_built_outside_the_lock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Small test indexes would otherwise be built wholly in the final step under the lock (not cached)."""
    monkeypatch.setattr(index_build, "CATCH_UP_UNDER_LOCK", 0)


def started(cache: Path, vectors: F32, keys: list[tuple[str, str]]) -> FaceIndex:
    """A process's index filled one row at a time (as a gallery loads), its graph ready."""
    index = FaceIndex(ANN, cache_dir=cache)
    for key, vector in zip(keys, vectors, strict=True):
        index.add(*key, vector)
    assert index.wait_ready(timeout_s=60) and index.uses_ann
    return index


@pytest.mark.usefixtures("every_row_built_outside_the_lock")
def test_a_restarted_index_reads_its_graph_when_its_first_rows_are_the_same(tmp_path: Path) -> None:
    rng = np.random.default_rng(8)
    vectors = unit(rng, 700)
    keys = [(f"id{i}", f"e{i}") for i in range(700)]
    first = started(tmp_path, vectors[:600], keys[:600])
    assert first.graph_source == "built" and len(list(tmp_path.glob("faces-hnsw-*.faiss"))) == 1
    again = started(tmp_path, vectors[:600], keys[:600])
    assert again.graph_source == "cache"
    more = started(tmp_path, vectors, keys)  # 100 enrolled since: read, then the rest added
    assert more.graph_source == "cache"
    for row in (0, 599, 600, 699):
        assert more.search(near(vectors[row], 0.2, rng))[0].embedding_id == f"e{row}"


@pytest.mark.usefixtures("every_row_built_outside_the_lock")
@pytest.mark.parametrize(
    "change",
    ["an identity erased", "a vector changed", "another order", "other graph parameters", "a broken file"],
)
def test_a_cached_graph_of_other_rows_is_not_used(tmp_path: Path, change: str) -> None:
    rng = np.random.default_rng(9)
    vectors = unit(rng, 400)
    keys = [(f"id{i}", f"e{i}") for i in range(400)]
    started(tmp_path, vectors, keys)
    config = ANN
    if change == "an identity erased":
        vectors, keys = vectors[1:], keys[1:]
    elif change == "a vector changed":
        vectors = vectors.copy()
        vectors[200] = near(vectors[200], 0.01, rng)
    elif change == "another order":
        vectors, keys = vectors[::-1].copy(), keys[::-1]
    elif change == "other graph parameters":
        config = ANN.model_copy(update={"hnsw_m": 8})
    else:
        graph = next(tmp_path.glob("faces-hnsw-*.faiss"))
        graph.write_bytes(graph.read_bytes()[:1000])
    index = FaceIndex(config, cache_dir=tmp_path)
    index.add_many(keys, vectors)
    assert index.wait_ready(timeout_s=60) and index.graph_source == "built"
    assert index.search(vectors[200])[0].embedding_id == keys[200][1]


@pytest.mark.parametrize(
    ("vector", "message"),
    [
        (np.zeros(64, np.float32), "shape"),
        (np.full(DIM, np.nan, np.float32), "NaN"),
        (np.full(DIM, 1.0, np.float32), "normalised"),
        (np.zeros(DIM, np.float32), "normalised"),
        (np.ones((2, DIM), np.float32), "shape"),
    ],
)
def test_bad_vectors_are_a_value_error(vector: F32, message: str) -> None:
    index = FaceIndex()
    with pytest.raises(ValueError, match=message):
        index.add("a", "e", vector)
    with pytest.raises(ValueError, match=message):
        index.search(vector)
    with pytest.raises(ValueError, match=message):
        index.add_negative("a", vector)
    assert len(index) == 0


def test_normalise_and_other_bad_input() -> None:
    v = normalise(np.full(DIM, 3.0))
    assert v.dtype == np.float32 and float(np.linalg.norm(v)) == pytest.approx(1.0, abs=1e-6)
    with pytest.raises(ValueError, match="norm"):
        normalise(np.zeros(DIM))
    index = FaceIndex()
    index.add("a", "e", v)
    with pytest.raises(ValueError, match="already enrolled"):
        index.add("a", "e", v)
    with pytest.raises(ValueError, match="k must be"):
        index.search(v, k=0)
    with pytest.raises(ValueError, match="duplicate"):
        index.add_many([("b", "x"), ("b", "x")], np.stack([v, v]))
    assert len(index) == 1 and FaceIndex().search(v) == []


@pytest.mark.parametrize("config", PATHS)
def test_concurrent_add_and_search(config: FaceIndexConfig) -> None:
    rng = np.random.default_rng(5)
    vectors = unit(rng, 800)
    index = filled(config, vectors[:200])
    errors: list[BaseException] = []

    def writer(part: int) -> None:
        try:
            for i in range(200 + part * 150, 200 + (part + 1) * 150):
                index.add(f"id{i}", f"e{i}", vectors[i])
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    def reader() -> None:
        try:
            for i in range(300):
                top = index.search(vectors[i % 200], k=1)
                assert top[0].embedding_id == f"e{i % 200}"
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(p,)) for p in range(4)]
    threads += [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(index) == 800
    assert index.search(vectors[777])[0].embedding_id == "e777"
