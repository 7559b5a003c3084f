"""The bundled support-ticket example: the committed JSONL is exactly what its generator writes, and sane.

Milliseconds-tier: the generator is standard library only and writes 1,500 short records.
"""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from conftest import example_script

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "support_tickets"
DATA = EXAMPLE / "tickets.jsonl"


@pytest.fixture(scope="module")
def generator():
    with example_script(EXAMPLE / "generate.py") as module:
        yield module


@pytest.fixture(scope="module")
def records() -> list[dict]:
    return [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines()]


def test_regenerating_gives_the_committed_file_byte_for_byte(generator, tmp_path):
    out = tmp_path / "tickets.jsonl"
    assert generator.main(["--out", str(out)]) == 0
    assert out.read_bytes() == DATA.read_bytes(), "tickets.jsonl is stale: run examples/support_tickets/generate.py"


def test_two_runs_in_one_process_agree(generator):
    assert generator.render_jsonl() == generator.render_jsonl()


def test_records_have_exactly_id_text_label(records):
    assert all(list(r) == ["id", "text", "label"] for r in records)
    assert all(isinstance(r[k], str) for r in records for k in r)


def test_size_and_label_set(records):
    labels = Counter(r["label"] for r in records)
    assert len(records) >= 1200
    assert len(labels) >= 12
    assert max(labels.values()) <= 0.15 * len(records), labels.most_common(1)


def test_ids_and_texts_are_unique_and_texts_not_empty(records):
    assert len({r["id"] for r in records}) == len(records)
    assert len({r["text"] for r in records}) == len(records)
    assert all(r["text"].strip() for r in records)


def test_labels_are_snake_case(records):
    assert all(r["label"].replace("_", "").isalpha() and r["label"].islower() for r in records)


# ---------------------------------------------------------------- the multi-task example's second task

ORDERS = EXAMPLE / "orders.jsonl"


def test_orders_regenerate_byte_for_byte_and_never_repeat_a_routing_ticket(tmp_path):
    with example_script(EXAMPLE / "generate_orders.py") as module:
        out = tmp_path / "orders.jsonl"
        assert module.main(["--out", str(out)]) == 0
        assert out.read_bytes() == ORDERS.read_bytes(), "orders.jsonl is stale: run generate_orders.py"
        key = module._key
    orders = [json.loads(line) for line in ORDERS.read_text(encoding="utf-8").splitlines()]
    tickets = {key(json.loads(line)["text"]) for line in DATA.read_text(encoding="utf-8").splitlines()}
    assert not [o["id"] for o in orders if key(o["prompt"]) in tickets]
    assert len({key(o["prompt"]) for o in orders}) == len(orders)
    with_order = [o for o in orders if o["completion"] != "none"]
    assert len(with_order) == len(orders) // 2
    assert all(o["completion"] in o["prompt"] for o in with_order)  # copied exactly as written
