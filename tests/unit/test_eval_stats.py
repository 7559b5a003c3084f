"""Bootstrap intervals: nominal coverage on synthetic data, and the fast paths equal the generic loop."""
from __future__ import annotations

import numpy as np
import pytest

from tunewise.evaluate.scorers import accuracy, bleu, chrf, macro_f1, token_f1
from tunewise.evaluate.stats import (
    bootstrap_ci,
    bootstrap_corpus_ci,
    bootstrap_macro_f1_ci,
    bootstrap_mean_ci,
    metrics_with_ci,
)


def test_interval_covers_the_true_mean_at_about_the_nominal_rate():
    rng = np.random.default_rng(123)
    p, n, repetitions = 0.7, 120, 200
    covered = 0
    for rep in range(repetitions):
        sample = (rng.random(n) < p).astype(float)
        low, high = bootstrap_mean_ci(sample, n_resamples=500, confidence=0.95, seed=rep)
        covered += low <= p <= high
    assert 0.90 <= covered / repetitions <= 0.99


def test_vectorised_mean_equals_generic_loop():
    rng = np.random.default_rng(0)
    refs = list(rng.choice(["a", "b", "c"], size=60))
    preds = [r if rng.random() < 0.6 else "b" for r in refs]
    generic = bootstrap_ci(accuracy, preds, refs, n_resamples=300, seed=4)
    fast = bootstrap_mean_ci([float(p == r) for p, r in zip(preds, refs)], n_resamples=300, seed=4)
    assert fast == pytest.approx(generic, abs=1e-12)


def test_vectorised_macro_f1_equals_generic_loop():
    rng = np.random.default_rng(1)
    labels = ["a", "b", "c", "d"]
    refs = list(rng.choice(labels[:3], size=50))
    preds = [r if rng.random() < 0.5 else str(rng.choice(labels + ["not a label"])) for r in refs]
    generic = bootstrap_ci(lambda p, r: macro_f1(p, r, labels), preds, refs, n_resamples=200, seed=7)
    fast = bootstrap_macro_f1_ci(preds, refs, labels, n_resamples=200, seed=7)
    assert fast == pytest.approx(generic, abs=1e-12)


@pytest.mark.parametrize("name, metric", [("bleu", bleu), ("chrf", chrf)])
def test_corpus_metrics_from_summed_statistics_equal_the_generic_loop(name, metric):
    rng = np.random.default_rng(2)
    words = "the order ships today refund your parcel is late we are sorry".split()
    refs = [" ".join(rng.choice(words, size=int(rng.integers(3, 12)))) for _ in range(40)]
    preds = [" ".join(r.split()[: int(rng.integers(1, 12))] + list(rng.choice(words, size=2))) for r in refs]
    generic = bootstrap_ci(metric, preds, refs, n_resamples=100, seed=3)
    fast = bootstrap_corpus_ci(name, preds, refs, n_resamples=100, seed=3)
    assert fast == pytest.approx(generic, abs=1e-9)


def test_metrics_with_ci_brackets_the_value():
    refs = ["x y z"] * 20 + ["a b"] * 20
    preds = ["x y"] * 20 + ["a b"] * 10 + ["q"] * 10
    result = metrics_with_ci("generation", None, preds, refs, n_resamples=400, seed=0)
    assert set(result) == {"exact_match", "token_f1", "contains", "bleu", "chrf", "rouge1", "rouge2", "rougeL"}
    value = result["token_f1"]
    assert value["value"] == pytest.approx(token_f1(preds, refs))
    assert value["ci_low"] < value["value"] < value["ci_high"]
    cls = metrics_with_ci("classification", ["a", "b"], ["a", "b"] * 10, ["a"] * 20)
    assert cls["accuracy"]["value"] == 0.5 and cls["accuracy"]["ci_low"] < 0.5 < cls["accuracy"]["ci_high"]


def test_same_seed_same_interval_and_wider_at_higher_confidence():
    scores = np.random.default_rng(5).random(80)
    assert bootstrap_mean_ci(scores, seed=3) == bootstrap_mean_ci(scores, seed=3)
    low90, high90 = bootstrap_mean_ci(scores, confidence=0.90)
    low99, high99 = bootstrap_mean_ci(scores, confidence=0.99)
    assert low99 < low90 and high90 < high99
