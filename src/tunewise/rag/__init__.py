"""Retrieval for the RAG rung: chunking, BM25 and dense indexes, their fusion, a saved retriever and recall@k.

Documents come from `tunewise.data.text` (a folder, a JSONL file, or the training examples themselves).
"""
from tunewise.rag.bm25 import BM25Index
from tunewise.rag.chunking import Chunk, chunk_document, chunk_documents
from tunewise.rag.dense import FAISS_MIN_ROWS, DenseIndex
from tunewise.rag.index import (
    HYBRID_DEPTH,
    MODES,
    Hit,
    IndexSettings,
    Mode,
    RetrievalError,
    Retriever,
    build_retriever,
    corpus_hash,
    doc_ids,
    load_or_build,
)
from tunewise.rag.metrics import hits_at_k, recall_at_k
from tunewise.rag.ranking import RRF_K, rrf, top_k

__all__ = [
    "FAISS_MIN_ROWS",
    "HYBRID_DEPTH",
    "MODES",
    "RRF_K",
    "BM25Index",
    "Chunk",
    "DenseIndex",
    "Hit",
    "IndexSettings",
    "Mode",
    "RetrievalError",
    "Retriever",
    "build_retriever",
    "chunk_document",
    "chunk_documents",
    "corpus_hash",
    "doc_ids",
    "hits_at_k",
    "load_or_build",
    "recall_at_k",
    "rrf",
    "top_k",
]
