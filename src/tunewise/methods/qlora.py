"""QLoRA: LoRA on a 4-bit NF4 base (or an 8-bit LLM.int8 base) through bitsandbytes — CUDA only.

bitsandbytes' 4-bit and 8-bit matmuls need a CUDA GPU; on a CPU-only machine the rung is reported as skipped
with the reason, never silently replaced by something else.
"""
from __future__ import annotations

import importlib.util

import torch
from torch import nn

from tunewise.config import LoraConfig, QLoraConfig
from tunewise.methods import lora


def skip_reason() -> str | None:
    """Why QLoRA cannot run on this machine, or None when it can."""
    if not torch.cuda.is_available():
        return "QLoRA needs a CUDA GPU (bitsandbytes' 4-bit/8-bit kernels); this machine has none"
    if importlib.util.find_spec("bitsandbytes") is None:
        return "QLoRA needs the bitsandbytes package: pip install bitsandbytes"
    return None


def quantization_config(cfg: QLoraConfig):
    """transformers' BitsAndBytesConfig for loading the base quantised."""
    from transformers import BitsAndBytesConfig

    if cfg.bits == 4:
        return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                                  bnb_4bit_compute_dtype=torch.bfloat16)
    return BitsAndBytesConfig(load_in_8bit=True)


def apply(model: nn.Module, cfg: LoraConfig) -> nn.Module:
    """LoRA on the quantised base (loaded with `quantization_config`); PEFT prepares it for k-bit training."""
    from peft import prepare_model_for_kbit_training

    model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
    return lora.apply(model, cfg)
