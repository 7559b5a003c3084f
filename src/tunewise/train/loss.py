"""Causal LM loss on answer tokens only, with the output layer applied only where it is needed, in chunks.

The output layer (49,152 x 576 on SmolLM2) at every position is a large share of the compute when answers
are a few tokens long; projecting only the positions that predict an answer token removes that share. When
answers are long, the logits of all answer positions would still be large (2,000 answer tokens x 49,152 x 4 bytes
= 390 MB in fp32, several copies with softmax and gradients), so the loss is computed `LOSS_CHUNK` positions
at a time and each chunk's gradient is computed right away (see `ChunkedLinearCrossEntropy`): the full logits
never exist at once.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from peft import PeftModel
from torch import Tensor, nn

from tunewise.errors import TrainingError
from tunewise.models.forward import logits_at, runs_whole
from tunewise.train.batching import IGNORE_INDEX

LOSS_CHUNK = 256  # answer positions per output-layer chunk: 256 x 49,152 fp32 logits = 50 MB at most


def answer_loss_sum(model: nn.Module, batch: dict[str, Tensor]) -> tuple[Tensor, int]:
    """Summed fp32 cross-entropy over the batch's answer tokens, and how many there are.

    A packed batch (see `batching.collate_packed`) carries `position_ids` and no `attention_mask`; the model
    then keeps each packed example's attention to itself.
    """
    if runs_whole(model):
        return _whole_model_loss_sum(model, batch)
    body, head = decoder_and_head(model)
    hidden = body(
        input_ids=batch["input_ids"],
        attention_mask=batch.get("attention_mask"),
        position_ids=batch.get("position_ids"),
        use_cache=False,  # training: no KV cache to fill (and a cache would hide packed sequences from the mask)
    ).last_hidden_state  # (B, T, C)
    # The hidden state at t predicts token t + 1, so drop the last position and the first label.
    targets = batch["labels"][:, 1:]  # (B, T-1)
    predicts_answer = targets != IGNORE_INDEX
    answer_hidden = hidden[:, :-1][predicts_answer]  # (N, C)
    loss_sum = linear_cross_entropy_sum(answer_hidden, head.weight, targets[predicts_answer], head.bias)
    return loss_sum, int(predicts_answer.sum())


def _whole_model_loss_sum(model: nn.Module, batch: dict[str, Tensor]) -> tuple[Tensor, int]:
    """The answer loss through the wrapped model's own forward, for PEFT prompt learning (virtual tokens are
    injected there); the output layer still runs only at the positions that predict an answer token."""
    if batch.get("position_ids") is not None:
        raise TrainingError("train.packing does not combine with prompt tuning, prefix tuning or P-tuning; "
                            "set train.packing: false")
    targets = batch["labels"][:, 1:]
    predicts_answer = targets != IGNORE_INDEX
    keep = F.pad(predicts_answer, (0, 1), value=False)  # (B, T): position t predicts token t + 1
    logits = logits_at(model, batch["input_ids"], batch["attention_mask"], keep)  # (N, V), row by row
    return F.cross_entropy(logits.float(), targets[predicts_answer], reduction="sum"), int(predicts_answer.sum())


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


def linear_cross_entropy_sum(
    hidden: Tensor, weight: Tensor, targets: Tensor, bias: Tensor | None = None, chunk: int = LOSS_CHUNK
) -> Tensor:
    """sum(cross_entropy(hidden @ weight.T + bias, targets)) in fp32, never holding more than `chunk` rows of logits.

    Equal to `F.cross_entropy(F.linear(hidden, weight, bias).float(), targets, reduction="sum")` in value and
    gradients. Under autocast the matmuls run in the autocast dtype, as `F.linear` would.
    """
    if bias is not None:  # rare (tied heads have none); the plain path keeps the code for it short
        return F.cross_entropy(F.linear(hidden, weight, bias).float(), targets, reduction="sum")
    if torch.is_grad_enabled() and (hidden.requires_grad or weight.requires_grad):
        return ChunkedLinearCrossEntropy.apply(hidden, weight, targets, chunk)
    dtype = _matmul_dtype(hidden, weight)
    hidden, weight = hidden.to(dtype), weight.to(dtype)  # cast once, not once per chunk
    return sum(
        (_chunk_loss_and_grad(hidden[s : s + chunk], weight, targets[s : s + chunk], want_grad=False)[0]
         for s in range(0, len(targets), chunk)),
        start=hidden.new_zeros((), dtype=torch.float32),
    )


class ChunkedLinearCrossEntropy(torch.autograd.Function):
    """Output layer + summed cross-entropy whose backward is computed chunk by chunk during the forward.

    d loss / d logits = softmax(logits) - onehot(target), so each chunk's gradients with respect to the hidden
    states (and the output weight, when it trains) are known as soon as its logits are; keeping those instead of
    the logits costs (N x C) + (V x C) memory instead of (N x V), with no recomputation.
    """

    @staticmethod
    def forward(ctx, hidden: Tensor, weight: Tensor, targets: Tensor, chunk: int) -> Tensor:
        dtype = _matmul_dtype(hidden, weight)
        grad_hidden = torch.empty_like(hidden)
        grad_weight = torch.zeros_like(weight, dtype=torch.float32) if ctx.needs_input_grad[1] else None
        ctx.weight_dtype = weight.dtype
        hidden, weight = hidden.to(dtype), weight.to(dtype)  # cast once, not once per chunk
        total = hidden.new_zeros((), dtype=torch.float32)
        for start in range(0, len(targets), chunk):
            rows = slice(start, start + chunk)
            loss, d_logits = _chunk_loss_and_grad(hidden[rows], weight, targets[rows], want_grad=True)
            total += loss
            d_logits = d_logits.to(dtype)
            grad_hidden[rows] = d_logits @ weight
            if grad_weight is not None:
                grad_weight += (d_logits.T @ hidden[rows]).float()
        ctx.save_for_backward(grad_hidden, grad_weight)
        return total

    @staticmethod
    def backward(ctx, grad_output: Tensor):
        grad_hidden, grad_weight = ctx.saved_tensors
        d_hidden = grad_hidden * grad_output.to(grad_hidden.dtype)
        d_weight = None if grad_weight is None else (grad_weight * grad_output).to(ctx.weight_dtype)
        return d_hidden, d_weight, None, None


def _chunk_loss_and_grad(hidden: Tensor, weight: Tensor, targets: Tensor, want_grad: bool) -> tuple[Tensor, Tensor | None]:
    """Summed fp32 cross-entropy of one chunk, and d loss / d logits (fp32) when asked; inputs in one dtype."""
    logits = (hidden @ weight.T).float()  # (n, V)
    log_norm = torch.logsumexp(logits, dim=-1)  # (n,)
    loss = (log_norm - logits.gather(1, targets[:, None]).squeeze(1)).sum()
    if not want_grad:
        return loss, None
    probs = logits.sub_(log_norm[:, None]).exp_()  # softmax, in place of the logits
    probs[torch.arange(len(targets), device=targets.device), targets] -= 1.0
    return loss, probs


def _matmul_dtype(hidden: Tensor, weight: Tensor) -> torch.dtype:
    """The dtype F.linear would compute in: autocast's when it is on, else the inputs' (promoted)."""
    device = hidden.device.type
    if torch.is_autocast_enabled(device):
        return torch.get_autocast_dtype(device)
    return torch.promote_types(hidden.dtype, weight.dtype)


def decoder_and_head(model: nn.Module) -> tuple[nn.Module, nn.Module]:
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
