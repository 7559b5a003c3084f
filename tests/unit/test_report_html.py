"""report.html from real tiny runs: one self-contained page with the recommendation, every rung, the charts (points,
frontier, learning curves, k-sweep, confusion cells with their counts), user text escaped, and sections a run does
not have left out. Plus the small pieces: the Pareto frontier and report.md's markdown subset turned into HTML."""
from __future__ import annotations

import json
import random
import re
import xml.etree.ElementTree as ET

import pytest
from conftest import write_sizes
from markupsafe import escape

from tunewise import api
from tunewise.config import load_config
from tunewise.report.files import write_html_report
from tunewise.report.html import html_report, markdown_html
from tunewise.report.svg import Mark, pareto_front

SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = "<script>alert('x')</script>"  # a label: user data, must reach the page as text
LABELS = {"red": "colour", "oak": "tree", "cat": HOSTILE}


def _write_data(path, n: int = 60) -> None:
    rng = random.Random(0)
    words = sorted(LABELS)
    with open(path, "w") as f:
        for i in range(n):
            word = words[i % len(words)]
            f.write(json.dumps({"id": f"x{i}", "text": f"{word} {rng.randint(0, 999)}", "label": LABELS[word]}) + "\n")


@pytest.fixture(scope="module")
def classification_run(tmp_path_factory, module_model_dir):
    """zero_shot, a few-shot k-sweep and LoRA on a classification task with an HTML label."""
    folder = tmp_path_factory.mktemp("html")
    _write_data(folder / "data.jsonl")
    (folder / "tunewise.yaml").write_text(
        "task: {type: classification}\n"
        "data: {path: data.jsonl, max_length: 64}\n"
        f"model: {{name: {module_model_dir}}}\n"
        "rungs: [zero_shot, few_shot]\n"
        "prompt: {few_shot_k: [1, 2], demo_selection: [balanced]}\n"
        "methods: [lora]\n"
        "train: {lr: 5.0e-3, max_steps: 8, batch_size: 8, precision: fp32, eval_every: 4, log_every: 2}\n"
        "lora: {r: 4, alpha: 8}\n"
        "eval: {bootstrap_samples: 100}\n"
        "forgetting: {max_items: 8}\n"
        f"output_dir: {folder / 'runs'}\n")
    return api.run(load_config(folder / "tunewise.yaml"), log=lambda m: None)


@pytest.fixture(scope="module")
def generation_run(tmp_path_factory, module_model_dir):
    """zero_shot alone on a generation task: no few-shot, no classes, nothing trained."""
    folder = tmp_path_factory.mktemp("html-gen")
    write_sizes(folder / "data.jsonl", n=40)
    (folder / "tunewise.yaml").write_text(
        "task: {type: generation, metric: exact_match, instruction: Say how large the thing is.}\n"
        "data: {path: data.jsonl, format: prompt_completion, max_length: 64}\n"
        f"model: {{name: {module_model_dir}}}\n"
        "rungs: [zero_shot]\n"
        "methods: []\n"
        "eval: {bootstrap_samples: 100, max_new_tokens: 4}\n"
        f"output_dir: {folder / 'runs'}\n")
    return api.run(load_config(folder / "tunewise.yaml"), log=lambda m: None)


def _charts(page: str) -> dict[str, ET.Element]:
    """Every inline SVG of the page, parsed, by its aria-label (the chart's title)."""
    charts = {}
    for svg in re.findall(r"<svg\b.*?</svg>", page, flags=re.DOTALL):
        root = ET.fromstring(svg)
        charts[root.get("aria-label")] = root
    return charts


def _marks(svg: ET.Element, tag: str, cls: str) -> list[ET.Element]:
    return [e for e in svg.iter(SVG + tag) if e.get("class") == cls]


def test_the_page_is_written_with_the_run_and_stands_alone(classification_run):
    run_dir, report = classification_run.run_dir, classification_run.report
    page = (run_dir / "report.html").read_text()
    assert write_html_report(run_dir).read_text() == page  # regenerating an existing run gives the same page
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page, flags=re.IGNORECASE)
    assert "<script" not in page.lower() and "@import" not in page and "url(" not in page
    rec = report["recommendation"]
    assert f'<div class="rung" id="recommendation">{rec["rung"]}</div>' in page
    assert str(escape(rec["reason"])) in page and all(str(escape(s)) in page for s in rec["next_steps"])
    for rung in report["rungs"]:
        assert f"<td>{rung['name']}" in page  # the rung table's first column
    for column in ("train s", "predict s", "s/example", "prompt tok", "predict RSS", "total s at 100,000", "peak RSS",
                   "trainable", "total params", "disk", "full/disk", "tok/s"):
        assert f"<th>{column}</th>" in page
    for rung in report["rungs"]:  # the prediction cost every rung now records
        c = rung["cost"]
        assert c["predict_s_per_example"] > 0 and c["predict_batch_size"] == 8
        assert 0 < c["predict_peak_rss_bytes"] <= c["peak_rss_bytes"]
        assert report["recommendation"]["cost"]["per_rung"][rung["name"]]["total"] > 0
    totals = rec["cost"]["per_rung"]  # the recommendation: the lowest total among the rungs tied with the best
    assert totals[rec["rung"]]["total"] == min(totals[name]["total"] for name in rec["tied_with_best"])


def test_charts_hold_their_marks(classification_run):
    report = classification_run.report
    page = (classification_run.run_dir / "report.html").read_text()
    charts = _charts(page)
    names = [r["name"] for r in report["rungs"]]
    assert names == ["zero_shot", "few_shot_balanced_k1", "few_shot_balanced_k2", "lora"]

    for cost in ("training cost", "storage cost", "prediction cost"):
        svg = charts[f"accuracy against {cost}"]
        assert float(svg.get("width")) > 0 and float(svg.get("height")) > 0
        assert len(_marks(svg, "circle", "point")) == len(names) == len(_marks(svg, "line", "ci"))
        assert {t.text.removesuffix(" ‡") for t in _marks(svg, "text", "label")} == set(names)  # ‡: undertrained
        assert len(_marks(svg, "circle", "recommended")) == 1
        frontier = _marks(svg, "path", "frontier")
        assert len(frontier) <= 1 and all(p.get("d").startswith("M") and "L" in p.get("d") for p in frontier)
    assert "log scale" in ET.tostring(charts["accuracy against training cost"], encoding="unicode")

    curve = charts["lora: loss by optimizer step"]
    lines = curve.findall(SVG + "polyline")
    assert len(lines) == 2 and all(len(line.get("points").split()) >= 2 for line in lines)

    sweep = charts["accuracy by number of demonstrations"]
    (line,) = sweep.findall(SVG + "polyline")
    assert len(line.get("points").split()) == 3  # k = 0 (zero_shot), 1, 2

    rec = next(r for r in report["rungs"] if r["name"] == report["recommendation"]["rung"])
    confusion = rec["per_class"]["confusion"]
    matrix = charts[f"{rec['name']}: confusion matrix"]
    assert len(_marks(matrix, "rect", "cell")) == len(confusion["labels"]) ** 2 == 9
    counts = [int(t.text) for t in _marks(matrix, "text", "count")]
    assert counts == [n for row in confusion["counts"] for n in row]
    assert sum(counts) == report["data"]["scored_test_examples"]

    balance = charts["class balance: examples per label"]  # report.json's data.balance, from the prepared split
    assert len(_marks(balance, "rect", "bar")) == len(LABELS) * 3  # labels x train/val/test
    splits = report["data"]["counts"]["splits"]
    assert {name: sum(counts.values()) for name, counts in report["data"]["balance"].items()} == splits
    lengths = charts["input (user turns) length in words"]
    assert sum(int(b.find(SVG + "title").text.rsplit(": ", 1)[1]) for b in _marks(lengths, "rect", "bar")) \
        == sum(splits.values())


def test_user_text_is_escaped(classification_run):
    page = (classification_run.run_dir / "report.html").read_text()
    assert HOSTILE not in page and "<script" not in page
    assert str(escape(HOSTILE)) in page  # the confusion matrix's tooltip and the per-label table show it as text
    assert f"<td>{escape(HOSTILE)}</td>" in page
    for svg in re.findall(r"<svg\b.*?</svg>", page, flags=re.DOTALL):
        ET.fromstring(svg)  # still well-formed: the label did not break out of its element


def test_a_run_without_few_shot_or_classes_leaves_those_sections_out(generation_run):
    report, page = generation_run.report, (generation_run.run_dir / "report.html").read_text()
    assert [r["name"] for r in report["rungs"]] == ["zero_shot"]
    for missing in ('id="confusion"', 'id="learning-curves"', "Confusion matrix", "k-sweep", 'id="forgetting"',
                    'id="significance"'):
        assert missing not in page
    charts = _charts(page)
    assert set(charts) == {"exact_match against training cost", "exact_match against storage cost",
                           "exact_match against prediction cost", "input (user turns) length in words",
                           "answer length in words"}  # no class balance: a generation task has no labels
    assert all(len(_marks(svg, "circle", "point")) == 1 and not _marks(svg, "path", "frontier")
               for title, svg in charts.items() if "against" in title)
    assert '<div class="rung" id="recommendation">zero_shot</div>' in page


def test_pareto_front_keeps_what_nothing_cheaper_beats():
    marks = [Mark(name, x, y, y, y, "k") for name, x, y in
             [("free", 0, 0.2), ("cheap", 1, 0.5), ("worse", 2, 0.4), ("tie", 1, 0.3), ("best", 9, 0.9)]]
    assert [m.label for m in pareto_front(marks)] == ["free", "cheap", "best"]


def test_markdown_subset_becomes_escaped_html():
    html = markdown_html(["## Title `a<b>`", "", "text **bold** <i>", "", "| h | k |", "|---|---|",
                          "| x \\| y | <b> |", "", "- one", "  - note", "- two", "", "![chart](c.svg)"])
    assert "<h2>Title <code>a&lt;b&gt;</code></h2>" in html
    assert "<p>text <strong>bold</strong> &lt;i&gt;</p>" in html
    assert "<th>h</th><th>k</th>" in html and "<td>x | y</td><td>&lt;b&gt;</td>" in html
    assert "<ul><li>one<ul><li>note</li></ul></li><li>two</li></ul>" in html
    assert "c.svg" not in html  # the page draws its charts inline


def test_a_report_without_training_curve_reads_the_rung_folder_log(classification_run, tmp_path):
    report = json.loads(json.dumps(classification_run.report))
    lora = next(r for r in report["rungs"] if r["name"] == "lora")
    curve = lora["training"].pop("curve")
    assert "lora: loss by optimizer step" not in _charts(html_report(report))
    (tmp_path / "rungs" / "lora").mkdir(parents=True)
    (tmp_path / "rungs" / "lora" / "train_log.jsonl").write_text("".join(json.dumps(e) + "\n" for e in curve))
    assert "lora: loss by optimizer step" in _charts(html_report(report, tmp_path))


def test_tunewise_report_html_rewrites_the_same_page(generation_run, capsys):
    from tunewise.cli import main

    run_dir = generation_run.run_dir
    page = (run_dir / "report.html").read_text()
    (run_dir / "report.html").unlink()
    assert main(["report", str(run_dir), "--html"]) == 0
    assert f"report: {run_dir / 'report.html'}" in capsys.readouterr().out
    assert (run_dir / "report.html").read_text() == page
