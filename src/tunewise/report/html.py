"""report.html: one self-contained page (inline CSS and SVG, no script, nothing fetched) drawn from report.json.

The summary card, quality-versus-cost charts, rung table, learning curves, k-sweep, confusion matrices and the data
charts (class balance, length histograms) are built here; the other sections are report.md's own helpers, turned
from their small markdown subset into escaped HTML.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup, escape

from tunewise.evaluate.forgetting import forgetting_markdown
from tunewise.report.agreement import agreement_markdown
from tunewise.report.data_shape import bin_names
from tunewise.report.errors import error_analysis_markdown
from tunewise.report.render import (
    COLUMNS,
    UNDERTRAINED,
    alignment_markdown,
    all_metrics_markdown,
    amount_text,
    best_by_kind,
    classes_markdown,
    cost_columns_words,
    data_overview,
    interval_text,
    is_undertrained,
    k_sweep_svg,
    multitask_markdown,
    partial_words,
    per_example_text,
    prompting_markdown,
    retrieval_markdown,
    rung_rows,
    rungs_in_words_markdown,
    seconds_per_example,
    significance_markdown,
    table_header,
    table_notes,
    total_cost,
    training_words,
)
from tunewise.report.svg import Mark, bar_chart, heatmap, line_chart, scatter_chart
from tunewise.report.units import count_text, size_text

TEMPLATES = Path(__file__).parent / "templates"

# The quality-versus-cost charts: seconds and bytes do not add up without an exchange rate the report would have to
# invent, and seconds once (training) and seconds per prediction only add at a volume, so each cost gets its own
# chart: (the rung's cost from its report entry and the report, chart title, x axis, tick format).
COST_AXES = [
    (lambda rung, report: rung["cost"]["fit_wall_s"], "training cost", "training (fit) wall seconds on this machine",
     lambda v: f"{v:g}"),
    (lambda rung, report: rung["cost"]["disk_bytes"], "storage cost", "bytes on disk beyond the base model",
     size_text),
    (seconds_per_example, "prediction cost", "prediction wall seconds per example on this machine",
     lambda v: f"{v:g}"),
]


def html_report(report: dict, run_dir: Path | str | None = None) -> str:
    """report.html for a report.json dictionary; `run_dir` is where to look for a training log the report lacks."""
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True, undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True)
    return env.get_template("report.html.j2").render(page(report, Path(run_dir) if run_dir else None))


def page(report: dict, run_dir: Path | None = None) -> dict:
    """What the template draws: the report itself plus charts (SVG markup) and sections (escaped HTML)."""
    sections = [
        section("all-metrics", all_metrics_markdown(report)),
        section("retrieval", retrieval_markdown(report)),
        section("alignment", alignment_markdown(report)),
        section("significance", significance_markdown(report.get("significance"))),
        section("agreement", agreement_markdown(report.get("agreement"))),
        section("forgetting", forgetting_markdown(report.get("forgetting"))),
        section("errors", error_analysis_markdown(report.get("errors"))),
        section("multitask", multitask_markdown(report)),
        section("rungs-in-words", rungs_in_words_markdown(report)),
    ]
    k_sweep = k_sweep_svg(report)
    partial = partial_words(report)
    return {
        "report": report,
        "partial": inline_html(partial) if partial else None,
        "rec": report["recommendation"],
        "key_numbers": key_numbers(report),
        "cost_charts": cost_charts(report),
        "table": rung_table(report),
        "curves": learning_curves(report, run_dir),
        "k_sweep": Markup(k_sweep) if k_sweep else None,
        "prompting": section("prompting", prompting_markdown(report)),
        "confusions": confusion_charts(report),
        "classes": markdown_html(classes_markdown(report), top=3),
        "sections": [s for s in sections if s],
        "data_charts": data_charts(report["data"]),
        "data": json.dumps(data_overview(report["data"]), indent=2, ensure_ascii=False, default=str),
    }


def key_numbers(report: dict) -> list[tuple[str, str]]:
    """(what, value) pairs for the summary card: the recommended rung's score and costs."""
    rec = report["recommendation"]
    rung = next((r for r in report["rungs"] if r["name"] == rec["rung"]), None)
    if not rung or rung.get("skipped"):
        return []
    c = rung["cost"]
    numbers = [
        (f"{report['primary_metric']} (95% CI)", interval_text(rung["metrics"][report["primary_metric"]])),
        ("training", f"{c['fit_wall_s']:.1f} s"),
        ("predicting the test set", f"{c['predict_wall_s']:.1f} s"),
        ("per prediction", f"{per_example_text(seconds_per_example(rung, report))} s"),
        ("on disk beyond the base", size_text(c["disk_bytes"])),
        ("trainable parameters", count_text(c["trainable_params"])),
        ("peak memory", size_text(c["peak_rss_bytes"])),
    ]
    cost = report["recommendation"].get("cost")
    if cost:
        unit = " s" if cost["unit"] == "seconds" else ""
        numbers.append((f"total at {cost['expected_predictions']:,} predictions",
                        amount_text(total_cost(rung, report), report) + unit))
    return numbers


def cost_charts(report: dict) -> list[Markup]:
    """Quality against each cost (COST_AXES): every scored rung a point with its CI bar, the frontier dashed."""
    metric = report["primary_metric"]
    scored = [r for r in report["rungs"] if not r.get("skipped")]
    if not scored:
        return []
    labels = {r["name"]: r["name"] + (f" {UNDERTRAINED}" if is_undertrained(r) else "") for r in scored}
    footnote = f"{UNDERTRAINED} undertrained: still improving when training stopped" if any(
        is_undertrained(r) for r in scored) else None
    charts = []
    for cost_of, cost, x_label, fmt in COST_AXES:
        costs = {r["name"]: cost_of(r, report) for r in scored}
        marks = [Mark(labels[r["name"]], costs[r["name"]], r["metrics"][metric]["value"],
                      r["metrics"][metric]["ci_low"], r["metrics"][metric]["ci_high"], r["kind"])
                 for r in scored if costs[r["name"]] is not None]
        charts.append(Markup(scatter_chart(marks, f"{metric} against {cost}", x_label, f"{metric} (95% CI)",
                                           x_format=fmt, highlight=labels.get(report["recommendation"]["rung"]),
                                           footnote=footnote)))
    return charts


def rung_table(report: dict) -> dict:
    """The rung table: report.md's columns plus the rung's kind and total parameters (after the trainable ones),
    one row per rung, and the lines under it."""
    after = COLUMNS.index("trainable") + 1
    names = table_header(report)
    header = [names[0], "kind", *names[1:after], "total params", *names[after:]]
    rows = []
    for rung, cells in zip(report["rungs"], rung_rows(report)):
        total = count_text(rung["cost"]["total_params"]) if rung.get("cost") else "-"
        rows.append({"cells": [cells[0], rung["kind"], *cells[1:after], total, *cells[after:]],
                     "recommended": rung["name"] == report["recommendation"]["rung"],
                     "skipped": bool(rung.get("skipped"))})
    return {"header": header, "rows": rows, "notes": table_notes(report), "columns": cost_columns_words(report)}


def learning_curves(report: dict, run_dir: Path | None) -> list[dict]:
    """Train and validation loss by step for every rung trained in the loop (other tasks' LoRAs included)."""
    trained = list(report["rungs"]) + list((report.get("multitask") or {}).get("single_task_rungs") or [])
    out = []
    for rung in trained:
        events = training_curve(rung, run_dir / "rungs" / rung["name"] if run_dir else None)
        train = [(e["step"], e["loss"], e["loss"], e["loss"]) for e in events if e.get("loss") is not None]
        val = [(e["step"], e["val_loss"], e["val_loss"], e["val_loss"]) for e in events
               if e.get("val_loss") is not None]
        if not train and not val:
            continue
        series = {name: points for name, points in (("train loss", train), ("validation loss", val)) if points}
        t = rung["training"]
        out.append({
            "name": rung["name"],
            "chart": Markup(line_chart(series, f"{rung['name']}: loss by optimizer step", "step", "loss",
                                       y_range=None)),
            "words": training_words(t) if "best_step" in t else "",
        })
    return out


def training_curve(rung: dict, rung_dir: Path | None) -> list[dict]:
    """A trained rung's train/eval events: the curve its report.json entry keeps, else (reports written before it
    kept one) its folder's train_log.jsonl; [] for an untrained rung. The page and the trackers both read it."""
    t = rung.get("training") or {}
    if not t:
        return []
    if "curve" in t:
        return t["curve"]
    log = rung_dir / "train_log.jsonl" if rung_dir else None
    if log is None or not log.is_file():
        return []
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines() if line.strip()]


def confusion_charts(report: dict) -> list[Markup]:
    """Confusion matrices (classification) of the recommended rung and, when it is another, the best prompting one."""
    names = [report["recommendation"]["rung"]]
    prompting = best_by_kind(report).get("prompting")
    if prompting and prompting["name"] not in names:
        names.append(prompting["name"])
    charts = []
    for name in names:
        rung = next((r for r in report["rungs"] if r["name"] == name), None)
        if rung and rung.get("per_class"):
            confusion = rung["per_class"]["confusion"]
            charts.append(Markup(heatmap(confusion["labels"], confusion["counts"], f"{name}: confusion matrix")))
    return charts


def data_charts(data: dict) -> list[Markup]:
    """The class balance (examples per label, one bar per split) and the length histograms (one bar per split in
    each bin), drawn from report.json's `data.balance` and `data.lengths`; none for a report without them."""
    charts = []
    balance = data.get("balance")
    if balance:
        labels = list(next(iter(balance.values())))
        series = {name: [counts.get(label, 0) for label in labels] for name, counts in balance.items()}
        charts.append(Markup(bar_chart(labels, series, "class balance: examples per label", "label", "examples")))
    lengths = data.get("lengths") or {}
    for part, what in (("input", "input (user turns)"), ("answer", "answer")):
        found = {name: h[part] for name, h in lengths.items() if part in h}
        if not found:
            continue
        first = next(iter(found.values()))
        series = {name: h["counts"] for name, h in found.items()}
        charts.append(Markup(bar_chart(bin_names(first["edges"]), series, f"{what} length in {first['unit']}",
                                       f"{first['unit']} per example", "examples")))
    return charts


def section(anchor: str, lines: list[str]) -> dict | None:
    """A page section from a report.md helper's lines: its first heading is the title (None for no lines)."""
    if not any(line.strip() for line in lines):
        return None
    start = next(i for i, line in enumerate(lines) if line.strip())
    title = lines[start].lstrip("#").strip()
    return {"id": anchor, "title": inline_html(title), "plain": title.replace("`", ""),
            "body": markdown_html(lines[start + 1:])}


# ---------------------------------------------------------------- report.md's markdown subset -> HTML

_SEPARATOR = re.compile(r"^\|(\s*:?-+:?\s*\|)+\s*$")
_UNESCAPED_PIPE = re.compile(r"(?<!\\)\|")


def markdown_html(lines: list[str], top: int = 2) -> Markup:
    """The markdown report.md's helpers write, as HTML: headings (`##` -> h<top>), pipe tables, bullet lists (one
    nested level), fenced code, paragraphs, `code` and **bold**; all text escaped. Image lines are dropped: the page
    draws its charts inline."""
    out, i = [], 0
    while i < len(lines):
        line, kind = lines[i], _block_kind(lines[i])
        if kind in ("blank", "image"):
            i += 1
        elif kind == "fence":
            end = next((j for j in range(i + 1, len(lines)) if lines[j].startswith("```")), len(lines))
            out.append(f"<pre>{escape(chr(10).join(lines[i + 1:end]))}</pre>")
            i = end + 1
        elif kind == "heading":
            hashes = len(line) - len(line.lstrip("#"))
            level = min(top + hashes - 2, 6)
            out.append(f"<h{level}>{inline_html(line[hashes:].strip())}</h{level}>")
            i += 1
        else:
            end = next((j for j in range(i, len(lines)) if _block_kind(lines[j]) != kind), len(lines))
            out.append({"table": _table_html, "list": _list_html, "text": _paragraph_html}[kind](lines[i:end]))
            i = end
    return Markup("\n".join(out))


def inline_html(text: str) -> Markup:
    """One line of markdown text, escaped, with `code` and **bold**."""
    html = str(escape(text))
    html = re.sub(r"`([^`]+)`", r"<code>\1</code>", html)
    return Markup(re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", html))


def _block_kind(line: str) -> str:
    stripped = line.strip()
    if not stripped:
        return "blank"
    if stripped.startswith("```"):
        return "fence"
    if stripped.startswith("!["):
        return "image"
    if stripped.startswith("#"):
        return "heading"
    if stripped.startswith("|"):
        return "table"
    return "list" if stripped.startswith("- ") else "text"


def _table_html(lines: list[str]) -> str:
    rows = [_cells(line) for line in lines if not _SEPARATOR.match(line.strip())]
    head = "".join(f"<th>{c}</th>" for c in rows[0])
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows[1:])
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def _cells(line: str) -> list[Markup]:
    """A table row's cells; `\\|` inside a cell is a literal pipe."""
    cells = _UNESCAPED_PIPE.split(line.strip())[1:-1]  # the row starts and ends with a pipe
    return [inline_html(c.strip().replace("\\|", "|")) for c in cells]


def _list_html(lines: list[str]) -> str:
    out, nested = ["<ul>"], False
    for n, line in enumerate(lines):
        item = inline_html(line.strip()[2:])
        if line.startswith(" ") and n:  # a note under the item above
            out.append(("" if nested else "<ul>") + f"<li>{item}</li>")
            nested = True
            continue
        out.append(("</ul>" if nested else "") + ("</li>" if n else "") + f"<li>{item}")
        nested = False
    out.append(("</ul>" if nested else "") + "</li></ul>")
    return "".join(out)


def _paragraph_html(lines: list[str]) -> str:
    return f"<p>{inline_html(' '.join(line.strip() for line in lines))}</p>"
