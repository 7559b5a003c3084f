"""Which demonstrations a few-shot prompt shows: seeded random, label-balanced, or the test input's nearest neighbours.

Demonstrations always come from the training split. Each strategy returns them in priority order (the first k are
the k-shot demos); when a prompt would not fit the context, demos are dropped from the end of that order.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal

import numpy as np

from tunewise.models.embed import TextEncoder
from tunewise.prompting.templates import demo_order, user_text
from tunewise.records import Example, Message

Selection = Literal["balanced", "random", "nearest"]
SELECTIONS: tuple[Selection, ...] = ("balanced", "random", "nearest")


class NearestDemos:
    """The training examples most similar to a test input (cosine of MiniLM embeddings), most similar first.

    One instance serves every `nearest` rung of a run: the training split is embedded once.
    """

    def __init__(self, train: Sequence[Example], encoder: TextEncoder):
        self.train, self.encoder = list(train), encoder
        self._train_vectors: np.ndarray | None = None  # (N_train, H) unit rows
        self._test_vectors: dict[str, np.ndarray] = {}  # example id -> (H,)

    def fit(self) -> None:
        """Embed the training split (once)."""
        if self._train_vectors is None:
            self._train_vectors = self.encoder.embed([user_text(e) for e in self.train], "embed train for demos")

    def for_examples(self, examples: Sequence[Example], k: int) -> list[list[Example]]:
        """For each example, its k nearest training examples, most similar first (ties: training order)."""
        self.fit()
        missing = [e for e in examples if e.id not in self._test_vectors]
        if missing:
            vectors = self.encoder.embed([user_text(e) for e in missing], "embed test for demos")
            self._test_vectors.update({e.id: v for e, v in zip(missing, vectors)})
        queries = np.stack([self._test_vectors[e.id] for e in examples])  # (N, H)
        similarity = queries @ self._train_vectors.T  # (N, N_train)
        k = min(k, len(self.train))
        order = np.argsort(-similarity, axis=1, kind="stable")[:, :k]
        return [[self.train[j] for j in row] for row in order]


def fixed_demos(train: Sequence[Example], selection: Selection, seed: int, k: int) -> list[Example]:
    """The same k demos for every test input: seeded random, or label-balanced (cycling through the labels)."""
    return demo_order(train, seed, balance_labels=selection == "balanced")[:k]


def fit_to_context(
    build: Callable[[list[Example]], list[Message]], demos: list[Example], count_tokens: Callable, limit: int
) -> tuple[list[Message], int]:
    """(the conversation with as many demos as fit in `limit` tokens, how many demos were dropped from the end)."""
    kept = list(demos)
    messages = build(kept)
    while kept and count_tokens(messages) > limit:
        kept.pop()
        messages = build(kept)
    return messages, len(demos) - len(kept)
