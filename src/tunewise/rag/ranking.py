"""Ranking helpers shared by the indexes: the top k of a row of scores, and reciprocal-rank fusion.

Ties are always broken by the lower index first, so the same inputs give the same ranking on every machine.
"""
from __future__ import annotations

import numpy as np

RRF_K = 60  # the constant of Cormack et al. (2009): damps the weight of the very first ranks


def top_k(scores: np.ndarray, k: int) -> list[tuple[int, float]]:
    """The k best (index, score) of a 1-d array of scores, best first; k larger than the array is clamped."""
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    k = min(k, len(scores))
    if k == 0:
        return []
    if k < len(scores):
        kth_best = np.partition(scores, len(scores) - k)[len(scores) - k]
        candidates = np.flatnonzero(scores >= kth_best)  # every index tied with the k-th best, too
    else:
        candidates = np.arange(len(scores))
    order = np.lexsort((candidates, -scores[candidates]))[:k]  # by score descending, then index ascending
    return [(int(i), float(scores[i])) for i in candidates[order]]


def rrf(rankings: list[list[int]], k: int = RRF_K) -> list[tuple[int, float]]:
    """Reciprocal-rank fusion: (index, sum over rankings of 1 / (k + rank)), rank from 1; best first, ties by index."""
    fused: dict[int, float] = {}
    for ranking in rankings:
        for rank, index in enumerate(ranking, start=1):
            fused[index] = fused.get(index, 0.0) + 1.0 / (k + rank)
    return sorted(fused.items(), key=lambda item: (-item[1], item[0]))
