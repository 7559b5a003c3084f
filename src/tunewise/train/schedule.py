"""Learning-rate schedule: linear warmup, then cosine, linear or no decay.

Returned as a multiplier of the peak learning rate, for `torch.optim.lr_scheduler.LambdaLR`.
"""
from __future__ import annotations

import math
from typing import Literal

ScheduleKind = Literal["cosine", "linear", "constant"]


def lr_lambda(step: int, total_steps: int, warmup_steps: int, kind: ScheduleKind) -> float:
    """Multiplier of the peak lr before optimizer step `step` (0-based): 1.0 at warmup end, 0.0 at total_steps."""
    if step < warmup_steps:
        return (step + 1) / (warmup_steps + 1)  # never 0, so the first step already moves the weights
    if kind == "constant":
        return 1.0
    progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
    if kind == "linear":
        return 1.0 - progress
    if kind == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * progress))
    raise ValueError(f"unknown schedule {kind!r}; expected cosine, linear or constant")
