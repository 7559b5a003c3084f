"""Catastrophic forgetting: a general-knowledge multiple-choice set scored for the base model and each fine-tuned
rung, and the paired change of every rung against the base (a flagged drop is significant at `eval.alpha`).

The same questions, prompts and weight dtype for every model, so a change comes from what fine-tuning did.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from tunewise.evaluate.multiple_choice import (
    BenchmarkScores,
    ChoiceItem,
    benchmark_metrics,
    per_group,
    read_benchmark,
    score_loaded_model,
)
from tunewise.evaluate.significance import compare, p_value
from tunewise.question_sets import BUNDLED_BENCHMARK, benchmark_file

if TYPE_CHECKING:
    from tunewise.config import Config


def benchmark_path(config: Config) -> Path | None:
    """The forgetting benchmark's file (the bundled set for 'general_knowledge'), None when the check is off."""
    name = config.forgetting.benchmark
    return None if name is None else benchmark_file(name)


def forgetting_items(config: Config) -> list[ChoiceItem] | None:
    """The questions of the check (read and validated before any model loads), None when it is off."""
    path = benchmark_path(config)
    if path is None:
        return None
    items = read_benchmark(path, config.forgetting.format)
    return items[: config.forgetting.max_items] if config.forgetting.max_items else items


def score_model(model, tokenizer, items: list[ChoiceItem], config: Config, name: str) -> BenchmarkScores:
    """The benchmark scored on one model, with weights already in the rungs' eval dtype (no autocast on top)."""
    return score_loaded_model(model, tokenizer, items, config.forgetting.format, config.eval.batch_size,
                              f"{name}: forgetting check")


def forgetting_section(base: BenchmarkScores, tuned: dict[str, BenchmarkScores], config: Config) -> dict:
    """report.json's forgetting section: the base's metrics, then per rung its metrics and paired change."""
    ev = config.eval
    alpha = ev.alpha
    metric = base.primary

    def metrics(scores: BenchmarkScores) -> dict:
        return benchmark_metrics(scores, ev.bootstrap_samples, ev.confidence, ev.seed)

    rows = []
    for name, scores in tuned.items():
        change = compare(scores.item_scores[metric], base.item_scores[metric], ev.bootstrap_samples, ev.confidence,
                         ev.seed)
        p = p_value(change.to_dict())
        flag = None if p >= alpha or change.difference == 0 else "drop" if change.difference < 0 else "gain"
        rows.append({"rung": name, "metrics": metrics(scores), "change": change.to_dict(), "p_value": p,
                     "flag": flag, "groups": per_group(scores)})
    return {
        "benchmark": config.forgetting.benchmark, "format": base.format, "items": len(base.items), "metric": metric,
        "alpha": alpha, "base": {"metrics": metrics(base), "groups": per_group(base)}, "rungs": rows,
    }


def forgetting_markdown(section: dict | None) -> list[str]:
    """report.md's view: one row per fine-tuned rung against the base, then the metric per question group."""
    if not section:
        return []
    metric, base = section["metric"], section["base"]
    source = "the bundled general-knowledge set" if section["benchmark"] == BUNDLED_BENCHMARK \
        else f"`{section['benchmark']}`"
    out = ["", "## Forgetting check", "",
           (f"{section['items']} multiple-choice questions from {source} ({section['format']} format), scored by "
           f"log-likelihood for the base model and each fine-tuned rung. Change: the rung minus the base on the same "
           f"questions, with its paired 95% interval and p-value (McNemar); ⚠ marks a drop with p < "
           f"{section['alpha']:g}."), "",
           f"| model | {metric} [95% CI] | change | p |", "|---|---|---|---|",
           f"| base | {_interval(base['metrics'][metric])} | | |"]
    for row in section["rungs"]:
        c = row["change"]
        mark = " ⚠ drop" if row["flag"] == "drop" else " (gain)" if row["flag"] == "gain" else ""
        out.append(f"| {row['rung']} | {_interval(row['metrics'][metric])} | {c['difference'] * 100:+.1f} points "
                   f"[{c['ci_low'] * 100:+.1f}, {c['ci_high'] * 100:+.1f}]{mark} | {row['p_value']:.3g} |")
    groups = list(base["groups"])
    if groups:
        names = [r["rung"] for r in section["rungs"]]
        out += ["", f"{metric} per question group:", "", "| group | questions | base | " + " | ".join(names) + " |",
                "|---|---|---|" + "---|" * len(names)]
        for group in groups:
            cells = [f"{r['groups'][group][metric]:.3f}" for r in section["rungs"]]
            out.append(f"| {group} | {base['groups'][group]['items']} | {base['groups'][group][metric]:.3f} | "
                       + " | ".join(cells) + " |")
    return out


def _interval(m: dict) -> str:
    return f"{m['value']:.3f} [{m['ci_low']:.3f}, {m['ci_high']:.3f}]"
