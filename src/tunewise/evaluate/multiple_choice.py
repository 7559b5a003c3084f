"""Multiple-choice benchmarks scored by log-likelihood, as lm-evaluation-harness defines them: local JSONL files in
the shapes of ARC, HellaSwag, MMLU and TruthfulQA MC1/MC2, read into one item type and scored on any causal LM.

Each choice is a continuation of the item's context; the model's pick is the choice with the highest summed
log-probability (`acc`), or the highest log-probability per character of the continuation (`acc_norm`, which
stops long choices losing just for having more tokens). TruthfulQA MC2 scores the probability mass on the true
answers instead.
"""
from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tunewise.data.formats import Where, record_id, type_name
from tunewise.data.load import LoadedFile, _jsonl_records
from tunewise.errors import DataError, Problem
from tunewise.evaluate.likelihood import score_pairs
from tunewise.evaluate.predict import PRECISION
from tunewise.evaluate.stats import bootstrap_mean_ci
from tunewise.models.forward import context_length
from tunewise.progress import progress_printer
from tunewise.question_sets import FORMAT_SHAPES, FORMATS

# The harness's headline metric per format: acc_norm where choices differ in length (ARC, HellaSwag), acc where
# they are letters or single answers, and the true-answer probability mass for MC2.
PRIMARY = {"arc": "acc_norm", "hellaswag": "acc_norm", "mmlu": "acc", "truthfulqa_mc1": "acc",
           "truthfulqa_mc2": "mc2"}
# TruthfulQA is scored after a few question/answer pairs that show the expected register (short, literal answers).
# The harness uses the paper's six pairs; these are tunewise's own, on everyday facts.
QA_PRIMER = (
    "Q: How many days are there in a week?\nA: There are seven days in a week.\n\n"
    "Q: What is the largest planet in the Solar System?\nA: Jupiter is the largest planet in the Solar System.\n\n"
    "Q: Which language is mostly spoken in Brazil?\nA: Portuguese is the main language of Brazil.\n\n"
    "Q: What do bees make?\nA: Bees make honey and wax.\n\n"
    "Q: Who wrote the play Romeo and Juliet?\nA: William Shakespeare wrote Romeo and Juliet.\n\n"
    "Q: At what temperature does water freeze at sea level?\nA: Water freezes at 0 degrees Celsius at sea level."
)


@dataclass(frozen=True)
class ChoiceItem:
    """One multiple-choice question as scored: every choice is a continuation of `context`."""

    id: str
    context: str
    choices: tuple[str, ...]  # continuations as scored (with their leading space)
    gold: tuple[int, ...]  # indices of the right choices (MC2 has several)
    group: str | None = None  # subject (MMLU), category, activity (HellaSwag): the per-group table


# ---------------------------------------------------------------- reading


def read_benchmark(path: Path | str, fmt: str) -> list[ChoiceItem]:
    """The items of a benchmark JSONL file; every problem of the file at once as a DataError."""
    if fmt not in FORMATS:
        raise DataError([Problem(str(path), None, "format", "unknown_format",
                                 f"expected one of {', '.join(FORMATS)}, got {fmt!r}")])
    path = Path(path)
    if not path.is_file():
        raise DataError([Problem(str(path), None, None, "missing_file", "no such benchmark file")])
    loaded = LoadedFile(str(path))
    items = []
    for line, record in _jsonl_records(path.read_bytes(), loaded):
        where = Where(str(path), line)
        item = _READERS[fmt](record, where, loaded.errors)
        if item is not None:
            items.append(ChoiceItem(record_id(record, "id", where, loaded.errors) if "id" in record
                                    else f"{path.stem}:{line}", *item))
    if not items and not loaded.errors:
        loaded.errors.append(Problem(str(path), None, None, "empty", f"no items; expected {FORMAT_SHAPES[fmt]}"))
    if loaded.errors:
        raise DataError(loaded.errors)
    return items


def _text(record: dict, name: str, where: Where, problems: list[Problem]) -> str | None:
    """The record's non-empty string field `name`, or None after a problem."""
    value = record.get(name)
    if isinstance(value, str) and value.strip():
        return value
    if value is None:
        problems.append(where.problem(name, "missing_field", "expected a non-empty string"))
    else:
        got = "an empty string" if isinstance(value, str) else type_name(value)
        problems.append(where.problem(name, "wrong_type", f"expected a non-empty string, got {got}"))
    return None


def _strings(value: Any, name: str, where: Where, problems: list[Problem]) -> list[str] | None:
    """A list of at least two non-empty strings (the choices), or None after a problem."""
    if not isinstance(value, list) or len(value) < 2 or not all(isinstance(v, str) and v.strip() for v in value):
        problems.append(where.problem(name, "wrong_type", f"expected a list of at least 2 non-empty strings, got "
                                                          f"{type_name(value)}"))
        return None
    return value


def _index(answer: Any, labels: Sequence[str], name: str, where: Where, problems: list[Problem]) -> int | None:
    """The position of `answer` among `labels` (a label, or an integer position), or None after a problem."""
    if isinstance(answer, bool) or answer is None:
        answer = None
    elif isinstance(answer, int) and 0 <= answer < len(labels):
        return answer
    elif isinstance(answer, str) and answer.strip() in labels:
        return list(labels).index(answer.strip())
    elif isinstance(answer, str) and answer.strip().isdigit() and int(answer) < len(labels):
        return int(answer)
    problems.append(where.problem(name, "bad_answer", f"expected one of {', '.join(labels)} or a position "
                                                      f"0-{len(labels) - 1}, got {answer!r}"))
    return None


def _arc(record: dict, where: Where, problems: list[Problem]):
    question, choices = record.get("question"), record.get("choices")
    if isinstance(question, dict):  # ARC's original files: {"question": {"stem", "choices": [{"text", "label"}]}}
        nested = question.get("choices")
        question = question.get("stem")
        if isinstance(nested, list) and all(isinstance(c, dict) for c in nested):
            choices = {"text": [c.get("text") for c in nested], "label": [c.get("label") for c in nested]}
    stem = _text({"question": question}, "question", where, problems)
    if not isinstance(choices, dict):
        problems.append(where.problem("choices", "wrong_type", 'expected {"text": [...], "label": [...]}, got '
                                                               f"{type_name(choices)}"))
        return None
    texts = _strings(choices.get("text"), "choices.text", where, problems)
    labels = _strings(choices.get("label"), "choices.label", where, problems)
    if texts and labels and len(texts) != len(labels):
        problems.append(where.problem("choices", "length_mismatch",
                                      f"expected as many labels as texts, got {len(labels)} and {len(texts)}"))
        return None
    gold = _index(record.get("answerKey"), labels, "answerKey", where, problems) if labels else None
    if stem is None or texts is None or gold is None:
        return None
    return f"Question: {stem}\nAnswer:", tuple(f" {t}" for t in texts), (gold,), record.get("category")


def _hellaswag(record: dict, where: Where, problems: list[Problem]):
    if "ctx" in record:
        context = _text(record, "ctx", where, problems)
    else:
        a, b = _text(record, "ctx_a", where, problems), record.get("ctx_b", "")
        context = None if a is None else f"{a} {b.capitalize()}".strip() if isinstance(b, str) else a
    endings = _strings(record.get("endings"), "endings", where, problems)
    gold = _index(record.get("label"), [str(i) for i in range(len(endings))], "label", where, problems) \
        if endings else None
    if context is None or endings is None or gold is None:
        return None
    activity = record.get("activity_label")
    query = f"{activity}: {context}" if isinstance(activity, str) and activity else context
    return _clean_hellaswag(query), tuple(f" {_clean_hellaswag(e)}" for e in endings), (gold,), activity


def _clean_hellaswag(text: str) -> str:
    """WikiHow's markup out of HellaSwag text, as the harness preprocesses it: ' [title]' ends a sentence,
    other [tags] go, double spaces close up."""
    text = text.strip().replace(" [title]", ". ")
    text = re.sub(r"\[.*?\]", "", text)
    return text.replace("  ", " ")


def _mmlu(record: dict, where: Where, problems: list[Problem]):
    question = _text(record, "question", where, problems)
    choices = _strings(record.get("choices"), "choices", where, problems)
    letters = [chr(ord("A") + i) for i in range(len(choices or []))]
    gold = _index(record.get("answer"), letters, "answer", where, problems) if choices else None
    if question is None or choices is None or gold is None:
        return None
    subject = record.get("subject") if isinstance(record.get("subject"), str) else None
    header = f"The following are multiple choice questions (with answers) about {subject.replace('_', ' ')}.\n\n" \
        if subject else ""
    listed = "".join(f"\n{letter}. {choice.strip()}" for letter, choice in zip(letters, choices))
    return f"{header}{question.strip()}{listed}\nAnswer:", tuple(f" {letter}" for letter in letters), (gold,), subject


def _truthfulqa(which: str):
    field = f"{which}_targets"

    def read(record: dict, where: Where, problems: list[Problem]):
        question = _text(record, "question", where, problems)
        targets = record.get(field)
        if isinstance(targets, dict) and "choices" not in targets:  # TruthfulQA's own JSON: {choice: 0/1}
            targets = {"choices": list(targets), "labels": list(targets.values())}
        if not isinstance(targets, dict):
            problems.append(where.problem(field, "wrong_type" if field in record else "missing_field",
                                          f'expected {{"choices": [...], "labels": [0/1, ...]}}, got '
                                          f"{type_name(targets)}"))
            return None
        choices = _strings(targets.get("choices"), f"{field}.choices", where, problems)
        labels = targets.get("labels")
        if choices and (not isinstance(labels, list) or len(labels) != len(choices)
                        or any(v not in (0, 1) or isinstance(v, bool) for v in labels) or 1 not in labels):
            problems.append(where.problem(f"{field}.labels", "bad_answer", f"expected {len(choices)} labels of 0 or "
                                                                            "1, at least one 1"))
            return None
        if question is None or choices is None:
            return None
        gold = (labels.index(1),) if which == "mc1" else tuple(i for i, v in enumerate(labels) if v == 1)
        return f"{QA_PRIMER}\n\nQ: {question}\nA:", tuple(f" {c}" for c in choices), gold, record.get("category")

    return read


_READERS: dict[str, Callable] = {"arc": _arc, "hellaswag": _hellaswag, "mmlu": _mmlu,
                                 "truthfulqa_mc1": _truthfulqa("mc1"), "truthfulqa_mc2": _truthfulqa("mc2")}


# ---------------------------------------------------------------- scoring


@dataclass
class BenchmarkScores:
    """Every choice's log-likelihood and each item's per-metric score (0/1 for acc, a probability for mc2)."""

    format: str
    items: list[ChoiceItem]
    log_likelihoods: list[list[float]]
    item_scores: dict[str, list[float]]  # metric -> per item

    @property
    def primary(self) -> str:
        return PRIMARY[self.format]


def score_benchmark(model, tokenizer, items: Sequence[ChoiceItem], fmt: str, batch_size: int = 8,
                    precision: str = "bf16", max_length: int | None = None,
                    progress: Callable[[int], None] | None = None) -> BenchmarkScores:
    """Score every choice of every item as a continuation of its context; `max_length` cuts long contexts from the
    left (their end, next to the choices, stays)."""
    pairs, owners = [], []
    for n, item in enumerate(items):
        context = tokenizer(item.context)["input_ids"]
        for choice in item.choices:
            continuation = tokenizer(choice, add_special_tokens=False)["input_ids"]
            keep = len(context) if max_length is None else max(1, max_length - len(continuation))
            pairs.append((context[-keep:], continuation))
            owners.append(n)
    flat = score_pairs(model, pairs, batch_size=batch_size, precision=precision, progress=progress)
    log_likelihoods: list[list[float]] = [[] for _ in items]
    for owner, value in zip(owners, flat):
        log_likelihoods[owner].append(float(value))
    return BenchmarkScores(fmt, list(items), log_likelihoods, item_metrics(items, log_likelihoods, fmt))


def score_loaded_model(model, tokenizer, items: Sequence[ChoiceItem], fmt: str, batch_size: int,
                       what: str) -> BenchmarkScores:
    """`score_benchmark` on a model whose weights are already in the dtype it is scored in (no autocast on top), as
    the ladder and `tunewise eval` load them; contexts cut to the model's length, progress printed as `what`."""
    progress = progress_printer(what, sum(len(item.choices) for item in items), unit="choices")
    return score_benchmark(model, tokenizer, items, fmt, batch_size=batch_size, precision=PRECISION,
                           max_length=context_length(model), progress=progress)


def item_metrics(items: Sequence[ChoiceItem], log_likelihoods: Sequence[Sequence[float]], fmt: str
                 ) -> dict[str, list[float]]:
    """Per item: acc (the most likely choice is right), acc_norm (most likely per character), and for MC2 the
    probability mass on the true answers (normalised over the item's choices)."""
    if fmt == "truthfulqa_mc2":
        return {"mc2": [mc2_score(ll, item.gold) for item, ll in zip(items, log_likelihoods)]}
    acc, acc_norm = [], []
    for item, ll in zip(items, log_likelihoods):
        ll = np.asarray(ll)
        lengths = np.array([len(choice) for choice in item.choices], dtype=float)
        acc.append(float(int(np.argmax(ll)) in item.gold))
        acc_norm.append(float(int(np.argmax(ll / lengths)) in item.gold))
    return {"acc": acc, "acc_norm": acc_norm}


def mc2_score(log_likelihoods: Sequence[float], gold: Sequence[int]) -> float:
    """The share of probability on the true choices, among all the item's choices."""
    ll = np.asarray(log_likelihoods, dtype=float)
    p = np.exp(ll - ll.max())  # the shift cancels in the ratio and keeps exp from underflowing
    return float(p[list(gold)].sum() / p.sum())


def benchmark_metrics(scores: BenchmarkScores, n_resamples: int = 1000, confidence: float = 0.95, seed: int = 0
                      ) -> dict[str, dict[str, float]]:
    """{metric: {value, ci_low, ci_high}} with percentile-bootstrap intervals over items."""
    result = {}
    for name, values in scores.item_scores.items():
        low, high = bootstrap_mean_ci(values, n_resamples, confidence, seed)
        result[name] = {"value": float(np.mean(values)) if values else math.nan, "ci_low": low, "ci_high": high}
    return result


def per_group(scores: BenchmarkScores) -> dict[str, dict[str, float]]:
    """{group: {items, <metric>: mean}} for items that carry a subject / category / activity."""
    groups: dict[str, list[int]] = {}
    for n, item in enumerate(scores.items):
        if item.group:
            groups.setdefault(item.group, []).append(n)
    return {group: {"items": len(rows), **{name: float(np.mean([values[i] for i in rows]))
                                           for name, values in scores.item_scores.items()}}
            for group, rows in sorted(groups.items())}
