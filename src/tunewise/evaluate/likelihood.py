"""Log-likelihood of continuations after prompts: how classification rungs score every label.

The prefix every prompt shares (system instruction, few-shot demonstrations) runs once for the whole set; then one
forward per batch runs each prompt's remainder with its continuations packed after it (every label, or on
many-label tasks the example's own candidate labels; a 4-D mask keeps them apart), and the output layer (49,152 x 576
on SmolLM2) is applied only at the positions that predict a continuation token.
"""
from __future__ import annotations

import copy
import inspect
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from functools import partial

import numpy as np
import torch
import torch.nn.functional as F
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from tunewise.models.chat_template import answer_ids
from tunewise.models.forward import logits_at, padded, runs_whole


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


def score_candidate_labels(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompts: list[list[int]],
    candidates: list[list[str]],
    batch_size: int = 8,
    precision: str = "bf16",
    progress: Callable[[int], None] | None = None,
) -> list[np.ndarray]:
    """Per prompt, the (L_i,) scores of its own candidate labels (as `score_labels` would give them, label by label).

    Many-label tasks score a few likely labels per example instead of all of them: the cost grows with the labels.
    """
    ids = {label: answer_ids(tokenizer, label) for row in candidates for label in row}
    continuations = [[ids[label] for label in row] for row in candidates]
    return score_row_continuations(model, prompts, continuations, batch_size=batch_size, precision=precision,
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
    rows = score_row_continuations(model, prompts, [continuations] * len(prompts), batch_size=batch_size,
                                   precision=precision, progress=progress)
    return np.stack(rows)


def score_row_continuations(
    model: PreTrainedModel,
    prompts: list[list[int]],
    continuations: list[list[list[int]]],
    batch_size: int = 8,
    precision: str = "bf16",
    progress: Callable[[int], None] | None = None,
) -> list[np.ndarray]:
    """Per prompt i, the (L_i,) summed log-probabilities of its own continuations `continuations[i]`.

    `progress(done)` is called after each batch with the number of prompts scored so far.
    """
    if len(continuations) != len(prompts):
        raise ValueError(f"{len(prompts)} prompts but {len(continuations)} continuation lists")
    if any(len(p) == 0 for p in prompts) or any(len(c) == 0 for row in continuations for c in row):
        raise ValueError("every prompt and every continuation needs at least one token")
    scores: list[np.ndarray | None] = [None] * len(prompts)
    device = next(model.parameters()).device
    full = runs_whole(model)
    # Similar lengths in one batch waste less compute on padding; results go back in the caller's order.
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
    with torch.inference_mode(), autocast(precision, device):
        prefix = None if full or not prompts else shared_prefix(model, prompts, device)
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            batch, conts = [prompts[i] for i in rows], [continuations[i] for i in rows]
            score_batch = _score_batch_full if full else partial(_score_batch_packed, prefix=prefix)
            batch_scores = score_batch(model, batch, conts, device).cpu().numpy()  # (B, L_max), padded columns
            for row, i in enumerate(rows):
                scores[i] = batch_scores[row, : len(continuations[i])]
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
            length = common_length(p, first, length)
    if length < 8:  # too short to pay for the copies
        return None
    return run_prefix(model, first[:length], device)


def run_prefix(model: PreTrainedModel, ids: list[int], device: torch.device) -> SharedPrefix:
    """Run `ids` once through the decoder body and keep their KV cache (the output layer never runs)."""
    out = model.get_decoder()(input_ids=torch.tensor([ids], device=device), use_cache=True)
    return SharedPrefix(len(ids), next(out[name] for name in ("cache", "past_key_values") if name in out))


def common_length(a: list[int], b: list[int], limit: int) -> int:
    """How many leading tokens `a` and `b` share, at most `limit`."""
    n = 0
    while n < limit and a[n] == b[n]:
        n += 1
    return n


def autocast(precision: str, device: torch.device):
    """bf16 autocast when precision is 'bf16' (fast on this CPU), else a no-op (fp32)."""
    if precision not in ("bf16", "fp32"):
        raise ValueError(f"precision must be 'bf16' or 'fp32', got {precision!r}")
    return torch.autocast(device.type, dtype=torch.bfloat16) if precision == "bf16" else nullcontext()


def _next_token_log_probs(model: PreTrainedModel, hidden: torch.Tensor) -> torch.Tensor:
    """(K, V) next-token log-probabilities from K hidden states (K, H), in fp32."""
    return F.log_softmax(model.get_output_embeddings()(hidden).float(), dim=-1)


@dataclass
class PackedContinuations:
    """Each row's continuations but their last tokens, end to end in K tokens, and what each position predicts.

    Continuation l = [c0, ..., cn] puts c0 .. c(n-1) in the row; the prompt's last position predicts c0, and each
    packed token predicts the next token of its own continuation. Rows with fewer continuations or tokens are padded
    on the right: padded positions belong to continuation L (a column dropped after summing), padded continuations
    score token 0 (columns the caller drops).
    """

    first: torch.Tensor  # (B, L) first token of each continuation, predicted from the prompt's last position
    inputs: torch.Tensor  # (B, K) the packed tokens
    targets: torch.Tensor  # (B, K) the token each packed position predicts
    owner: torch.Tensor  # (B, K) the continuation each packed position belongs to (L: padding)
    offset: torch.Tensor  # (B, K) 1 + the position within its continuation: distance from the prompt's last token


def pack_continuations(continuations: list[list[list[int]]], device: torch.device) -> PackedContinuations:
    """Every row's continuations packed into one row each (see PackedContinuations)."""
    rows = [_pack_row(row) for row in continuations]
    L = max(len(row) for row in continuations)
    K = max(len(row[1]) for row in rows)

    def padded_rows(field: int, width: int, pad: int) -> list[list[int]]:
        return [row[field] + [pad] * (width - len(row[field])) for row in rows]

    tables = [padded_rows(0, L, 0), padded_rows(1, K, 0), padded_rows(2, K, 0), padded_rows(3, K, L),
              padded_rows(4, K, 1)]  # first, inputs, targets, owner, offset
    return PackedContinuations(*(torch.tensor(t, dtype=torch.long, device=device) for t in tables))  # (B, L|K)


def _pack_row(continuations: list[list[int]]) -> tuple[list[int], list[int], list[int], list[int], list[int]]:
    """(first tokens, packed inputs, targets, owners, offsets) of one row's continuations."""
    inputs, targets, owner, offset = [], [], [], []
    for index, cont in enumerate(continuations):
        inputs += cont[:-1]
        targets += cont[1:]
        owner += [index] * (len(cont) - 1)
        offset += range(1, len(cont))
    return [cont[0] for cont in continuations], inputs, targets, owner, offset


def packed_attention(rest_mask: torch.Tensor, packed: PackedContinuations, prefix_length: int) -> torch.Tensor:
    """(B, 1, R + K, P + R + K) boolean mask, True where a query may attend to a key.

    Keys are the shared prefix (P), each prompt's left-padded remainder (R) and the packed continuations (K).
    Prompt tokens attend causally to their prompt; a continuation token attends to the whole prompt and to the
    tokens of its own continuation up to itself, never to other continuations. Every position also attends to
    itself, so padding rows stay finite (their garbage never reaches a real position: real rows do not attend to
    padding keys).
    """
    B, R = rest_mask.shape
    K = packed.inputs.shape[1]
    real = rest_mask.bool()[:, None, :]  # (B, 1, R)
    device = rest_mask.device
    allowed = torch.zeros(B, R + K, prefix_length + R + K, dtype=torch.bool, device=device)
    allowed[:, :, :prefix_length] = True
    allowed[:, :R, prefix_length : prefix_length + R] = torch.ones(R, R, dtype=torch.bool, device=device).tril() & real
    allowed[:, R:, prefix_length : prefix_length + R] = real
    causal = torch.ones(K, K, dtype=torch.bool, device=device).tril()
    own = (packed.owner[:, :, None] == packed.owner[:, None, :]) & causal  # (B, K, K)
    allowed[:, R:, prefix_length + R :] = own
    allowed[:, :, prefix_length:] |= torch.eye(R + K, dtype=torch.bool, device=device)
    return allowed[:, None]


def _score_batch_packed(
    model: PreTrainedModel,
    prompts: list[list[int]],
    continuations: list[list[list[int]]],
    device: torch.device,
    prefix: SharedPrefix | None = None,
) -> torch.Tensor:
    """(B, L_max) scores from one forward: each prompt (after the shared prefix) followed by its continuations
    packed (row i scores continuations[i]; columns past its count are padding).

    Packing computes each prompt once and each continuation token once, with no copies of the prompt's cache per
    continuation; the 4-D mask and position ids make every continuation see exactly what it would after its prompt.
    """
    B = len(prompts)
    decoder = model.get_decoder()
    P = prefix.length if prefix else 0
    packed = pack_continuations(continuations, device)
    L, K = packed.first.shape[1], packed.inputs.shape[1]
    # Left padding puts every prompt's last token in the last remainder column, so continuations start at one offset.
    # After a shared prefix the padding sits between prefix and remainder; the mask and positions skip it.
    rest, rest_mask = padded([p[P:] for p in prompts], "left", device)  # (B, R)
    R = rest.shape[1]
    mask = torch.cat([torch.ones(B, P, dtype=rest_mask.dtype, device=device), rest_mask], dim=1)  # (B, P + R)
    positions = (mask.cumsum(-1) - 1).clamp(min=0)[:, P:]  # (B, R)
    positions = torch.cat([positions, positions[:, -1:] + packed.offset], dim=1)  # (B, R + K)
    ids = torch.cat([rest, packed.inputs], dim=1)  # (B, R + K)
    attention = _attention_mask(model, packed_attention(rest_mask, packed, P))
    extra = {cache_arg(decoder): prefix.cache_for(B)} if prefix else {}
    hidden = decoder(
        input_ids=ids, attention_mask=attention, position_ids=positions, use_cache=False, **extra
    ).last_hidden_state  # (B, R + K, H)
    scores = _next_token_log_probs(model, hidden[:, R - 1]).gather(1, packed.first)  # (B, L)
    if K == 0:
        return scores
    log_probs = _next_token_log_probs(model, hidden[:, R:].reshape(B * K, -1))  # (B*K, V)
    rest_scores = log_probs.gather(-1, packed.targets.reshape(B * K, 1)).view(B, K)
    # Summed per owner; padded positions go to column L, dropped.
    summed = torch.zeros(B, L + 1, dtype=rest_scores.dtype, device=device).scatter_add(1, packed.owner, rest_scores)
    return scores + summed[:, :L]


def _attention_mask(model: PreTrainedModel, allowed: torch.Tensor) -> torch.Tensor:
    """A boolean 4-D mask as the model's attention takes it: as is for SDPA, else 0 / dtype minimum added to scores."""
    if model.config._attn_implementation == "sdpa":
        return allowed
    dtype = model.get_input_embeddings().weight.dtype  # what transformers builds eager masks in
    return torch.zeros(allowed.shape, dtype=dtype, device=allowed.device).masked_fill(~allowed, torch.finfo(dtype).min)


def cache_arg(decoder: torch.nn.Module) -> str:
    """The keyword a decoder (and its model's `generate`) takes a KV cache by."""
    # transformers 5.2x renamed `past_key_values` to `cache` (the old name warns); older decoders only know the old one.
    return "cache" if "cache" in inspect.signature(decoder.forward).parameters else "past_key_values"


def _score_batch_full(
    model: PreTrainedModel, prompts: list[list[int]], continuations: list[list[list[int]]], device: torch.device
) -> torch.Tensor:
    """(B, L_max) scores by one full forward of every prompt + continuation pair (for prompt-learning adapters);
    row i scores continuations[i], columns past its count are padding (0)."""
    pairs = [(p, c) for p, row in zip(prompts, continuations) for c in row]
    flat = _score_pairs_batch(model, pairs, device)
    scores = torch.zeros(len(prompts), max(len(row) for row in continuations), device=device)
    start = 0
    for i, row in enumerate(continuations):
        scores[i, : len(row)] = flat[start : start + len(row)]
        start += len(row)
    return scores


def score_pairs(
    model: PreTrainedModel,
    pairs: Sequence[tuple[list[int], list[int]]],
    batch_size: int = 8,
    precision: str = "bf16",
    progress: Callable[[int], None] | None = None,
) -> np.ndarray:
    """(N,) summed log-probability of each pair's continuation after its own prompt (multiple-choice items, where
    every question has its own choices, and perplexity windows). One padded row per pair."""
    if any(len(p) == 0 or len(c) == 0 for p, c in pairs):
        raise ValueError("every prompt and every continuation needs at least one token")
    scores = np.empty(len(pairs))
    device = next(model.parameters()).device
    order = sorted(range(len(pairs)), key=lambda i: len(pairs[i][0]) + len(pairs[i][1]))
    with torch.inference_mode(), autocast(precision, device):
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            scores[rows] = _score_pairs_batch(model, [pairs[i] for i in rows], device).cpu().numpy()
            if progress is not None:
                progress(start + len(rows))
    return scores


def _score_pairs_batch(
    model: PreTrainedModel, pairs: Sequence[tuple[list[int], list[int]]], device: torch.device
) -> torch.Tensor:
    """(N,) scores of N prompt + continuation rows in one forward, the output layer applied only where a
    continuation token is predicted."""
    ids, mask = padded([p + c for p, c in pairs], "right", device)  # (N, T)
    # Position t predicts token t+1: continuation tokens sit at [len(prompt), len(prompt) + len(cont)).
    keep = torch.zeros_like(ids, dtype=torch.bool)
    for row, (p, c) in enumerate(pairs):
        keep[row, len(p) - 1 : len(p) + len(c) - 1] = True
    logits = logits_at(model, ids, mask, keep).float()  # (K, V), row by row
    rows, positions = keep.nonzero(as_tuple=True)
    token_log_probs = F.log_softmax(logits, dim=-1).gather(-1, ids[rows, positions + 1][:, None]).squeeze(-1)
    return torch.zeros(len(pairs), device=device).index_add_(0, rows, token_log_probs)
