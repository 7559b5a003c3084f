"""How every rung is scored, the same way: the task's metrics with bootstrap CIs, the per-class table, and the
paired tests of every rung against the best.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from tunewise.evaluate.scorers import confusion, per_class
from tunewise.evaluate.significance import compare
from tunewise.evaluate.stats import (
    bootstrap_mean_ci,
    item_correct,
    item_score,
    metrics_with_ci,
)
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


def score(predictions: list[Prediction], examples: list[Example], task: Task, config: Config,
          judged: list[float] | None = None) -> dict:
    """Every metric of the task with its bootstrap confidence interval; judge_pass and judge_score first when the
    task has a judge (`judged`: its scores of the predictions when already computed, so it runs once per answer)."""
    ev = config.eval
    metrics = {}
    if task.judge is not None:
        scores = judged if judged is not None else judge_scores(predictions, examples, task)
        for name, values in (("judge_pass", [float(task.judge.passes(s)) for s in scores]), ("judge_score", scores)):
            low, high = bootstrap_mean_ci(values, ev.bootstrap_samples, ev.confidence, ev.seed)
            metrics[name] = {"value": sum(values) / max(len(values), 1), "ci_low": low, "ci_high": high}
    return metrics | metrics_with_ci(
        task.type,
        task.labels,
        [p.output for p in predictions],
        [e.answer for e in examples],
        n_resamples=ev.bootstrap_samples,
        confidence=ev.confidence,
        seed=ev.seed,
    )


def judge_prompt(example: Example) -> str:
    """What the judge is given as the prompt: the last user turn (the message the answer replies to)."""
    return next(m["content"] for m in reversed(example.messages) if m["role"] == "user")


def judge_scores(predictions: list[Prediction], examples: list[Example], task: Task) -> list[float]:
    """The task's judge's score of every prediction."""
    return [task.judge.score(judge_prompt(e), p.output, f"test example {e.id}") for p, e in zip(predictions, examples)]


def per_item(predictions: list[Prediction], examples: list[Example], task: Task,
             judged: list[float] | None = None) -> tuple[list[bool], list[float]]:
    """(right by the primary metric, the primary metric's score) of every prediction, for paired tests (`judged`:
    as in `score`)."""
    if task.metric in ("judge_pass", "judge_score"):
        scores = judged if judged is not None else judge_scores(predictions, examples, task)
        passed = [task.judge.passes(s) for s in scores]
        return passed, scores if task.metric == "judge_score" else [float(p) for p in passed]
    return ([item_correct(task.metric, p.output, e.answer) for p, e in zip(predictions, examples)],
            [item_score(task.metric, p.output, e.answer) for p, e in zip(predictions, examples)])


def against_sft(results: list[RungResult], metric: str, config: Config) -> None:
    """Add to each alignment rung's block its paired tests against the `sft` rung on the same test items: the
    task's metric (McNemar for 0/1 scores) and held-out preference accuracy."""
    sft = next((r for r in results if r.name == "sft" and not r.skipped and r.alignment), None)
    if sft is None:
        return
    ev = config.eval
    for r in results:
        if r is sft or r.skipped or not r.alignment or r.item_scores is None:
            continue
        r.alignment["vs_sft"] = {metric: compare(r.item_scores, sft.item_scores, ev.bootstrap_samples, ev.confidence,
                                                 ev.seed).to_dict()}
        mine, theirs = r.alignment.get("item_preference_right"), sft.alignment.get("item_preference_right")
        if mine and theirs:
            r.alignment["vs_sft"]["preference_accuracy"] = compare(
                [float(x) for x in mine], [float(x) for x in theirs], ev.bootstrap_samples, ev.confidence,
                ev.seed).to_dict()


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
