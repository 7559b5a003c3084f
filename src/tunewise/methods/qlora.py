"""QLoRA: LoRA on a 4-bit NF4 base (or an 8-bit LLM.int8 base) through bitsandbytes — CUDA only.

bitsandbytes' 4-bit and 8-bit matmuls need a CUDA GPU; on a CPU-only machine the rung is reported as skipped
with the reason, never silently replaced by something else.
"""
from __future__ import annotations

import importlib.util
from typing import Literal

import torch
from pydantic import Field
from torch import nn

from tunewise.methods import lora
from tunewise.methods.lora import LoraConfig
from tunewise.methods.spec import MethodSpec, PlanContext, SectionSpec
from tunewise.methods.tuned import Method, TunedRung, peft_save
from tunewise.models.load import load_causal_lm
from tunewise.sections import Section


class QLoraConfig(Section):
    bits: Literal[4, 8] = Field(4, description="4 = NF4 QLoRA, 8 = LLM.int8 base with LoRA (bitsandbytes, CUDA only)")



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


class QLoraRung(TunedRung):
    """A TunedRung whose base loads quantised (the point of QLoRA); training, saving and predicting are the same."""

    def _load(self):
        # Non-quantised weights (embeddings, norms) in bf16, the dtype the 4-bit matmuls compute in.
        model, tokenizer = load_causal_lm(self.config.model.name, dtype=torch.bfloat16,
                                          quantization_config=quantization_config(self.config.qlora))
        self.base_params = model.num_parameters()  # counts each 4-bit weight as one parameter, not half a byte
        return self.method.apply(model, tokenizer), tokenizer

    def parameters(self):
        # PEFT's count unpacks the 4-bit weights as num_parameters does; count_parameters would see packed bytes.
        return self.model.get_nb_trainable_parameters()


def _rung(plan: PlanContext) -> TunedRung:
    lc = plan.config.lora
    method = Method("qlora", f"LoRA r={lc.r} on a {plan.config.qlora.bits}-bit base (bitsandbytes)",
                    lambda model, tokenizer: apply(model, lc), peft_save, skip_reason=skip_reason())
    return QLoraRung(plan.task, plan.config, method)


SECTION = SectionSpec("qlora", QLoraConfig, "QLoRA rung (CUDA only)")
METHODS = [MethodSpec("qlora", "LoRA on a 4-bit (or 8-bit) base through bitsandbytes; CUDA only, skipped on CPU",
                      lambda plan: [_rung(plan)])]
