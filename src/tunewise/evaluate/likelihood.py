"""Log-likelihood of continuations after prompts: how classification rungs score every label.

The prefix every prompt shares (system instruction, few-shot demonstrations) runs once for the whole set; each
prompt's remainder runs once; all continuations are scored from that KV cache, and the output layer (49,152 x 576
on SmolLM2) is applied only at the positions that predict a continuation token.
"""
from __future__ import annotations

from contextlib import nullcontext
from typing import Callable, Sequence

import copy
import inspect

import numpy as np
import torch
import torch.nn.functional as F
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from tunewise.models.chat_template import answer_ids


def score_labels(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompts: list[list[int]],
    labels: list[str],
    batch_size: int = 8,
    precision: str = "bf16",
    progress: Callable[[int], None] | None = None,
) -> np.ndarray:
    """(N, L) summed log-probability of each label as the answer to each prompt, end-of-turn token included.

    Scoring the end-of-turn token too tells apart labels that are prefixes of each other ("bug" / "bug report").
    """
    continuations = [answer_ids(tokenizer, label) for label in labels]
    return score_continuations(model, prompts, continuations, batch_size=batch_size, precision=precision,
                               progress=progress)


def score_continuations(
    model: PreTrainedModel,
    prompts: list[list[int]],
    continuations: list[list[int]],
    batch_size: int = 8,
    precision: str = "bf16",
    progress: Callable[[int], None] | None = None,
) -> np.ndarray:
    """(N, L) summed log-probability of each continuation's tokens following each prompt.

    `progress(done)` is called after each batch with the number of prompts scored so far.
    """
    if not prompts or not continuations:
        return np.zeros((len(prompts), len(continuations)))
    if any(len(p) == 0 for p in prompts) or any(len(c) == 0 for c in continuations):
        raise ValueError("every prompt and every continuation needs at least one token")
    scores = np.empty((len(prompts), len(continuations)))
    device = next(model.parameters()).device
    full = _is_prompt_learning(model)
    # Similar lengths in one batch waste less compute on padding; results go back in the caller's order.
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
    with torch.inference_mode(), autocast(precision, device):
        prefix = None if full else shared_prefix(model, prompts, device)
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            batch = [prompts[i] for i in rows]
            if full:
                scores[rows] = _score_batch_full(model, batch, continuations, device).cpu().numpy()
            else:
                scores[rows] = _score_batch_cached(model, batch, continuations, device, prefix).cpu().numpy()
            if progress is not None:
                progress(start + len(rows))
    return scores


class SharedPrefix:
    """The tokens every prompt starts with, run once: their length and KV cache (batch 1)."""

    def __init__(self, length: int, cache):
        self.length = length
        self.cache = cache

    def cache_for(self, batch: int):
        """A private copy of the prefix cache, repeated for `batch` rows: (1, h, P, d) -> (batch, h, P, d)."""
        cache = copy.deepcopy(self.cache)
        cache.batch_repeat_interleave(batch)
        return cache


def shared_prefix(model: PreTrainedModel, prompts: list[list[int]], device: torch.device) -> SharedPrefix | None:
    """Run the longest common token prefix of all prompts once (None when there is none worth caching).

    Causal attention makes the prefix's keys and values independent of what follows, so reusing them is exact.
    At least one token of every prompt is left out of the prefix: its hidden state scores the first label token.
    """
    length = min(len(p) for p in prompts) - 1
    first = prompts[0]
    for p in prompts[1:]:
        while length > 0 and p[:length] != first[:length]:
            length = _common_length(p, first, length)
    if length < 8:  # too short to pay for the copies
        return None
    ids = torch.tensor([first[:length]], device=device)
    out = model.get_decoder()(input_ids=ids, use_cache=True)
    return SharedPrefix(length, out["cache"] if "cache" in out else out.past_key_values)


def _common_length(a: list[int], b: list[int], limit: int) -> int:
    n = 0
    while n < limit and a[n] == b[n]:
        n += 1
    return n


def autocast(precision: str, device: torch.device):
    """bf16 autocast when precision is 'bf16' (fast on this CPU), else a no-op (fp32)."""
    if precision not in ("bf16", "fp32"):
        raise ValueError(f"precision must be 'bf16' or 'fp32', got {precision!r}")
    return torch.autocast(device.type, dtype=torch.bfloat16) if precision == "bf16" else nullcontext()


def padded(seqs: Sequence[Sequence[int]], side: str, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """(ids, mask), both (len(seqs), longest): sequences padded with 0 on `side`, mask 1 on real tokens."""
    width = max(len(s) for s in seqs)
    ids = torch.zeros(len(seqs), width, dtype=torch.long)
    mask = torch.zeros(len(seqs), width, dtype=torch.long)
    for row, seq in enumerate(seqs):
        cols = slice(width - len(seq), width) if side == "left" else slice(0, len(seq))
        ids[row, cols] = torch.tensor(seq, dtype=torch.long)
        mask[row, cols] = 1
    return ids.to(device), mask.to(device)


def _is_prompt_learning(model: PreTrainedModel) -> bool:
    # Prompt/prefix tuning and P-tuning inject virtual tokens inside PeftModel.forward, which the cached path
    # (decoder + output layer called directly) would skip.
    config = getattr(model, "active_peft_config", None)
    return bool(config is not None and config.is_prompt_learning)


def _next_token_log_probs(model: PreTrainedModel, hidden: torch.Tensor) -> torch.Tensor:
    """(K, V) next-token log-probabilities from K hidden states (K, H), in fp32."""
    return F.log_softmax(model.get_output_embeddings()(hidden).float(), dim=-1)


def _score_batch_cached(
    model: PreTrainedModel,
    prompts: list[list[int]],
    continuations: list[list[int]],
    device: torch.device,
    prefix: SharedPrefix | None = None,
) -> torch.Tensor:
    """(B, L) scores: each prompt runs once (after the shared prefix), then its KV cache serves the L continuations."""
    B, L = len(prompts), len(continuations)
    decoder = model.get_decoder()
    P = prefix.length if prefix else 0
    # Left padding puts every prompt's last token in the last column, so continuations start at one offset.
    # After a shared prefix the padding sits between prefix and remainder; the mask and positions skip it.
    ids, rest_mask = padded([p[P:] for p in prompts], "left", device)  # (B, T - P)
    mask = torch.cat([torch.ones(B, P, dtype=rest_mask.dtype, device=device), rest_mask], dim=1)  # (B, T)
    positions = ((mask.cumsum(-1) - 1).clamp(min=0))[:, P:]  # (B, T - P)
    extra = {_cache_arg(decoder): prefix.cache_for(B)} if prefix else {}
    out = decoder(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True, **extra)
    cont, cont_mask = padded(continuations, "right", device)  # (L, C)
    scores = _next_token_log_probs(model, out.last_hidden_state[:, -1])[:, cont[:, 0]]  # (B, L)
    C = cont.shape[1]
    if C == 1:
        return scores
    cache = out["cache"] if "cache" in out else out.past_key_values
    cache.batch_repeat_interleave(L)  # every layer's keys/values: (B, heads, T, d) -> (B*L, heads, T, d)
    inputs = cont[:, :-1].repeat(B, 1)  # (B*L, C-1); row b*L + l is continuation l after prompt b
    attention = torch.cat([mask.repeat_interleave(L, dim=0), cont_mask[:, :-1].repeat(B, 1)], dim=1)
    offsets = torch.arange(1, C, device=device)
    cont_positions = positions[:, -1:].repeat_interleave(L, dim=0) + offsets  # (B*L, C-1)
    hidden = decoder(
        input_ids=inputs, attention_mask=attention, position_ids=cont_positions, use_cache=True, **{_cache_arg(decoder): cache}
    ).last_hidden_state  # (B*L, C-1, H)
    targets = cont[:, 1:].repeat(B, 1)  # (B*L, C-1)
    valid = cont_mask[:, 1:].repeat(B, 1).bool()
    rest = torch.zeros(B * L, C - 1, device=device)
    rest[valid] = _next_token_log_probs(model, hidden[valid]).gather(-1, targets[valid][:, None]).squeeze(-1)
    return scores + rest.sum(-1).view(B, L)


def _cache_arg(decoder: torch.nn.Module) -> str:
    # transformers 5.2x renamed `past_key_values` to `cache` (the old name warns); older decoders only know the old one.
    return "cache" if "cache" in inspect.signature(decoder.forward).parameters else "past_key_values"


def _score_batch_full(
    model: PreTrainedModel, prompts: list[list[int]], continuations: list[list[int]], device: torch.device
) -> torch.Tensor:
    """(B, L) scores by one full forward of every prompt + continuation pair (for prompt-learning adapters)."""
    pairs = [p + c for p in prompts for c in continuations]
    ids, mask = padded(pairs, "right", device)  # (B*L, T)
    logits = model(input_ids=ids, attention_mask=mask).logits[:, -ids.shape[1] :].float()  # drop virtual tokens
    log_probs = F.log_softmax(logits[:, :-1], dim=-1).gather(-1, ids[:, 1:, None]).squeeze(-1)  # (B*L, T-1)
    # Position t predicts token t+1: continuation tokens sit at [len(prompt), len(prompt) + len(cont)).
    keep = torch.zeros_like(log_probs)
    for row, (p, c) in enumerate((p, c) for p in prompts for c in continuations):
        keep[row, len(p) - 1 : len(p) + len(c) - 1] = 1
    return (log_probs * keep).sum(-1).view(len(prompts), len(continuations))
