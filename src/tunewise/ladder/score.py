"""How every rung is scored, the same way: the task's metrics with bootstrap CIs, the per-class table, and the
paired tests of every rung against the best.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from tunewise.evaluate.scorers import confusion, per_class
from tunewise.evaluate.significance import compare
from tunewise.evaluate.stats import metrics_with_ci
from tunewise.ladder.result import RungResult
from tunewise.records import Example, Prediction
from tunewise.task import Task

if TYPE_CHECKING:
    from tunewise.config import Config


def class_report(predictions: list[Prediction], examples: list[Example], task: Task) -> dict | None:
    """Classification: per-label precision/recall/F1/support and the confusion matrix (rows: reference)."""
    if task.type != "classification":
        return None
    outputs, references = [p.output for p in predictions], [e.answer for e in examples]
    return {"labels": per_class(outputs, references, task.labels),
            "confusion": {"labels": list(task.labels), "counts": confusion(outputs, references, task.labels)}}


def score(predictions: list[Prediction], examples: list[Example], task: Task, config: Config) -> dict:
    """Every metric of the task with its bootstrap confidence interval."""
    return metrics_with_ci(
        task.type,
        task.labels,
        [p.output for p in predictions],
        [e.answer for e in examples],
        n_resamples=config.eval.bootstrap_samples,
        confidence=config.eval.confidence,
        seed=config.eval.seed,
    )


def paired_tests(results: list[RungResult], metric: str, config: Config) -> dict | None:
    """Every scored rung against the best one on the same test items: paired bootstrap and McNemar."""
    scored = [r for r in results if not r.skipped and r.item_scores is not None]
    if len(scored) < 2:
        return None
    best = max(scored, key=lambda r: r.metrics[metric]["value"])
    ev = config.eval
    rows = [{"rung": r.name, **compare(best.item_scores, r.item_scores, ev.bootstrap_samples, ev.confidence,
                                       ev.seed).to_dict()} for r in scored if r is not best]
    return {"best": best.name, "metric": metric, "alpha": ev.alpha, "rows": rows}
