"""Task resolution: type, labels, metric and instruction from the config, else from the data."""
from __future__ import annotations

from tunewise.records import Example
from tunewise.sections import TaskConfig
from tunewise.task import resolve_task, with_labels


def ex(answer: str, label: str | None = None) -> Example:
    return Example(f"id-{answer}-{label}", ({"role": "user", "content": "x"},), answer, label)


def test_classification_format_gives_a_classification_task_with_sorted_train_labels():
    task = resolve_task(TaskConfig(), [ex("neg", "neg"), ex("pos", "pos"), ex("neg", "neg")], "classification")
    assert task.type == "classification"
    assert task.labels == ["neg", "pos"]
    assert task.metric == "accuracy"
    assert task.instruction == "Classify the user's message. Answer with exactly one label from: neg, pos."


def test_other_formats_give_generation_without_labels_or_instruction():
    task = resolve_task(TaskConfig(), [ex("some text")], "chat")
    assert (task.type, task.labels, task.metric, task.instruction) == ("generation", None, "token_f1", None)


def test_declared_values_win():
    cfg = TaskConfig(type="classification", labels=["b", "a"], metric="macro_f1", instruction="Pick one.")
    task = resolve_task(cfg, [ex("a")], "prompt_completion")
    assert (task.labels, task.metric, task.instruction) == (["b", "a"], "macro_f1", "Pick one.")


def test_classification_over_prompt_completion_uses_the_answers_as_labels():
    train = [ex("spam"), ex("ham"), ex("spam")]
    task = resolve_task(TaskConfig(type="classification"), train, "prompt_completion")
    assert task.labels == ["ham", "spam"]
    assert [e.label for e in with_labels(train)] == ["spam", "ham", "spam"]


def test_declared_generation_over_classification_data():
    task = resolve_task(TaskConfig(type="generation"), [ex("pos", "pos")], "classification")
    assert (task.type, task.labels, task.metric) == ("generation", None, "token_f1")


def test_to_dict_is_plain_data():
    task = resolve_task(TaskConfig(), [ex("a", "a"), ex("b", "b")], "classification")
    expected = {"type": "classification", "labels": ["a", "b"], "metric": "accuracy", "instruction": task.instruction,
                "judge": None}
    assert task.to_dict() == expected
