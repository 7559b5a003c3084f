"""The dry run's estimate of a training run: a few timed optimizer steps, extrapolated to the planned run."""
from __future__ import annotations

import math

from tunewise.sections import TrainConfig
from tunewise.train.batching import Encoded
from tunewise.train.loop import TrainResult, planned_steps

PROBE_STEPS = 4  # optimizer steps a dry run times per fine-tuning rung


def probe_config(cfg: TrainConfig) -> TrainConfig:
    """The training settings of a probe: PROBE_STEPS steps, no early stopping, no progress lines."""
    return cfg.model_copy(update={"max_steps": PROBE_STEPS, "patience": None, "log_every": 10**6})


def extrapolate_fit(probe_result: TrainResult, encoded_train: list[Encoded], encoded_val: list[Encoded],
                    cfg: TrainConfig) -> float:
    """Seconds for the planned run at the probe's tokens/s; validation passes at twice that rate (no backward)."""
    steps = planned_steps(len(encoded_train), cfg)
    mean_length = sum(len(e.input_ids) for e in encoded_train) / len(encoded_train)
    train_tokens = steps * cfg.batch_size * cfg.grad_accum * mean_length
    val_tokens = sum(len(e.input_ids) for e in encoded_val)
    n_evals = math.ceil(steps / cfg.eval_every) if encoded_val else 0
    return (train_tokens + n_evals * val_tokens / 2) / probe_result.tokens_per_s
