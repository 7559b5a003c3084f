"""Paired tests between two rungs scored on the same test items: paired bootstrap and McNemar's exact test.

Both use the per-item scores of the two rungs on the same items, so item difficulty cancels out: a paired test
can tell two rungs apart when their separate confidence intervals overlap.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np
from scipy.stats import binomtest

from tunewise.evaluate.stats import percentile_interval, resample_indices


@dataclass
class PairedComparison:
    """Rung A against rung B on the same items."""

    difference: float  # mean(A) - mean(B)
    ci_low: float  # percentile bootstrap interval of the difference
    ci_high: float
    p_bootstrap: float  # two-sided p-value of the paired bootstrap (no difference as the null)
    p_mcnemar: float | None  # exact McNemar p-value when both score items 0/1, else None
    a_only: int | None  # items A gets right and B wrong (0/1 scores)
    b_only: int | None

    def to_dict(self) -> dict:
        return asdict(self)


def paired_bootstrap(
    a: Sequence[float], b: Sequence[float], n_resamples: int = 1000, confidence: float = 0.95, seed: int = 0
) -> tuple[float, float, float, float]:
    """(mean difference a - b, CI low, CI high, two-sided p) from resampling items with both scores together.

    The p-value is twice the share of resampled differences on the far side of zero (at most 1), the usual
    percentile-bootstrap test; with fewer than `n_resamples` on that side its resolution is 1 / n_resamples.
    """
    if len(a) != len(b):
        raise ValueError(f"paired scores need the same items: {len(a)} against {len(b)}")
    if not len(a):
        return float("nan"), float("nan"), float("nan"), float("nan")
    diff = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    means = diff[resample_indices(len(diff), n_resamples, seed)].mean(axis=1)  # (R,)
    low, high = percentile_interval(means, confidence)
    observed = float(diff.mean())
    if observed == 0 and np.all(diff == 0):
        return 0.0, 0.0, 0.0, 1.0
    far_side = np.mean(means <= 0) if observed > 0 else np.mean(means >= 0)
    return observed, low, high, float(min(1.0, 2 * far_side))


def mcnemar(a_right: Sequence[bool], b_right: Sequence[bool]) -> tuple[float, int, int]:
    """(exact two-sided p-value, items only A gets right, items only B gets right): a binomial test on the
    discordant items, as McNemar's test is for small counts."""
    a_only = sum(bool(x) and not bool(y) for x, y in zip(a_right, b_right))
    b_only = sum(bool(y) and not bool(x) for x, y in zip(a_right, b_right))
    if a_only + b_only == 0:
        return 1.0, 0, 0
    return float(binomtest(a_only, a_only + b_only, 0.5).pvalue), a_only, b_only


def compare(a: Sequence[float], b: Sequence[float], n_resamples: int = 1000, confidence: float = 0.95,
            seed: int = 0) -> PairedComparison:
    """Both tests on per-item scores (McNemar only when every score is 0 or 1)."""
    difference, low, high, p = paired_bootstrap(a, b, n_resamples, confidence, seed)
    binary = all(x in (0, 1) for x in (*a, *b))
    p_mcnemar, a_only, b_only = mcnemar(a, b) if binary else (None, None, None)
    return PairedComparison(difference, low, high, p, p_mcnemar, a_only, b_only)


def p_value(comparison: Mapping) -> float:
    """A comparison's p-value (a PairedComparison's dict): McNemar's exact test when both rungs score items 0/1,
    else the paired bootstrap."""
    return comparison["p_mcnemar"] if comparison.get("p_mcnemar") is not None else comparison["p_bootstrap"]
