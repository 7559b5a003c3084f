"""How every rung turns conversations into predictions: label log-likelihoods (classification) or greedy decoding.

One code path for all rungs, so the report's differences come from what a rung learned or put in the prompt.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from tunewise.evaluate.candidates import per_example
from tunewise.evaluate.generate import generate
from tunewise.evaluate.likelihood import score_candidate_labels, score_labels
from tunewise.models.chat_template import prompt_ids, truncate_prompt
from tunewise.models.forward import context_length
from tunewise.models.load import load_causal_lm
from tunewise.progress import progress_printer
from tunewise.records import Message, Prediction
from tunewise.task import Task

if TYPE_CHECKING:
    from tunewise.config import Config

# Weights are already in the rungs' eval dtype, so no autocast on top (it would only re-cast them every call).
PRECISION = "fp32"


class BaseModelCache:
    """Loads the base model once for all prompting rungs; fine-tuning rungs load their own copy."""

    def __init__(self, name: str, dtype: torch.dtype):
        self.name, self.dtype = name, dtype
        self._loaded = None

    def get(self):
        if self._loaded is None:
            self._loaded = load_causal_lm(self.name, dtype=self.dtype)
        return self._loaded


def predict_conversations(
    model, tokenizer, conversations: list[list[Message]], task: Task, config: Config, ids: list[str],
    name: str = "predict",
) -> list[Prediction]:
    """Score (classification) or decode (generation) each conversation, identically for every rung.

    Classification scores every label, or with candidate labels (many-label tasks) each example's own candidates;
    `scores` then holds those. `prompt_tokens` is the prompt each prediction read.
    """
    prompts = prompt_token_ids(model, tokenizer, conversations, config.eval.max_new_tokens)
    if task.type != "classification":
        texts = generate_prompts(model, tokenizer, prompts, config, config.eval.max_new_tokens, name)
        return [Prediction(id=i, output=t, prompt_tokens=len(p)) for i, t, p in zip(ids, texts, prompts)]
    progress = progress_printer(f"rung {name}: predict", len(prompts))
    candidates = [task.labels_for(i) for i in ids]
    if task.candidates is None:
        full = score_labels(model, tokenizer, prompts, task.labels, batch_size=config.eval.batch_size,
                            precision=PRECISION, progress=progress)  # (N, L) summed log-probabilities
        rows = list(full)
    else:
        rows = score_candidate_labels(model, tokenizer, prompts, candidates, batch_size=config.eval.batch_size,
                                      precision=PRECISION, progress=progress)  # per example (L_i,)
    return [
        Prediction(id=i, output=labels[int(row.argmax())], scores=dict(zip(labels, map(float, row))),
                   prompt_tokens=len(p))
        for i, labels, row, p in zip(ids, candidates, rows, prompts)
    ]


def scoring_words(task: Task) -> str:
    """How a label-scoring rung reads its answers, for its description: the prompt part every example shares
    (system instruction with the label list, fixed demonstrations) is computed once, and with many labels each
    example is scored among its candidate labels. Empty for generation."""
    if task.type != "classification":
        return ""
    k = per_example(task)
    among = f", scored among {k} candidate labels" if k else ""
    return f"; shared prompt prefix computed once (KV-cached){among}"


def generate_texts(
    model, tokenizer, conversations: list[list[Message]], config: Config, max_new_tokens: int, name: str = "generate"
) -> list[str]:
    """Greedy answers to the conversations (stopping at the end of the turn), in their order."""
    prompts = prompt_token_ids(model, tokenizer, conversations, max_new_tokens)
    return generate_prompts(model, tokenizer, prompts, config, max_new_tokens, name)


def generate_prompts(
    model, tokenizer, prompts: list[list[int]], config: Config, max_new_tokens: int, name: str = "generate"
) -> list[str]:
    """Greedy answers to prompts already in token ids (see `prompt_token_ids`), in their order."""
    progress = progress_printer(f"rung {name}: generate", len(prompts))
    return generate(
        model, tokenizer, prompts, max_new_tokens=max_new_tokens, batch_size=config.eval.batch_size,
        precision=PRECISION, progress=progress, stop=config.eval.stop, sampling=config.eval.sampling,
    )


def decoding(config: Config) -> dict:
    """How every generation rung decoded, for the report: greedy or sampling (with its settings), stop strings."""
    ev = config.eval
    how = {"strategy": "sampling", **ev.sampling.model_dump()} if ev.sampling else {"strategy": "greedy"}
    return how | {"max_new_tokens": ev.max_new_tokens, "stop": list(ev.stop)}


def prompt_token_ids(model, tokenizer, conversations: list[list[Message]], room: int) -> list[list[int]]:
    """Each conversation's prompt ids, cut from the left to leave `room` tokens of context for the answer."""
    limit = prompt_limit(model, room)
    return [truncate_prompt(prompt_ids(tokenizer, messages), limit) for messages in conversations]


def prompt_limit(model, room: int) -> int:
    """Longest prompt we feed: the model's context minus `room` tokens for the answer."""
    return context_length(model) - room
