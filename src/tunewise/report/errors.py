"""Error analysis: the worst test examples per rung, the metric per slice, what no rung gets right.

Also what only fine-tuning gets right; built from each rung's per-example `correct`, item scores and predictions.
"""
from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING

from tunewise.evaluate.stats import right_means
from tunewise.records import Example, Prediction
from tunewise.report.agreement import compared_rungs

if TYPE_CHECKING:  # the ladder imports torch; the report only reads RungResult's fields
    from tunewise.ladder.result import RungResult

TEXT_CHARS = 300  # characters of input, expected and predicted text kept per example in report.json
CELL_CHARS = 80  # characters of text kept per report.md table cell
MAX_SLICE_VALUES = 20  # values of one slice family kept; the rest are summed into "(other)"
OWN_ITEM_SCORES = ("token_f1", "bleu", "chrf", "rouge")  # metrics (prefixes) whose item scores are their own
MISSING, OTHER = "(missing)", "(other)"


def error_analysis(results: Sequence[RungResult], test: Sequence[Example], metric: str, task_type: str,
                   slice_fields: Sequence[str] = (), worst: int = 5, listed: int = 10) -> dict | None:
    """The report's "errors" section, or None when no rung has per-example correct, item scores and predictions.

    Skipped rungs, and rungs without one entry per test example in those three lists, are left out.
    """
    scored = [r for r in results if _scored(r, len(test))]
    if not test or not scored:
        return None
    classification = task_type == "classification"
    inputs = [_input(e) for e in test]
    return {
        "metric": metric,
        "rungs": [r.name for r in scored],
        "worst": {r.name: _worst(r, test, inputs, classification, worst) for r in scored},
        "slices": _slices(scored, test, inputs, metric, classification, slice_fields),
        "all_wrong": _all_wrong(scored, test, inputs, metric, classification, listed),
        "fine_tuning_only": _fine_tuning_only(scored, test, inputs, listed),
    }


def _scored(rung: RungResult, n: int) -> bool:
    lists = (rung.correct, rung.item_scores, rung.predictions)
    return not rung.skipped and all(items is not None and len(items) == n for items in lists)


def _input(example: Example) -> str:
    """The last user message: what the rung answers."""
    return next((m["content"] for m in reversed(example.messages) if m.get("role") == "user"), "")


def _cut(text: str, limit: int = TEXT_CHARS) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _expected(example: Example) -> str:
    return example.label if example.label is not None else example.answer


def _best(scored: Sequence[RungResult], metric: str) -> RungResult:
    return max(scored, key=lambda r: r.metrics.get(metric, {}).get("value", -math.inf))


# ---------------------------------------------------------------- worst examples


def _margin(prediction: Prediction, example: Example) -> float | None:
    """How confidently wrong a classification is: log-likelihood of the predicted label minus the expected one's."""
    scores, expected = prediction.scores or {}, _expected(example)
    if prediction.output not in scores or expected not in scores:
        return None
    return float(scores[prediction.output] - scores[expected])


def _worst(rung: RungResult, test: Sequence[Example], inputs: list[str], classification: bool, n: int) -> list[dict]:
    """The rung's `n` lowest-scoring wrong examples; classification ties go to the largest margin, then test order."""
    rows = []
    for i, (example, prediction) in enumerate(zip(test, rung.predictions)):
        if not rung.correct[i]:  # right items are never "worst", even when few are wrong
            rows.append((rung.item_scores[i], _margin(prediction, example) if classification else None, i))
    rows.sort(key=lambda row: (row[0], row[1] is None, -(row[1] or 0.0), row[2]))
    out = []
    for score, margin, i in rows[:n]:
        entry = {"id": test[i].id, "input": _cut(inputs[i]), "expected": _cut(test[i].answer),
                 "predicted": _cut(rung.predictions[i].output), "score": float(score)}
        if margin is not None:
            entry["margin"] = margin
        out.append(entry)
    return out


# ---------------------------------------------------------------- slices


def _score_means(metric: str) -> str:
    """What a slice's mean item score is: the yes/no metric behind `metric`, or the metric's own item mean."""
    return f"mean per-item {metric}" if metric.startswith(OWN_ITEM_SCORES) else right_means(metric)


def _slices(scored: Sequence[RungResult], test: Sequence[Example], inputs: list[str], metric: str,
            classification: bool, fields: Sequence[str]) -> list[dict]:
    """One family per way of cutting the test set: label, input length, each user field."""
    names = compared_rungs(scored, metric) or [_best(scored, metric).name]
    scores = {r.name: r.item_scores for r in scored if r.name in names}
    families: list[tuple[str, list[str], list[str]]] = []  # (family, value per example, row order)
    if classification:
        labels = [_expected(e) for e in test]
        families.append(("label", *_capped(labels)))
    families.append(("input_length", *_length_buckets(inputs)))
    for field in fields:
        values = [MISSING if e.meta.get(field) is None else str(e.meta[field]) for e in test]
        families.append((field, *_capped(values)))
    return [{"family": family, "rungs": names, "score_means": _score_means(metric),
             "rows": _slice_rows(values, order, scores)} for family, values, order in families]


def _capped(values: list[str]) -> tuple[list[str], list[str]]:
    """The values with all but the MAX_SLICE_VALUES most common replaced by "(other)", and the row order."""
    counts = Counter(values)
    ranked = sorted(counts, key=lambda v: (-counts[v], v))
    kept = set(ranked[:MAX_SLICE_VALUES])
    order = ranked[:MAX_SLICE_VALUES] + ([OTHER] if len(ranked) > MAX_SLICE_VALUES else [])
    return [v if v in kept else OTHER for v in values], order


def _length_buckets(inputs: list[str]) -> tuple[list[str], list[str]]:
    """Each input's word-count bucket (cut at the test set's quartiles; equal quartiles merge), and the bucket order."""
    counts = [len(text.split()) for text in inputs]
    ordered = sorted(counts)
    uppers = sorted({ordered[math.ceil(k * len(ordered) / 4) - 1] for k in (1, 2, 3, 4)})
    names, low = {}, ordered[0]
    for upper in uppers:
        names[upper] = f"{low} word{'' if low == 1 else 's'}" if low == upper else f"{low}–{upper} words"
        low = upper + 1
    return [names[next(u for u in uppers if c <= u)] for c in counts], [names[u] for u in uppers]


def _slice_rows(values: list[str], order: list[str], scores: dict[str, list[float]]) -> list[dict]:
    rows = []
    for value in order:
        items = [i for i, v in enumerate(values) if v == value]
        rows.append({"value": value, "examples": len(items),
                     "scores": {name: sum(s[i] for i in items) / len(items) for name, s in scores.items()}})
    return rows


# ---------------------------------------------------------------- all wrong, fine-tuning only


def _all_wrong(scored: Sequence[RungResult], test: Sequence[Example], inputs: list[str], metric: str,
               classification: bool, listed: int) -> dict:
    """Examples no rung gets right, each with the most common wrong answer (classification) or the best rung's."""
    rows = [i for i in range(len(test)) if not any(r.correct[i] for r in scored)]
    best = _best(scored, metric)
    examples = []
    for i in rows[:listed]:
        if classification:
            predicted = Counter(r.predictions[i].output for r in scored).most_common(1)[0][0]
            by = [r.name for r in scored if r.predictions[i].output == predicted]
        else:
            predicted, by = best.predictions[i].output, [best.name]
        examples.append({"id": test[i].id, "input": _cut(inputs[i]), "expected": _cut(test[i].answer),
                         "predicted": _cut(predicted), "predicted_by": by})
    return {"count": len(rows), "examples": examples}


def _fine_tuning_only(scored: Sequence[RungResult], test: Sequence[Example], inputs: list[str],
                      listed: int) -> dict | None:
    """Examples some fine-tuning rung gets right and no prompting or retrieval rung does (None without both)."""
    tuned = [r for r in scored if r.kind == "fine-tuning"]
    others = [r for r in scored if r.kind in ("prompting", "retrieval")]
    if not tuned or not others:
        return None
    rows = [i for i in range(len(test))
            if any(r.correct[i] for r in tuned) and not any(r.correct[i] for r in others)]
    return {
        "count": len(rows),
        "by_rung": {r.name: sum(bool(r.correct[i]) for i in rows) for r in tuned},
        "examples": [{"id": test[i].id, "input": _cut(inputs[i]), "expected": _cut(test[i].answer),
                      "fixed_by": [r.name for r in tuned if r.correct[i]]} for i in rows[:listed]],
    }


# ---------------------------------------------------------------- report.md


def _cell(text, limit: int = CELL_CHARS) -> str:
    """Text fit for one markdown table cell: short, one line, `|` escaped."""
    one_line = " ".join(str(text).splitlines())
    return _cut(one_line, limit).replace("|", "\\|")


def error_analysis_markdown(section: dict | None) -> list[str]:
    """report.md's view of the section (nothing for None)."""
    if not section:
        return []
    out = ["", "## Error analysis", "",
           (f"Where the rungs go wrong on the test set (primary metric {section['metric']}). Inputs are the last "
            "user message, shortened.")]
    out += _worst_markdown(section["worst"])
    out += _slices_markdown(section["slices"])
    out += _all_wrong_markdown(section["all_wrong"], len(section["rungs"]))
    out += _fine_tuning_only_markdown(section["fine_tuning_only"])
    return out


def _worst_markdown(worst: dict[str, list[dict]]) -> list[str]:
    out = ["", "### Worst examples per rung", ""]
    if not any(worst.values()):
        return out + ["No rung gets any test example wrong."]
    with_margin = any("margin" in e for entries in worst.values() for e in entries)
    out += [("Each rung's lowest-scoring wrong examples"
             + (", the most confidently wrong first (margin: log-likelihood of the predicted label minus the "
                "expected one's)." if with_margin else ".")), "",
            "| rung | id | input | expected | predicted | score |" + (" margin |" if with_margin else ""),
            "|---|---|---|---|---|---|" + ("---|" if with_margin else "")]
    for rung, entries in worst.items():
        for e in entries:
            margin = (f" {e['margin']:.2f} |" if "margin" in e else " - |") if with_margin else ""
            out.append(f"| {_cell(rung)} | {_cell(e['id'])} | {_cell(e['input'])} | {_cell(e['expected'], 40)} | "
                       f"{_cell(e['predicted'], 40)} | {e['score']:.3f} |{margin}")
    return out


def _slices_markdown(slices: list[dict]) -> list[str]:
    out = ["", "### Metric per slice"]
    for family in slices:
        names = family["rungs"]
        out += ["", f"By `{family['family']}` ({family['score_means']}; per slice, the mean over its examples):", "",
                "| " + _cell(family["family"]) + " | examples | " + " | ".join(_cell(n) for n in names) + " |",
                "|---|---|" + "---|" * len(names)]
        out += [f"| {_cell(row['value'])} | {row['examples']} | "
                + " | ".join(f"{row['scores'][n]:.3f}" for n in names) + " |" for row in family["rows"]]
    return out


def _all_wrong_markdown(section: dict, n_rungs: int) -> list[str]:
    out = ["", "### Examples every rung gets wrong", "",
           (f"{section['count']} test examples that none of the {n_rungs} scored rungs gets right: likely label noise, "
            "or inputs that need information none of the rungs has. Worth reading before trusting the labels.")]
    if section["examples"]:
        out += ["", "| id | input | expected | predicted | by |", "|---|---|---|---|---|"]
        out += [f"| {_cell(e['id'])} | {_cell(e['input'])} | {_cell(e['expected'], 40)} | {_cell(e['predicted'], 40)} "
                f"| {_cell(', '.join(e['predicted_by']))} |" for e in section["examples"]]
    return out


def _fine_tuning_only_markdown(section: dict | None) -> list[str]:
    if section is None:
        return []
    counts = ", ".join(f"`{name}` {k}" for name, k in section["by_rung"].items())
    out = ["", "### Examples only fine-tuning gets right", "",
           (f"{section['count']} test examples that a fine-tuning rung gets right and no prompting or retrieval rung "
            f"does: what training taught. Right with each fine-tuning rung: {counts}.")]
    if section["examples"]:
        out += ["", "| id | input | expected | fixed by |", "|---|---|---|---|"]
        out += [f"| {_cell(e['id'])} | {_cell(e['input'])} | {_cell(e['expected'], 40)} | "
                f"{_cell(', '.join(e['fixed_by']))} |" for e in section["examples"]]
    return out
