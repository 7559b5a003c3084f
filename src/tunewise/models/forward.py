"""How the loss and the scorers may call a model: piecewise (decoder body, then the output layer only where it is
needed; a shared prompt prefix cached once), or, for models that inject virtual tokens inside their forward
(PEFT's prompt tuning, prefix tuning and P-tuning adapters), only as a whole; and how a batch of token ids is
padded for it.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from peft import PeftType
from torch import Tensor, nn


def runs_whole(model: nn.Module) -> bool:
    """Whether the model must be called as a whole: no shared-prefix cache, no packed rows, no separate output layer.

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


def padded(
    seqs: Sequence[Sequence[int]], side: str, device: torch.device, pad_id: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """(ids, mask), both (len(seqs), longest): sequences padded with pad_id on `side`, mask 1 on real tokens."""
    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    mask = torch.zeros(len(seqs), width, dtype=torch.long)
    for row, seq in enumerate(seqs):
        cols = slice(width - len(seq), width) if side == "left" else slice(0, len(seq))
        ids[row, cols] = torch.tensor(seq, dtype=torch.long)
        mask[row, cols] = 1
    return ids.to(device), mask.to(device)


def context_length(model) -> int:
    """Most positions the model takes (2048 when its config does not say)."""
    return getattr(model.config, "max_position_embeddings", None) or 2048
