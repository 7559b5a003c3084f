"""IA3 through PEFT: learned vectors that rescale the keys, values and feed-forward activations.

The smallest adapter here (tens of thousands of parameters on SmolLM2-135M): cheap to train and store, usually
below LoRA on quality. Saved in PEFT's layout, so plain PEFT loads it.
"""
from __future__ import annotations

import warnings

from peft import IA3Config as PeftIA3Config
from peft import PeftModel, get_peft_model
from torch import nn

from tunewise.config import IA3Config


def apply(model: nn.Module, cfg: IA3Config) -> PeftModel:
    peft_cfg = PeftIA3Config(
        target_modules=list(cfg.target_modules),
        feedforward_modules=list(cfg.feedforward_modules),
        task_type="CAUSAL_LM",
    )
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        return get_peft_model(model, peft_cfg)
