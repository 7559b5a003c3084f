"""The records that flow through tunewise: examples in, predictions out, and what fitting a rung produced.

Every input format (chat, Alpaca, prompt/completion, text/label) is normalised to `Example`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Message = dict[str, str]  # {"role": "system" | "user" | "assistant", "content": str}


@dataclass(frozen=True)
class Example:
    """One training or test item, normalised to a chat conversation plus its target answer."""

    id: str  # stable id: the user's `id` field, else "<file stem>:<line>"
    messages: tuple[Message, ...]  # the conversation before the answer; ends with a user turn
    answer: str  # the final assistant turn: what the model should produce
    label: str | None = None  # classification only: the class (equal to `answer`)
    file: str = ""  # where it came from, for error messages
    line: int = 0  # 1-based line (JSONL; CSV/TSV: the line a row starts on, header is line 1) or row (Parquet/Arrow)
    meta: dict[str, Any] = field(default_factory=dict, compare=False)  # extra user fields, kept for slicing
    # Preference data: the dispreferred reply to the same conversation (`answer` is the preferred one)...
    rejected: str | None = None
    # ...or, unpaired (KTO) data, whether `answer` is a desirable reply (None: not preference data)
    desirable: bool | None = None


def user_turns(example: Example) -> str:
    """The contents of the example's user turns, one per line (no system prompt, no earlier assistant turns)."""
    return "\n".join(m["content"] for m in example.messages if m["role"] == "user")


@dataclass(frozen=True)
class Prediction:
    """What one rung produced for one test example."""

    id: str
    output: str  # the predicted label or generated text
    scores: dict[str, float] | None = None  # classification: log-likelihood of every label
    details: dict[str, Any] | None = None  # what else the rung used or produced: demo ids, reasoning, sources
    prompt_tokens: int | None = None  # tokens the model read to predict it (the prediction-cost table's mean)


@dataclass
class FitInfo:
    """What fitting a rung produced, besides its side effects on the model."""

    artifact_dir: Path | None = None  # what the rung needs on disk beyond the base model
    training: dict | None = None  # steps, tokens/s, curve... for trained rungs
