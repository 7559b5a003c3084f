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
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from pydantic import Field, model_validator

from tunewise.data.leakage import normalised_text, prompt_text
from tunewise.data.prepare import prepare_data
from tunewise.data.validate import CountTokens
from tunewise.errors import DataError, Problem
from tunewise.methods.lora import lora_method
from tunewise.methods.spec import MethodSpec, SectionSpec
from tunewise.methods.tuned import TunedRung, sft_examples
from tunewise.records import Example, FitInfo
from tunewise.sections import (
    DATA_FILES,
    MAIN_TASK,
    DataConfig,
    Section,
    TaskConfig,
    resolve_file_fields,
)
from tunewise.task import Task
from tunewise.train.batching import Encoded

if TYPE_CHECKING:
    from tunewise.config import Config



class ExtraTaskConfig(Section):
    name: str = Field(
        description="short name of the task in the report and run folder (letters, digits, '_' or '-')",
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$", max_length=40,
    )
    data: DataConfig = Field(description="the task's examples and split, as the top-level `data` section")
    task: TaskConfig = Field(default_factory=TaskConfig, description="the task's type, labels, metric, instruction")
    weight: float = Field(1.0, gt=0, description="mixing weight: scales the task's share of the training mixture")


class MultitaskConfig(Section):
    tasks: list[ExtraTaskConfig] = Field(
        [], description="the other tasks trained in the mixture with this run's task (the `multitask` method)"
    )
    weight: float = Field(1.0, gt=0, description="mixing weight of this run's own task (`data`/`task` above)")
    temperature: float = Field(
        1.0, gt=0,
        description="each task's share of the mixture is proportional to (weight x training examples)^(1/T): "
        "1 = in proportion to size, larger values flatten the mixture toward equal shares (small tasks upsampled)",
    )

    @model_validator(mode="after")
    def _unique_names(self) -> MultitaskConfig:
        names = [t.name for t in self.tasks]
        clashes = sorted({n for n in names if names.count(n) > 1} | ({MAIN_TASK} & set(names)))
        if clashes:
            raise ValueError(f"task names must be unique and not '{MAIN_TASK}' (this run's own task): {clashes}")
        return self


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



class MultitaskRung(TunedRung):
    """One LoRA trained on a mixture of this run's task and `multitask.tasks`, each with its own instruction.

    Scored on this run's test set like every rung, and on each other task's test set (`other_tasks`), where the
    report sets it next to a LoRA trained on that task alone.
    """

    def __init__(self, task: Task, config: Config, others: list[TaskData]):
        super().__init__(task, config, lora_method(config, "multitask"))
        self.other_tasks = others
        self.mixture: dict[str, float] = {}  # task name -> share of the training mixture, set by _training_data
        names = ", ".join(t.name for t in others) or "no other task"
        self.description = f"{self.description}, trained on a mixture of {MAIN_TASK} + {names}"
        if not others:
            self.skip_reason = "multitask needs other tasks: list them under multitask.tasks (name, data, task)"

    def tasks(self, train: list[Example], val: list[Example]) -> list[TaskData]:
        """Every task of the mixture, this run's first."""
        main = main_task_data(self.task, train, val, [], self.config.multitask.weight, self.max_length)
        return [main, *self.other_tasks]

    def _training_data(self, train, val):
        tasks = self.tasks(train, val)
        shares = mixture_shares([len(t.train) for t in tasks], [t.weight for t in tasks],
                                self.config.multitask.temperature)
        self.mixture = {t.name: round(share, 4) for t, share in zip(tasks, shares)}

        def encode(t: TaskData, examples: list[Example]) -> list[Encoded]:
            return sft_examples(self.tokenizer, examples, t.task.instruction, t.max_length)
        mixed_train = mix([encode(t, t.train) for t in tasks], shares, self.config.train.seed)
        mixed_val = validation_mix([encode(t, t.val) for t in tasks], shares, self.config.train.max_val_examples)
        return mixed_train, mixed_val

    def fit(self, train, val, workdir) -> FitInfo:
        info = super().fit(train, val, workdir)
        info.training["mixture"] = dict(self.mixture)
        return info


def single_task_rung(config: Config, other: TaskData) -> TunedRung:
    """A LoRA trained and scored on another task alone (what multitask is measured by and composition combines)."""
    rung = TunedRung(other.task, config, lora_method(config, f"lora[{other.name}]"))
    rung.description = f"{rung.description}, trained on {other.name} alone"
    rung.max_length = other.max_length
    return rung


def _resolve_task_paths(raw, base: Path) -> None:
    if isinstance(raw, dict) and isinstance(raw.get("tasks"), list):
        for t in raw["tasks"]:
            if isinstance(t, dict):
                resolve_file_fields(t.get("data"), DATA_FILES, base)


SECTION = SectionSpec("multitask", MultitaskConfig, "other tasks mixed in by the multitask rung",
                      resolve_paths=_resolve_task_paths)
METHODS = [MethodSpec(
    "multitask", "one LoRA on a mixture of this task and multitask.tasks, scored per task next to one LoRA per task "
    "(brings the lora rung along)", lambda plan: [MultitaskRung(plan.task, plan.config, plan.others)], per_task=True,
)]
