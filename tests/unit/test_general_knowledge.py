"""The bundled general-knowledge benchmark: the committed JSONL is exactly what its generator writes, and sane.

Milliseconds-tier: the generator is standard library only and writes a few hundred short records; no model is loaded.
"""
from __future__ import annotations

import json
import operator
import re
from collections import Counter

import pytest

from tunewise.question_sets import GENERAL_KNOWLEDGE
from tunewise.question_sets.generate_general_knowledge import CATEGORIES, main

LABELS = ["A", "B", "C", "D"]
ARITHMETIC = re.compile(r"What is (\d+) ([+\-×]) (\d+)\?")
OPERATORS = {"+": operator.add, "-": operator.sub, "×": operator.mul}


@pytest.fixture(scope="module")
def records() -> list[dict]:
    return [json.loads(line) for line in GENERAL_KNOWLEDGE.read_text(encoding="utf-8").splitlines()]


def keyed(record: dict) -> str:
    """The text of the choice that answerKey names."""
    return record["choices"]["text"][record["choices"]["label"].index(record["answerKey"])]


def test_regenerating_gives_the_bundled_file_byte_for_byte(tmp_path):
    out = tmp_path / "general_knowledge.jsonl"
    assert main(["--out", str(out)]) == 0
    assert out.read_bytes() == GENERAL_KNOWLEDGE.read_bytes()


def test_enough_questions_in_every_category_in_file_order(records):
    assert len(records) >= 200
    counts = Counter(r["category"] for r in records)
    assert set(counts) == set(CATEGORIES)
    assert all(counts[c] >= 45 for c in CATEGORIES), counts
    # Records are grouped by category, in the documented order.
    order = [c for n, c in enumerate(r["category"] for r in records) if n == 0 or records[n - 1]["category"] != c]
    assert order == list(CATEGORIES)


def test_every_record_has_the_exact_arc_shape(records):
    for r in records:
        assert set(r) == {"id", "question", "choices", "answerKey", "category"}, r["id"]
        assert set(r["choices"]) == {"text", "label"}, r["id"]
        assert r["choices"]["label"] == LABELS, r["id"]
        texts = r["choices"]["text"]
        assert len(texts) == 4 and all(isinstance(t, str) and t.strip() for t in texts), r["id"]
        assert len(set(texts)) == 4, r["id"]
        assert r["answerKey"] in LABELS, r["id"]
        assert isinstance(r["question"], str) and r["question"].endswith("?"), r["id"]


def test_ids_follow_the_pattern_and_are_numbered_within_category(records):
    ids = [r["id"] for r in records]
    assert len(set(ids)) == len(ids)
    for category in CATEGORIES:
        numbers = [int(r["id"].rsplit("-", 1)[1]) for r in records if r["category"] == category]
        assert numbers == list(range(1, len(numbers) + 1)), category
    for r in records:
        assert re.fullmatch(rf"gk-{r['category']}-\d{{3}}", r["id"]), r["id"]


def test_questions_are_unique(records):
    questions = [r["question"] for r in records]
    assert len(set(questions)) == len(questions)


def test_answer_positions_are_spread_over_all_four_labels(records):
    counts = Counter(r["answerKey"] for r in records)
    for label in LABELS:
        assert counts[label] >= 0.15 * len(records), counts


def test_arithmetic_answers_are_correct_and_distractors_are_positive_numbers(records):
    arithmetic = [r for r in records if r["category"] == "arithmetic"]
    assert {ARITHMETIC.fullmatch(r["question"]).group(2) for r in arithmetic} == set(OPERATORS)
    for r in arithmetic:
        a, op, b = ARITHMETIC.fullmatch(r["question"]).groups()
        assert int(keyed(r)) == OPERATORS[op](int(a), int(b)), r["id"]
        assert all(t.isdigit() and int(t) > 0 for t in r["choices"]["text"]), r["id"]


def test_a_few_facts_are_keyed_right(records):
    """Spot checks that the keyed choice is the fact, not an off-by-one in the shuffle."""
    by_question = {r["question"]: keyed(r) for r in records}
    assert by_question["What is the capital of France?"] == "Paris"
    assert by_question["What is the capital of Australia?"] == "Canberra"
    assert by_question["How many legs does an insect have?"] == "six"
    assert by_question["What is the plural of 'mouse'?"] == "mice"
    assert by_question["What is the past tense of 'go'?"] == "went"
    assert by_question["What is the opposite of 'hot'?"] == "cold"


def test_the_benchmark_reader_loads_every_record_with_its_category(records):
    from tunewise.evaluate.multiple_choice import read_benchmark

    items = read_benchmark(GENERAL_KNOWLEDGE, "arc")
    assert len(items) == len(records)
    assert [item.group for item in items] == [r["category"] for r in records]
    assert all(len(item.choices) == 4 and len(item.gold) == 1 for item in items)
