"""Prompt tuning, prefix tuning and P-tuning through PEFT: the model stays frozen, learned vectors steer it.

- prompt tuning: `num_virtual_tokens` embeddings prepended to the input (initialised from the task
  instruction's token embeddings, or random);
- prefix tuning: learned keys and values prepended in every layer's attention;
- P-tuning: virtual-token embeddings produced by a small MLP prompt encoder.
All three are tiny to store and need high learning rates. PEFT injects the virtual tokens inside its own
forward, so training (train/loss.py) and scoring (evaluate/likelihood.py) call the wrapped model as a whole
for them. Saved in PEFT's layout.
"""
from __future__ import annotations

import warnings

import torch
from peft import (
    PeftModel,
    PeftType,
    PrefixTuningConfig,
    PromptEncoderConfig,
    PromptTuningConfig,
    get_peft_model,
)
from torch import Tensor, nn

from tunewise.config import PromptLearningConfig

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
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        model = get_peft_model(model, peft_cfg)
    if kind == "prompt_tuning" and cfg.prompt_tuning_init == "text" and init_ids:
        _init_from_tokens(model, init_ids, cfg.num_virtual_tokens)
    for param in model.parameters():
        if param.requires_grad:
            param.data = param.data.float()  # the frozen base may be bf16; the learned vectors train in fp32
    return model


def is_prompt_learning(model: nn.Module) -> bool:
    """Whether a PEFT prompt-learning adapter is active: such models cannot use the shared-prefix or packed paths.

    Prompt/prefix tuning and P-tuning inject virtual tokens inside PeftModel.forward, which a prefix run alone or
    the decoder + output layer called directly would skip.
    """
    config = getattr(model, "active_peft_config", None)
    return bool(config is not None and config.is_prompt_learning)


def logits_at(model: nn.Module, input_ids: Tensor, attention_mask: Tensor, keep: Tensor) -> Tensor:
    """(N, V) logits of a prompt-learning model at the True positions of `keep` (B, T), row by row.

    The output layer runs only there (transformers' `logits_to_keep`), not at every position: full logits of
    a batch of label continuations would take gigabytes. Prompt tuning and P-tuning prepend their virtual
    positions to the sequence; prefix tuning adds keys and values but no positions.
    """
    config = getattr(model, "active_peft_config", None)  # None: a plain model, nothing prepended
    if config is not None and config.is_prompt_learning and config.peft_type != PeftType.PREFIX_TUNING:
        keep = torch.cat([keep.new_zeros(keep.shape[0], config.num_virtual_tokens), keep], dim=1)
    return model(input_ids=input_ids, attention_mask=attention_mask, logits_to_keep=keep).logits


def _init_from_tokens(model: PeftModel, ids: list[int], n: int) -> None:
    """Start the virtual tokens at the embeddings of `ids` (repeated or cut to n): a prompt in words, tuned."""
    ids = (ids * (n // max(len(ids), 1) + 1))[:n]
    embeddings = model.get_input_embeddings().weight
    table = model.prompt_encoder[model.active_adapter].embedding.weight
    with torch.no_grad():
        table.copy_(embeddings[torch.tensor(ids)].to(table.dtype))
