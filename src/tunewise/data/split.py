"""Seeded train/val/test splits, stratified by label for classification, and the user's own split files.

Determinism: an example's place is decided by sha256("<seed>:<id>"), not by a random generator or file order,
so the same ids and seed give the same split on every machine and Python version, even if rows are reordered.
"""
from __future__ import annotations

import hashlib
import math
from collections import defaultdict
from dataclasses import dataclass

from tunewise.records import Example
from tunewise.sections import SplitConfig
from tunewise.task import example_label

SPLIT_NAMES = ("train", "val", "test")


@dataclass(frozen=True)
class Split:
    """The three example lists every rung sees; within each list examples keep their input order."""

    train: list[Example]
    val: list[Example]
    test: list[Example]

    def ids(self) -> dict[str, list[str]]:
        """{'train': [...], 'val': [...], 'test': [...]} example ids, saved with the run."""
        return {name: [e.id for e in getattr(self, name)] for name in SPLIT_NAMES}

    def counts(self) -> dict[str, int]:
        """Examples per split."""
        return {name: len(getattr(self, name)) for name in SPLIT_NAMES}

    def as_dict(self) -> dict[str, list[Example]]:
        """{'train': examples, 'val': ..., 'test': ...}."""
        return {name: getattr(self, name) for name in SPLIT_NAMES}


def held_out_sizes(n: int, fractions: list[float]) -> list[int]:
    """How many of n examples each held-out part gets, in priority order; training always keeps at least one.

    A part with a fraction > 0 gets at least one example while there are enough, so that small labels still
    reach every split: 3 examples of a label give one each to train, val and test.
    """
    sizes = []
    left = n - 1
    for fraction in fractions:
        want = max(1, math.floor(n * fraction + 0.5)) if fraction > 0 else 0
        take = min(want, max(left, 0))
        sizes.append(take)
        left -= take
    return sizes


def split_examples(examples: list[Example], cfg: SplitConfig, stratify: bool) -> Split:
    """Split one data set into train/val/test by cfg's fractions and seed; stratified by label when asked."""
    # test comes first so that it gets its share before val when a label has few examples
    train, test, val = _partition(examples, [cfg.test, cfg.val], cfg.seed, stratify)
    return Split(train=train, val=val, test=test)


def own_split(
    train: list[Example], val: list[Example] | None, test: list[Example], cfg: SplitConfig, stratify: bool
) -> Split:
    """The user's files as given; without a val file, `cfg.val` of train is held out as val."""
    if val is not None:
        return Split(train=list(train), val=list(val), test=list(test))
    rest, held_out = _partition(train, [cfg.val], cfg.seed, stratify)
    return Split(train=rest, val=held_out, test=list(test))


def _partition(examples: list[Example], fractions: list[float], seed: int, stratify: bool) -> list[list[Example]]:
    """[rest, part 1, part 2, ...]: each group (label, or everything) is cut by the fractions, in input order."""
    groups: dict[str, list[int]] = defaultdict(list)
    for position, example in enumerate(examples):
        groups[example_label(example) if stratify else ""].append(position)
    chosen = {}  # position -> part index (0 = rest)
    for positions in groups.values():
        ranked = sorted(positions, key=lambda p: _rank(seed, examples[p].id))
        start = 0
        for part, size in enumerate(held_out_sizes(len(ranked), fractions), start=1):
            for p in ranked[start : start + size]:
                chosen[p] = part
            start += size
    parts: list[list[Example]] = [[] for _ in range(len(fractions) + 1)]
    for position, example in enumerate(examples):
        parts[chosen.get(position, 0)].append(example)
    return parts


def _rank(seed: int, example_id: str) -> str:
    return hashlib.sha256(f"{seed}:{example_id}".encode()).hexdigest()
