"""How well retrieval finds the documents that answer a question: hit@k per question and recall@k overall.

Questions without gold document ids say nothing about retrieval; they are skipped, never counted as misses.
"""
from __future__ import annotations

from collections.abc import Sequence


def hits_at_k(retrieved: Sequence[Sequence[str]], gold: Sequence[Sequence[str]], k: int) -> list[bool | None]:
    """Per question: is a gold document id among the doc ids of its first k hits? None when it has no gold ids."""
    if len(retrieved) != len(gold):
        raise ValueError(f"expected one gold list per question: {len(retrieved)} questions, {len(gold)} gold lists")
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    return [bool(set(found[:k]) & set(wanted)) if wanted else None for found, wanted in zip(retrieved, gold)]


def recall_at_k(retrieved: Sequence[Sequence[str]], gold: Sequence[Sequence[str]], k: int) -> float | None:
    """The share of questions with gold ids that have one among their first k hits; None when none has gold ids."""
    judged = [hit for hit in hits_at_k(retrieved, gold, k) if hit is not None]
    return sum(judged) / len(judged) if judged else None
