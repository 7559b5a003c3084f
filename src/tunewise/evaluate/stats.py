"""Confidence intervals for metrics: percentile bootstrap over test items.

All paths draw the same resample indices for a seed, so the vectorised ones give exactly the generic loop's result.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tunewise.evaluate.scorers import (
    CORPUS_METRICS,
    Metric,
    contains_one,
    corpus_statistics,
    metric_functions,
    normalize_answer,
    rouge_one,
    score_from_statistics,
    token_f1_one,
)

# Metrics that are a mean over items: resampled as means of per-item scores in one vectorised step.
_ITEM_SCORES = {
    "accuracy": lambda p, r: float(p == r),
    "exact_match": lambda p, r: float(normalize_answer(p) == normalize_answer(r)),
    "token_f1": token_f1_one,
    "contains": lambda p, r: float(contains_one(p, r)),
    **{kind: (lambda p, r, kind=kind: rouge_one(kind, p, r)) for kind in ("rouge1", "rouge2", "rougeL")},
}


def right_means(metric: str) -> str:
    """The yes/no per-item metric behind a primary metric: itself (accuracy, exact_match, contains), accuracy for
    macro_f1, exact_match for token_f1."""
    return {"macro_f1": "accuracy", "token_f1": "exact_match", "judge_score": "judge_pass"}.get(metric, metric)


def item_score(metric: str, prediction: str, reference: str) -> float:
    """One item's score for paired tests: the metric's own per-item score (accuracy, exact_match, token_f1,
    contains), accuracy for macro_f1 (which has none)."""
    return float(_ITEM_SCORES.get(metric, _ITEM_SCORES[right_means(metric)])(prediction, reference))


def item_correct(metric: str, prediction: str, reference: str) -> bool:
    """Whether one prediction is right by the task's primary metric (see `right_means`)."""
    return bool(_ITEM_SCORES[right_means(metric)](prediction, reference))


def resample_indices(n_items: int, n_resamples: int, seed: int) -> np.ndarray:
    """(n_resamples, n_items) item indices drawn with replacement."""
    return np.random.default_rng(seed).integers(0, n_items, size=(n_resamples, n_items))


def percentile_interval(values: np.ndarray, confidence: float) -> tuple[float, float]:
    """The central `confidence` interval of bootstrap statistics."""
    tail = (1 - confidence) / 2
    low, high = np.quantile(values, [tail, 1 - tail])
    return float(low), float(high)


def bootstrap_ci(
    metric_fn: Metric,
    predictions: Sequence[str],
    references: Sequence[str],
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval of any metric (also non-decomposable ones such as macro-F1)."""
    if len(references) == 0:
        return (float("nan"), float("nan"))
    predictions, references = np.asarray(predictions, dtype=object), np.asarray(references, dtype=object)
    values = np.array(
        [metric_fn(list(predictions[i]), list(references[i])) for i in resample_indices(len(references), n_resamples, seed)]
    )
    return percentile_interval(values, confidence)


def bootstrap_mean_ci(
    item_scores: Sequence[float], n_resamples: int = 1000, confidence: float = 0.95, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval of a mean of per-item scores, vectorised."""
    if len(item_scores) == 0:
        return (float("nan"), float("nan"))
    scores = np.asarray(item_scores, dtype=float)
    return percentile_interval(scores[resample_indices(len(scores), n_resamples, seed)].mean(axis=1), confidence)


def bootstrap_corpus_ci(
    name: str,
    predictions: Sequence[str],
    references: Sequence[str],
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval of corpus BLEU or chrF: each resample's score from its items' summed
    statistics (the texts are tokenised once, not once per resample: ~100x faster than the generic loop)."""
    if len(references) == 0:
        return (float("nan"), float("nan"))
    stats = corpus_statistics(name, predictions, references)  # (n, k)
    sums = stats[resample_indices(len(references), n_resamples, seed)].sum(axis=1)  # (R, k)
    return percentile_interval(np.array([score_from_statistics(name, row) for row in sums]), confidence)


def bootstrap_macro_f1_ci(
    predictions: Sequence[str],
    references: Sequence[str],
    labels: Sequence[str],
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval of macro-F1 over `labels`, with per-label counts for all resamples at once."""
    if len(references) == 0:
        return (float("nan"), float("nan"))
    code = {label: k for k, label in enumerate(labels)}
    K = len(labels)
    idx = resample_indices(len(references), n_resamples, seed)  # (R, n)
    true = np.array([code.get(r, -1) for r in references])[idx]  # (R, n); -1: outside the label set
    pred = np.array([code.get(p, -1) for p in predictions])[idx]
    row = np.arange(n_resamples)[:, None] * K  # offset of each resample's K counters

    def counts(codes: np.ndarray, keep: np.ndarray) -> np.ndarray:
        return np.bincount((row + codes)[keep], minlength=n_resamples * K).reshape(n_resamples, K)

    hits = counts(true, (true == pred) & (true >= 0))
    denominator = counts(true, true >= 0) + counts(pred, pred >= 0)  # 2TP + FP + FN
    f1 = np.divide(2 * hits, denominator, out=np.zeros((n_resamples, K)), where=denominator > 0)
    return percentile_interval(f1.mean(axis=1), confidence)


def metrics_with_ci(
    task_type: str,
    labels: list[str] | None,
    predictions: list[str],
    references: list[str],
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, dict]:
    """{metric: {"value", "ci_low", "ci_high"}} for every metric of the task type."""
    if task_type == "classification" and labels is None:
        labels = sorted(set(references) | set(predictions))  # fixed once, so every resample uses the same set
    result = {}
    for name, fn in metric_functions(task_type, labels).items():
        if name in _ITEM_SCORES:
            item_scores = [_ITEM_SCORES[name](p, r) for p, r in zip(predictions, references)]
            low, high = bootstrap_mean_ci(item_scores, n_resamples, confidence, seed)
        elif name == "macro_f1":
            low, high = bootstrap_macro_f1_ci(predictions, references, labels, n_resamples, confidence, seed)
        elif name in CORPUS_METRICS:
            low, high = bootstrap_corpus_ci(name, predictions, references, n_resamples, confidence, seed)
        else:
            low, high = bootstrap_ci(fn, predictions, references, n_resamples, confidence, seed)
        result[name] = {"value": fn(predictions, references), "ci_low": low, "ci_high": high}
    return result
