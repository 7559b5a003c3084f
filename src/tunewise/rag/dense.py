"""Exact nearest-neighbour search over unit-length embeddings: cosine similarity as a dot product.

numpy for the sizes tunewise expects; faiss's exact inner-product index, when installed, for very large ones.
"""
from __future__ import annotations

from types import ModuleType

import numpy as np

from tunewise.rag.ranking import top_k

FAISS_MIN_ROWS = 50_000  # below this numpy is as fast as faiss, and its ties are ordered by index
QUERY_BLOCK = 256  # queries scored at once: bounds the (queries, rows) score matrix in memory


def _faiss() -> ModuleType | None:
    """The faiss module, or None when it is not installed (it is optional)."""
    try:
        import faiss
    except ImportError:
        return None
    return faiss


class DenseIndex:
    """Top-k cosine search over fixed (N, H) unit-length embeddings."""

    def __init__(self, embeddings: np.ndarray):
        if embeddings.ndim != 2 or len(embeddings) == 0:
            raise ValueError(f"expected a non-empty (rows, dims) array of embeddings, got shape {embeddings.shape}")
        self.embeddings = np.ascontiguousarray(embeddings, dtype=np.float32)  # (N, H)
        faiss = _faiss() if len(embeddings) > FAISS_MIN_ROWS else None
        self.faiss_index = None
        if faiss is not None:
            self.faiss_index = faiss.IndexFlatIP(self.embeddings.shape[1])
            self.faiss_index.add(self.embeddings)

    def __len__(self) -> int:
        return len(self.embeddings)

    def search(self, queries: np.ndarray, k: int) -> list[list[tuple[int, float]]]:
        """For each (unit-length) query row, the k most similar (row index, cosine) best first; k clamped to N."""
        if queries.ndim != 2 or queries.shape[1] != self.embeddings.shape[1]:
            raise ValueError(f"expected queries of shape (n, {self.embeddings.shape[1]}), got {queries.shape}")
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        if self.faiss_index is not None:
            return self._faiss_search(queries, min(k, len(self)))
        results = []
        for block in range(0, len(queries), QUERY_BLOCK):
            scores = queries[block : block + QUERY_BLOCK] @ self.embeddings.T  # (Q, N)
            results.extend(top_k(row, k) for row in scores)
        return results

    def _faiss_search(self, queries: np.ndarray, k: int) -> list[list[tuple[int, float]]]:
        scores, rows = self.faiss_index.search(queries, k)  # (Q, k) each
        return [[(int(i), float(s)) for i, s in zip(row_ids, row_scores)] for row_ids, row_scores in zip(rows, scores)]
