"""Chunks: windows of a fixed number of tokens over a document, overlapping by a few tokens.

Each chunk keeps its character span, so `chunk.text == document.text[chunk.start:chunk.end]`.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from transformers import PreTrainedTokenizerBase

from tunewise.data.text import Document


@dataclass(frozen=True)
class Chunk:
    """A piece of one document: the unit that is embedded, indexed and retrieved."""

    id: str  # f"{doc_id}#{n}"
    doc_id: str
    n: int  # 0-based position of the chunk in its document
    text: str
    start: int  # character offsets into the document's text
    end: int


def check_window(size: int, overlap: int) -> None:
    """Raise ValueError unless 1 <= size and 0 <= overlap < size."""
    if size < 1:
        raise ValueError(f"chunk size must be at least 1 token, got {size}")
    if not 0 <= overlap < size:
        raise ValueError(f"chunk overlap must be at least 0 and less than the chunk size ({size}), got {overlap}")


def _window_starts(n_tokens: int, size: int, overlap: int) -> list[int]:
    """The first token of each window: every `size - overlap` tokens, until a window reaches the last token."""
    starts = [0]
    while starts[-1] + size < n_tokens:
        starts.append(starts[-1] + size - overlap)
    return starts


def chunk_document(doc: Document, tokenizer: PreTrainedTokenizerBase, size: int, overlap: int) -> list[Chunk]:
    """The document cut into windows of `size` tokens, each starting `size - overlap` tokens after the last.

    A chunk runs from the start of its first token to the start of the token after its last (the end of the
    document's last token, for the last chunk): text between tokens (spaces, characters the tokenizer drops)
    stays with the chunk before it, so chunks leave no gaps. Whitespace before the first token and after the
    last is left out. A document shorter than `size` tokens is one chunk; one without any token gives none.
    """
    check_window(size, overlap)
    # Truncation off: the whole document is cut here; `verbose=False` quiets the "longer than max" warning.
    encoded = tokenizer(doc.text, add_special_tokens=False, return_offsets_mapping=True, verbose=False)
    offsets = encoded["offset_mapping"]  # (start, end) character span of each token
    if not offsets:
        return []
    chunks = []
    for n, first in enumerate(_window_starts(len(offsets), size, overlap)):
        after = first + size  # the first token past this window
        start = offsets[first][0]
        end = offsets[after][0] if after < len(offsets) else offsets[-1][1]
        chunks.append(Chunk(f"{doc.id}#{n}", doc.id, n, doc.text[start:end], start, end))
    return chunks


def chunk_documents(
    docs: Iterable[Document], tokenizer: PreTrainedTokenizerBase, size: int, overlap: int
) -> list[Chunk]:
    """Every document's chunks, in document order."""
    return [chunk for doc in docs for chunk in chunk_document(doc, tokenizer, size, overlap)]
