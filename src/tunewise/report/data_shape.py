"""The shape of the prepared split for report.json's `data` section: examples per label per split (class balance)
and histograms of input and answer lengths in words, on fixed bins so that splits and runs compare bin by bin.
"""
from __future__ import annotations

from bisect import bisect_right

from tunewise.records import Example, user_turns
from tunewise.task import example_label

# Lower edges of the length bins, in words: bin i holds lengths in [edges[i], edges[i + 1]), the last bin every
# length from its edge up. Fixed (not fitted to the data) so that two splits or two runs share their bins.
LENGTH_EDGES = [0, 5, 10, 20, 50, 100, 200, 500, 1000, 2000]
LENGTH_UNIT = "words"  # whitespace-separated words


def data_shape(split: dict[str, list[Example]], task_type: str) -> dict:
    """{"balance": {split: {label: count}} (classification only), "lengths": {split: {"input": histogram,
    "answer": histogram (not classification)}}}; a histogram is {"unit", "edges", "counts"} (see LENGTH_EDGES)."""
    shape: dict = {}
    if task_type == "classification":
        shape["balance"] = class_balance(split)
    lengths = {}
    for name, examples in split.items():
        lengths[name] = {"input": length_histogram([input_words(e) for e in examples])}
        if task_type != "classification":
            lengths[name]["answer"] = length_histogram([len(e.answer.split()) for e in examples])
    shape["lengths"] = lengths
    return shape


def class_balance(split: dict[str, list[Example]]) -> dict[str, dict[str, int]]:
    """Examples per label in each split; every label seen in any split is listed in every split (0 where absent),
    in sorted order."""
    labels = sorted({example_label(e) for examples in split.values() for e in examples})
    balance = {}
    for name, examples in split.items():
        counts = dict.fromkeys(labels, 0)
        for e in examples:
            counts[example_label(e)] += 1
        balance[name] = counts
    return balance


def input_words(example: Example) -> int:
    """Words in the example's user turns (the system prompt and earlier assistant turns are not the user's input)."""
    return len(user_turns(example).split())


def length_histogram(lengths: list[int]) -> dict:
    """Counts of `lengths` in the LENGTH_EDGES bins."""
    counts = [0] * len(LENGTH_EDGES)
    for n in lengths:
        counts[bisect_right(LENGTH_EDGES, n) - 1] += 1
    return {"unit": LENGTH_UNIT, "edges": list(LENGTH_EDGES), "counts": counts}


def bin_names(edges: list[int]) -> list[str]:
    """Readable bin names for a histogram's lower edges: "0-4", "5-9", ..., "2000+"."""
    names = [f"{low}-{high - 1}" if high - low > 1 else f"{low}" for low, high in zip(edges, edges[1:])]
    return names + [f"{edges[-1]}+"]
