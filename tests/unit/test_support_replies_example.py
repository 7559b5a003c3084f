"""The support-replies example: the committed JSONL is what make_data.py writes, and judge.py agrees with its labels."""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from conftest import example_script

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "support_replies"
PAIRS, UNPAIRED = EXAMPLE / "pairs.jsonl", EXAMPLE / "unpaired.jsonl"
RULES = {"order_number", "word_limit", "closing"}


def _read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def make_data():
    with example_script(EXAMPLE / "make_data.py") as module:
        yield module


@pytest.fixture(scope="module")
def judge():
    with example_script(EXAMPLE / "judge.py") as module:
        yield module


@pytest.fixture(scope="module")
def pairs():
    return _read(PAIRS)


def test_regenerating_gives_the_committed_files_byte_for_byte(make_data, tmp_path):
    assert make_data.main(["--out", str(tmp_path)]) == 0
    for name in ("pairs.jsonl", "unpaired.jsonl"):
        assert (tmp_path / name).read_bytes() == (EXAMPLE / name).read_bytes(), \
            f"{name} is stale: run examples/support_replies/make_data.py"
    assert make_data.pair_records(seed=1, n=5) != make_data.pair_records(n=5)  # the seed matters


def test_tickets_are_unique_and_each_cites_one_order_number(judge, pairs):
    assert len(pairs) == 480 and [r["id"] for r in pairs] == [f"r{i:04d}" for i in range(1, 481)]
    assert len({r["prompt"] for r in pairs}) == len(pairs)
    for r in pairs:
        assert len(judge.ORDER_NUMBER.findall(r["prompt"])) == 1, r["id"]
        assert 12 <= len(r["prompt"].split()) <= 30, r["id"]  # short texts keep the example's training fast


def test_every_chosen_reply_keeps_the_house_rules(judge, pairs):
    failing = [r["id"] for r in pairs if not judge.house_rules(r["prompt"], r["chosen"])]
    assert failing == []
    assert all(15 <= len(r["chosen"].split()) <= 32 for r in pairs)
    assert all(judge.house_rules_score(r["prompt"], r["chosen"]) == 1.0 for r in pairs)


def test_every_rejected_reply_breaks_exactly_the_rule_it_records(judge, pairs):
    for r in pairs:
        broken = {rule for rule, met in judge.rules_met(r["prompt"], r["rejected"]).items() if not met}
        assert broken == {r["broken_rule"]}, r["id"]
        assert judge.house_rules_score(r["prompt"], r["rejected"]) == pytest.approx(2 / 3)


def test_every_rejected_reply_is_its_chosen_reply_with_one_edit(judge, pairs):
    for r in pairs:
        chosen, rejected = r["chosen"], r["rejected"]
        body, closing = chosen.split("\n")
        if r["broken_rule"] == "order_number":
            (number,) = judge.ORDER_NUMBER.findall(chosen)
            assert rejected == chosen.replace(f"order {number}", "your order"), r["id"]
        elif r["broken_rule"] == "closing":
            assert rejected == body or rejected.startswith(body + "\n"), r["id"]  # the closing dropped or made curt
        else:  # sentences added before the closing, well past the limit
            assert rejected.startswith(body + " ") and rejected.endswith("\n" + closing), r["id"]
            assert 46 <= len(rejected.split()) <= 60, r["id"]


def test_broken_rules_are_roughly_balanced(pairs):
    counts = Counter(r["broken_rule"] for r in pairs)
    assert set(counts) == RULES
    assert all(0.20 <= c / len(pairs) <= 0.45 for c in counts.values()), counts


def test_unpaired_labels_are_the_judges_verdict_on_the_same_tickets(judge, pairs):
    unpaired = _read(UNPAIRED)
    assert [(u["id"], u["prompt"]) for u in unpaired] == [(r["id"], r["prompt"]) for r in pairs]
    assert all(list(u) == ["id", "prompt", "completion", "label"] for u in unpaired)
    assert all(u["label"] is judge.house_rules(u["prompt"], u["completion"]) for u in unpaired)
    assert 0.35 <= sum(u["label"] for u in unpaired) / len(unpaired) <= 0.65


@pytest.mark.parametrize(("completion", "expected"), [
    ("Your order #A48213 ships today.\n\nKind regards, the Support Team", (True, True, True)),
    ("Your order #A48213 ships today. Kind regards, the Support Team.", (True, True, True)),  # extra period is fine
    ("Your order #A48213 ships today. Thank you for your patience", (True, True, True)),  # missing period is fine
    ("Your order ships today. Thanks for reaching out.", (False, True, True)),
    ("Your order #B11111 ships today. Thanks for reaching out.", (False, True, True)),  # not the ticket's number
    ("Your order #A482130 ships today. Thanks for reaching out.", (False, True, True)),  # a longer number
    ("Order #A48213. " + "It is on its way. " * 12 + "Thanks for reaching out.", (True, False, True)),
    ("Your order #A48213 ships today and thanks for reaching out.", (True, True, False)),  # not its own sentence
    ("Thanks for reaching out. Your order #A48213 ships today.", (True, True, False)),
])
def test_rules_met_on_hand_written_replies(judge, completion, expected):
    met = judge.rules_met("Hi, where is order #A48213? - Ann", completion)
    assert (met["order_number"], met["word_limit"], met["closing"]) == expected
    assert judge.house_rules_score("Hi, where is order #A48213? - Ann", completion) == pytest.approx(sum(expected) / 3)


def test_a_ticket_without_an_order_number_wants_a_reply_that_invents_none(judge):
    assert judge.rules_met("Do you ship to Norway?", "Yes, we do. Thanks for reaching out.")["order_number"]
    assert not judge.rules_met("Do you ship to Norway?", "Yes, see order #C12345. Thanks.")["order_number"]
