"""Prompt tuning, prefix tuning and P-tuning through PEFT: the model stays frozen, learned vectors steer it.

- prompt tuning: `num_virtual_tokens` embeddings prepended to the input (initialised from the task
  instruction's token embeddings, or random);
- prefix tuning: learned keys and values prepended in every layer's attention;
- P-tuning: virtual-token embeddings produced by a small MLP prompt encoder.
All three are tiny to store and need high learning rates. PEFT injects the virtual tokens inside its own
forward, so the loss and the scorers call such a model as a whole (models/forward.py says which models must be).
Saved in PEFT's layout.
"""
from __future__ import annotations

from typing import Literal

import torch
from peft import (
    PeftModel,
    PrefixTuningConfig,
    PromptEncoderConfig,
    PromptTuningConfig,
    get_peft_model,
)
from pydantic import Field
from torch import nn

from tunewise.methods.spec import MethodSpec, PlanContext, SectionSpec
from tunewise.methods.tuned import Method, TunedRung, peft_save, quiet_peft
from tunewise.sections import Section
from tunewise.task import Task

CENTRE_LR = 3e-2  # the learning-rate check's centre (virtual tokens need far more than LoRA)


class PromptLearningConfig(Section):
    num_virtual_tokens: int = Field(20, ge=1, description="learned virtual tokens (prompt/prefix tuning, P-tuning)")
    prompt_tuning_init: Literal["text", "random"] = Field(
        "text", description="prompt tuning: start from the embeddings of the task instruction's tokens, or random"
    )
    encoder_hidden_size: int = Field(128, ge=1, description="P-tuning: hidden size of the prompt encoder MLP")
    lr: float | None = Field(
        None, gt=0,
        description="learning rate for the virtual tokens; empty: "
        f"the learning-rate check around {CENTRE_LR:g} (virtual tokens need far more than LoRA)",
    )


KINDS = ("prompt_tuning", "prefix_tuning", "p_tuning")


def apply(model: nn.Module, cfg: PromptLearningConfig, kind: str, init_ids: list[int] | None = None) -> PeftModel:
    """Wrap `model` with one prompt-learning adapter; `init_ids` (token ids) seed prompt tuning's vectors."""
    common = {"task_type": "CAUSAL_LM", "num_virtual_tokens": cfg.num_virtual_tokens}
    if kind == "prompt_tuning":
        peft_cfg = PromptTuningConfig(**common)
    elif kind == "prefix_tuning":
        peft_cfg = PrefixTuningConfig(**common)
    elif kind == "p_tuning":
        peft_cfg = PromptEncoderConfig(**common, encoder_hidden_size=cfg.encoder_hidden_size)
    else:
        raise ValueError(f"unknown prompt-learning kind {kind!r}; expected one of {KINDS}")
    with quiet_peft():
        model = get_peft_model(model, peft_cfg)
    if kind == "prompt_tuning" and cfg.prompt_tuning_init == "text" and init_ids:
        _init_from_tokens(model, init_ids, cfg.num_virtual_tokens)
    for param in model.parameters():
        if param.requires_grad:
            param.data = param.data.float()  # the frozen base may be bf16; the learned vectors train in fp32
    return model


def _init_from_tokens(model: PeftModel, ids: list[int], n: int) -> None:
    """Start the virtual tokens at the embeddings of `ids` (repeated or cut to n): a prompt in words, tuned."""
    ids = (ids * (n // max(len(ids), 1) + 1))[:n]
    embeddings = model.get_input_embeddings().weight
    table = model.prompt_encoder[model.active_adapter].embedding.weight
    with torch.no_grad():
        table.copy_(embeddings[torch.tensor(ids)].to(table.dtype))


def _instruction_ids(tokenizer, task: Task) -> list[int] | None:
    """The task instruction's token ids (prompt tuning starts from them), or None without an instruction."""
    return tokenizer(task.instruction, add_special_tokens=False)["input_ids"] if task.instruction else None


def _rung(plan: PlanContext, kind: str) -> TunedRung:
    pc = plan.config.prompt_learning
    method = Method(kind, f"{kind.replace('_', ' ')} through PEFT, {pc.num_virtual_tokens} virtual tokens",
                    lambda model, tokenizer: apply(model, pc, kind, _instruction_ids(tokenizer, plan.task)),
                    peft_save, lr=pc.lr, centre_lr=CENTRE_LR)
    return TunedRung(plan.task, plan.config, method)


SECTION = SectionSpec("prompt_learning", PromptLearningConfig, "prompt tuning, prefix tuning and P-tuning rungs")
METHODS = [
    MethodSpec("prompt_tuning", "learned virtual input tokens (PEFT), model frozen",
               lambda plan: [_rung(plan, "prompt_tuning")]),
    MethodSpec("prefix_tuning", "learned keys/values in every attention layer (PEFT), model frozen",
               lambda plan: [_rung(plan, "prefix_tuning")]),
    MethodSpec("p_tuning", "virtual tokens from a small prompt-encoder MLP (PEFT), model frozen",
               lambda plan: [_rung(plan, "p_tuning")]),
]
