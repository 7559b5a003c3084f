"""Candidate labels for many-label classification: each test example's few likely labels, chosen once per run.

Label scoring costs time per label, so with many labels every rung chooses among the labels of the example's
nearest training examples (by encoder embeddings) instead; rungs that score every label anyway are restricted to
the same candidates after predicting, so every rung is decoded the same way.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np

from tunewise.models.embed import TextEncoder
from tunewise.records import Example, Prediction
from tunewise.task import Task, example_label

# Test rows compared with the whole training split at once: bounds the (rows, N_train) similarity matrix.
ROWS_PER_BLOCK = 256


def needs_candidates(task: Task, k: int | None) -> bool:
    """Whether this task's rungs choose among candidates: classification with more than k labels."""
    return task.type == "classification" and k is not None and len(task.labels) > k


def per_example(task: Task) -> int | None:
    """How many candidate labels each test example has (None: every label is scored)."""
    return max(map(len, task.candidates.values()), default=None) if task.candidates is not None else None


def nearest_labels(
    train_vectors: np.ndarray, train_labels: Sequence[str], test_vectors: np.ndarray, labels: Sequence[str], k: int
) -> list[list[str]]:
    """Per test row, k distinct labels: those of its training neighbours nearest first (ties: training order),
    then the task's labels no training example has, in task order, should the neighbours hold fewer than k.

    Vectors are unit rows, (N_train, H) and (N_test, H): the dot product is the cosine similarity.
    """
    out = []
    for start in range(0, len(test_vectors), ROWS_PER_BLOCK):
        similarity = test_vectors[start : start + ROWS_PER_BLOCK] @ train_vectors.T  # (rows, N_train)
        for order in np.argsort(-similarity, axis=1, kind="stable"):
            out.append(_first_distinct((train_labels[j] for j in order), labels, k))
    return out


def _first_distinct(neighbour_labels, labels: Sequence[str], k: int) -> list[str]:
    chosen: dict[str, None] = {}  # insertion-ordered set
    for label in neighbour_labels:
        chosen.setdefault(label)
        if len(chosen) == k:
            return list(chosen)
    for label in labels:  # fewer distinct labels in train than k
        chosen.setdefault(label)
        if len(chosen) == k:
            break
    return list(chosen)


def candidate_labels(task: Task, train: Sequence[Example], test: Sequence[Example], text: Callable[[Example], str],
                     encoder: TextEncoder, k: int) -> dict[str, list[str]]:
    """Test example id -> its k candidate labels, from `encoder` embeddings of each example's `text` (the last user
    message, as nearest demos embed it)."""
    train_vectors = encoder.embed([text(e) for e in train], "embed train for candidate labels")
    test_vectors = encoder.embed([text(e) for e in test], "embed test for candidate labels")
    rows = nearest_labels(train_vectors, [example_label(e) for e in train], test_vectors, task.labels, k)
    return {e.id: row for e, row in zip(test, rows)}


def with_candidates(task: Task, train: Sequence[Example], test: Sequence[Example], text: Callable[[Example], str],
                    encoder: TextEncoder, k: int | None) -> Task:
    """The task with each test example's candidate labels when it needs them (see `needs_candidates`), else as is."""
    if not needs_candidates(task, k) or not test:
        return task
    return replace(task, candidates=candidate_labels(task, train, test, text, encoder, k))


def restrict_to_candidates(predictions: list[Prediction], task: Task) -> list[Prediction]:
    """Predictions that scored every label, cut to each example's candidates: scores of the candidates only, output
    the best candidate. Predictions without scores (generated answers) and tasks without candidates are unchanged;
    predictions already scored among the candidates stay as they are."""
    if task.candidates is None:
        return predictions
    out = []
    for p in predictions:
        if p.scores is None or p.id not in task.candidates:
            out.append(p)
            continue
        kept = {label: p.scores[label] for label in task.candidates[p.id] if label in p.scores}
        out.append(replace(p, output=max(kept, key=kept.get), scores=kept) if kept else p)
    return out


def candidates_summary(task: Task, test: Sequence[Example], encoder_name: str) -> dict | None:
    """data.json's record of the candidate labels (None without them): how many per example, what proposed them
    and the share of test examples whose gold label is among them (the ceiling of every rung's accuracy)."""
    if task.candidates is None:
        return None
    scored = [e for e in test if e.id in task.candidates]
    gold_in = sum(example_label(e) in task.candidates[e.id] for e in scored)
    return {
        "per_example": per_example(task),
        "proposed_by": f"{encoder_name} nearest training examples",
        "gold_among_candidates": round(gold_in / max(len(scored), 1), 4),
    }
