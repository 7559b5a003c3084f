"""QLoRA: LoRA on a 4-bit NF4 base (or an 8-bit LLM.int8 base) through bitsandbytes, on a CUDA GPU or the CPU.

bitsandbytes (0.49 on) has a CPU backend for its 4-bit and 8-bit layers. Where CUDA is missing the rung first
trains a one-layer probe on it; when that fails (an older bitsandbytes, a CPU its kernels do not support) the rung
is reported as skipped with bitsandbytes' own error, never silently replaced by plain LoRA.
"""
from __future__ import annotations

import functools
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
    bits: Literal[4, 8] = Field(4, description="4 = NF4 QLoRA, 8 = LLM.int8 base with LoRA (bitsandbytes; CUDA or "
                                               "its CPU backend)")


_PROBE_SIZE = 64  # the probe layer's width: bitsandbytes quantises in blocks of 64


def skip_reason(bits: int = 4) -> str | None:
    """Why QLoRA with a `bits`-bit base cannot run on this machine, or None when it can."""
    if importlib.util.find_spec("bitsandbytes") is None:
        return "QLoRA needs the bitsandbytes package: pip install 'bitsandbytes>=0.50'"
    if torch.cuda.is_available():
        return None
    failure = _cpu_failure(bits)
    return None if failure is None else (f"QLoRA's {bits}-bit base does not train on this CPU and there is no CUDA "
                                         f"GPU: bitsandbytes' CPU backend failed ({failure})")


@functools.cache
def _cpu_failure(bits: int) -> str | None:
    """bitsandbytes' error when a `bits`-bit layer cannot quantise, run forward and pass gradients back on the CPU
    (LoRA trains through it), else None."""
    import bitsandbytes as bnb

    draw = torch.Generator().manual_seed(0)  # the global generator stays as the run seeded it
    try:
        weight = torch.randn(_PROBE_SIZE, _PROBE_SIZE, generator=draw).bfloat16()
        if bits == 4:
            layer = bnb.nn.Linear4bit(_PROBE_SIZE, _PROBE_SIZE, bias=False, compute_dtype=torch.bfloat16,
                                      quant_type="nf4")
            layer.weight = bnb.nn.Params4bit(weight, requires_grad=False, quant_type="nf4")
        else:
            layer = bnb.nn.Linear8bitLt(_PROBE_SIZE, _PROBE_SIZE, bias=False, has_fp16_weights=False)
            layer.weight = bnb.nn.Int8Params(weight, requires_grad=False, has_fp16_weights=False)
        layer = layer.to("cpu")  # quantises the weight
        if layer.weight.dtype not in (torch.uint8, torch.int8):
            return f"its {bits}-bit layer kept {layer.weight.dtype} weights on the CPU"
        x = torch.randn(4, _PROBE_SIZE, generator=draw).bfloat16().requires_grad_()
        out = layer(x)
        out.float().sum().backward()
    except Exception as err:  # noqa: BLE001 - any failure of the backend is the reason to report
        return f"{type(err).__name__}: {err}"
    if not (torch.isfinite(out).all() and x.grad is not None and torch.isfinite(x.grad).all()):
        return "its 4-bit/8-bit layer gave non-finite outputs or gradients"
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
        model, tokenizer = self._quantized_base()
        return self.method.apply(model, tokenizer), tokenizer

    def _restore_base(self, dtype: torch.dtype):
        # The base quantised as it trained, so an export answers as the rung was scored.
        return self._quantized_base()

    def _quantized_base(self):
        """(base model, tokenizer): the linear layers quantised by bitsandbytes, the other weights (embeddings,
        norms) in bf16, the dtype the 4-bit matmuls compute in; the same kernels in training, scoring and export."""
        model, tokenizer = load_causal_lm(self.config.model.name, dtype=torch.bfloat16,
                                          quantization_config=quantization_config(self.config.qlora))
        keep_trainable_packing(model)
        self.base_params = model.num_parameters()  # counts each 4-bit weight as one parameter, not half a byte
        return model, tokenizer

    def parameters(self):
        # PEFT's count unpacks the 4-bit weights as num_parameters does; count_parameters would see packed bytes.
        return self.model.get_nb_trainable_parameters()


def keep_trainable_packing(model: nn.Module) -> None:
    """Keep bitsandbytes' 4-bit layers in the packing they train in. On a CPU with AVX512-BF16 a Linear4bit repacks
    its weight for a faster inference kernel the first time it runs in eval mode without gradients (a validation
    pass), and that kernel has no backward: every later training step would then drop the gradient through the
    base weights, so the LoRA weights below them would train on wrong gradients."""
    import bitsandbytes as bnb

    for module in model.modules():
        if isinstance(module, bnb.nn.Linear4bit):
            module.support_avx512bf16_for_cpu = False


def _rung(plan: PlanContext) -> TunedRung:
    lc = plan.config.lora
    method = Method("qlora", f"LoRA r={lc.r} on a {plan.config.qlora.bits}-bit base (bitsandbytes)",
                    lambda model, tokenizer: apply(model, lc), peft_save,
                    skip_reason=skip_reason(plan.config.qlora.bits))
    return QLoraRung(plan.task, plan.config, method)


SECTION = SectionSpec("qlora", QLoraConfig, "QLoRA rung (bitsandbytes: CUDA, or its CPU backend)")
METHODS = [MethodSpec("qlora", "LoRA on a 4-bit (or 8-bit) base through bitsandbytes (CUDA or its CPU backend)",
                      lambda plan: [_rung(plan)])]
