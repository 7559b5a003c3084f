"""Leakage: val/test prompts that repeat an earlier split, exactly or after normalising."""
from __future__ import annotations

import json

from tunewise.data import find_leakage, normalised_text
from tunewise.records import Example


def ex(example_id: str, prompt: str) -> Example:
    return Example(example_id, ({"role": "user", "content": prompt},), "answer")


def test_exact_and_normalised_duplicates_are_found():
    splits = {
        "train": [ex("t1", "How do I reset my password?"), ex("t2", "Where is my order")],
        "val": [ex("v1", "where   is MY order!!")],
        "test": [ex("s1", "How do I reset my password?"), ex("s2", "Something new"), ex("s3", "WHERE IS MY ORDER.")],
    }
    report = find_leakage(splits)
    assert report.exact == {"val-train": 0, "test-train": 1, "test-val": 0}
    assert report.normalised == {"val-train": 1, "test-train": 2, "test-val": 1}
    pairs = {(p["kind"], p["id"], p["other_id"]) for p in report.pairs}
    assert ("exact", "s1", "t1") in pairs
    assert ("normalised", "v1", "t2") in pairs and ("normalised", "s3", "t2") in pairs
    assert json.loads(json.dumps(report.to_dict()))["exact"]["test-train"] == 1


def test_no_leakage_between_different_prompts():
    splits = {"train": [ex("a", "one")], "val": [ex("b", "two")], "test": [ex("c", "three"), ex("d", "???")]}
    report = find_leakage(splits)
    assert report.leaked == 0 and report.pairs == []


def test_duplicates_within_one_split_are_not_leakage():
    report = find_leakage({"train": [ex("a", "same"), ex("b", "same")], "val": [], "test": []})
    assert report.leaked == 0


def test_pairs_are_capped_but_counts_are_complete():
    train = [ex("t", "repeated prompt")]
    test = [ex(f"s{i}", "Repeated prompt.") for i in range(80)]
    report = find_leakage({"train": train, "val": [], "test": test})
    assert report.normalised["test-train"] == 80 and len(report.pairs) == 50


def test_normalised_text():
    assert normalised_text("  Hello,\n\tWORLD!  ") == "hello world"
