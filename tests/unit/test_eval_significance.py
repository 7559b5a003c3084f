"""Paired tests on constructed per-item scores: McNemar by hand, the paired bootstrap's interval and p-value."""
import pytest
from scipy.stats import binom

from tunewise.evaluate.significance import compare, mcnemar, paired_bootstrap


def test_mcnemar_is_the_exact_binomial_test_on_discordant_items():
    a = [1] * 10 + [1, 1, 1, 1, 1, 1, 1, 0] + [0] * 5
    b = [1] * 10 + [0, 0, 0, 0, 0, 0, 0, 1] + [0] * 5
    p, a_only, b_only = mcnemar(a, b)
    assert (a_only, b_only) == (7, 1)
    assert p == pytest.approx(2 * binom.cdf(1, 8, 0.5))  # 2 * P(X <= 1), X ~ Bin(8, 1/2) = 0.0703
    assert mcnemar([1, 0, 1], [1, 0, 1]) == (1.0, 0, 0)


def test_paired_bootstrap_separates_a_consistent_small_gain_that_unpaired_intervals_would_not():
    # B is right on 60 of 100 items; A on the same 60 plus 8 more: a gain on 8 items, never a loss.
    b = [1] * 60 + [0] * 40
    a = [1] * 68 + [0] * 32
    difference, low, high, p = paired_bootstrap(a, b, n_resamples=2000, seed=0)
    assert difference == pytest.approx(0.08)
    assert 0 < low <= 0.08 <= high
    assert p < 0.01
    same, *_, p_same = paired_bootstrap(b, b)
    assert same == 0 and p_same == 1.0


def test_noise_is_not_significant_and_lengths_must_match():
    a = [1, 0] * 50
    b = [0, 1] * 50
    difference, low, high, p = paired_bootstrap(a, b, seed=1)
    assert difference == 0 and low < 0 < high and p > 0.5
    with pytest.raises(ValueError, match="same items"):
        paired_bootstrap([1, 0], [1])


def test_compare_runs_mcnemar_only_on_yes_no_scores():
    binary = compare([1, 1, 0, 1], [0, 1, 0, 0])
    assert binary.p_mcnemar == pytest.approx(0.5) and (binary.a_only, binary.b_only) == (2, 0)
    graded = compare([0.5, 1.0, 0.2], [0.4, 0.9, 0.2])
    assert graded.p_mcnemar is None and graded.difference == pytest.approx(0.2 / 3)
