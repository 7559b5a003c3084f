"""Scoring rungs: label log-likelihood, batched greedy generation, task metrics and bootstrap intervals.

Every rung is scored by these same functions with the same settings.
"""
from tunewise.evaluate.generate import generate
from tunewise.evaluate.likelihood import score_continuations, score_labels
from tunewise.evaluate.scorers import (
    accuracy,
    compute_metrics,
    exact_match,
    macro_f1,
    token_f1,
)
from tunewise.evaluate.stats import bootstrap_ci, metrics_with_ci

__all__ = [
    "accuracy", "bootstrap_ci", "compute_metrics", "exact_match", "generate", "macro_f1", "metrics_with_ci",
    "score_continuations", "score_labels", "token_f1",
]
