"""Chunking: token windows that cover the whole document, overlap by exactly `overlap` tokens, and map back to text.

Run with two real tokenizers: the bundled MiniLM's WordPiece (tokenizer files only) and the tiny byte-level BPE.
"""
from __future__ import annotations

from itertools import pairwise

import pytest
from transformers import AutoTokenizer

from tunewise.data.text import Document
from tunewise.models.resolve import resolve_encoder
from tunewise.rag.chunking import chunk_document, chunk_documents

LONG = " ".join(
    f"Paragraph {i}: refunds are issued within {i + 3} business days, unbelievably quickly; café déjà-vu 😀."
    for i in range(12)
)
# A byte-level tokenizer splits one character (é, 😀) into several tokens, and a chunk cannot hold half a
# character: exact token counts are checked on text whose every character is one token or more.
ASCII = LONG.replace("café déjà-vu 😀", "cafe deja-vu :-)")
DOCUMENTS = [
    Document("plain", "The app crashes when I open settings. Please fix this bug.", "plain.txt"),
    Document("spaced", "  leading and trailing\n\n\tspaces,   runs of   them\u200b and a\x07bell.  \n", "spaced.md"),
    Document("long", LONG, "long.md"),
    Document("one", "Hi", "one.txt"),
]
WINDOWS = [(1, 0), (5, 0), (8, 3), (16, 15), (64, 16), (1000, 10)]


@pytest.fixture(scope="module")
def minilm_tokenizer():
    return AutoTokenizer.from_pretrained(resolve_encoder("minilm"))


@pytest.fixture(params=["minilm", "tiny-bpe"])
def tokenizer(request):
    return request.getfixturevalue("minilm_tokenizer" if request.param == "minilm" else "tiny_tokenizer")


def token_spans(tokenizer, text: str) -> list[tuple[int, int]]:
    return tokenizer(text, add_special_tokens=False, return_offsets_mapping=True, verbose=False)["offset_mapping"]


def tokens_inside(spans: list[tuple[int, int]], start: int, end: int) -> list[int]:
    """Indices of the tokens whose whole span lies in [start, end)."""
    return [i for i, (s, e) in enumerate(spans) if start <= s and e <= end]


@pytest.mark.parametrize(("size", "overlap"), WINDOWS)
@pytest.mark.parametrize("doc", DOCUMENTS, ids=lambda d: d.id)
def test_chunks_map_back_to_the_text_and_rebuild_it_exactly(tokenizer, doc, size, overlap):
    chunks = chunk_document(doc, tokenizer, size, overlap)
    spans = token_spans(tokenizer, doc.text)

    assert [c.id for c in chunks] == [f"{doc.id}#{n}" for n in range(len(chunks))]
    assert all(c.doc_id == doc.id and c.text == doc.text[c.start : c.end] for c in chunks)
    # Each chunk's part not shared with the one before it, joined: the text from the first token to the last.
    rebuilt = chunks[0].text + "".join(c.text[prev.end - c.start :] for prev, c in pairwise(chunks))
    assert all(c.start <= prev.end for prev, c in pairwise(chunks)), "a gap between chunks"
    assert rebuilt == doc.text[spans[0][0] : spans[-1][1]]
    covered = {i for c in chunks for i in range(c.start, c.end)}
    assert all(i in covered for i, char in enumerate(doc.text) if not char.isspace())


@pytest.mark.parametrize(("size", "overlap"), WINDOWS)
def test_windows_hold_size_tokens_and_overlap_by_overlap_tokens(tokenizer, size, overlap):
    doc = Document("ascii", ASCII, "ascii.txt")
    chunks = chunk_document(doc, tokenizer, size, overlap)
    spans = token_spans(tokenizer, doc.text)
    inside = [tokens_inside(spans, c.start, c.end) for c in chunks]

    assert all(len(tokens) == size for tokens in inside[:-1])
    assert 1 <= len(inside[-1]) <= size and inside[-1][-1] == len(spans) - 1
    for before, after in pairwise(inside):
        assert len(set(before) & set(after)) == overlap
        assert after[0] == before[0] + size - overlap


def test_a_document_shorter_than_the_window_is_one_chunk(tokenizer):
    doc = DOCUMENTS[0]
    (chunk,) = chunk_document(doc, tokenizer, size=200, overlap=50)
    assert (chunk.n, chunk.text) == (0, doc.text)


def test_a_document_without_tokens_gives_no_chunk(minilm_tokenizer):
    # WordPiece drops spaces, zero-width spaces and control characters: nothing here is a token.
    assert chunk_document(Document("blank", " \n\u200b\x07 ", "blank.txt"), minilm_tokenizer, 8, 2) == []


def test_documents_are_chunked_in_order(tokenizer):
    chunks = chunk_documents(DOCUMENTS, tokenizer, 16, 4)
    assert [c.doc_id for c in chunks] == sorted((c.doc_id for c in chunks), key=[d.id for d in DOCUMENTS].index)
    assert {c.doc_id for c in chunks} == {d.id for d in DOCUMENTS}


@pytest.mark.parametrize(("size", "overlap"), [(8, 8), (8, 9), (8, -1), (0, 0)])
def test_an_overlap_outside_zero_to_size_is_refused(tokenizer, size, overlap):
    with pytest.raises(ValueError, match="chunk (size|overlap)"):
        chunk_document(DOCUMENTS[0], tokenizer, size, overlap)
