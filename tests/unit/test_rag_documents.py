"""Documents for retrieval: ids from folder paths and JSONL records, repeated ids reported, examples as documents.

Reading shares one path with `load_domain_text`, so every problem of tests/unit/test_data_text.py applies here too.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tunewise.data.text import (
    Document,
    documents_from_examples,
    load_documents,
    load_domain_text,
    read_documents,
)
from tunewise.errors import DataError
from tunewise.records import Example


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_a_folder_gives_ids_from_relative_paths_without_suffix(tmp_path):
    write(tmp_path / "billing" / "refunds.md", "Refunds take five days.")
    write(tmp_path / "billing" / "deep" / "vat.txt", "VAT is included.")
    write(tmp_path / "faq.txt", "Ask us anything.")
    documents = load_documents(tmp_path)
    assert documents == [
        Document("billing/deep/vat", "VAT is included.", str(tmp_path / "billing" / "deep" / "vat.txt")),
        Document("billing/refunds", "Refunds take five days.", str(tmp_path / "billing" / "refunds.md")),
        Document("faq", "Ask us anything.", str(tmp_path / "faq.txt")),
    ]


def test_jsonl_ids_are_the_id_field_else_stem_and_line(tmp_path):
    path = write(tmp_path / "docs.jsonl", "\n".join([
        json.dumps({"id": "refunds", "text": "Refunds take five days."}),
        "",
        json.dumps({"text": "No id here."}),
        json.dumps({"id": 7, "text": "Numbers are ids too."}),
    ]) + "\n")
    documents = load_documents(path)
    assert [(d.id, d.source) for d in documents] == [
        ("refunds", f"{path}:1"), ("docs:3", f"{path}:3"), ("7", f"{path}:4")
    ]


def test_a_repeated_jsonl_id_is_a_problem_naming_both_lines(tmp_path):
    path = write(tmp_path / "docs.jsonl", "\n".join(
        json.dumps({"id": i, "text": t}) for i, t in [("a", "one"), ("b", "two"), ("a", "three")]
    ) + "\n")
    documents, problems = read_documents(path)
    assert [d.text for d in documents] == ["one", "two"]  # the first of the two is kept
    (problem,) = problems
    assert (problem.file, problem.line, problem.field, problem.code) == (str(path), 3, "id", "duplicate_id")
    assert f"{path}:1" in problem.message and "expected a unique id" in problem.message
    with pytest.raises(DataError, match="1 document problem"):
        load_documents(path)


def test_two_files_differing_only_in_suffix_have_the_same_id(tmp_path):
    write(tmp_path / "a.md", "markdown")
    second = write(tmp_path / "a.txt", "text")
    (problem,) = read_documents(tmp_path)[1]
    assert (problem.file, problem.code) == (str(second), "duplicate_id")
    assert str(tmp_path / "a.md") in problem.message


def test_a_bad_id_is_a_problem_for_documents_but_not_for_domain_text(tmp_path):
    path = write(tmp_path / "docs.jsonl", "\n".join([
        json.dumps({"id": ["x"], "text": "one"}),
        json.dumps({"id": " ", "text": "two"}),
        json.dumps({"id": "same", "text": "three"}),
        json.dumps({"id": "same", "text": "four"}),
    ]) + "\n")
    problems = read_documents(path)[1]
    assert [(p.line, p.field, p.code) for p in problems] == [
        (1, "id", "wrong_type"), (2, "id", "empty_text"), (4, "id", "duplicate_id")
    ]
    assert load_domain_text(path) == ["one", "two", "three", "four"]  # continued pretraining ignores ids


def test_text_problems_are_the_same_as_for_domain_text(tmp_path):
    path = write(tmp_path / "docs.jsonl", "{broken\n" + json.dumps({"text": 3}) + "\n")
    assert [(p.line, p.code) for p in read_documents(path)[1]] == [(1, "bad_json"), (2, "wrong_type")]


def test_examples_become_documents_of_user_turns_and_answer():
    examples = [
        Example("t1", ({"role": "system", "content": "Be brief."}, {"role": "user", "content": "Where is my order?"}),
                "It ships tomorrow.", file="train.jsonl", line=4),
        Example("t2", ({"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"},
                       {"role": "user", "content": "Refund please"}), "Done.", file="train.jsonl", line=9),
    ]
    assert documents_from_examples(examples) == [
        Document("t1", "Where is my order?\nIt ships tomorrow.", "train.jsonl:4"),
        Document("t2", "Hi\nRefund please\nDone.", "train.jsonl:9"),
    ]


def test_a_folder_may_hold_jsonl_files_with_a_document_per_line(tmp_path):
    write(tmp_path / "guide.md", "Read me first.")
    write(tmp_path / "faq" / "billing.jsonl",
          json.dumps({"text": "Invoices are monthly."}) + "\n" + json.dumps({"id": "vat", "text": "VAT 20%."}) + "\n")
    documents = load_documents(tmp_path)
    assert [(d.id, d.text) for d in documents] == [
        ("faq/billing:1", "Invoices are monthly."), ("vat", "VAT 20%."), ("guide", "Read me first."),
    ]
    assert documents[0].source == f"{tmp_path / 'faq' / 'billing.jsonl'}:1"
    write(tmp_path / "faq" / "more.jsonl", '{"id": "vat", "text": 5}\n')
    with pytest.raises(DataError) as err:
        load_documents(tmp_path)
    assert "more.jsonl:1: text: wrong_type" in str(err.value)
