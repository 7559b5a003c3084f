"""The retriever's saved index without a model: its corpus hash, its settings and the folders it refuses to replace.

Building and reusing a real index (which embeds with the bundled MiniLM) is in tests/e2e/test_rag_dense.py.
"""
from __future__ import annotations

import pytest

from tunewise.data.text import Document
from tunewise.models.embed import TextEncoder
from tunewise.rag.index import IndexSettings, RetrievalError, corpus_hash, load_or_build

DOCS = [Document("a", "alpha text", "a.txt"), Document("b", "beta text", "b.txt")]
SETTINGS = IndexSettings("minilm", 64, 16)


def test_corpus_hash_is_stable_and_changes_with_documents_order_and_settings():
    digest = corpus_hash(DOCS, SETTINGS)
    assert digest == corpus_hash(list(DOCS), IndexSettings("minilm", 64, 16)) and len(digest) == 64
    others = [
        corpus_hash([DOCS[0], Document("b", "beta text!", "b.txt")], SETTINGS),
        corpus_hash([DOCS[0], Document("c", "beta text", "b.txt")], SETTINGS),
        corpus_hash(DOCS[::-1], SETTINGS),
        corpus_hash(DOCS[:1], SETTINGS),
        corpus_hash(DOCS, IndexSettings("minilm", 32, 16)),
        corpus_hash(DOCS, IndexSettings("minilm", 64, 8)),
        corpus_hash(DOCS, IndexSettings("/models/other-encoder", 64, 16)),
    ]
    assert len({digest, *others}) == 1 + len(others)


def test_the_source_path_alone_does_not_change_the_hash():
    moved = [Document(d.id, d.text, f"elsewhere/{d.source}") for d in DOCS]
    assert corpus_hash(moved, SETTINGS) == corpus_hash(DOCS, SETTINGS)


@pytest.mark.parametrize(("size", "overlap"), [(0, 0), (16, 16), (16, -1)])
def test_settings_refuse_a_bad_window(size, overlap):
    with pytest.raises(ValueError, match="chunk (size|overlap)"):
        IndexSettings("minilm", size, overlap)


def test_a_folder_with_other_files_is_refused_before_any_model_loads(tmp_path):
    (tmp_path / "index").mkdir()
    (tmp_path / "index" / "notes.md").write_text("mine", encoding="utf-8")
    encoder = TextEncoder("minilm")
    with pytest.raises(RetrievalError, match="notes.md"):
        load_or_build(DOCS, tmp_path / "index", encoder, 64, 16)
    assert encoder.model is None
    assert (tmp_path / "index" / "notes.md").read_text(encoding="utf-8") == "mine"


def test_a_file_in_place_of_the_folder_is_refused(tmp_path):
    (tmp_path / "index").write_text("not a folder", encoding="utf-8")
    with pytest.raises(RetrievalError, match="is a file"):
        load_or_build(DOCS, tmp_path / "index", TextEncoder("minilm"), 64, 16)
