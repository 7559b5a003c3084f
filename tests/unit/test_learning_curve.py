"""The learning curve's statistical core: nested stratified subsets, the power-law fit, its bootstrap band, the
back-test and the verdict, on planted curves."""
from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest

from tunewise.evaluate.learning_curve import (
    back_test,
    fit_power_law,
    learning_curve,
    nested_subsets,
)

FRACTIONS = [0.1, 0.25, 0.5, 1.0]
SIZES = [50, 100, 200, 400, 800]


def planted_labels() -> list[str]:
    """230 examples, unbalanced, in an interleaved order: 150 a, 60 b, 17 c, 3 d."""
    counts = {"a": 150, "b": 60, "c": 17, "d": 3}
    labels = [label for label, k in counts.items() for _ in range(k)]
    return [labels[i] for i in np.random.default_rng(7).permutation(len(labels))]


def curve(a: float, b: float, c: float):
    return lambda n: a - b * np.asarray(n, dtype=float) ** (-c)


def runs_with_item_scores(truth, small_seeds: int = 2, n_items: int = 2000, flip: float = 0.03, seed: int = 0):
    """(sizes, rows): per-item 0/1 test scores of one run per (size, seed), with 2 seeds below the largest size.

    Item i is right when its difficulty u_i is below truth(n) (easy items stay right as n grows, as in real data),
    then each answer flips with probability `flip` (run-to-run noise)."""
    rng = np.random.default_rng(seed)
    difficulty = rng.random(n_items)
    sizes, rows = [], []
    for n in SIZES:
        for _ in range(small_seeds if n < max(SIZES) else 1):
            row = (difficulty < truth(n)).astype(float)
            flipped = rng.random(n_items) < flip
            row[flipped] = 1 - row[flipped]
            sizes.append(n)
            rows.append(row)
    return sizes, rows


# ---------------------------------------------------------------------------------------------- nested subsets


def test_subsets_are_nested_sized_and_cover_the_whole_set_at_one():
    labels = planted_labels()
    subsets = nested_subsets(labels, FRACTIONS, seed=0)
    assert [len(s) for s in subsets] == [23, 58, 115, 230]
    for smaller, larger in zip(subsets, subsets[1:]):
        assert set(smaller) < set(larger)
    assert subsets[-1] == list(range(len(labels)))
    assert all(s == sorted(s) and len(set(s)) == len(s) for s in subsets)


def test_subsets_keep_each_label_share_within_one_example_and_every_label_in_the_smallest():
    labels = planted_labels()
    full = Counter(labels)
    for seed in range(5):
        for subset in nested_subsets(labels, FRACTIONS, seed=seed):
            counts = Counter(labels[i] for i in subset)
            for label, total in full.items():
                assert abs(counts[label] - len(subset) * total / len(labels)) < 1, (seed, len(subset), label)
            assert set(counts) == set(full)  # d has 3 of 230, below one per 23-example subset's share, yet present


def test_a_subset_smaller_than_the_label_count_grows_to_one_example_per_label():
    labels = [f"label{k}" for k in range(8) for _ in range(10)]  # 80 examples, 8 labels; 5% would be 4 examples
    smallest = nested_subsets(labels, [0.05, 1.0], seed=0)[0]
    assert len(smallest) == 8
    assert {labels[i] for i in smallest} == set(labels)


def test_subsets_are_deterministic_under_a_seed_and_differ_across_seeds():
    labels = planted_labels()
    assert nested_subsets(labels, FRACTIONS, seed=3) == nested_subsets(labels, FRACTIONS, seed=3)
    assert nested_subsets(labels, FRACTIONS, seed=3)[0] != nested_subsets(labels, FRACTIONS, seed=4)[0]


def test_unlabelled_examples_are_split_without_strata():
    subsets = nested_subsets([None] * 100, [0.2, 0.5], seed=1)
    assert [len(s) for s in subsets] == [20, 50] and set(subsets[0]) < set(subsets[1])


@pytest.mark.parametrize("fractions, says", [
    ([], "no fractions"),
    ([0.0, 0.5], "in (0, 1]"),
    ([0.5, 1.2], "in (0, 1]"),
    ([0.5, 0.25], "strictly increasing"),
    ([0.5, 0.5], "strictly increasing"),
])
def test_bad_fractions_are_refused_with_a_reason(fractions, says):
    with pytest.raises(ValueError, match=says.replace("(", r"\(").replace(")", r"\)")):
        nested_subsets(["a", "b"] * 10, fractions, seed=0)


def test_no_examples_is_refused():
    with pytest.raises(ValueError, match="no train examples"):
        nested_subsets([], [0.5, 1.0], seed=0)


# ---------------------------------------------------------------------------------------------- power-law fit


@pytest.mark.parametrize("seed", range(5))
def test_power_law_fit_recovers_planted_parameters(seed):
    truth = curve(0.85, 2.0, 0.5)
    noise = np.random.default_rng(seed).normal(0, 0.001, len(SIZES))
    fit = fit_power_law(SIZES, truth(SIZES) + noise)
    assert fit.meaningful and fit.reason == ""
    assert fit.a == pytest.approx(0.85, abs=0.04)
    assert fit.c == pytest.approx(0.5, abs=0.12)
    assert fit.predict(1600) == pytest.approx(truth(1600), abs=0.005)
    assert fit.b > 0 and fit.rmse < 0.003


def test_the_asymptote_respects_its_bounds():
    truth = curve(0.98, 1.0, 0.3)  # an asymptote close to 1: the bound must hold it there
    fit = fit_power_law(SIZES, truth(SIZES), a_bounds=(0.0, 0.9))
    assert fit.meaningful and fit.a <= 0.9


@pytest.mark.parametrize("sizes, scores, status", [
    ([100, 200], [0.6, 0.7], "too_few_sizes"),
    ([100, 100, 200, 200], [0.6, 0.61, 0.7, 0.71], "too_few_sizes"),
    ([50, 100, 200, 400], [0.7, 0.7, 0.7, 0.7], "not_rising"),
    ([50, 100, 200, 400], [0.8, 0.75, 0.7, 0.65], "not_rising"),
])
def test_degenerate_curves_are_not_meaningful_rather_than_errors(sizes, scores, status):
    fit = fit_power_law(sizes, scores)
    assert fit.status == status and not fit.meaningful and fit.reason
    assert math.isnan(fit.predict(1000))


def test_bad_fit_inputs_are_refused_with_a_reason():
    with pytest.raises(ValueError, match="same length"):
        fit_power_law([1, 2, 3], [0.1, 0.2])
    with pytest.raises(ValueError, match="sizes must be >= 1"):
        fit_power_law([0, 2, 3], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="a_bounds"):
        fit_power_law([1, 2, 3], [0.1, 0.2, 0.3], a_bounds=(1.0, 0.0))


# ---------------------------------------------------------------------------------------------- back-test


def test_back_test_on_a_planted_curve_is_close():
    truth = curve(0.85, 2.0, 0.5)
    result = back_test(SIZES, truth(SIZES))
    assert result.size == 800 and result.fit.meaningful
    assert abs(result.error) < 0.002
    assert result.error == pytest.approx(result.predicted - result.observed)


def test_back_test_on_a_noisy_curve_reports_its_error():
    truth = curve(0.85, 2.0, 0.5)
    scores = truth(SIZES) + np.array([0.0, 0.02, -0.02, 0.02, -0.03])  # a bumpy curve, last point low
    result = back_test(SIZES, scores)
    assert result.fit.meaningful
    assert abs(result.error) > 0.02  # missed by more than 2 points, and it says so
    assert result.observed == pytest.approx(scores[-1])


def test_back_test_needs_three_smaller_sizes():
    result = back_test([100, 200, 400], [0.6, 0.7, 0.75])
    assert result.fit.status == "too_few_sizes" and math.isnan(result.error)


# ---------------------------------------------------------------------------------------------- curve and verdict


def test_steep_planted_curve_says_more_data_looks_worth_it():
    truth = curve(0.9, 3.0, 0.5)  # 79.4 at 800, 82.5 at 1600: +3.1 points
    sizes, rows = runs_with_item_scores(truth)
    result = learning_curve(sizes, rows, n_resamples=200, seed=0)
    assert result.fit.meaningful and result.full_size == 800 and result.failed_resamples == 0
    assert result.predicted_2x == pytest.approx(truth(1600), abs=0.02)
    assert result.band_2x[0] < result.predicted_2x < result.band_2x[1]
    assert result.gain_band[0] > 0
    assert result.verdict.startswith("more data looks worth it: +")
    assert "95% band" in result.verdict and "at 2x the data" in result.verdict


def test_flat_curve_says_more_data_is_unlikely_to_help():
    sizes, rows = runs_with_item_scores(lambda n: 0.7 + 0.002 * np.log(n))  # +0.1 points per doubling
    result = learning_curve(sizes, rows, n_resamples=200, seed=0)
    assert result.verdict.startswith("more data is unlikely to help much")
    assert result.gain_band[1] < 0.01


def test_curve_that_does_not_rise_says_unlikely_without_a_fit():
    sizes, rows = runs_with_item_scores(lambda n: 0.8 - 0.01 * np.log(n))
    result = learning_curve(sizes, rows, n_resamples=50, seed=0)
    assert result.fit.status == "not_rising" and math.isnan(result.predicted_2x)
    assert result.verdict.startswith("more data is unlikely to help much: the metric did not rise")


def test_too_few_sizes_say_so():
    rows = np.ones((2, 50))
    result = learning_curve([100, 200], rows, n_resamples=50)
    assert result.verdict.startswith("too few sizes to say")


def test_noisy_curve_says_too_noisy():
    truth = curve(0.85, 2.0, 0.5)
    sizes, rows = runs_with_item_scores(truth, n_items=150, flip=0.25, seed=1)  # small, noisy test set
    result = learning_curve(sizes, rows, n_resamples=200, seed=0)
    assert result.verdict.startswith("the curve is too noisy to say")
    assert not math.isnan(result.backtest.error)


def test_the_curve_is_deterministic_under_a_seed():
    sizes, rows = runs_with_item_scores(curve(0.9, 3.0, 0.5))
    first = learning_curve(sizes, rows, n_resamples=50, seed=5)
    assert first == learning_curve(sizes, rows, n_resamples=50, seed=5)
    assert first.band_2x != learning_curve(sizes, rows, n_resamples=50, seed=6).band_2x
