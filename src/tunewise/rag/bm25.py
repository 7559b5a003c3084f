"""A BM25 keyword index over chunk texts (the `bm25s` package): lowercase words, English stopwords removed.

Building it from the texts takes well under a second for thousands of chunks, so it is rebuilt, never saved.
"""
from __future__ import annotations

from collections.abc import Sequence

import bm25s

from tunewise.rag.ranking import top_k

STOPWORDS = "english"


def words(texts: Sequence[str]) -> list[list[str]]:
    """Each text as the lowercase words BM25 counts (two or more letters or digits, no English stopwords)."""
    return bm25s.tokenize(list(texts), stopwords=STOPWORDS, return_ids=False, show_progress=False)


class BM25Index:
    """BM25 scores of queries against a fixed list of texts."""

    def __init__(self, texts: Sequence[str]):
        if not texts:
            raise ValueError("a BM25 index needs at least one text")
        self.size = len(texts)
        self.bm25 = bm25s.BM25()
        self.bm25.index(words(texts), show_progress=False)

    def search(self, queries: Sequence[str], k: int) -> list[list[tuple[int, float]]]:
        """For each query, up to k (text index, score) best first; texts sharing no word with the query are left out."""
        results = []
        for query in words(queries):
            ids = self.bm25.get_tokens_ids(query)  # words no text contains are dropped
            if not ids:
                results.append([])
                continue
            scores = self.bm25.get_scores_from_ids(ids)  # (N,)
            results.append([(i, s) for i, s in top_k(scores, k) if s > 0])
        return results
