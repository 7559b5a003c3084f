"""Task metrics: accuracy and macro-F1 for classification; exact match, token F1, answer-contained, BLEU, chrF and
ROUGE-1/2/L for generation (BLEU/chrF from sacrebleu, ROUGE from rouge-score).

Generation metrics use SQuAD-style normalisation (lowercase, no punctuation, no articles, single spaces).
"""
from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np
import sacrebleu
from rouge_score import rouge_scorer
from sacrebleu.metrics import BLEU, CHRF
from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = str.maketrans("", "", string.punctuation)

Metric = Callable[[Sequence[str], Sequence[str]], float]


def accuracy(predictions: Sequence[str], references: Sequence[str]) -> float:
    """Fraction of predictions equal to their reference (exact string match)."""
    _check_lengths(predictions, references)
    return float(np.mean([p == r for p, r in zip(predictions, references)])) if references else 0.0


def macro_f1(predictions: Sequence[str], references: Sequence[str], labels: Sequence[str] | None = None) -> float:
    """Unweighted mean of per-label F1 over `labels` (default: every label seen); a label never hit scores 0."""
    _check_lengths(predictions, references)
    if not references:
        return 0.0
    labels = sorted(set(references) | set(predictions)) if labels is None else list(labels)
    return float(f1_score(references, predictions, labels=labels, average="macro", zero_division=0))


def normalize_answer(text: str) -> str:
    """SQuAD normalisation: lowercase, strip punctuation and articles, collapse whitespace."""
    text = _ARTICLES.sub(" ", text.lower().translate(_PUNCTUATION))
    return " ".join(text.split())


def exact_match(predictions: Sequence[str], references: Sequence[str]) -> float:
    """Fraction of predictions equal to their reference after normalisation."""
    _check_lengths(predictions, references)
    if not references:
        return 0.0
    return float(np.mean([normalize_answer(p) == normalize_answer(r) for p, r in zip(predictions, references)]))


def contains_one(prediction: str, reference: str) -> bool:
    """Whether the normalised reference occurs in the normalised prediction as whole words (an empty one never)."""
    ref = normalize_answer(reference)
    return bool(ref) and f" {ref} " in f" {normalize_answer(prediction)} "


def contains(predictions: Sequence[str], references: Sequence[str]) -> float:
    """Fraction of predictions that contain their reference answer (the usual RAG 'has answer' accuracy).

    Lenient where exact match is strict: a model that answers in a sentence still scores when the fact is in it.
    """
    _check_lengths(predictions, references)
    return float(np.mean([contains_one(p, r) for p, r in zip(predictions, references)])) if references else 0.0


def token_f1_one(prediction: str, reference: str) -> float:
    """F1 of the normalised tokens shared by one prediction and its reference (two empty answers score 1)."""
    pred, ref = normalize_answer(prediction).split(), normalize_answer(reference).split()
    if not pred or not ref:
        return float(pred == ref)
    common = sum((Counter(pred) & Counter(ref)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


def bleu(predictions: Sequence[str], references: Sequence[str]) -> float:
    """Corpus BLEU (sacrebleu's defaults: 13a tokenisation, up to 4-grams, brevity penalty), scaled to 0-1."""
    _check_lengths(predictions, references)
    return sacrebleu.corpus_bleu(list(predictions), [list(references)]).score / 100 if references else 0.0


def chrf(predictions: Sequence[str], references: Sequence[str]) -> float:
    """Corpus chrF (sacrebleu: character 6-grams, beta 2), scaled to 0-1."""
    _check_lengths(predictions, references)
    return sacrebleu.corpus_chrf(list(predictions), [list(references)]).score / 100 if references else 0.0


# sacrebleu's metric objects with the defaults corpus_bleu / corpus_chrf use. Their per-item statistics (n-gram
# matches and totals) summed over items give the corpus score, so a bootstrap resample sums rows instead of
# re-tokenising every text (sacrebleu 2.x's _extract_corpus_statistics / _compute_score_from_stats; pinned < 3).
CORPUS_METRICS = {"bleu": BLEU(), "chrf": CHRF()}


def corpus_statistics(name: str, predictions: Sequence[str], references: Sequence[str]) -> np.ndarray:
    """(n, k) per-item sufficient statistics of corpus BLEU or chrF (`name`); their column sums give the score."""
    _check_lengths(predictions, references)
    return np.asarray(CORPUS_METRICS[name]._extract_corpus_statistics(list(predictions), [list(references)]),
                      dtype=float)


def score_from_statistics(name: str, summed: np.ndarray) -> float:
    """Corpus BLEU or chrF (0-1) from the column sums of `corpus_statistics`."""
    return CORPUS_METRICS[name]._compute_score_from_stats(summed.tolist()).score / 100


_ROUGE = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=False)


def rouge_one(kind: str, prediction: str, reference: str) -> float:
    """ROUGE-1/2/L F-measure of one prediction against its reference (Google's rouge-score package)."""
    return float(_ROUGE.score(reference, prediction)[kind].fmeasure)


def _rouge(kind: str):
    def metric(predictions: Sequence[str], references: Sequence[str]) -> float:
        _check_lengths(predictions, references)
        return float(np.mean([rouge_one(kind, p, r) for p, r in zip(predictions, references)])) if references else 0.0

    metric.__doc__ = f"Mean {kind} F-measure over items."
    return metric


rouge1, rouge2, rougeL = _rouge("rouge1"), _rouge("rouge2"), _rouge("rougeL")


def token_f1(predictions: Sequence[str], references: Sequence[str]) -> float:
    """Mean token F1 over items."""
    _check_lengths(predictions, references)
    return float(np.mean([token_f1_one(p, r) for p, r in zip(predictions, references)])) if references else 0.0


def per_class(predictions: Sequence[str], references: Sequence[str], labels: Sequence[str]) -> dict[str, dict]:
    """Per label: precision, recall, F1 and support (test items with that reference label)."""
    _check_lengths(predictions, references)
    precision, recall, f1, support = precision_recall_fscore_support(
        list(references), list(predictions), labels=list(labels), zero_division=0
    )
    return {label: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(n)}
            for label, p, r, f, n in zip(labels, precision, recall, f1, support)}


def confusion(predictions: Sequence[str], references: Sequence[str], labels: Sequence[str]) -> list[list[int]]:
    """Counts[i][j]: items whose reference is labels[i] predicted as labels[j] (predictions outside the labels,
    such as an unanswered chain of thought, are not counted)."""
    _check_lengths(predictions, references)
    return confusion_matrix(list(references), list(predictions), labels=list(labels)).tolist()


def metric_functions(task_type: str, labels: Sequence[str] | None = None) -> dict[str, Metric]:
    """Every metric a task type supports, as (predictions, references) -> float functions."""
    if task_type == "classification":
        return {"accuracy": accuracy, "macro_f1": lambda p, r: macro_f1(p, r, labels)}
    if task_type in ("generation", "preference"):  # preference: the generated reply against the chosen one
        return {"exact_match": exact_match, "token_f1": token_f1, "contains": contains, "bleu": bleu, "chrf": chrf,
                "rouge1": rouge1, "rouge2": rouge2, "rougeL": rougeL}
    raise ValueError(f"unknown task type {task_type!r}; expected 'classification', 'generation' or 'preference'")


def compute_metrics(
    task_type: str, labels: list[str] | None, predictions: list[str], references: list[str]
) -> dict[str, float]:
    """Every metric the task type supports (classification: accuracy, macro_f1; generation: exact_match, token_f1)."""
    return {name: fn(predictions, references) for name, fn in metric_functions(task_type, labels).items()}


def _check_lengths(predictions: Sequence[str], references: Sequence[str]) -> None:
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions for {len(references)} references; expected one per test item")
