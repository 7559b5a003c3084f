"""How every rung turns conversations into predictions: label log-likelihoods (classification) or greedy decoding.

One code path for all rungs, so the report's differences come from what a rung learned or put in the prompt.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from tunewise.evaluate.generate import generate
from tunewise.evaluate.likelihood import score_labels
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
    """Score (classification) or decode (generation) each conversation, identically for every rung."""
    if task.type != "classification":
        texts = generate_texts(model, tokenizer, conversations, config, config.eval.max_new_tokens, name)
        return [Prediction(id=i, output=t) for i, t in zip(ids, texts)]
    prompts = prompt_token_ids(model, tokenizer, conversations, config.eval.max_new_tokens)
    progress = progress_printer(f"rung {name}: predict", len(prompts))
    scores = score_labels(
        model, tokenizer, prompts, task.labels, batch_size=config.eval.batch_size, precision=PRECISION,
        progress=progress,
    )  # (N, L) summed log-probabilities
    best = scores.argmax(axis=1)
    return [
        Prediction(id=i, output=task.labels[b], scores=dict(zip(task.labels, map(float, row))))
        for i, b, row in zip(ids, best, scores)
    ]


def generate_texts(
    model, tokenizer, conversations: list[list[Message]], config: Config, max_new_tokens: int, name: str = "generate"
) -> list[str]:
    """Greedy answers to the conversations (stopping at the end of the turn), in their order."""
    prompts = prompt_token_ids(model, tokenizer, conversations, max_new_tokens)
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
