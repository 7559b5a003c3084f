"""Multi-task training: several tasks' examples mixed into one training set by weight and temperature.

Each task keeps its own instruction (its examples are encoded with it), so the one adapter is told which task
it is doing at prediction time the same way it was told in training. The ladder's MultitaskRung trains on the
mixture; `multitask_summary` sets its per-task scores next to one single-task LoRA per task (and the composition
rung's, those LoRAs added into one adapter).
"""
from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from tunewise.config import MAIN_TASK, MultitaskConfig
from tunewise.data.leakage import normalised_text, prompt_text
from tunewise.data.prepare import prepare_data
from tunewise.data.validate import CountTokens
from tunewise.errors import DataError, Problem
from tunewise.records import Example
from tunewise.task import Task

T = TypeVar("T")


@dataclass
class TaskData:
    """One task of a multi-task run: what it predicts, its split and its mixing weight."""

    name: str
    task: Task
    train: list[Example]
    val: list[Example]
    test: list[Example]  # what it is scored on (capped by eval.max_test_examples like the main task's)
    weight: float
    max_length: int  # longest training example in tokens (its data.max_length)
    summary: dict | None = None  # its data.json-style summary, for the run's records


def prepare_tasks(
    cfg: MultitaskConfig, count_tokens: CountTokens | None, max_test: int | None
) -> tuple[list[TaskData], list[Problem]]:
    """Check, split and resolve every task of `multitask.tasks`; (tasks, every data problem found in any of them)."""
    tasks, problems = [], []
    for extra in cfg.tasks:
        try:
            prepared = prepare_data(extra.data, extra.task, count_tokens)
        except DataError as err:
            problems += err.problems
            continue
        split = prepared.split
        test = split.test[:max_test] if max_test else split.test
        summary = {"name": extra.name, **prepared.summary(), "scored_test_examples": len(test)}
        tasks.append(TaskData(extra.name, prepared.task, split.train, split.val, test, extra.weight,
                              extra.data.max_length, summary))
    return tasks, problems


def mixture_shares(sizes: Sequence[int], weights: Sequence[float], temperature: float) -> list[float]:
    """Each task's share of the training mixture: proportional to (weight x size)^(1/temperature).

    Temperature 1 mixes in proportion to (weighted) size; higher temperatures move toward equal shares, the usual
    way to keep a small task from drowning in a large one.
    """
    raw = [(w * n) ** (1.0 / temperature) for n, w in zip(sizes, weights)]
    total = sum(raw)
    return [r / total for r in raw]


def mixture_counts(total: int, shares: Sequence[float]) -> list[int]:
    """Integer counts summing to `total`, as close to `shares` as rounding allows (largest remainders first)."""
    exact = [total * s for s in shares]
    counts = [int(x) for x in exact]
    by_remainder = sorted(range(len(shares)), key=lambda i: exact[i] - counts[i], reverse=True)
    for i in by_remainder[: total - sum(counts)]:
        counts[i] += 1
    return counts


def draw(items: Sequence[T], count: int, rng: random.Random) -> list[T]:
    """`count` items: whole shuffled passes over `items`, then a random part of one more pass.

    So an upsampled task repeats every example equally often (up to one), and a downsampled one never repeats.
    """
    drawn: list[T] = []
    while len(drawn) < count and items:
        order = list(items)
        rng.shuffle(order)
        drawn += order[: count - len(drawn)]
    return drawn


def mix(parts: Sequence[Sequence[T]], shares: Sequence[float], seed: int) -> list[T]:
    """One epoch of the training mixture: as many items as all parts together, each part drawn by its share."""
    rng = random.Random(seed)
    counts = mixture_counts(sum(len(p) for p in parts), shares)
    mixed = [item for part, count in zip(parts, counts) for item in draw(part, count, rng)]
    rng.shuffle(mixed)
    return mixed


def validation_mix(parts: Sequence[Sequence[T]], shares: Sequence[float], limit: int) -> list[T]:
    """Up to `limit` validation items, each part contributing by its share (never repeating an item).

    Early stopping then watches the mixture the adapter is trained for, not whichever task comes first.
    """
    counts = mixture_counts(min(limit, sum(len(p) for p in parts)), shares)
    return [item for part, count in zip(parts, counts) for item in list(part)[:count]]


def cross_task_leakage(tasks: Sequence[TaskData]) -> dict[str, int]:
    """Test examples of one task whose prompt (normalised) is a training or validation prompt of another task.

    Only counts that are not zero are kept: '<task> test in <other> train' -> n. A multi-task adapter that has
    trained on another task's copy of a test input has seen that input, so its score on it is not held out.
    """
    seen = {t.name: _index(t.train + t.val) for t in tasks}
    found = {}
    for t in tasks:
        texts = [normalised_text(prompt_text(e)) for e in t.test]
        for other in tasks:
            if other.name != t.name:
                n = sum(text in seen[other.name] for text in texts)
                if n:
                    found[f"{t.name} test in {other.name} train/val"] = n
    return found


def _index(examples: Sequence[Example]) -> set[str]:
    return {normalised_text(prompt_text(e)) for e in examples}


def multitask_summary(tasks: Sequence[TaskData], shares: Sequence[float] | None, single: dict[str, dict | None],
                      mixed: dict[str, dict | None], composed: dict[str, dict | None] | None = None) -> dict:
    """The report's multi-task section: the mixture, and per task its single-task LoRA next to the mixture's LoRA and
    the composed adapter (the composition rung).

    `single`, `mixed` and `composed` map a task name to the rung's metrics ({metric: {value, ci_low, ci_high}}), or
    None when that rung did not run; `shares`: None when the multitask rung is not planned (no mixture).
    """
    rows = []
    for t in tasks:
        one = _metric(single.get(t.name), t.task.metric)
        both = _metric(mixed.get(t.name), t.task.metric)
        added = _metric((composed or {}).get(t.name), t.task.metric)
        rows.append({"task": t.name, "metric": t.task.metric, "type": t.task.type, "single_task": one,
                     "multitask": both, "difference": _difference(both, one),
                     "composition": added, "composition_difference": _difference(added, one)})
    mixture = None if shares is None else [
        {"task": t.name, "weight": t.weight, "train_examples": len(t.train), "share": round(s, 4)}
        for t, s in zip(tasks, shares)]
    return {"main_task": MAIN_TASK, "mixture": mixture, "rows": rows}


def _metric(metrics: dict | None, name: str) -> dict | None:
    return None if not metrics or name not in metrics else dict(metrics[name])


def _difference(a: dict | None, b: dict | None) -> float | None:
    return None if a is None or b is None else round(a["value"] - b["value"], 4)


def main_task_data(task: Task, train, val, test, weight: float, max_length: int) -> TaskData:
    """The run's own task as one part of the mixture."""
    return TaskData(MAIN_TASK, task, list(train), list(val), list(test), weight, max_length)

