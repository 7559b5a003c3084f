"""The answer in a chain-of-thought output: the last "Answer: ..." line, cleaned, matched to a label when there are labels.

Small models rarely follow the format to the letter, so the extraction is forgiving in the order a reader would be:
an answer line, then "the answer is ...", then (labels) the last label the text names, then (free text) the last line.
"""
from __future__ import annotations

import re
from collections.abc import Sequence

_ANSWER_LINE = re.compile(r"^[\W_]*(?:final\s+)?answer\s*(?:is\s*)?[:：=-]\s*(?P<answer>.+?)\s*$", re.IGNORECASE | re.MULTILINE)
_ANSWER_IS = re.compile(r"\b(?:final\s+)?answer\s+is\s*:?\s*(?P<answer>[^\n]+?)\s*(?:$|\n)", re.IGNORECASE)
_DECORATION = " \t*_`\"'“”‘’«»<>[]().,;:!"
_SEPARATORS = re.compile(r"[\s_\-]+")


def extract_answer(text: str, labels: Sequence[str] | None = None) -> str | None:
    """The final answer stated in `text`, or None when there is none (the prediction then counts as wrong).

    With labels (classification) the result is always one of them: the label the answer names, else the label
    mentioned last anywhere in the text.
    """
    stated = _stated_answer(text)
    if labels is None:
        if stated:
            return stated
        lines = [_clean(line) for line in text.splitlines() if _clean(line)]
        return lines[-1] if lines else None
    if stated:
        label = match_label(stated, labels)
        if label is not None:
            return label
    return _last_label_mentioned(text, labels)


def _stated_answer(text: str) -> str | None:
    """The cleaned answer of the last "Answer: ..." line, else of the last "the answer is ...", else None."""
    for pattern in (_ANSWER_LINE, _ANSWER_IS):
        found = [_clean(m.group("answer")) for m in pattern.finditer(text)]
        found = [a for a in found if a]
        if found:
            return found[-1]
    return None


def _clean(answer: str) -> str:
    """Without markdown emphasis, quotes, brackets and trailing punctuation."""
    return answer.strip().strip(_DECORATION).strip()


def _normal(text: str) -> str:
    return _SEPARATORS.sub(" ", text.casefold()).strip()


def match_label(answer: str, labels: Sequence[str]) -> str | None:
    """The label `answer` names: equal ignoring case and '_'/'-'/space, else the one label it contains as words."""
    normal = _normal(answer)
    for label in labels:
        if _normal(label) == normal:
            return label
    contained = [label for label in labels if _word_pattern(label).search(normal)]
    if len(contained) == 1:
        return contained[0]
    if contained:  # several: the longest ("bug report" over "bug"), then the first named
        return max(contained, key=lambda label: (len(_normal(label)), -_word_pattern(label).search(normal).start()))
    return None


def _last_label_mentioned(text: str, labels: Sequence[str]) -> str | None:
    normal = _normal(text)
    positions = {}
    for label in labels:
        matches = list(_word_pattern(label).finditer(normal))
        if matches:
            positions[label] = matches[-1].end()
    return max(positions, key=lambda label: (positions[label], len(label))) if positions else None


def _word_pattern(label: str) -> re.Pattern:
    return re.compile(rf"(?<!\w){re.escape(_normal(label))}(?!\w)")
