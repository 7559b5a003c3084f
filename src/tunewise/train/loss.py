"""Causal LM loss on answer tokens only, with the output layer applied only where it is needed.

The output layer (49,152 x 576 on SmolLM2) at every position is a large share of the compute when answers
are a few tokens long; projecting only the positions that predict an answer token removes that share.
"""
from __future__ import annotations

import torch.nn.functional as F
from peft import PeftModel
from torch import Tensor, nn

from tunewise.errors import TrainingError
from tunewise.train.batching import IGNORE_INDEX


def answer_loss_sum(model: nn.Module, batch: dict[str, Tensor]) -> tuple[Tensor, int]:
    """Summed fp32 cross-entropy over the batch's answer tokens, and how many there are."""
    body, head = _decoder_and_head(model)
    hidden = body(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state  # (B, T, C)
    # The hidden state at t predicts token t + 1, so drop the last position and the first label.
    targets = batch["labels"][:, 1:]  # (B, T-1)
    predicts_answer = targets != IGNORE_INDEX
    answer_hidden = hidden[:, :-1][predicts_answer]  # (N, C)
    logits = head(answer_hidden).float()  # (N, V)
    loss_sum = F.cross_entropy(logits, targets[predicts_answer], reduction="sum")
    return loss_sum, int(predicts_answer.sum())


def answer_loss(model: nn.Module, batch: dict[str, Tensor]) -> Tensor:
    """Mean fp32 cross-entropy over the batch's answer tokens (output layer on answer positions only)."""
    loss_sum, n_tokens = answer_loss_sum(model, batch)
    return loss_sum / max(n_tokens, 1)


def full_vocab_loss(model: nn.Module, batch: dict[str, Tensor]) -> Tensor:
    """The plain HF-style loss: logits at every position, shifted labels, mean over answer tokens (reference)."""
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits  # (B, T, V)
    logits = logits[:, :-1].float().reshape(-1, logits.shape[-1])  # (B*(T-1), V)
    targets = batch["labels"][:, 1:].reshape(-1)  # (B*(T-1),)
    return F.cross_entropy(logits, targets, ignore_index=IGNORE_INDEX)


def _decoder_and_head(model: nn.Module) -> tuple[nn.Module, nn.Module]:
    """The decoder body (embeddings, layers, final norm; LoRA layers live inside it) and the output layer."""
    base = model.get_base_model() if isinstance(model, PeftModel) else model
    body = base.get_decoder() if hasattr(base, "get_decoder") else None
    if body is None or body is base:
        body = getattr(base, getattr(base, "base_model_prefix", "model"), None)
    head = base.get_output_embeddings() if hasattr(base, "get_output_embeddings") else None
    if body is None or head is None:
        raise TrainingError(
            f"{type(base).__name__} has no separate decoder body and output layer, which the answer-only loss "
            "needs; use a causal LM such as LlamaForCausalLM"
        )
    if getattr(base.config, "final_logit_softcapping", None) or getattr(base.config, "logit_scale", None):
        # Gemma-2/Cohere transform the logits after the head; we would silently compute a different loss.
        raise TrainingError(f"{type(base).__name__} rescales its logits, which the answer-only loss does not support")
    return body, head
