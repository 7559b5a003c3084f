"""LoRA through PEFT: low-rank adapters on the named projections, base weights frozen.

Saved with `model.save_pretrained(dir)` in PEFT's layout (adapter_config.json + adapter_model.safetensors).
"""
from __future__ import annotations

import warnings

from peft import LoraConfig as PeftLoraConfig
from peft import PeftModel, get_peft_model
from torch import nn

from tunewise.config import LoraConfig
from tunewise.errors import ModelError


def apply(model: nn.Module, cfg: LoraConfig) -> PeftModel:
    """Wrap `model` with LoRA adapters on cfg.target_modules; only the adapters are trainable."""
    present = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
    missing = [m for m in cfg.target_modules if m not in present]
    if missing:
        raise ModelError(
            f"LoRA target modules {missing} are not in {type(model).__name__}; "
            f"its linear layers include {sorted(_linear_names(model))}"
        )
    peft_cfg = PeftLoraConfig(
        r=cfg.r,
        lora_alpha=cfg.alpha,
        lora_dropout=cfg.dropout,
        target_modules=list(cfg.target_modules),  # an explicit list, so the saved adapter says what it adapts
        task_type="CAUSAL_LM",
    )
    with warnings.catch_warnings():
        # PEFT 0.21 asks transformers 5 for `is_gradient_checkpointing`, which warns on every call; harmless.
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        return get_peft_model(model, peft_cfg)


def _linear_names(model: nn.Module) -> set[str]:
    return {name.rsplit(".", 1)[-1] for name, m in model.named_modules() if isinstance(m, nn.Linear)}
