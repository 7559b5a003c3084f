"""The retriever of the RAG rung: chunks of the documents with a dense and a BM25 index over them.

Saved as chunks.jsonl + embeddings.safetensors + index.json; reused while the documents and settings are the same.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal, get_args

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load_file, save_file

from tunewise.data.text import Document
from tunewise.errors import TunewiseError
from tunewise.io import write_json, write_jsonl
from tunewise.models.embed import TextEncoder
from tunewise.rag.bm25 import BM25Index
from tunewise.rag.chunking import Chunk, check_window, chunk_documents
from tunewise.rag.dense import DenseIndex
from tunewise.rag.ranking import rrf

Mode = Literal["dense", "bm25", "hybrid"]
MODES: tuple[str, ...] = get_args(Mode)
HYBRID_DEPTH = 20  # hits taken from each index before fusion: deeper than k, so a chunk ranked well by one still counts
INDEX_FORMAT = 1  # bump when the saved layout or chunking changes: older indexes then no longer match and are rebuilt
CHUNKS_FILE, EMBEDDINGS_FILE, INDEX_FILE = "chunks.jsonl", "embeddings.safetensors", "index.json"
INDEX_FILES = (CHUNKS_FILE, EMBEDDINGS_FILE, INDEX_FILE)


class RetrievalError(TunewiseError):
    """The retrieval index could not be built or saved (nothing to index, chunks too long, a folder in the way)."""


@dataclass(frozen=True)
class IndexSettings:
    """What, besides the documents, decides the chunks and their embeddings."""

    encoder: str  # TextEncoder name: 'minilm' or a local directory
    size: int  # chunk length in encoder tokens
    overlap: int  # tokens shared by consecutive chunks of a document

    def __post_init__(self) -> None:
        check_window(self.size, self.overlap)


@dataclass(frozen=True)
class Hit:
    """One retrieved chunk and its score: cosine (dense), BM25 score (bm25) or fused RRF score (hybrid)."""

    chunk: Chunk
    score: float


def corpus_hash(documents: Sequence[Document], settings: IndexSettings) -> str:
    """sha256 of the documents (ids and texts, in order), the index settings and the index format."""
    digest = hashlib.sha256(json.dumps({"format": INDEX_FORMAT, **asdict(settings)}, sort_keys=True).encode())
    for document in documents:
        digest.update(json.dumps([document.id, document.text], ensure_ascii=False).encode("utf-8") + b"\n")
    return digest.hexdigest()


class Retriever:
    """Top-k chunks for questions, by meaning (dense), by shared words (bm25) or by both fused (hybrid)."""

    def __init__(self, chunks: list[Chunk], embeddings: np.ndarray, encoder: TextEncoder):
        if len(chunks) != len(embeddings):
            raise ValueError(f"expected one embedding per chunk: {len(chunks)} chunks, {len(embeddings)} embeddings")
        self.chunks = chunks
        self.encoder = encoder  # embeds the questions; loaded on the first dense or hybrid query
        self.dense = DenseIndex(embeddings)
        self.bm25 = BM25Index([chunk.text for chunk in chunks])

    def retrieve(self, queries: Sequence[str], k: int, mode: Mode) -> list[list[Hit]]:
        """For each query, its k best chunks, best first (fewer in bm25 mode when few chunks share a word)."""
        if mode not in MODES:
            raise ValueError(f"retrieval mode must be one of {', '.join(MODES)}, got {mode!r}")
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        if not queries:
            return []
        if mode == "dense":
            ranked = self._dense(queries, k)
        elif mode == "bm25":
            ranked = self.bm25.search(queries, k)
        else:
            ranked = self._hybrid(queries, k)
        return [[Hit(self.chunks[i], score) for i, score in row] for row in ranked]

    def _dense(self, queries: Sequence[str], k: int) -> list[list[tuple[int, float]]]:
        return self.dense.search(self.encoder.embed(queries, what="embed queries"), k)

    def _hybrid(self, queries: Sequence[str], k: int) -> list[list[tuple[int, float]]]:
        depth = max(k, HYBRID_DEPTH)
        pairs = zip(self._dense(queries, depth), self.bm25.search(queries, depth))
        return [rrf([[i for i, _ in dense], [i for i, _ in keyword]])[:k] for dense, keyword in pairs]


def doc_ids(hits: Sequence[Sequence[Hit]]) -> list[list[str]]:
    """The document id of every hit, per query: what `recall_at_k` compares with the gold ids."""
    return [[hit.chunk.doc_id for hit in row] for row in hits]


# ---------------------------------------------------------------- building


def build_retriever(documents: Sequence[Document], encoder: TextEncoder, size: int, overlap: int) -> Retriever:
    """Chunk the documents with the encoder's tokenizer and embed every chunk (the slow part)."""
    check_window(size, overlap)
    _, tokenizer = encoder.load()
    _check_chunks_fit(encoder, tokenizer.num_special_tokens_to_add(), size)
    chunks = chunk_documents(documents, tokenizer, size, overlap)
    if not chunks:
        raise RetrievalError(f"no text to index: the {len(documents)} document(s) hold no token the encoder reads")
    print(f"[tunewise] retrieval index: {len(documents)} documents, {len(chunks)} chunks of up to {size} tokens",
          file=sys.stderr, flush=True)
    embeddings = encoder.embed([chunk.text for chunk in chunks], what="embed chunks")
    return Retriever(chunks, embeddings, encoder)


def _check_chunks_fit(encoder: TextEncoder, special_tokens: int, size: int) -> None:
    """A chunk is embedded whole: its tokens plus the encoder's special tokens must fit the encoder's limit."""
    limit = min(encoder.max_length, getattr(encoder.model.config, "max_position_embeddings", None) or encoder.max_length)
    if size + special_tokens > limit:
        raise RetrievalError(
            f"chunk size {size} is too long for the encoder '{encoder.name}': it reads at most {limit} tokens, "
            f"{special_tokens} of them special; use a chunk size of at most {limit - special_tokens}"
        )


# ---------------------------------------------------------------- saving and loading


def load_or_build(
    documents: Sequence[Document], directory: Path, encoder: TextEncoder, size: int, overlap: int
) -> tuple[Retriever, bool]:
    """(retriever, reused): the index saved in `directory` when it was built from the same documents and
    settings (nothing is embedded then), else a new one, saved there in place of the old.
    """
    settings = IndexSettings(encoder.name, size, overlap)
    digest = corpus_hash(documents, settings)
    directory = Path(directory)
    saved = _saved_retriever(directory, digest, encoder)
    if saved is not None:
        return saved, True
    _check_replaceable(directory)  # before the slow part, not after it
    retriever = build_retriever(documents, encoder, size, overlap)
    save_index(retriever, directory, digest, settings, len(documents))
    return retriever, False


def save_index(retriever: Retriever, directory: Path, digest: str, settings: IndexSettings, n_documents: int) -> None:
    """Write the index into a new folder beside `directory`, then swap it in: a crash never leaves half an index."""
    _check_replaceable(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}.new-", dir=directory.parent))
    try:
        write_jsonl(staging / CHUNKS_FILE, [asdict(chunk) for chunk in retriever.chunks])
        save_file({"embeddings": retriever.dense.embeddings}, str(staging / EMBEDDINGS_FILE))
        write_json(staging / INDEX_FILE, {
            "format": INDEX_FORMAT,
            "corpus_hash": digest,
            **asdict(settings),
            "documents": n_documents,
            "chunks": len(retriever.chunks),
            "dimensions": int(retriever.dense.embeddings.shape[1]),
        })
        _swap_in(staging, directory)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _check_replaceable(directory: Path) -> None:
    """Refuse to replace anything but a folder holding only index files: the user's own files are never deleted."""
    if directory.exists() and not directory.is_dir():
        raise RetrievalError(f"{directory}: is a file; expected a folder for the retrieval index (new or empty)")
    others = sorted(p.name for p in directory.iterdir() if p.name not in INDEX_FILES) if directory.is_dir() else []
    if others:
        raise RetrievalError(
            f"{directory}: holds files that are not part of a retrieval index ({', '.join(others[:5])}); "
            "expected a new or empty folder, or one that holds only an earlier index"
        )


def _swap_in(staging: Path, directory: Path) -> None:
    """Put the finished `staging` folder at `directory`, then delete the index it replaces."""
    old = None
    if directory.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{directory.name}.old-", dir=directory.parent))
        os.replace(directory, old / directory.name)
    os.replace(staging, directory)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _saved_retriever(directory: Path, digest: str, encoder: TextEncoder) -> Retriever | None:
    """The retriever saved in `directory` if its corpus hash is `digest` and its files are whole, else None."""
    if not (directory / INDEX_FILE).is_file():
        return None
    try:
        meta = json.loads((directory / INDEX_FILE).read_text(encoding="utf-8"))
        if not isinstance(meta, dict) or meta.get("corpus_hash") != digest:
            return None
        return _read_retriever(directory, encoder)
    except (OSError, ValueError, KeyError, TypeError, SafetensorError) as err:
        print(f"[tunewise] {directory}: the saved retrieval index is unreadable ({err}); rebuilding it",
              file=sys.stderr, flush=True)
        return None


def load_index(directory: Path, encoder: TextEncoder) -> tuple[Retriever, dict]:
    """(the retriever saved in `directory`, its index.json) as they are, for a rung restored from its files; the
    encoder must be the one that embedded the chunks."""
    try:
        meta = json.loads((directory / INDEX_FILE).read_text(encoding="utf-8"))
        retriever = _read_retriever(directory, encoder)
    except (OSError, ValueError, KeyError, TypeError, SafetensorError) as err:
        raise RetrievalError(f"{directory}: not a readable retrieval index ({err})") from None
    if meta.get("encoder") != encoder.name:
        raise RetrievalError(f"{directory / INDEX_FILE}: embedded with encoder {meta.get('encoder')!r}, but "
                             f"model.encoder is {encoder.name!r}; questions must be embedded by the same encoder")
    return retriever, meta


def _read_retriever(directory: Path, encoder: TextEncoder) -> Retriever:
    lines = (directory / CHUNKS_FILE).read_text(encoding="utf-8").splitlines()
    chunks = [Chunk(**json.loads(line)) for line in lines if line.strip()]
    embeddings = load_file(str(directory / EMBEDDINGS_FILE))["embeddings"]
    return Retriever(chunks, embeddings, encoder)
