"""The retriever with the bundled MiniLM: dense and hybrid search find a paraphrased fact; the saved index is reused.

Reuse is checked on a fresh encoder that must never load: nothing is embedded when documents and settings match.
"""
from __future__ import annotations

import json
from itertools import pairwise

import numpy as np
import pytest
from safetensors.numpy import load_file

from tunewise.data.text import Document
from tunewise.models.embed import TextEncoder
from tunewise.rag.index import (
    INDEX_FILES,
    RetrievalError,
    build_retriever,
    doc_ids,
    load_or_build,
)
from tunewise.rag.metrics import recall_at_k

pytestmark = pytest.mark.e2e

SIZE, OVERLAP = 48, 12
SUBJECTS = ["invoice", "password reset", "mobile app", "shipping label", "newsletter", "team seats", "API key",
            "dark mode", "export to CSV", "two-factor login"]
FACTS = ["can be changed in the settings page", "is included in every paid plan", "was redesigned last spring",
         "works in all supported browsers", "is described in the onboarding guide"]
DISTRACTORS = [Document(f"faq/{i:02d}", f"The {SUBJECTS[i % 10]} {FACTS[i % 5]}. Contact support for help with "
                        f"the {SUBJECTS[(i * 7) % 10]}.", f"faq/{i:02d}.md") for i in range(30)]
PLANTED = Document(
    "policy/holidays",
    "Our warehouse in Rotterdam closes for the yearly stocktake during the first week of January; "
    "orders placed then are shipped from the second week on.",
    "policy/holidays.md",
)
LONG = Document("guide/long", " ".join(f"Step {i}: open the menu and choose option {i}." for i in range(40)),
                "guide/long.md")
DOCS = [*DISTRACTORS[:12], PLANTED, LONG, *DISTRACTORS[12:]]
QUESTION = "Why would a package ordered right after New Year ship late from the Dutch warehouse?"


@pytest.fixture(scope="module")
def encoder() -> TextEncoder:
    return TextEncoder("minilm")


@pytest.fixture(scope="module")
def built(encoder, tmp_path_factory):
    directory = tmp_path_factory.mktemp("rag") / "index"
    retriever, reused = load_or_build(DOCS, directory, encoder, SIZE, OVERLAP)
    return retriever, reused, directory


def test_dense_search_finds_the_paraphrased_fact(built):
    retriever, reused, _ = built
    (hits,) = retriever.retrieve([QUESTION], k=3, mode="dense")
    assert not reused
    assert hits[0].chunk.doc_id == PLANTED.id
    assert hits[0].score > hits[1].score and -1.0 <= hits[-1].score <= 1.0


def test_hybrid_search_finds_it_too_and_scores_by_rank_fusion(built):
    retriever, _, _ = built
    (hits,) = retriever.retrieve([QUESTION], k=5, mode="hybrid")
    assert hits[0].chunk.doc_id == PLANTED.id
    assert len(hits) == 5 and hits[0].score <= 2 / 61  # at best first in both rankings


def test_recall_at_k_over_retrieved_doc_ids(built):
    retriever, _, _ = built
    questions = [QUESTION, "Where is the step where I choose option 33?"]
    found = doc_ids(retriever.retrieve(questions, k=3, mode="hybrid"))
    assert recall_at_k(found, [[PLANTED.id], [LONG.id]], k=3) == 1.0


def test_long_documents_are_cut_into_overlapping_chunks(built):
    retriever, _, _ = built
    chunks = [c for c in retriever.chunks if c.doc_id == LONG.id]
    assert len(chunks) > 3
    assert all(b.start < a.end for a, b in pairwise(chunks))
    assert len(retriever.chunks) == len(retriever.dense)


def test_the_same_documents_reuse_the_index_without_embedding(built, encoder):
    retriever, _, directory = built
    fresh = TextEncoder("minilm")
    again, reused = load_or_build(list(DOCS), directory, fresh, SIZE, OVERLAP)
    assert reused and fresh.model is None  # nothing was embedded: the encoder never even loaded
    assert again.chunks == retriever.chunks
    assert np.array_equal(again.dense.embeddings, retriever.dense.embeddings)
    assert again.retrieve(["Rotterdam stocktake"], 1, "bm25")[0][0].chunk.doc_id == PLANTED.id
    assert fresh.model is None  # keyword search needs no encoder


@pytest.mark.parametrize("change", ["document", "chunk size"])
def test_a_changed_document_or_chunk_size_rebuilds_the_index(built, encoder, change, tmp_path):
    _, _, directory = built
    before = json.loads((directory / "index.json").read_text(encoding="utf-8"))["corpus_hash"]
    docs = [*DOCS[:-1], Document(DOCS[-1].id, DOCS[-1].text + " Updated.", DOCS[-1].source)]
    size = SIZE if change == "document" else SIZE + 8
    rebuilt, reused = load_or_build(docs if change == "document" else DOCS, directory, encoder, size, OVERLAP)
    after = json.loads((directory / "index.json").read_text(encoding="utf-8"))
    assert not reused and after["corpus_hash"] != before and after["size"] == size
    assert len(rebuilt.chunks) == after["chunks"]
    # Put the original back for the tests after this one.
    assert load_or_build(DOCS, directory, encoder, SIZE, OVERLAP)[1] is False


def test_the_saved_files_are_json_and_safetensors_only(built):
    retriever, _, directory = built
    assert sorted(p.name for p in directory.iterdir()) == sorted(INDEX_FILES)
    assert not [p for p in directory.parent.iterdir() if p.name.startswith(".")], "a staging folder was left behind"
    tensors = load_file(str(directory / "embeddings.safetensors"))
    assert list(tensors) == ["embeddings"] and tensors["embeddings"].dtype == np.float32
    assert tensors["embeddings"].shape == (len(retriever.chunks), 384)
    rows = [json.loads(line) for line in (directory / "chunks.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in rows] == [c.id for c in retriever.chunks]
    assert all(not p.read_bytes().startswith(b"\x80") for p in directory.iterdir())  # no pickle protocol header


def test_a_damaged_index_is_rebuilt(built, encoder):
    _, _, directory = built
    (directory / "embeddings.safetensors").write_bytes(b"not safetensors")
    retriever, reused = load_or_build(DOCS, directory, encoder, SIZE, OVERLAP)
    assert not reused and retriever.retrieve([QUESTION], 1, "dense")[0][0].chunk.doc_id == PLANTED.id


def test_chunks_longer_than_the_encoder_reads_are_refused(encoder):
    with pytest.raises(RetrievalError, match="at most 254"):
        build_retriever(DOCS, encoder, 255, 0)
