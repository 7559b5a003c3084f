"""What every rung of the ladder is: fit on train (and val), predict test, report its parameters.

A rung is the unit of comparison (see ladder.py): the ladder scores every rung's predictions with the same
scorer on the same test ids and measures its cost the same way; a rung only decides how it learns and predicts.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import torch

from tunewise.config import Config
from tunewise.records import Example, Prediction
from tunewise.train.batching import Encoded
from tunewise.train.loop import planned_steps

PROBE_STEPS = 4  # optimizer steps a dry run times per fine-tuning rung


@dataclass
class FitInfo:
    """What fitting a rung produced, besides its side effects on the model."""

    artifact_dir: Path | None = None  # what the rung needs on disk beyond the base model
    training: dict | None = None  # steps, tokens/s, curve... for trained rungs


class Rung(Protocol):
    """One approach on the ladder."""

    name: str
    kind: str  # "prompting" | "fine-tuning"

    def fit(self, train: list[Example], val: list[Example], workdir: Path) -> FitInfo: ...

    def predict(self, test: list[Example]) -> list[Prediction]: ...

    def parameters(self) -> tuple[int, int]: ...  # (trainable, total) of the model that predicts

    def estimate_fit(self, train: list[Example], val: list[Example], workdir: Path) -> float: ...  # seconds

    # Optional: `skip_reason -> str | None`; a rung that cannot run here (QLoRA without CUDA, a classification-only
    # method on a generation task) says why, and the report shows it as skipped instead of failing the run.


def eval_dtype(config: Config) -> torch.dtype:
    """Every rung predicts with weights in this dtype (bf16 weights skip autocast's per-call weight casts)."""
    return torch.bfloat16 if config.train.precision == "bf16" else torch.float32


def training_summary(result) -> dict:
    """A TrainResult as the report stores it: its fields, and the logged curve."""
    training = {k: v for k, v in dataclasses.asdict(result).items() if k != "log"}
    training["curve"] = result.log
    return training


def extrapolate_fit(probe_result, encoded_train: list[Encoded], encoded_val: list[Encoded], cfg) -> float:
    """Seconds for the planned run at the probe's tokens/s; validation passes at twice that rate (no backward)."""
    steps = planned_steps(len(encoded_train), cfg)
    mean_length = sum(len(e.input_ids) for e in encoded_train) / len(encoded_train)
    train_tokens = steps * cfg.batch_size * cfg.grad_accum * mean_length
    val_tokens = sum(len(e.input_ids) for e in encoded_val)
    n_evals = math.ceil(steps / cfg.eval_every) if encoded_val else 0
    return (train_tokens + n_evals * val_tokens / 2) / probe_result.tokens_per_s
