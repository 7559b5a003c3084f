"""Data hygiene: near-duplicate inputs within and across splits, the optional `data.dedup` filter, and a
label-noise finder (cross-validated TF-IDF + logistic regression) for classification training sets.

Everything here is scikit-learn over the text alone: no model weights load, so `tunewise data check` stays quick.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline

from tunewise.data.leakage import MAX_PAIRS, SPLIT_PAIRS, normalised_text
from tunewise.data.split import SPLIT_NAMES, Split
from tunewise.io import write_jsonl
from tunewise.records import Example, user_turns
from tunewise.task import example_label

# Similarities held at once while comparing (rows of a block x texts compared with): bounds memory at ~100k texts
# to a few tens of MB per block, whatever the data set's size.
BLOCK_ENTRIES = 2_000_000
NOISE_FOLDS = 5  # the label-noise classifier's cross-validation folds; each label needs this many examples
NOISE_C = 30.0  # weak regularisation, so that a clearly mislabelled example gets a confident (> 0.8) probability
TOP = 5  # items printed per section by `tunewise data check`; the reports and the JSONL keep them all


def input_text(example: Example) -> str:
    """What near-duplicates are judged on: the example's user turn(s), normalised (case, punctuation, spaces).

    Answers are left out: in classification they are the label, shared by every example of a class, and in
    generation two different questions may share an answer; neither makes the inputs duplicates. A shared system
    prompt is left out for the same reason: it would make every pair of short inputs look alike.
    """
    return normalised_text(user_turns(example))


def where(example: Example) -> str:
    """file:line of an example, for people to find it."""
    return f"{example.file}:{example.line}"


# ---------------------------------------------------------------- near-duplicates


@dataclass(frozen=True)
class NearPair:
    """Two examples whose inputs are at least `threshold` alike: `split[index]` and `other_split[other_index]`.

    Within a split the other is the earlier one; across splits the other is in the earlier split (leakage's order).
    """

    split: str
    index: int
    other_split: str
    other_index: int
    similarity: float


@dataclass
class NearDuplicateReport:
    """Counts of near-duplicate pairs within each split and across splits, and the most similar pairs."""

    threshold: float
    within: dict[str, int] = field(default_factory=dict)  # split -> pairs inside it
    across: dict[str, int] = field(default_factory=dict)  # "test-train" -> pairs (test item, train item)
    within_pairs: list[dict[str, Any]] = field(default_factory=list)  # up to MAX_PAIRS, most similar first
    across_pairs: list[dict[str, Any]] = field(default_factory=list)  # up to MAX_PAIRS, test pairs first

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-able data."""
        return {
            "threshold": self.threshold,
            "within": dict(self.within),
            "across": dict(self.across),
            "within_pairs": [dict(p) for p in self.within_pairs],
            "across_pairs": [dict(p) for p in self.across_pairs],
            "pairs_capped_at": MAX_PAIRS,
        }

    def lines(self) -> list[str]:
        """The `data check` section: counts, then the top pairs across splits and within them."""
        across = ", ".join(f"{name} {count}" for name, count in self.across.items())
        within = ", ".join(f"{name} {count}" for name, count in self.within.items())
        lines = [
            f"near-duplicates (inputs with TF-IDF cosine >= {self.threshold:g}): "
            f"pairs across splits: {across}; within splits: {within}"
        ]
        lines += [f"  {_pair_line(p)}" for p in self.across_pairs[:TOP]]
        lines += [f"  {_pair_line(p)}" for p in self.within_pairs[:TOP]]
        return lines


def find_near_duplicates(splits: dict[str, list[Example]], threshold: float,
                         pairs: list[NearPair] | None = None) -> NearDuplicateReport:
    """Near-duplicate pairs within each split and across splits, compared on `input_text` (`pairs`: those
    `near_duplicate_pairs` already found for these splits and threshold, so they are not compared again)."""
    pairs = near_duplicate_pairs(splits, threshold) if pairs is None else pairs
    report = NearDuplicateReport(threshold)
    report.within = {name: 0 for name in SPLIT_NAMES}
    report.across = {f"{later}-{earlier}": 0 for later, earlier in SPLIT_PAIRS}
    for pair in pairs:
        if pair.split == pair.other_split:
            report.within[pair.split] += 1
        else:
            report.across[f"{pair.split}-{pair.other_split}"] += 1
    within = sorted((p for p in pairs if p.split == p.other_split), key=lambda p: -p.similarity)
    # test items near a training/validation item first: those make every rung look better than it is
    across = sorted((p for p in pairs if p.split != p.other_split), key=lambda p: (p.split != "test", -p.similarity))
    report.within_pairs = [_pair_dict(p, splits) for p in within[:MAX_PAIRS]]
    report.across_pairs = [_pair_dict(p, splits) for p in across[:MAX_PAIRS]]
    return report


def near_duplicate_pairs(splits: dict[str, list[Example]], threshold: float) -> list[NearPair]:
    """Every pair at or above `threshold`: within each split, then (later, earlier) split pairs as leakage has them.

    Inputs are TF-IDF vectors over character 3-5-grams (inside word boundaries) of the normalised text, with the
    IDF fitted on every split; two inputs are compared by cosine similarity. Character n-grams keep a swapped,
    added, dropped or misspelt word from hiding a copy: most of the text's n-grams still match.
    """
    names = [name for name in SPLIT_NAMES if splits.get(name)]
    texts = {name: [input_text(e) for e in splits[name]] for name in names}
    vectors = _tfidf_vectors(texts)
    if vectors is None:
        return []
    pairs = []
    for name in names:
        found = similar_rows(vectors[name], vectors[name], threshold, True)
        pairs += [NearPair(name, i, name, j, s) for i, j, s in found]
    for later, earlier in SPLIT_PAIRS:
        if later in vectors and earlier in vectors:
            found = similar_rows(vectors[later], vectors[earlier], threshold, False)
            pairs += [NearPair(later, i, earlier, j, s) for i, j, s in found]
    return pairs


def similar_rows(
    left: sparse.csr_matrix, right: sparse.csr_matrix, threshold: float, same: bool
) -> list[tuple[int, int, float]]:
    """(i, j, cosine) for rows i of `left` and j of `right` with cosine >= threshold (rows are L2-normalised).

    `same`: left is right, so only j < i is kept (each pair once, no self-pairs). The product is taken a block of
    rows at a time so that at most BLOCK_ENTRIES similarities exist at once.
    """
    rows = max(1, BLOCK_ENTRIES // max(1, right.shape[0]))
    right_t = right.T.tocsc()
    found = []
    for start in range(0, left.shape[0], rows):
        block = (left[start : start + rows] @ right_t).tocoo()  # (rows, len(right)) cosines, sparse
        keep = block.data >= threshold - 1e-6  # float32 rounding must not lose an exact copy at threshold 1.0
        for i, j, s in zip(block.row[keep] + start, block.col[keep], block.data[keep]):
            if not same or j < i:
                found.append((int(i), int(j), round(float(s), 4)))
    return found


def _tfidf_vectors(texts: dict[str, list[str]]) -> dict[str, sparse.csr_matrix] | None:
    """split -> L2-normalised TF-IDF rows, or None when no input has a single character n-gram."""
    everything = [t for name in texts for t in texts[name]]
    vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True, dtype=np.float32)
    try:
        vectorizer.fit(everything)
    except ValueError:  # "empty vocabulary": every input is empty after normalising
        return None
    return {name: vectorizer.transform(found).tocsr() for name, found in texts.items()}


def _pair_dict(pair: NearPair, splits: dict[str, list[Example]]) -> dict[str, Any]:
    example, other = splits[pair.split][pair.index], splits[pair.other_split][pair.other_index]
    return {
        "split": pair.split,
        "id": example.id,
        "where": where(example),
        "other_split": pair.other_split,
        "other_id": other.id,
        "other_where": where(other),
        "similarity": pair.similarity,
    }


def _pair_line(pair: dict[str, Any]) -> str:
    return (
        f"{pair['split']} {pair['id']} ({pair['where']}) ~ {pair['other_split']} {pair['other_id']} "
        f"({pair['other_where']}): {pair['similarity']:.2f}"
    )


# ---------------------------------------------------------------- dedup


@dataclass
class DedupReport:
    """What `data.dedup` dropped: per split, before = near_test + within + kept (test is never changed)."""

    threshold: float
    counts: dict[str, dict[str, int]] = field(default_factory=dict)  # split -> before, near_test, within, kept
    pairs_found: int = 0  # near-duplicate pairs found before dropping (within and across splits)
    dropped: list[dict[str, Any]] = field(default_factory=list)  # up to MAX_PAIRS: split, id, where, reason, of

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-able data (saved in data.json under `dedup`)."""
        return {
            "threshold": self.threshold,
            "counts": {name: dict(c) for name, c in self.counts.items()},
            "pairs_found": self.pairs_found,
            "dropped": [dict(d) for d in self.dropped],
            "dropped_capped_at": MAX_PAIRS,
        }

    def lines(self) -> list[str]:
        """The `data check` section: per split, before -> kept and why the rest was dropped."""
        parts = [
            f"{name} {c['before']} -> {c['kept']} ({c['near_test']} near a test item, {c['within']} within {name})"
            for name, c in self.counts.items()
        ]
        return [f"dedup (data.dedup, {self.pairs_found} near-duplicate pair(s) found): " + "; ".join(parts)]


def dedup_split(split: Split, threshold: float, pairs: list[NearPair] | None = None) -> tuple[Split, DedupReport]:
    """The split without (i) train/val items near a test item and (ii) within-split near-duplicates after the first.

    Within a split items are taken in input order and one is kept unless it is near an item already kept, so of
    a group of near-copies the earliest stays. The test split is returned unchanged. `pairs`: as in
    `find_near_duplicates`.
    """
    splits = split.as_dict()
    pairs = near_duplicate_pairs(splits, threshold) if pairs is None else pairs
    report = DedupReport(threshold, pairs_found=len(pairs))
    kept_lists = {"test": list(split.test)}
    for name in ("train", "val"):
        examples = splits[name]
        near_test = {p.other_index: p for p in pairs if p.split == "test" and p.other_split == name}
        earlier: dict[int, list[NearPair]] = {}
        for p in pairs:
            if p.split == name and p.other_split == name:
                earlier.setdefault(p.index, []).append(p)
        kept: set[int] = set()
        counts = {"before": len(examples), "near_test": 0, "within": 0, "kept": 0}
        for i, example in enumerate(examples):
            twin = next((p for p in earlier.get(i, []) if p.other_index in kept), None)
            if i in near_test:
                counts["near_test"] += 1
                test_item = split.test[near_test[i].index]
                _note_drop(report, name, example, "near_test", test_item, near_test[i].similarity)
            elif twin is not None:
                counts["within"] += 1
                _note_drop(report, name, example, "within", examples[twin.other_index], twin.similarity)
            else:
                kept.add(i)
        counts["kept"] = len(kept)
        report.counts[name] = counts
        kept_lists[name] = [e for i, e in enumerate(examples) if i in kept]
    report.counts["test"] = {"before": len(split.test), "near_test": 0, "within": 0, "kept": len(split.test)}
    return Split(train=kept_lists["train"], val=kept_lists["val"], test=kept_lists["test"]), report


def _note_drop(report: DedupReport, name: str, example: Example, reason: str, of: Example, similarity: float) -> None:
    if len(report.dropped) < MAX_PAIRS:
        report.dropped.append(
            {"split": name, "id": example.id, "where": where(example), "reason": reason, "of": of.id,
             "similarity": similarity}
        )


# ---------------------------------------------------------------- label noise


@dataclass
class LabelNoiseReport:
    """Training examples that a cross-validated classifier confidently puts in another class, for review."""

    threshold: float
    folds: int
    seed: int
    checked: int = 0  # training examples scored out of fold
    skipped: str | None = None  # why the finder did not run (too few examples per label, one label)
    items: list[dict[str, Any]] = field(default_factory=list)  # every flagged example, most confident first

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-able data."""
        return {
            "threshold": self.threshold,
            "folds": self.folds,
            "seed": self.seed,
            "checked": self.checked,
            "skipped": self.skipped,
            "flagged": len(self.items),
            "items": [dict(i) for i in self.items],
        }

    def lines(self) -> list[str]:
        """The `data check` section: the count, then the top flagged examples."""
        title = (
            f"label noise ({self.folds}-fold TF-IDF + logistic regression on train, "
            f"another label >= {self.threshold:g})"
        )
        if self.skipped:
            return [f"{title}: skipped: {self.skipped}"]
        lines = [f"{title}: {len(self.items)} of {self.checked} training example(s) flagged for review"]
        for item in self.items[:TOP]:
            lines.append(
                f"  {item['id']} ({item['where']}): given {item['given']!r}, suggested {item['suggested']!r} "
                f"({item['confidence']:.2f}; given label {item['given_probability']:.2f})"
            )
        return lines


def find_label_noise(train: list[Example], threshold: float, seed: int, folds: int = NOISE_FOLDS) -> LabelNoiseReport:
    """Flag training examples whose out-of-fold probability for another label is >= threshold.

    A TF-IDF (word 1-2-grams) + logistic regression pipeline is fitted `folds` times on stratified folds shuffled by
    `seed`; each example is scored by the model that did not see it, so a wrong label cannot vouch for itself.
    With threshold >= 0.5 the given label's probability is then <= 1 - threshold: the classifier disagrees.
    """
    report = LabelNoiseReport(threshold, folds, seed)
    labels = [example_label(e) for e in train]
    skipped = _too_few_for_folds(labels, folds)
    if skipped:
        report.skipped = skipped
        return report
    texts = [input_text(e) for e in train]
    classifier = make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True),
        LogisticRegression(C=NOISE_C, max_iter=1000),
    )
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    probabilities = cross_val_predict(classifier, texts, labels, cv=cv, method="predict_proba")  # (N, labels)
    classes = sorted(set(labels))  # the column order scikit-learn uses
    given = np.array([classes.index(label) for label in labels])
    others = probabilities.copy()
    others[np.arange(len(train)), given] = -1.0
    suggested = others.argmax(axis=1)
    confidence = others.max(axis=1)
    report.checked = len(train)
    for i in np.argsort(-confidence, kind="stable"):
        if confidence[i] < threshold:
            break
        report.items.append(
            {
                "id": train[i].id,
                "where": where(train[i]),
                "given": labels[i],
                "suggested": classes[suggested[i]],
                "confidence": round(float(confidence[i]), 4),
                "given_probability": round(float(probabilities[i, given[i]]), 4),
            }
        )
    return report


def write_label_noise(report: LabelNoiseReport, path: Path) -> None:
    """Write every flagged example as one JSON object per line (id, where, given, suggested, confidence...)."""
    write_jsonl(Path(path), report.items)


def _too_few_for_folds(labels: list[str], folds: int) -> str | None:
    """Why k-fold cross-validation cannot run on these labels, or None when it can."""
    counts: dict[str, int] = {}
    for label in labels:
        counts[label] = counts.get(label, 0) + 1
    if len(counts) < 2:
        return f"the training split has {len(counts)} label(s); the check needs at least 2"
    small = sorted((count, label) for label, count in counts.items() if count < folds)
    if small:
        listed = ", ".join(f"{label!r} has {count}" for count, label in small)
        return f"every label needs at least {folds} training examples for {folds}-fold cross-validation: {listed}"
    return None
