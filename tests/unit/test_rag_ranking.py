"""Top-k selection, exact dense search over unit vectors (numpy, and faiss when installed) and recall@k.

Random unit vectors stand in for embeddings: search is compared with a full sort of every score.
"""
from __future__ import annotations

import numpy as np
import pytest

from tunewise.rag import dense
from tunewise.rag.dense import DenseIndex
from tunewise.rag.metrics import hits_at_k, recall_at_k
from tunewise.rag.ranking import top_k


def unit_rows(n: int, dims: int, seed: int) -> np.ndarray:
    rows = np.random.default_rng(seed).standard_normal((n, dims)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_top_k_is_best_first_with_ties_in_index_order():
    scores = np.array([0.5, 0.9, 0.5, 0.1, 0.9, 0.5])
    assert top_k(scores, 4) == [(1, 0.9), (4, 0.9), (0, 0.5), (2, 0.5)]
    assert [i for i, _ in top_k(scores, 100)] == [1, 4, 0, 2, 5, 3]  # k clamped to the six scores


def test_top_k_refuses_k_below_one():
    with pytest.raises(ValueError, match="k must be at least 1"):
        top_k(np.ones(3), 0)


@pytest.mark.parametrize("k", [1, 7, 200, 500])
def test_dense_search_equals_a_full_sort_of_cosines(k):
    embeddings, queries = unit_rows(200, 16, seed=0), unit_rows(5, 16, seed=1)
    results = DenseIndex(embeddings).search(queries, k)
    cosines = queries @ embeddings.T
    for row, found in zip(cosines, results):
        expected = np.argsort(-row, kind="stable")[: min(k, 200)]
        assert [i for i, _ in found] == expected.tolist()
        assert [s for _, s in found] == pytest.approx(row[expected].tolist(), abs=1e-6)


def test_dense_search_checks_shapes_and_k():
    index = DenseIndex(unit_rows(4, 8, seed=0))
    with pytest.raises(ValueError, match=r"shape \(n, 8\)"):
        index.search(unit_rows(1, 6, seed=1), 2)
    with pytest.raises(ValueError, match="k must be at least 1"):
        index.search(unit_rows(1, 8, seed=1), 0)
    with pytest.raises(ValueError, match="non-empty"):
        DenseIndex(np.zeros((0, 8), dtype=np.float32))


def test_faiss_gives_the_numpy_results(monkeypatch):
    pytest.importorskip("faiss")
    embeddings, queries = unit_rows(300, 16, seed=0), unit_rows(4, 16, seed=1)
    expected = DenseIndex(embeddings).search(queries, 10)
    monkeypatch.setattr(dense, "FAISS_MIN_ROWS", 100)
    index = DenseIndex(embeddings)
    assert index.faiss_index is not None
    found = index.search(queries, 10)
    assert [[i for i, _ in row] for row in found] == [[i for i, _ in row] for row in expected]


# ---------------------------------------------------------------- recall@k


RETRIEVED = [["a", "b", "c"], ["x", "y", "a"], ["b", "b", "z"], ["q"]]
GOLD = [["a"], ["a", "w"], ["c"], []]


def test_hits_at_k_per_question_and_none_without_gold():
    assert hits_at_k(RETRIEVED, GOLD, k=1) == [True, False, False, None]
    assert hits_at_k(RETRIEVED, GOLD, k=3) == [True, True, False, None]


def test_recall_at_k_counts_only_questions_with_gold_ids():
    assert recall_at_k(RETRIEVED, GOLD, k=1) == pytest.approx(1 / 3)
    assert recall_at_k(RETRIEVED, GOLD, k=3) == pytest.approx(2 / 3)
    assert recall_at_k([["a"], ["b"]], [[], []], k=5) is None


def test_recall_needs_one_gold_list_per_question():
    with pytest.raises(ValueError, match="one gold list per question"):
        recall_at_k([["a"]], [["a"], ["b"]], k=1)
