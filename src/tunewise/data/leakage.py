"""Leakage between splits: val/test prompts that also appear, exactly or after normalising, in an earlier split.

Reported with the run (never an error): a leaked test example makes every rung look better than it is.
"""
from __future__ import annotations

import re
import string
from dataclasses import dataclass, field
from typing import Any

from tunewise.records import Example

MAX_PAIRS = 50  # offending pairs kept in the report; the counts are always complete
_PUNCTUATION = str.maketrans("", "", string.punctuation)
_SPACE = re.compile(r"\s+")
# (later split, earlier split): each later split is compared with every split before it.
SPLIT_PAIRS = (("val", "train"), ("test", "train"), ("test", "val"))


@dataclass
class LeakageReport:
    """How many val/test examples repeat a prompt of an earlier split, and (some of) which ones."""

    exact: dict[str, int] = field(default_factory=dict)  # "test-train": test examples whose prompt is in train
    normalised: dict[str, int] = field(default_factory=dict)  # the same after normalising (includes exact ones)
    # up to MAX_PAIRS of {kind, split, id, other_split, other_id}
    pairs: list[dict[str, str]] = field(default_factory=list)

    @property
    def leaked(self) -> int:
        """Number of (later split, earlier split) matches after normalising; 0 means no leakage found."""
        return sum(self.normalised.values())

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-able data."""
        return {
            "exact": dict(self.exact),
            "normalised": dict(self.normalised),
            "pairs": [dict(p) for p in self.pairs],
            "pairs_capped_at": MAX_PAIRS,
        }


def prompt_text(example: Example) -> str:
    """The text the model is shown for an example: the contents of its conversation."""
    return "\n".join(m["content"] for m in example.messages)


def normalised_text(text: str) -> str:
    """Lowercase, punctuation removed, runs of whitespace collapsed to one space."""
    return _SPACE.sub(" ", text.lower().translate(_PUNCTUATION)).strip()


def find_leakage(splits: dict[str, list[Example]]) -> LeakageReport:
    """Compare val with train and test with train and val, exactly and after normalising."""
    report = LeakageReport()
    for later, earlier in SPLIT_PAIRS:
        name = f"{later}-{earlier}"
        exact_index = _index(splits.get(earlier, []), prompt_text)
        loose_index = _index(splits.get(earlier, []), lambda e: normalised_text(prompt_text(e)))
        report.exact[name] = report.normalised[name] = 0
        for example in splits.get(later, []):
            matches = exact_index.get(prompt_text(example))
            kind = "exact"
            if matches is None and normalised_text(prompt_text(example)):  # all-punctuation prompts match nothing
                matches = loose_index.get(normalised_text(prompt_text(example)))
                kind = "normalised"
            if matches is None:
                continue
            report.normalised[name] += 1
            report.exact[name] += kind == "exact"
            if len(report.pairs) < MAX_PAIRS:
                pair = {"kind": kind, "split": later, "id": example.id, "other_split": earlier, "other_id": matches[0]}
                report.pairs.append(pair)
    return report


def _index(examples: list[Example], key) -> dict[str, list[str]]:
    """key text -> ids of the examples with that text."""
    index: dict[str, list[str]] = {}
    for example in examples:
        index.setdefault(key(example), []).append(example.id)
    return index
