"""The task: what is predicted (classification or generation), the label set, the metric and the instruction.

Resolved once from the config plus the training examples; every rung and the scorer read the same Task.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from tunewise.errors import ConfigError, Problem
from tunewise.judge import Judge, load_judge
from tunewise.records import Example
from tunewise.sections import TaskConfig

# Without a judge; a task with one is scored on judge_pass first. Preference data's reference is the chosen reply.
DEFAULT_METRIC = {"classification": "accuracy", "generation": "token_f1", "preference": "rougeL"}
JUDGE_METRICS = ("judge_pass", "judge_score")


@dataclass(frozen=True)
class Task:
    """What every rung predicts and how it is scored."""

    type: str  # "classification" | "generation" | "preference" (answers generated; trained from pairs)
    labels: list[str] | None  # classification: the label set, in scoring order; generation: None
    metric: str  # accuracy | macro_f1 | exact_match | token_f1
    instruction: str | None  # system instruction; None: the chat-template layer's default applies
    # Many-label classification: test example id -> the labels every rung chooses among for it (nearest training
    # examples' labels, evaluate/candidates.py); None: every label is scored.
    candidates: dict[str, list[str]] | None = None
    judge: Judge | None = None  # the user's judge (task.judge): judge_pass / judge_score, the RL rung's reward

    def labels_for(self, example_id: str) -> list[str]:
        """The labels a rung chooses among for this example: its candidates, else every label."""
        if self.candidates is not None and example_id in self.candidates:
            return self.candidates[example_id]
        return self.labels

    def to_dict(self) -> dict[str, Any]:
        """The task as JSON-able data, for the run's saved files."""
        return {"type": self.type, "labels": self.labels, "metric": self.metric, "instruction": self.instruction,
                "judge": None if self.judge is None else self.judge.spec}


def resolve_type(cfg: TaskConfig, detected_format: str | None) -> str:
    """The declared type, else classification for text/label data, preference for chosen/rejected pairs and KTO's
    labelled completions, and generation for everything else."""
    if cfg.type is not None:
        return cfg.type
    return {"classification": "classification", "preference": "preference", "kto": "preference"}.get(
        detected_format, "generation")


def example_label(example: Example) -> str:
    """The class of an example: its label, or its answer text for chat/prompt-completion/Alpaca data."""
    return example.label if example.label is not None else example.answer


def with_labels(examples: Iterable[Example]) -> list[Example]:
    """The examples with `label` set (to the answer) where it was missing, for a classification task."""
    return [e if e.label is not None else replace(e, label=e.answer) for e in examples]


def default_instruction(labels: list[str]) -> str:
    """The classification instruction: names the labels and asks for exactly one of them."""
    return f"Classify the user's message. Answer with exactly one label from: {', '.join(labels)}."


def resolve_task(cfg: TaskConfig, train: list[Example], detected_format: str | None) -> Task:
    """The task from the config, filling what it leaves empty from the data (labels from the training split)."""
    task_type = resolve_type(cfg, detected_format)
    labels = None
    instruction = cfg.instruction
    if task_type == "classification":
        labels = list(cfg.labels) if cfg.labels else sorted({example_label(e) for e in train})
        instruction = instruction or default_instruction(labels)
    judge = load_judge(cfg.judge, cfg.judge_threshold)
    metric = cfg.metric or ("judge_pass" if judge is not None else DEFAULT_METRIC[task_type])
    if metric in JUDGE_METRICS and judge is None:
        raise ConfigError([Problem("task", None, "task.metric", "no_judge",
                                   f"metric {metric} scores answers with your judge; set task.judge: "
                                   "path/to/judge.py:function")])
    if judge is not None and task_type == "classification":
        raise ConfigError([Problem("task", None, "task.judge", "judge_on_labels",
                                   "a judge scores generated answers; a classification task picks labels (drop "
                                   "task.judge, or set task.type: generation)")])
    return Task(task_type, labels, metric, instruction, judge=judge)
