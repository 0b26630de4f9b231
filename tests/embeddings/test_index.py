"""VectorIndex against a numpy brute-force oracle, plus mutation, filtering and persistence."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from matcher.embeddings.index import (
    CorruptIndexError,
    IndexLoadError,
    MissingIndexError,
    StaleIndexError,
    VectorIndex,
    fingerprint_rows,
    vector_id,
)

DIMENSION = 32
KINDS = ["exact", "hnsw"]


def unit_vectors(count: int, dimension: int = DIMENSION, seed: int = 0) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((count, dimension)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def clustered_vectors(count: int, dimension: int, clusters: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((clusters, dimension)).astype(np.float32)
    centers /= np.linalg.norm(centers, axis=1, keepdims=True)
    noise = rng.standard_normal((count, dimension)).astype(np.float32) * (0.6 / np.sqrt(dimension))
    vectors = centers[rng.integers(0, clusters, count)] + noise
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def brute_force(
    vectors: np.ndarray, ids: np.ndarray, queries: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    scores = queries @ vectors.T
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(scores, order, axis=1), ids[order]


def make_index(
    kind: str, count: int = 200, seed: int = 0, **options: object
) -> tuple[VectorIndex, np.ndarray]:
    vectors = unit_vectors(count, seed=seed)
    index = VectorIndex(DIMENSION, encoder_name="fake", kind=kind, **options)  # type: ignore[arg-type]
    index.add(np.arange(count) * 10, vectors)
    return index, vectors


def top_ids(index: VectorIndex, query: np.ndarray, k: int = 5, **options: object) -> list[int]:
    _, ids = index.search(query, k, **options)  # type: ignore[arg-type]
    return [int(item) for item in ids[0] if item >= 0]


def test_exact_search_equals_brute_force() -> None:
    vectors = unit_vectors(2000, seed=1)
    ids = np.arange(2000, dtype=np.int64) * 3 + 7
    index = VectorIndex(DIMENSION, encoder_name="fake")
    index.add(ids, vectors)
    queries = unit_vectors(25, seed=2)

    scores, found = index.search(queries, 10)
    expected_scores, expected_ids = brute_force(vectors, ids, queries, 10)

    assert index.kind == "exact"
    assert found.dtype == np.int64 and scores.dtype == np.float32
    np.testing.assert_array_equal(found, expected_ids)
    np.testing.assert_allclose(scores, expected_scores, atol=1e-5)


@pytest.mark.slow
def test_hnsw_recall_against_brute_force() -> None:
    vectors = clustered_vectors(20_000, 64, clusters=400, seed=3)
    queries = clustered_vectors(200, 64, clusters=400, seed=3)[:200]
    ids = np.arange(20_000, dtype=np.int64)
    index = VectorIndex(64, encoder_name="fake")  # auto: 20k is above the exact threshold
    index.add(ids, vectors)

    _, found = index.search(queries, 10)
    _, expected = brute_force(vectors, ids, queries, 10)

    assert index.kind == "hnsw"
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, expected, strict=True)])
    assert recall >= 0.95


@pytest.mark.parametrize("kind", KINDS)
def test_add_remove_and_replace_are_visible(kind: str) -> None:
    index, vectors = make_index(kind)
    assert len(index) == 200
    assert top_ids(index, vectors[7])[0] == 70

    replacement = unit_vectors(1, seed=99)
    index.add([70], replacement)
    assert len(index) == 200
    assert 70 not in top_ids(index, vectors[7])
    replaced_hits = top_ids(index, replacement[0], k=20)
    assert replaced_hits[0] == 70
    assert replaced_hits.count(70) == 1

    assert index.remove([70, 123456]) == 1
    assert len(index) == 199
    assert 70 not in top_ids(index, replacement[0], k=199)
    assert 70 not in index.ids()
    index.add([70], vectors[7:8])
    assert top_ids(index, vectors[7])[0] == 70


@pytest.mark.parametrize("kind", KINDS)
def test_search_pads_when_fewer_results_than_k(kind: str) -> None:
    index, vectors = make_index(kind, count=3)
    scores, ids = index.search(vectors[:2], 5)
    assert ids.shape == (2, 5)
    assert set(ids[0, :3].tolist()) == {0, 10, 20}
    assert (ids[:, 3:] == -1).all()
    assert np.isneginf(scores[:, 3:]).all()


def test_empty_index_and_zero_k() -> None:
    index = VectorIndex(DIMENSION, encoder_name="fake")
    _, ids = index.search(unit_vectors(2), 3)
    assert (ids == -1).all() and ids.shape == (2, 3)
    index.add([1], unit_vectors(1))
    assert index.search(unit_vectors(1), 0)[1].shape == (1, 0)


@pytest.mark.parametrize("kind", KINDS)
def test_allowed_ids_match_brute_force_over_the_subset(kind: str) -> None:
    # A small threshold makes the HNSW index use its in-graph selector, not the exact subset scan.
    index, vectors = make_index(kind, count=300, hnsw_threshold=20)
    ids = np.arange(300) * 10
    allowed = ids[::7]
    queries = unit_vectors(5, seed=5)

    _, found = index.search(queries, 8, allowed_ids=set(allowed.tolist()) | {999_999})
    mask = np.isin(ids, allowed)
    _, expected = brute_force(vectors[mask], ids[mask], queries, 8)

    assert set(found.ravel().tolist()) <= set(allowed.tolist())
    recall = np.mean([len(set(a) & set(b)) / 8 for a, b in zip(found, expected, strict=True)])
    assert recall == 1.0 if kind == "exact" else recall >= 0.9
    if kind == "exact":
        np.testing.assert_array_equal(found, expected)


def test_hnsw_small_allowed_set_is_scanned_exactly() -> None:
    index, vectors = make_index("hnsw", count=300)
    ids = np.arange(300) * 10
    allowed = ids[5:40]
    queries = unit_vectors(4, seed=6)
    _, found = index.search(queries, 6, allowed_ids=allowed)
    _, expected = brute_force(vectors[5:40], allowed, queries, 6)
    np.testing.assert_array_equal(found, expected)


@pytest.mark.parametrize("kind", KINDS)
def test_allowed_ids_exclude_removed_and_unknown(kind: str) -> None:
    index, vectors = make_index(kind, count=50, hnsw_threshold=2)
    index.remove([30])
    _, ids = index.search(vectors[3], 5, allowed_ids=[30, 40, 777])
    assert ids[0].tolist() == [40, -1, -1, -1, -1]
    _, none_found = index.search(vectors[3], 5, allowed_ids=[])
    assert (none_found == -1).all()


@pytest.mark.parametrize("kind", KINDS)
def test_row_view_answers_in_rows_like_brute_force_over_those_rows(kind: str) -> None:
    # Rows are positions in the caller's own list; the list holds ids in another order, and
    # one id (row 0) the index does not hold.
    index, vectors = make_index(kind, count=300, hnsw_threshold=20)
    ids = np.arange(300) * 10
    order = np.random.default_rng(8).permutation(300)
    view = index.view(np.concatenate([[555_555], ids[order]]))
    rows = np.arange(0, 301, 3)  # row 0 (not held) included
    query = unit_vectors(1, seed=9)[0]

    found_rows, scores = view.search_rows(query, rows, 12)

    held = order[rows[rows > 0] - 1]  # positions in ``vectors`` of the rows the index holds
    expected_scores, expected_ids = brute_force(vectors[held], ids[held], query[None, :], 12)
    assert found_rows.dtype == np.int64 and scores.dtype == np.float32
    assert 0 not in found_rows and set(found_rows.tolist()) <= set(rows.tolist())
    found_ids = ids[order[found_rows - 1]]
    np.testing.assert_allclose(scores, vectors[order[found_rows - 1]] @ query, atol=1e-5)
    assert list(scores) == sorted(scores, reverse=True)
    if kind == "exact":
        np.testing.assert_array_equal(found_ids, expected_ids[0])
        np.testing.assert_allclose(scores, expected_scores[0], atol=1e-5)
    else:
        assert len(set(found_ids.tolist()) & set(expected_ids[0].tolist())) >= 11


@pytest.mark.parametrize("kind", KINDS)
def test_row_view_follows_changes_of_its_index(kind: str) -> None:
    """A view outlives index changes: removed ids disappear, re-added ones come back."""
    index, vectors = make_index(kind, count=50, hnsw_threshold=2)
    view = index.view(np.arange(50) * 10)
    rows = np.arange(50)
    assert view.search_rows(vectors[3], rows, 1)[0].tolist() == [3]
    index.remove([30])
    assert 3 not in view.search_rows(vectors[3], rows, 50)[0].tolist()
    index.add([30], vectors[3:4])
    assert view.search_rows(vectors[3], rows, 1)[0].tolist() == [3]
    assert view.search_rows(vectors[3], np.zeros(0, dtype=np.int64), 5)[0].size == 0


def test_hnsw_tombstones_until_rebuild_fraction() -> None:
    index, vectors = make_index("hnsw", count=100, rebuild_fraction=0.2)
    index.remove(np.arange(20) * 10)
    assert index.tombstone_count == 20
    assert len(index) == 80
    _, found = index.search(vectors[:20], 100)
    assert not set(found.ravel().tolist()) & set(range(0, 200, 10))
    # Tombstones are filtered inside the graph walk, so a query sitting on a removed vector still
    # gets k live results rather than k minus the dead ones.
    _, nearest = index.search(vectors[:20], 10)
    assert (nearest != -1).all()

    index.remove([200])  # 21 of 100 rows dead: past 20%, so the graph is rebuilt
    assert index.tombstone_count == 0
    assert len(index) == 79
    assert index.kind == "hnsw"
    assert top_ids(index, vectors[50])[0] == 500


def test_replacements_count_as_tombstones() -> None:
    index, _ = make_index("hnsw", count=100, rebuild_fraction=0.2)
    index.add(np.arange(25) * 10, unit_vectors(25, seed=11))
    # 25 dead rows out of 125 is exactly 20%: not yet rebuilt; one more replacement tips it.
    assert index.tombstone_count == 25
    index.add([990], unit_vectors(1, seed=12))
    assert index.tombstone_count == 0
    assert len(index) == 100


def test_auto_layout_follows_the_threshold() -> None:
    index, vectors = make_index("auto", count=40, hnsw_threshold=50)
    assert index.kind == "exact"
    index.add(np.arange(40, 60) * 10, unit_vectors(20, seed=13))
    assert index.kind == "hnsw"
    assert len(index) == 60
    assert top_ids(index, vectors[4])[0] == 40

    index.remove(np.arange(20) * 10)  # 20 of 60 rows dead: rebuilt with 40 live, below threshold
    assert index.kind == "exact"
    assert len(index) == 40
    assert top_ids(index, vectors[30])[0] == 300


def test_add_validates_input() -> None:
    index = VectorIndex(DIMENSION, encoder_name="fake")
    with pytest.raises(ValueError, match="normalised"):
        index.add([1], np.ones((1, DIMENSION), dtype=np.float32))
    with pytest.raises(ValueError, match="shape"):
        index.add([1, 2], unit_vectors(1))
    with pytest.raises(ValueError, match="unique"):
        index.add([1, 1], unit_vectors(2))
    with pytest.raises(ValueError, match="non-negative"):
        index.add([-1], unit_vectors(1))


@pytest.mark.parametrize("kind", KINDS)
def test_save_load_round_trip(kind: str, tmp_path: Path) -> None:
    index, vectors = make_index(kind, count=120)
    index.remove([10, 20])
    index.add([30], unit_vectors(1, seed=21))
    queries = unit_vectors(6, seed=22)
    before = index.search(queries, 10, allowed_ids=range(0, 1200, 20))
    unfiltered_before = index.search(queries, 10)

    index.save(tmp_path, fingerprint="sha256:abc")
    index.save(tmp_path, fingerprint="sha256:abc")  # a second save replaces the first
    loaded = VectorIndex.load(
        tmp_path, expected_encoder="fake", expected_dimension=DIMENSION, expected_fingerprint="sha256:abc"
    )

    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["encoder"] == "fake"
    assert manifest["dimension"] == DIMENSION
    assert manifest["count"] == 118
    assert manifest["kind"] == kind
    assert manifest["fingerprint"] == "sha256:abc"
    assert manifest["tombstones"]["count"] == (3 if kind == "hnsw" else 0)
    assert manifest["built_at"].endswith("+00:00")
    assert len(list(tmp_path.glob("index-*.faiss"))) == 1
    assert not list(tmp_path.glob("*.tmp"))

    assert loaded.kind == kind and len(loaded) == 118
    assert loaded.fingerprint == "sha256:abc"
    np.testing.assert_array_equal(loaded.ids(), index.ids())
    for expected, actual in zip(
        (*before, *unfiltered_before),
        (*loaded.search(queries, 10, allowed_ids=range(0, 1200, 20)), *loaded.search(queries, 10)),
        strict=True,
    ):
        np.testing.assert_array_equal(actual, expected)
    loaded.add([10], vectors[1:2])
    assert top_ids(loaded, vectors[1])[0] == 10


@pytest.fixture()
def saved_index(tmp_path: Path) -> Path:
    index, _ = make_index("exact", count=20)
    index.save(tmp_path, fingerprint="sha256:rows-v1")
    return tmp_path


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"expected_fingerprint": "sha256:rows-v2"}, "fingerprint"),
        ({"expected_encoder": "minilm"}, "encoder"),
        ({"expected_dimension": 384}, "dimension"),
    ],
)
def test_load_rejects_a_stale_index(saved_index: Path, options: dict[str, object], message: str) -> None:
    with pytest.raises(StaleIndexError, match=message):
        VectorIndex.load(saved_index, **options)  # type: ignore[arg-type]


def test_load_rejects_a_missing_manifest(tmp_path: Path) -> None:
    with pytest.raises(MissingIndexError):
        VectorIndex.load(tmp_path / "nowhere")


def _manifest(directory: Path) -> dict[str, object]:
    return json.loads((directory / "manifest.json").read_text())


def test_load_rejects_a_truncated_index_file(saved_index: Path) -> None:
    index_file = saved_index / str(_manifest(saved_index)["index_file"])
    index_file.write_bytes(index_file.read_bytes()[:100])
    with pytest.raises(CorruptIndexError, match="checksum"):
        VectorIndex.load(saved_index)


def test_load_rejects_a_file_faiss_cannot_read(saved_index: Path) -> None:
    # Even with a matching checksum (say, a bad file written by a buggy tool), faiss's own
    # reader failing must surface as a corrupt index.
    manifest = _manifest(saved_index)
    index_file = saved_index / str(manifest["index_file"])
    index_file.write_bytes(b"not a faiss index at all")
    manifest["index_sha256"] = hashlib.sha256(index_file.read_bytes()).hexdigest()
    (saved_index / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(CorruptIndexError, match="faiss"):
        VectorIndex.load(saved_index)


@pytest.mark.parametrize("content", ["{not json", "[]", '{"format_version": 1}'])
def test_load_rejects_an_unreadable_manifest(saved_index: Path, content: str) -> None:
    (saved_index / "manifest.json").write_text(content)
    with pytest.raises(CorruptIndexError):
        VectorIndex.load(saved_index)


@pytest.mark.parametrize(
    ("key", "value"), [("count", 21), ("faiss_ntotal", 19), ("mode", "bogus"), ("kind", "hnsw")]
)
def test_load_rejects_a_manifest_that_disagrees_with_the_index(
    saved_index: Path, key: str, value: object
) -> None:
    manifest = _manifest(saved_index)
    manifest[key] = value
    (saved_index / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(CorruptIndexError):
        VectorIndex.load(saved_index)


def test_load_errors_share_a_base_class() -> None:
    for error in (MissingIndexError, CorruptIndexError, StaleIndexError):
        assert issubclass(error, IndexLoadError)


def test_fingerprint_is_order_independent_and_content_sensitive() -> None:
    rows = [(1, "aa"), (2, "bb"), (3, "cc")]
    assert fingerprint_rows(rows) == fingerprint_rows(reversed(rows))
    assert fingerprint_rows(rows).startswith("sha256:")
    assert fingerprint_rows(rows) != fingerprint_rows([(1, "aa"), (2, "bb"), (3, "cd")])
    assert fingerprint_rows(rows) != fingerprint_rows(rows[:2])
    assert fingerprint_rows([]) != fingerprint_rows([(0, "")])


def test_vector_ids_are_stable_and_distinct() -> None:
    ids = [vector_id(f"offering-{n}") for n in range(1000)]
    assert len(set(ids)) == 1000
    assert all(0 <= value < 2**63 for value in ids)
    assert vector_id("offering-1") == vector_id("offering-1")
    assert np.int64(vector_id("x")) >= 0
