"""The bundled product-QA example: docs/ and questions.jsonl are exactly what generate.py writes, and answerable.

Milliseconds-tier: the generator is standard library only and writes 44 short documents and ~360 questions.
"""
from __future__ import annotations

import dataclasses
import json
import re
from collections import defaultdict
from pathlib import Path

import pytest
from conftest import example_script

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "product_qa"
DOCS = EXAMPLE / "docs"
QUESTIONS = EXAMPLE / "questions.jsonl"
KEYS = ["id", "prompt", "completion", "sources", "fact"]


@pytest.fixture(scope="module")
def generator():
    with example_script(EXAMPLE / "generate.py") as module:
        yield module


@pytest.fixture(scope="module")
def docs() -> dict[str, str]:
    """{document id: Markdown} of the committed docs/ folder."""
    return {p.stem: p.read_text(encoding="utf-8") for p in sorted(DOCS.glob("*.md"))}


@pytest.fixture(scope="module")
def records() -> list[dict]:
    return [json.loads(line) for line in QUESTIONS.read_text(encoding="utf-8").splitlines()]


def test_regenerating_gives_the_committed_files_byte_for_byte(generator, tmp_path):
    assert generator.main(["--out-dir", str(tmp_path)]) == 0
    written = {p.name: p.read_bytes() for p in (tmp_path / "docs").iterdir()}
    committed = {p.name: p.read_bytes() for p in DOCS.iterdir()}
    assert written == committed, "examples/product_qa/docs is stale: run examples/product_qa/generate.py"
    assert (tmp_path / "questions.jsonl").read_bytes() == QUESTIONS.read_bytes(), (
        "examples/product_qa/questions.jsonl is stale: run examples/product_qa/generate.py"
    )


def test_render_functions_are_deterministic_and_the_seed_only_shuffles(generator):
    assert generator.render_docs() == generator.render_docs()
    assert generator.render_questions() == generator.render_questions()
    default, other = generator.records(), generator.records(seed=generator.SEED + 1)
    assert [r["prompt"] for r in other] != [r["prompt"] for r in default]
    assert _without_ids(other) == _without_ids(default)


def _without_ids(rows: list[dict]) -> list[str]:
    return sorted(json.dumps({k: v for k, v in r.items() if k != "id"}) for r in rows)


def test_the_generator_refuses_an_answer_restated_in_another_document(generator, monkeypatch):
    first, second, *rest = generator.DOCS
    answer = generator.FACT.search(first.body).group(2)
    leaky = dataclasses.replace(second, body=f"{second.body}\n\nSee also: {answer}.")
    monkeypatch.setattr(generator, "DOCS", [first, leaky, *rest])
    with pytest.raises(ValueError, match=f"answer {answer!r} also occurs in"):
        generator.facts()


def test_sizes(docs, records):
    assert len(docs) >= 40
    assert len(records) >= 300
    assert len({r["fact"] for r in records}) >= 100


def test_records_have_exactly_the_keys_in_order_and_numbered_ids(records):
    assert all(list(r) == KEYS for r in records)
    assert all(isinstance(r[k], str) for r in records for k in KEYS if k != "sources")
    assert all(isinstance(r["sources"], list) and len(r["sources"]) == 1 for r in records)
    assert [r["id"] for r in records] == [f"q{i:04d}" for i in range(1, len(records) + 1)]
    assert len({r["prompt"] for r in records}) == len(records)


def test_document_files_are_named_by_id_and_start_with_a_title(docs):
    assert all(re.fullmatch(r"d\d{2}-[a-z0-9-]+", doc_id) for doc_id in docs)
    assert all(text.startswith("# ") and text.splitlines()[1] == "" for text in docs.values())


def test_documents_are_80_to_250_words(docs):
    words = {doc_id: len(text.split()) for doc_id, text in docs.items()}
    assert {d: n for d, n in words.items() if not 80 <= n <= 250} == {}


def test_every_completion_is_a_short_span_of_an_existing_source(docs, records):
    assert not [r["id"] for r in records if r["sources"][0] not in docs]
    assert not [r["id"] for r in records if r["completion"] not in docs[r["sources"][0]]]
    assert all(1 <= len(r["completion"].split()) <= 6 for r in records)


def test_every_fact_has_one_answer_one_source_and_two_to_four_questions(records):
    by_fact: dict[str, list[dict]] = defaultdict(list)
    for r in records:
        by_fact[r["fact"]].append(r)
    assert {f: len(rs) for f, rs in by_fact.items() if not 2 <= len(rs) <= 4} == {}
    assert [f for f, rs in by_fact.items() if len({r["completion"] for r in rs}) != 1] == []
    assert [f for f, rs in by_fact.items() if len({r["sources"][0] for r in rs}) != 1] == []


def test_no_question_contains_its_answer(records):
    assert [r["id"] for r in records if r["completion"].casefold() in r["prompt"].casefold()] == []


def test_each_answer_occurs_in_its_gold_document_only(docs, records):
    flat = {doc_id: " ".join(text.split()) for doc_id, text in docs.items()}  # spans broken across lines count
    answers = {r["completion"]: r["sources"][0] for r in records}
    found_in = {a: [d for d, text in flat.items() if a in text] for a in answers}
    assert {a: where for a, where in found_in.items() if where != [answers[a]]} == {}
