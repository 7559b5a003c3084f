"""Batched decoding for generation rungs: left padding, KV cache, stop at end-of-turn or a stop string; greedy
unless sampling is asked for.

Every rung decodes with these settings, so differences in the report come from the rung, not the decoder. The
prefix all prompts share (system instruction, demonstrations) runs once and seeds every batch's KV cache.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from transformers import GenerationConfig, PreTrainedModel, PreTrainedTokenizerBase

from tunewise.evaluate.likelihood import (
    SharedPrefix,
    autocast,
    cache_arg,
    shared_prefix,
)
from tunewise.models.chat_template import end_of_turn_id
from tunewise.models.forward import padded, runs_whole
from tunewise.sections import SamplingConfig


def generate(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompts: list[list[int]],
    max_new_tokens: int,
    batch_size: int = 8,
    precision: str = "bf16",
    progress: Callable[[int], None] | None = None,
    stop: Sequence[str] = (),
    sampling: SamplingConfig | None = None,
) -> list[str]:
    """Answers to token-id prompts, decoded without special tokens, cut at the first stop string and stripped, in
    the prompts' order. Greedy unless `sampling` is given (then seeded, so a rerun gives the same answers).

    `progress(done)` is called after each batch with the number of prompts answered so far.
    """
    device = next(model.parameters()).device
    stop_ids = stop_token_ids(tokenizer)
    config = GenerationConfig(
        max_new_tokens=max_new_tokens, num_beams=1, eos_token_id=stop_ids, pad_token_id=stop_ids[0],
        stop_strings=list(stop) or None,
        **({"do_sample": True, "temperature": sampling.temperature, "top_p": sampling.top_p, "top_k": 0}
           if sampling else {"do_sample": False}),
    )
    if sampling:
        torch.manual_seed(sampling.seed)
    answers: list[str] = [""] * len(prompts)
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))  # similar lengths: less padding
    with torch.inference_mode(), autocast(precision, device):
        # A model that adds virtual tokens inside its forward must see whole prompts: a prefix run alone misses them.
        prefix = None if runs_whole(model) or not prompts else shared_prefix(model, prompts, device)
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            batch = generate_ids(model, [prompts[i] for i in rows], config, device, prefix, tokenizer)
            for row, ids in zip(rows, batch):
                answers[row] = cut_at_stop(decode_answer(tokenizer, ids, stop_ids), stop)
            if progress is not None:
                progress(start + len(rows))
    return answers


def stop_token_ids(tokenizer: PreTrainedTokenizerBase) -> list[int]:
    """Tokens that end an answer: the end-of-turn token first, then eos when it differs."""
    ids = [end_of_turn_id(tokenizer)]
    if tokenizer.eos_token_id is not None and tokenizer.eos_token_id not in ids:
        ids.append(tokenizer.eos_token_id)
    return ids


def generate_ids(
    model: PreTrainedModel,
    prompts: list[list[int]],
    config: GenerationConfig,
    device: torch.device,
    prefix: SharedPrefix | None = None,
    tokenizer: PreTrainedTokenizerBase | None = None,
) -> list[list[int]]:
    """The new token ids after each prompt of one batch (stop token and padding included).

    With a shared prefix, generation starts from its cache and runs only the rest of each prompt.
    """
    P = prefix.length if prefix else 0
    # Left padding so every row continues at column T; after a prefix the padding sits between prefix and rest,
    # where the mask hides it and the position ids (from the mask) skip it.
    rest, rest_mask = padded([p[P:] for p in prompts], "left", device)  # (B, T - P)
    head = torch.tensor(prompts[0][:P], dtype=rest.dtype, device=device).expand(len(prompts), P)  # (B, P)
    ids, mask = torch.cat([head, rest], dim=1), torch.cat([torch.ones_like(head), rest_mask], dim=1)  # (B, T)
    extra = {cache_arg(model.get_decoder()): prefix.cache_for(len(prompts))} if prefix else {}
    if config.stop_strings:
        extra["tokenizer"] = tokenizer  # transformers matches stop strings on decoded tokens
    out = model.generate(input_ids=ids, attention_mask=mask, generation_config=config, **extra)  # (B, T + new)
    return out[:, ids.shape[1] :].tolist()


def cut_at_stop(text: str, stop: Sequence[str]) -> str:
    """The text before the earliest stop string, stripped (generation stops at a batch's last stop, so rows that
    stopped earlier carry tokens past theirs)."""
    ends = [text.find(s) for s in stop if s and s in text]
    return text[: min(ends)].strip() if ends else text


def decode_answer(tokenizer: PreTrainedTokenizerBase, ids: list[int], stop_ids: list[int]) -> str:
    """The text before the first stop token, without special tokens, stripped."""
    end = next((i for i, token in enumerate(ids) if token in stop_ids), len(ids))
    return tokenizer.decode(ids[:end], skip_special_tokens=True).strip()
