"""The data section's numbers (class balance per split, input and answer length histograms on fixed bins) computed
from a small real split, and report.html drawing them as bar charts from report.json alone; a report written
before they existed still renders. No model."""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from tunewise.ladder.recommend import recommend
from tunewise.ladder.result import RungResult
from tunewise.records import Example
from tunewise.report.data_shape import (
    LENGTH_EDGES,
    bin_names,
    data_shape,
    input_words,
    length_histogram,
)
from tunewise.report.html import html_report
from tunewise.report.render import markdown

SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = "<b>&label</b>"  # user data: must reach the page escaped


def _example(i: int, label: str, words: int, system: bool = False) -> Example:
    messages = ({"role": "system", "content": "ignore these four words"},) if system else ()
    text = " ".join(f"w{i}" for _ in range(words))
    return Example(f"x{i}", (*messages, {"role": "user", "content": text}), label, label=label)


def _split() -> dict[str, list[Example]]:
    """Three labels, unbalanced, with one label missing from val; lengths from 1 to 3000 words."""
    train = [_example(i, "billing", 3 + i) for i in range(6)] + [_example(10 + i, "bug", 40) for i in range(3)]
    train += [_example(20, HOSTILE, 3000, system=True)]
    val = [_example(30, "billing", 7), _example(31, "bug", 120)]
    test = [_example(40, "billing", 0), _example(41, "bug", 19), _example(42, HOSTILE, 20)]
    return {"train": train, "val": val, "test": test}


def _report(data: dict) -> dict:
    cost = {"fit_wall_s": 0.0, "predict_wall_s": 1.0, "predict_s_per_example": 0.01, "predict_examples_per_s": 100,
            "predict_batch_size": 8, "prompt_tokens_per_example": None, "predict_peak_rss_bytes": 1,
            "peak_rss_bytes": 1, "trainable_params": 0, "total_params": 10, "disk_bytes": 0}
    results = [RungResult("zero_shot", "prompting", "zero-shot", {"accuracy": {"value": 0.5, "ci_low": 0.4,
                                                                               "ci_high": 0.6}}, cost)]
    rec = recommend(results, "accuracy")
    return {
        "run_id": "test", "run_dir": "runs/test", "created": "today", "environment": {"tunewise": "test"},
        "config": {"seed": 0, "eval": {"batch_size": 8}, "model": {"name": "tiny"}},
        "task": {"type": "classification"}, "primary_metric": "accuracy", "data": data,
        "rungs": [r.as_report() for r in results],
        "recommendation": {"rung": rec.rung, "best_rung": rec.best_rung, "tied_with_best": rec.tied_with_best,
                           "reason": rec.reason, "next_steps": rec.next_steps, "cost": rec.cost},
    }


def _charts(page: str) -> dict[str, ET.Element]:
    return {(root := ET.fromstring(svg)).get("aria-label"): root
            for svg in re.findall(r"<svg\b.*?</svg>", page, flags=re.DOTALL)}


def test_balance_and_histograms_count_every_example_of_every_split():
    split = _split()
    shape = data_shape(split, "classification")
    assert "answer" not in shape["lengths"]["train"]  # classification: the answer is the label
    for name, examples in split.items():
        assert sum(shape["balance"][name].values()) == len(examples)
        hist = shape["lengths"][name]["input"]
        assert hist["unit"] == "words" and hist["edges"] == LENGTH_EDGES
        assert sum(hist["counts"]) == len(examples)  # the bins cover every length, 0 and 3000 included
    assert shape["balance"]["val"] == {HOSTILE: 0, "billing": 1, "bug": 1}  # a label absent from a split: 0
    assert shape["balance"]["train"] == {HOSTILE: 1, "billing": 6, "bug": 3}
    # Bins are [edge, next edge): 3..8 words -> 0-4 (3, 4), 5-9 (5..8); 40 -> 20-49; 3000 -> 2000+.
    assert shape["lengths"]["train"]["input"]["counts"] == [2, 4, 0, 3, 0, 0, 0, 0, 0, 1]
    assert input_words(split["train"][-1]) == 3000  # the system turn is not the user's input
    assert length_histogram([0, 4, 5, 1999, 2000, 10**6])["counts"] == [2, 1, 0, 0, 0, 0, 0, 0, 1, 2]
    assert bin_names(LENGTH_EDGES)[:2] == ["0-4", "5-9"] and bin_names(LENGTH_EDGES)[-1] == "2000+"
    generation = data_shape(split, "generation")
    assert "balance" not in generation
    assert sum(generation["lengths"]["test"]["answer"]["counts"]) == 3


def test_the_page_draws_one_bar_per_label_and_split_with_its_count():
    shape = data_shape(_split(), "classification")
    page = html_report(_report({"scored_test_examples": 3, **shape}))
    charts = _charts(page)
    balance = charts["class balance: examples per label"]
    titles = [bar.find(f"{SVG}title").text for bar in balance.iter(f"{SVG}rect") if bar.get("class") == "bar"]
    assert len(titles) == 3 * 3  # labels x splits, zero counts included
    for name, counts in shape["balance"].items():
        for label, count in counts.items():
            assert f"{name}, {label}: {count}" in titles
    assert "&lt;b&gt;&amp;label&lt;/b&gt;" in page and HOSTILE not in page
    lengths = charts["input (user turns) length in words"]
    bars = [bar for bar in lengths.iter(f"{SVG}rect") if bar.get("class") == "bar"]
    assert len(bars) == 3 * len(LENGTH_EDGES)
    assert "train, 2000+: 1" in [bar.find(f"{SVG}title").text for bar in bars]
    assert "answer length in words" not in charts
    md = markdown(_report({"scored_test_examples": 3, **shape}))
    assert f"Class balance, examples per label (train/val/test): {HOSTILE} 1/0/1, billing 6/1/1, bug 3/1/1." in md
    assert '"lengths"' not in md and '"balance"' not in md  # summed up in the line, not dumped


def test_a_generation_report_draws_answer_lengths_and_an_old_report_still_renders():
    shape = data_shape(_split(), "generation")
    charts = _charts(html_report(_report({"scored_test_examples": 3, **shape})))
    assert "answer length in words" in charts and "class balance: examples per label" not in charts
    old = html_report(_report({"scored_test_examples": 3}))  # written before data.balance / data.lengths
    assert '<section id="data">' in old and "length in words" not in old and "class balance" not in old
    assert "Class balance" not in markdown(_report({"scored_test_examples": 3}))
