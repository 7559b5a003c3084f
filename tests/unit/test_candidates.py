"""Candidate labels: the distinct labels of each test input's nearest training examples, nearest first, and the
post-hoc cut of rungs that scored every label."""
from __future__ import annotations

import numpy as np

from tunewise.evaluate.candidates import (
    candidates_summary,
    nearest_labels,
    needs_candidates,
    restrict_to_candidates,
)
from tunewise.records import Example, Prediction
from tunewise.task import Task

LABELS = ["a", "b", "c", "d", "e"]


def _unit(rows) -> np.ndarray:
    rows = np.array(rows, dtype=np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_labels_come_from_the_nearest_neighbours_distinct_and_nearest_first():
    train = _unit([[1, 0], [0.9, 0.1], [0.8, 0.2], [0, 1], [0.1, 0.9]])
    train_labels = ["b", "b", "a", "c", "d"]
    test = _unit([[1, 0.05], [0.05, 1]])
    rows = nearest_labels(train, train_labels, test, LABELS, k=3)
    assert rows[0] == ["b", "a", "d"]  # b twice among the nearest, counted once
    assert rows[1] == ["c", "d", "a"]


def test_fewer_distinct_training_labels_than_k_are_topped_up_in_task_order():
    rows = nearest_labels(_unit([[1, 0], [0, 1]]), ["c", "a"], _unit([[1, 0]]), LABELS, k=4)
    assert rows == [["c", "a", "b", "d"]]


def test_only_classification_with_more_labels_than_k_needs_candidates():
    task = Task("classification", LABELS, "accuracy", None)
    assert needs_candidates(task, 3) and not needs_candidates(task, 5) and not needs_candidates(task, None)
    assert not needs_candidates(Task("generation", None, "token_f1", None), 3)


def test_rungs_that_scored_every_label_are_cut_to_the_candidates():
    task = Task("classification", LABELS, "accuracy", None, candidates={"x": ["c", "a"], "y": ["e", "d"]})
    scores = {"a": -1.0, "b": -0.1, "c": -2.0, "d": -3.0, "e": -0.5}
    predictions = [Prediction("x", "b", scores), Prediction("y", "b", scores), Prediction("z", "b", scores),
                   Prediction("x", "free text")]
    cut = restrict_to_candidates(predictions, task)
    assert (cut[0].output, cut[0].scores) == ("a", {"c": -2.0, "a": -1.0})
    assert (cut[1].output, cut[1].scores) == ("e", {"e": -0.5, "d": -3.0})
    assert cut[2] == predictions[2] and cut[3] == predictions[3]  # no candidates for z; no scores to cut
    assert restrict_to_candidates(cut, task) == cut  # already among the candidates: unchanged
    assert restrict_to_candidates(predictions, Task("classification", LABELS, "accuracy", None)) == predictions


def test_summary_counts_test_examples_whose_gold_label_is_a_candidate():
    def example(i, label):
        return Example(i, ({"role": "user", "content": i},), label, label)

    task = Task("classification", LABELS, "accuracy", None, candidates={"x": ["c", "a"], "y": ["e", "d"]})
    summary = candidates_summary(task, [example("x", "a"), example("y", "b")], "minilm")
    assert summary == {"per_example": 2, "proposed_by": "minilm nearest training examples",
                       "gold_among_candidates": 0.5}
    assert candidates_summary(Task("classification", LABELS, "accuracy", None), [], "minilm") is None
