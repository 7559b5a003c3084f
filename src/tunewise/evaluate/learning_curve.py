"""Learning curves: nested stratified train subsets, a power-law fit of metric against train size, a bootstrap band
for the metric at twice the data, a back-test, and a verdict in plain words on whether more data looks worth it.

Pure numpy + scipy: the caller trains and scores a rung on each subset and hands the per-item scores here.
Metrics are higher-is-better and on tunewise's usual [0, 1] scale; "points" are metric x 100, as in the report.
"""
from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy.optimize import OptimizeWarning, curve_fit

from tunewise.evaluate.stats import percentile_interval, resample_indices

FitStatus = Literal["ok", "too_few_sizes", "not_rising", "fit_failed"]

MIN_SIZES = 3  # three parameters (a, b, c) need at least three different train sizes
C_BOUNDS = (0.01, 3.0)  # exponents seen on real learning curves sit well inside this
_C_GRID = np.geomspace(0.02, 2.5, 40)  # profiled for starting values: for a fixed c the fit is linear in (a, b)


# ---------------------------------------------------------------------------------------------- nested subsets


def nested_subsets(labels: Sequence[str | None], fractions: Sequence[float], seed: int) -> list[list[int]]:
    """Train indices (ascending) for each fraction; each subset contains the previous one.

    `labels` has one entry per train example (None where an example has no label: all None means no
    stratification; some None makes "no label" a group of its own). A subset of fraction f holds round(f * n)
    examples (at least 1), and each label's count is within one example of its share of that size. Every label is
    in every subset, the smallest included: when a fraction leaves fewer places than there are labels, that subset
    grows until each label has one example (so it holds more than the fraction asks; `len()` tells). Which examples
    are drawn is decided by `seed` alone: the same labels, fractions and seed give the same subsets, another seed
    other subsets (for repeating the small sizes with several seeds).
    """
    _check_fractions(fractions)
    if len(labels) == 0:
        raise ValueError("nested_subsets: no train examples (labels is empty); a learning curve needs a train split.")
    keys = sorted(set(labels), key=lambda label: (label is None, label or ""))
    rng = np.random.default_rng(seed)
    orders = [rng.permutation([i for i, label in enumerate(labels) if label == key]) for key in keys]
    group_sizes = np.array([len(order) for order in orders])
    tiebreak = rng.random(len(keys))  # which groups take the odd example when remainders tie
    counts = np.zeros(len(keys), dtype=int)
    subsets = []
    for fraction in fractions:
        target = max(1, math.floor(fraction * len(labels) + 0.5))
        counts = _stratified_counts(group_sizes, target, counts, tiebreak)
        subsets.append(sorted(int(i) for order, k in zip(orders, counts) for i in order[:k]))
    return subsets


def _check_fractions(fractions: Sequence[float]) -> None:
    if len(fractions) == 0:
        raise ValueError("nested_subsets: no fractions given; pass e.g. [0.1, 0.25, 0.5, 1.0].")
    bad = [f for f in fractions if not 0 < f <= 1]  # NaN fails too
    if bad:
        raise ValueError(f"nested_subsets: fractions must be in (0, 1] (a share of train); got {bad} in "
                         f"{list(fractions)}.")
    if any(later <= earlier for earlier, later in zip(fractions, fractions[1:])):
        raise ValueError(f"nested_subsets: fractions must be strictly increasing, e.g. [0.1, 0.25, 0.5, 1.0]; "
                         f"got {list(fractions)}.")


def _stratified_counts(group_sizes: np.ndarray, target: int, previous: np.ndarray, tiebreak: np.ndarray) -> np.ndarray:
    """Per-group counts summing to the subset size: each between floor and ceil of its share, at least 1, and never
    below the previous subset's count (nesting). The size grows past `target` only when those floors need it."""
    n = int(group_sizes.sum())
    size = max(target, int(previous.sum()))
    while True:  # at most a few rounds: each one raises `size` to what the floors need
        share = size * group_sizes  # exact integers; a group's quota is share / n
        low = np.maximum.reduce([share // n, np.ones_like(group_sizes), previous])
        if low.sum() <= size:
            break
        size = int(low.sum())
    high = np.maximum(-(-share // n), low)  # ceil of the quota
    extra = size - int(low.sum())
    can_take = np.flatnonzero(high > low)
    ranked = can_take[np.lexsort((tiebreak[can_take], -(share % n)[can_take]))]  # largest remainder first
    counts = low.copy()
    counts[ranked[:extra]] += 1
    return counts


# ---------------------------------------------------------------------------------------------- power-law fit


@dataclass(frozen=True)
class PowerLawFit:
    """metric(n) = a - b * n^(-c): `a` the asymptote, b > 0, c > 0. Only meaningful when status is "ok"; otherwise
    a, b, c are NaN, `reason` says why in plain words and `predict` returns NaN."""

    status: FitStatus
    reason: str
    a: float
    b: float
    c: float
    rmse: float  # unweighted root-mean-square residual of the fitted points (NaN unless ok)

    @property
    def meaningful(self) -> bool:
        """Whether the fit can be read (and extrapolated)."""
        return self.status == "ok"

    def predict(self, n: float | np.ndarray) -> float | np.ndarray:
        """The fitted metric at train size(s) n (NaN when the fit is not meaningful)."""
        values = self.a - self.b * np.asarray(n, dtype=float) ** (-self.c)
        return float(values) if np.ndim(values) == 0 else values


def fit_power_law(
    sizes: Sequence[float],
    scores: Sequence[float],
    sigma: Sequence[float] | None = None,
    a_bounds: tuple[float, float] = (0.0, 1.0),
    start: tuple[float, float, float] | None = None,
) -> PowerLawFit:
    """Weighted least-squares fit of metric(n) = a - b * n^(-c) (scipy's curve_fit, bounded).

    One point per run: sizes may repeat (several seeds at one size). Weighting: each point's sigma is
    1 / sqrt(n / max n) unless `sigma` (per-point standard errors) is given, so a point at 4x the size counts 4x
    in the squared error. The large sizes are the ones the 2x extrapolation leans on, and the smallest sizes are
    where real curves bend away from a power law. `a_bounds` bounds the asymptote: (0, 1) suits every tunewise
    metric (BLEU and chrF are on [0, 1] here too); widen it for a metric on another scale. Starting values come
    from profiling c over a grid (for fixed c the fit is linear in a and b), or from `start`.

    Not meaningful (status, reason) instead of an exception: fewer than 3 different sizes; a curve that does not
    rise (weighted slope of metric against log n <= 0: a power law with b > 0 cannot describe it); no convergence.
    """
    n, y = np.asarray(sizes, dtype=float), np.asarray(scores, dtype=float)
    if n.shape != y.shape or n.ndim != 1:
        raise ValueError(f"fit_power_law: sizes and scores must be two lists of the same length; got {n.shape} and "
                         f"{y.shape}.")
    if not (np.all(np.isfinite(n)) and np.all(n >= 1) and np.all(np.isfinite(y))):
        raise ValueError("fit_power_law: sizes must be >= 1 and scores finite numbers; got "
                         f"sizes {n.tolist()}, scores {y.tolist()}.")
    if a_bounds[0] >= a_bounds[1]:
        raise ValueError(f"fit_power_law: a_bounds must be (low, high) with low < high; got {a_bounds}.")
    s = np.sqrt(n.max() / n) if sigma is None else np.asarray(sigma, dtype=float)
    if s.shape != n.shape or not np.all(s > 0):
        raise ValueError(f"fit_power_law: sigma needs one positive standard error per point; got {s.tolist()}.")
    distinct = len(np.unique(n))
    if distinct < MIN_SIZES:
        return _not_meaningful("too_few_sizes", f"a curve needs at least {MIN_SIZES} different train sizes "
                                                f"(got {distinct})")
    slope = np.polyfit(np.log(n), y, 1, w=1 / s)[0]
    if slope <= 0:
        return _not_meaningful("not_rising", "the metric does not rise with the train size")
    p0 = _starting_values(n, y, s, a_bounds) if start is None else start
    lower, upper = [a_bounds[0], 0.0, C_BOUNDS[0]], [a_bounds[1], np.inf, C_BOUNDS[1]]
    p0 = np.clip(p0, np.array(lower) + 1e-9, np.array(upper) - 1e-9)
    try:
        with warnings.catch_warnings():  # a covariance that cannot be estimated (3 points) is not our concern
            warnings.simplefilter("ignore", OptimizeWarning)
            (a, b, c), _ = curve_fit(_power_law, n, y, p0=p0, sigma=s, bounds=(lower, upper), maxfev=5000)
    except (RuntimeError, ValueError) as err:
        return _not_meaningful("fit_failed", f"the power law could not be fitted ({err})")
    rmse = float(np.sqrt(np.mean((_power_law(n, a, b, c) - y) ** 2)))
    return PowerLawFit("ok", "", float(a), float(b), float(c), rmse)


def _power_law(n: np.ndarray, a: float, b: float, c: float) -> np.ndarray:
    return a - b * n ** (-c)


def _not_meaningful(status: FitStatus, reason: str) -> PowerLawFit:
    return PowerLawFit(status, reason, math.nan, math.nan, math.nan, math.nan)


def _starting_values(n: np.ndarray, y: np.ndarray, s: np.ndarray, a_bounds: tuple[float, float]) -> np.ndarray:
    """(a, b, c) with the smallest weighted error over a grid of c, solving for (a, b) by least squares at each;
    a fallback guess when no grid point gives b > 0 with a inside its bounds."""
    best, best_error = None, np.inf
    for c in _C_GRID:
        design = np.column_stack([np.ones_like(n), -(n ** -c)]) / s[:, None]  # (points, 2), weighted rows
        (a, b), *_ = np.linalg.lstsq(design, y / s, rcond=None)
        if b <= 0 or not a_bounds[0] <= a <= a_bounds[1]:
            continue
        error = float(np.sum(((a - b * n ** -c - y) / s) ** 2))
        if error < best_error:
            best, best_error = np.array([a, b, c]), error
    if best is not None:
        return best
    a = float(np.clip(y.max() + 0.01, *a_bounds))
    return np.array([a, max(a - y.min(), 1e-3) * math.sqrt(n.min()), 0.5])


# ---------------------------------------------------------------------------------------------- the whole curve


@dataclass(frozen=True)
class BackTest:
    """The curve fitted on every size but the largest, asked for the largest: error = predicted - observed
    (NaN, with fit.reason, when the smaller sizes cannot carry a fit)."""

    size: int
    predicted: float
    observed: float
    error: float
    fit: PowerLawFit


@dataclass(frozen=True)
class LearningCurve:
    """Everything the report shows about one learning curve. Metric values on the metric's scale ([0, 1])."""

    fit: PowerLawFit
    full_size: int  # the largest train size measured (the whole train split)
    current: float  # the observed metric at full_size (mean over its runs)
    predicted_2x: float  # the fit's metric at 2 * full_size
    band_2x: tuple[float, float]  # bootstrap band of predicted_2x
    gain_band: tuple[float, float]  # bootstrap band of predicted_2x - current (paired: same resamples)
    confidence: float
    failed_resamples: int  # bootstrap resamples whose fit did not converge (left out of the bands)
    backtest: BackTest
    verdict: str


def learning_curve(
    sizes: Sequence[int],
    item_scores: Sequence[Sequence[float]],
    a_bounds: tuple[float, float] = (0.0, 1.0),
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    min_gain_points: float = 1.0,
) -> LearningCurve:
    """Fit, 2x prediction with a band, back-test and verdict from one run per row.

    `sizes[i]` is run i's train size and `item_scores[i]` its per-item scores on the test split (1/0 for accuracy,
    or token F1 etc.: any metric that is a mean over items), every row over the same test items in the same order.
    Runs sharing a size are its seed repeats. A run's score is the mean of its row.

    Band: a paired bootstrap, two levels. Each resample draws test items with replacement (the same draw for every
    run, as in stats.py, so the test set's luck is shared along the curve the way it is in the real data) and, at
    each size, that size's runs with replacement (seed noise, where there are several seeds); then it refits and
    reads the metric at 2x. A resample whose curve does not rise predicts no gain (2x = its current value); one
    whose fit fails is left out and counted. Percentile interval at `confidence`, seeded by `seed`.
    """
    n = np.asarray(sizes, dtype=int)
    scores = np.asarray(item_scores, dtype=float)  # (runs, items)
    if scores.ndim != 2 or len(n) != len(scores) or scores.shape[1] == 0:
        raise ValueError(f"learning_curve: item_scores needs one row of per-item test scores per run (all rows the "
                         f"same length); got {len(n)} sizes and an array of shape {scores.shape}.")
    full_size = int(n.max())
    fit = fit_power_law(n, scores.mean(axis=1), a_bounds=a_bounds)
    current = float(scores[n == full_size].mean())
    predicted_2x = float(fit.predict(2 * full_size)) if fit.meaningful else math.nan
    backtest = back_test(n, scores.mean(axis=1), a_bounds)
    band_2x, gain_band, failed = (math.nan, math.nan), (math.nan, math.nan), 0
    if fit.meaningful:
        predictions, gains = _bootstrap_2x(n, scores, fit, a_bounds, n_resamples, seed)
        failed = int(np.sum(np.isnan(predictions)))
        if failed < len(predictions):
            band_2x = percentile_interval(predictions[~np.isnan(predictions)], confidence)
            gain_band = percentile_interval(gains[~np.isnan(gains)], confidence)
    text = verdict(fit, n, scores.mean(axis=1), predicted_2x - current, gain_band, backtest, confidence,
                   min_gain_points)
    return LearningCurve(fit, full_size, current, predicted_2x, band_2x, gain_band, confidence, failed, backtest, text)


def back_test(sizes: Sequence[int], scores: Sequence[float], a_bounds: tuple[float, float] = (0.0, 1.0)) -> BackTest:
    """Fit on every size but the largest, predict the largest; error = predicted - observed (its mean over runs)."""
    n, y = np.asarray(sizes, dtype=float), np.asarray(scores, dtype=float)
    largest = n.max()
    fit = fit_power_law(n[n < largest], y[n < largest], a_bounds=a_bounds)
    observed = float(y[n == largest].mean())
    predicted = float(fit.predict(largest)) if fit.meaningful else math.nan
    return BackTest(int(largest), predicted, observed, predicted - observed, fit)


def _bootstrap_2x(
    n: np.ndarray, scores: np.ndarray, fit: PowerLawFit, a_bounds: tuple[float, float], n_resamples: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """(n_resamples,) predicted metric at 2x and gain over the resampled current value; NaN where the fit failed."""
    full_size = n.max()
    rng = np.random.default_rng(seed + 1)  # the item draw below uses `seed` itself, as stats.py does
    runs_by_size = [np.flatnonzero(n == size) for size in np.unique(n)]
    predictions, gains = np.full(n_resamples, np.nan), np.full(n_resamples, np.nan)
    for r, items in enumerate(resample_indices(scores.shape[1], n_resamples, seed)):
        runs = np.concatenate([rng.choice(group, size=len(group)) for group in runs_by_size])
        run_scores = scores[runs][:, items].mean(axis=1)  # (runs,)
        current = run_scores[n[runs] == full_size].mean()
        refit = fit_power_law(n[runs], run_scores, a_bounds=a_bounds, start=(fit.a, fit.b, fit.c))
        if refit.status == "not_rising":
            predictions[r] = current
        elif refit.meaningful:
            predictions[r] = refit.predict(2 * full_size)
        gains[r] = predictions[r] - current
    return predictions, gains


# ---------------------------------------------------------------------------------------------- the verdict


def verdict(
    fit: PowerLawFit,
    sizes: Sequence[int],
    scores: Sequence[float],
    gain: float,
    gain_band: tuple[float, float],
    backtest: BackTest,
    confidence: float = 0.95,
    min_gain_points: float = 1.0,
) -> str:
    """One sentence on whether collecting more data looks worth it. The rule, in points (metric x 100):

    - fewer than 3 sizes: "too few sizes to say";
    - the curve does not rise: "more data is unlikely to help much" (the data said so; no fit needed);
    - the fit failed: "the curve is too noisy to say";
    - the back-test (when there is one) missed the full-data point by more than both `min_gain_points` and the
      expected gain: "too noisy to say" (a curve that cannot predict the point we have cannot predict the next);
    - the band of the gain at 2x is above 0 and the expected gain is at least `min_gain_points`: "worth it";
    - the whole band is below `min_gain_points`: "unlikely to help much";
    - otherwise (the band straddles both): "too noisy to say".
    """
    n, y = np.asarray(sizes), np.asarray(scores, dtype=float)
    level = f"{confidence:.0%}"
    if fit.status == "too_few_sizes":
        return f"too few sizes to say: {fit.reason}."
    if fit.status == "not_rising":
        first, last = y[n == n.min()].mean(), y[n == n.max()].mean()
        return (f"more data is unlikely to help much: the metric did not rise with more data "
                f"({first * 100:.1f} at n={n.min()}, {last * 100:.1f} at n={n.max()}).")
    if not fit.meaningful:
        return f"the curve is too noisy to say: {fit.reason}."
    points, low, high = (round(x * 100, 1) + 0.0 for x in (gain, *gain_band))  # + 0.0: no "-0.0" in the text
    expected = f"{points:+.1f} points expected at 2x the data"
    if math.isnan(low):
        return f"the curve is too noisy to say: {expected}, but no bootstrap refit converged, so there is no band."
    missed = abs(backtest.error) * 100
    if backtest.fit.meaningful and missed > max(min_gain_points, abs(points)):
        return (f"the curve is too noisy to say: the back-test missed the n={backtest.size} point by {missed:.1f} "
                f"points, more than the {points:+.1f} points it expects at 2x the data.")
    now = f"from {y[n == n.max()].mean() * 100:.1f} at n={n.max()}"
    if low > 0 and points >= min_gain_points:
        return f"more data looks worth it: {expected} ({level} band {low:+.1f} to {high:+.1f}), {now}."
    if high < min_gain_points:
        return f"more data is unlikely to help much: {expected} ({level} band {low:+.1f} to {high:+.1f}), {now}."
    return f"the curve is too noisy to say: {expected}, but the {level} band runs from {low:+.1f} to {high:+.1f}."
