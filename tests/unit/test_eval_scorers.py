"""Metrics against values worked out by hand."""
from __future__ import annotations

import pytest

from tunewise.evaluate.scorers import (
    accuracy,
    compute_metrics,
    exact_match,
    macro_f1,
    normalize_answer,
    token_f1,
    token_f1_one,
)


def test_accuracy():
    assert accuracy(["a", "b", "b", "c"], ["a", "b", "c", "c"]) == 0.75
    assert accuracy([], []) == 0.0


def test_macro_f1_by_hand():
    refs = ["a", "a", "b", "b", "c"]
    preds = ["a", "b", "b", "b", "a"]
    # a: TP1 FP1 FN1 -> F1 1/2; b: TP2 FP1 FN0 -> 4/5; c: TP0 -> 0
    assert macro_f1(preds, refs, labels=["a", "b", "c"]) == pytest.approx((0.5 + 0.8 + 0.0) / 3)
    # An extra label in the task's set that never occurs adds a zero to the mean.
    assert macro_f1(preds, refs, labels=["a", "b", "c", "d"]) == pytest.approx((0.5 + 0.8) / 4)


def test_normalisation():
    assert normalize_answer("  The  Eiffel-Tower, in PARIS! ") == "eiffeltower in paris"
    assert normalize_answer("an apple a day") == "apple day"


def test_exact_match_and_token_f1_by_hand():
    assert exact_match(["The cat.", "dog"], ["cat", "a cat"]) == 0.5
    # pred {big, red, dog} vs ref {red, dog, barks}: 2 shared -> P 2/3, R 2/3, F1 2/3
    assert token_f1_one("a big red dog", "the red dog barks") == pytest.approx(2 / 3)
    assert token_f1_one("", "") == 1.0
    assert token_f1_one("the", "cat") == 0.0  # "the" normalises to nothing
    assert token_f1(["a big red dog", "cat"], ["the red dog barks", "cat"]) == pytest.approx((2 / 3 + 1) / 2)


def test_repeated_tokens_count_once_per_occurrence():
    # pred [x, x, y], ref [x, y, y]: shared min-counts x1 + y1 = 2 -> P 2/3, R 2/3
    assert token_f1_one("x x y", "x y y") == pytest.approx(2 / 3)


def test_compute_metrics_per_task_type():
    cls = compute_metrics("classification", ["a", "b"], ["a", "b", "a"], ["a", "b", "b"])
    assert set(cls) == {"accuracy", "macro_f1"}
    assert cls["accuracy"] == pytest.approx(2 / 3)
    # a: TP1 FP1 FN0 -> 2/3; b: TP1 FP0 FN1 -> 2/3
    assert cls["macro_f1"] == pytest.approx(2 / 3)
    gen = compute_metrics("generation", None, ["Paris"], ["paris."])
    assert {k: gen[k] for k in ("exact_match", "token_f1", "contains")} == {
        "exact_match": 1.0, "token_f1": 1.0, "contains": 1.0}
    assert set(gen) == {"exact_match", "token_f1", "contains", "bleu", "chrf", "rouge1", "rouge2", "rougeL"}
    with pytest.raises(ValueError, match="task type"):
        compute_metrics("ranking", None, [], [])


def test_length_mismatch_is_an_error():
    with pytest.raises(ValueError, match="one per test item"):
        accuracy(["a"], ["a", "b"])


def test_contains_by_hand():
    from tunewise.evaluate.scorers import contains, contains_one

    assert contains_one("The lamp keeps 12% of its output.", "12 %")  # normalised: '12' in the sentence
    assert contains_one("Open Me > Devices > Erase garden, then confirm", "Me > Devices > Erase garden")
    assert not contains_one("It keeps 125 lumens", "12")  # whole words only
    assert not contains_one("anything", "")  # an empty reference is never contained
    assert contains(["The answer is amber light", "blue", "no idea"], ["amber", "Blue", "red"]) == pytest.approx(2 / 3)


def test_rouge_by_hand():
    from tunewise.evaluate.scorers import rouge1, rouge2, rougeL

    # 'the cat sat' vs 'the cat': unigrams P 2/3, R 1 -> F 0.8; bigrams P 1/2, R 1 -> F 2/3; LCS 2 -> 0.8.
    assert rouge1(["the cat sat"], ["the cat"]) == pytest.approx(0.8)
    assert rouge2(["the cat sat"], ["the cat"]) == pytest.approx(2 / 3)
    assert rougeL(["the cat sat"], ["the cat"]) == pytest.approx(0.8)
    # Order matters for L, not for 1: LCS of 'cat the' and 'the cat' is 1 word.
    assert rouge1(["cat the"], ["the cat"]) == pytest.approx(1.0)
    assert rougeL(["cat the"], ["the cat"]) == pytest.approx(0.5)


def test_bleu_and_chrf_match_sacrebleu_and_hand_values():
    import sacrebleu

    from tunewise.evaluate.scorers import bleu, chrf

    refs = ["The dog bit the man.", "It was not unexpected.", "The man bit him first."]
    hyps = ["The dog bit the man.", "It wasn't surprising.", "The man had just bitten him."]
    assert bleu(hyps, refs) == pytest.approx(sacrebleu.corpus_bleu(hyps, [refs]).score / 100)
    assert bleu(refs, refs) == pytest.approx(1.0) and chrf(refs, refs) == pytest.approx(1.0)
    # One 4-word hypothesis sharing no word with its reference: every n-gram precision is 0.
    assert bleu(["alpha beta gamma delta"], ["one two three four"]) == 0.0
    assert 0 < chrf(hyps, refs) < 1


def test_per_class_and_confusion_by_hand():
    from tunewise.evaluate.scorers import confusion, per_class

    refs = ["a", "a", "a", "b", "b", "c"]
    preds = ["a", "a", "b", "b", "a", ""]  # '' (no answer) is outside the labels
    classes = per_class(preds, refs, ["a", "b", "c"])
    assert classes["a"] == {"precision": 2 / 3, "recall": 2 / 3, "f1": pytest.approx(2 / 3), "support": 3}
    assert classes["b"]["precision"] == 0.5 and classes["b"]["recall"] == 0.5
    assert classes["c"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    assert confusion(preds, refs, ["a", "b", "c"]) == [[2, 1, 0], [1, 1, 0], [0, 0, 0]]
