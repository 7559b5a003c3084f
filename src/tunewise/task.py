"""The task: what is predicted (classification or generation), the label set, the metric and the instruction.

Resolved once from the config plus the training examples; every rung and the scorer read the same Task.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from tunewise.records import Example
from tunewise.sections import TaskConfig

DEFAULT_METRIC = {"classification": "accuracy", "generation": "token_f1"}


@dataclass(frozen=True)
class Task:
    """What every rung predicts and how it is scored."""

    type: str  # "classification" | "generation"
    labels: list[str] | None  # classification: the label set, in scoring order; generation: None
    metric: str  # accuracy | macro_f1 | exact_match | token_f1
    instruction: str | None  # system instruction; None: the chat-template layer's default applies
    # Many-label classification: test example id -> the labels every rung chooses among for it (nearest training
    # examples' labels, evaluate/candidates.py); None: every label is scored.
    candidates: dict[str, list[str]] | None = None

    def labels_for(self, example_id: str) -> list[str]:
        """The labels a rung chooses among for this example: its candidates, else every label."""
        if self.candidates is not None and example_id in self.candidates:
            return self.candidates[example_id]
        return self.labels

    def to_dict(self) -> dict[str, Any]:
        """The task as JSON-able data, for the run's saved files."""
        return {"type": self.type, "labels": self.labels, "metric": self.metric, "instruction": self.instruction}


def resolve_type(cfg: TaskConfig, detected_format: str | None) -> str:
    """The declared type, else classification for text/label data and generation for everything else."""
    if cfg.type is not None:
        return cfg.type
    return "classification" if detected_format == "classification" else "generation"


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
    return Task(task_type, labels, cfg.metric or DEFAULT_METRIC[task_type], instruction)
