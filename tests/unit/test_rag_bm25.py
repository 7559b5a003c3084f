"""BM25 over chunk texts finds a planted document by its rare words; reciprocal-rank fusion scores by hand.

No model is needed: BM25 counts words.
"""
from __future__ import annotations

import pytest

from tunewise.rag.bm25 import BM25Index
from tunewise.rag.ranking import rrf

TOPICS = ["invoice", "password", "shipping", "login", "refund", "printer", "account", "delivery", "upgrade", "email"]
VERBS = ["is late", "does not work", "was charged twice", "needs a reset", "shows an error"]
DISTRACTORS = [f"My {TOPICS[i % 10]} {VERBS[i % 5]} since {i} days, please help with the {TOPICS[(i * 3) % 10]}."
               for i in range(30)]
PLANTED = "The flux capacitor needs plutonium calibration every fortnight, or the time circuits drift."


@pytest.fixture(scope="module")
def index() -> BM25Index:
    return BM25Index(DISTRACTORS[:17] + [PLANTED] + DISTRACTORS[17:])  # the planted text is index 17


def test_the_document_with_the_rare_words_ranks_first(index):
    (hits,) = index.search(["How often does the flux capacitor get its plutonium?"], k=5)
    assert hits[0][0] == 17
    assert hits[0][1] > 0 and all(score < hits[0][1] for _, score in hits[1:])


def test_results_are_best_first_and_leave_out_texts_without_a_shared_word(index):
    (hits,) = index.search(["refund printer"], k=31)
    scores = [score for _, score in hits]
    assert scores == sorted(scores, reverse=True) and min(scores) > 0
    matching = {i for i, text in enumerate(DISTRACTORS[:17] + [PLANTED] + DISTRACTORS[17:])
                if "refund" in text or "printer" in text}
    assert {i for i, _ in hits} == matching


def test_k_larger_than_the_corpus_is_clamped(index):
    (hits,) = index.search(["my invoice is late please help"], k=1000)
    assert 0 < len(hits) <= 31 and len({i for i, _ in hits}) == len(hits)


def test_a_query_of_unknown_words_or_stopwords_finds_nothing(index):
    assert index.search(["zyzzyva quokka", "the and of", ""], k=3) == [[], [], []]


def test_an_empty_corpus_is_refused():
    with pytest.raises(ValueError, match="at least one text"):
        BM25Index([])


# ---------------------------------------------------------------- reciprocal-rank fusion


def test_rrf_sums_one_over_k_plus_rank():
    fused = rrf([[3, 1, 2], [1, 4]], k=60)
    expected = {1: 1 / 62 + 1 / 61, 3: 1 / 61, 2: 1 / 63, 4: 1 / 62}
    assert [i for i, _ in fused] == [1, 3, 4, 2]
    assert all(score == pytest.approx(expected[i]) for i, score in fused)


def test_rrf_breaks_ties_by_the_lower_index():
    fused = rrf([[7, 2], [2, 7], [5]], k=1)
    assert fused == [(2, pytest.approx(1 / 2 + 1 / 3)), (7, pytest.approx(1 / 2 + 1 / 3)), (5, pytest.approx(1 / 2))]


def test_rrf_of_nothing_is_empty():
    assert rrf([]) == [] and rrf([[], []]) == []
