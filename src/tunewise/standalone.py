"""`tunewise eval`: score models outside a ladder run, or re-score a finished run from its saved predictions.

Targets: a base model (bundled name, Hugging Face folder, GGUF file), a merged export, an adapter folder (PEFT or
bottleneck) on its base, or a run folder. A run folder with no benchmark or text re-scores every rung's saved
predictions.jsonl without loading any model; with them, it scores the base and every fine-tuned rung's saved
adapter or model.
"""
from __future__ import annotations

import gc
import json
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from tunewise.config import Config, load_config
from tunewise.data.text import load_domain_text
from tunewise.errors import TunewiseError
from tunewise.evaluate.multiple_choice import (
    PRIMARY,
    BenchmarkScores,
    benchmark_metrics,
    per_group,
    read_benchmark,
    score_loaded_model,
)
from tunewise.evaluate.perplexity import document_nll, perplexity_with_ci
from tunewise.evaluate.predict import PRECISION
from tunewise.evaluate.significance import compare, p_value
from tunewise.evaluate.stats import item_score, metrics_with_ci
from tunewise.methods.artifacts import adapter_kind, load_adapted
from tunewise.models.forward import context_length
from tunewise.question_sets import benchmark_file

DTYPES = {"bf16": torch.bfloat16, "fp32": torch.float32}


@dataclass
class EvalSettings:
    """What `tunewise eval` scores and how."""

    benchmark: str | None = None  # a JSONL file, or 'general_knowledge' for the bundled set
    format: str = "arc"
    perplexity: str | None = None  # held-out text: JSONL with a `text` field, or a folder of .txt/.md/.jsonl
    base: str | None = None  # the base model of an adapter folder that does not name one
    max_items: int | None = None
    batch_size: int = 8
    precision: str = "bf16"  # the weights' dtype while scoring, as the ladder predicts (bf16 when training in bf16)
    bootstrap_samples: int = 1000
    confidence: float = 0.95
    seed: int = 0


def is_run_dir(path: Path) -> bool:
    return (path / "report.json").is_file() and (path / "config.yaml").is_file()


def evaluate(target: str | Path, settings: EvalSettings) -> dict:
    """Everything `tunewise eval` reports about `target` (see the module docstring)."""
    path = Path(target)
    if is_run_dir(path) and settings.benchmark is None and settings.perplexity is None:
        return rescore_run(path)
    if settings.benchmark is None and settings.perplexity is None:
        raise TunewiseError(f"{target}: nothing to score; give --benchmark FILE (and --format) or --perplexity TEXT "
                            "(a run folder alone is re-scored from its predictions)")
    if is_run_dir(path):  # the run's own intervals, so its numbers and these compare
        ev = load_config(path / "config.yaml").eval
        settings = replace(settings, bootstrap_samples=ev.bootstrap_samples, confidence=ev.confidence, seed=ev.seed)
    items = _benchmark_items(settings)  # bad files surface before any model loads
    texts = load_domain_text(settings.perplexity) if settings.perplexity else None
    models = run_models(path) if is_run_dir(path) else [("model", str(target), settings.base)]
    rows, scored = [], {}
    for name, where, base in models:
        model, tokenizer, loaded = load_adapted(where, base, DTYPES[settings.precision])
        row = {"name": name, "loaded": loaded}
        if items is not None:
            scored[name] = score_loaded_model(model, tokenizer, items, settings.format, settings.batch_size,
                                              f"{name}: benchmark")
            row["benchmark"] = {"metrics": benchmark_metrics(scored[name], settings.bootstrap_samples,
                                                             settings.confidence, settings.seed),
                                "groups": per_group(scored[name])}
        if texts is not None:
            nll, tokens = document_nll(model, tokenizer, texts, context_length(model), settings.batch_size, PRECISION)
            row["perplexity"] = perplexity_with_ci(nll, tokens, settings.bootstrap_samples, settings.confidence,
                                                   settings.seed)
        rows.append(row)
        del model
        gc.collect()
    result = {"target": str(target), "models": rows}
    if items is not None:
        metric = PRIMARY[settings.format]
        result["benchmark"] = {"path": settings.benchmark, "format": settings.format, "items": len(items),
                               "metric": metric}
        result["comparisons"] = _against_first(scored, metric, settings)
    if texts is not None:
        result["perplexity_text"] = {"path": settings.perplexity, "documents": len(texts)}
    return result


def _benchmark_items(settings: EvalSettings):
    if settings.benchmark is None:
        return None
    items = read_benchmark(benchmark_file(settings.benchmark), settings.format)
    return items[: settings.max_items] if settings.max_items else items


def _against_first(scored: dict[str, BenchmarkScores], metric: str, settings: EvalSettings) -> list[dict]:
    """Every model after the first (the base of a run) against it, paired on the same questions."""
    names = list(scored)
    first = scored[names[0]].item_scores[metric] if names else []
    return [{"model": name, "against": names[0],
             **compare(scored[name].item_scores[metric], first, settings.bootstrap_samples, settings.confidence,
                       settings.seed).to_dict()} for name in names[1:]]


def run_models(run_dir: Path) -> list[tuple[str, str, str | None]]:
    """(name, where, base) of a run's base model and of every fine-tuned rung whose saved folder is a language
    model or an adapter for one (classification heads and feature classifiers are left out)."""
    config = load_config(run_dir / "config.yaml")
    report = json.loads((run_dir / "report.json").read_text(encoding="utf-8"))
    models = [("base", config.model.name, None)]
    for rung in report["rungs"]:
        if rung.get("skipped") or rung["kind"] != "fine-tuning":
            continue
        for folder in ("adapter", "model"):
            where = run_dir / "rungs" / rung["name"] / folder
            if adapter_kind(where) in ("peft", "bottleneck") or (folder == "model" and _is_causal(where)):
                models.append((rung["name"], str(where), config.model.name))
    return models


def _is_causal(folder: Path) -> bool:
    """Whether a saved model folder is a generative model (not an encoder classifier)."""
    if not (folder / "config.json").is_file():
        return False
    architectures = json.loads((folder / "config.json").read_text(encoding="utf-8")).get("architectures") or []
    return any(a.endswith("ForCausalLM") for a in architectures)


# ---------------------------------------------------------------- re-scoring a run


def rescore_run(run_dir: Path) -> dict:
    """Every rung's metrics (with CIs) and paired tests recomputed from its saved predictions.jsonl; loads no model.

    The run's own config gives the task, labels and bootstrap settings, so the numbers equal the report's unless
    the predictions were edited (or the scorers changed): `matches_report` says which.
    """
    config = load_config(run_dir / "config.yaml")
    report = json.loads((run_dir / "report.json").read_text(encoding="utf-8"))
    task = report["task"]
    rows, items = [], {}
    for rung in report["rungs"]:
        if rung.get("skipped"):
            continue
        outputs, references = _saved_predictions(run_dir / "rungs" / rung["name"] / "predictions.jsonl")
        metrics = _metrics(config, task, outputs, references)
        items[rung["name"]] = [item_score(task["metric"], o, r) for o, r in zip(outputs, references)]
        rows.append({"name": rung["name"], "examples": len(outputs), "metrics": metrics,
                     "matches_report": _same(metrics, rung["metrics"])})
    best = max(rows, key=lambda r: r["metrics"][task["metric"]]["value"])["name"] if rows else None
    ev = config.eval
    significance = [{"rung": name, **compare(items[best], scores, ev.bootstrap_samples, ev.confidence,
                                             ev.seed).to_dict()} for name, scores in items.items() if name != best]
    return {"target": str(run_dir), "rescored": True, "metric": task["metric"], "rungs": rows,
            "significance": {"best": best, "rows": significance}}


def _saved_predictions(path: Path) -> tuple[list[str], list[str]]:
    if not path.is_file():
        raise TunewiseError(f"{path}: missing; re-scoring needs every rung's predictions.jsonl")
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [r["prediction"] for r in records], [r["reference"] for r in records]


def _metrics(config: Config, task: dict, outputs: list[str], references: list[str]) -> dict:
    ev = config.eval
    return metrics_with_ci(task["type"], task["labels"], outputs, references, n_resamples=ev.bootstrap_samples,
                           confidence=ev.confidence, seed=ev.seed)


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(abs(a[k][f] - b[k][f]) < 1e-9 for k in a for f in ("value", "ci_low", "ci_high"))


def eval_summary(result: dict) -> str:
    """The terminal view of `evaluate`'s result."""
    if result.get("rescored"):
        lines = [f"re-scored {result['target']} from saved predictions (no model loaded); metric {result['metric']}"]
        for row in result["rungs"]:
            m = row["metrics"][result["metric"]]
            same = "matches report.json" if row["matches_report"] else "DIFFERS from report.json"
            lines.append(f"  {row['name']:28s} {m['value']:.3f} [{m['ci_low']:.3f}, {m['ci_high']:.3f}]  "
                         f"({row['examples']} examples; {same})")
        for row in result["significance"]["rows"]:
            lines.append(f"  {result['significance']['best']} vs {row['rung']}: {row['difference'] * 100:+.1f} points, "
                         f"p = {p_value(row):.3g}")
        return "\n".join(lines)
    lines = []
    for row in result["models"]:
        lines.append(f"{row['name']}: {row['loaded']}")
        if "benchmark" in row:
            b = result["benchmark"]
            for name, m in row["benchmark"]["metrics"].items():
                lines.append(f"  {name:9s} {m['value']:.3f} [{m['ci_low']:.3f}, {m['ci_high']:.3f}]  "
                             f"({b['items']} {b['format']} items)")
        if "perplexity" in row:
            p = row["perplexity"]
            lines.append(f"  perplexity {p['perplexity']:.2f} [{p['ci_low']:.2f}, {p['ci_high']:.2f}]  "
                         f"({p['tokens']} tokens in {p['documents']} documents)")
    for row in result.get("comparisons", []):
        lines.append(f"{row['model']} vs {row['against']}: {row['difference'] * 100:+.1f} points "
                     f"[{row['ci_low'] * 100:+.1f}, {row['ci_high'] * 100:+.1f}], p = {p_value(row):.3g}")
    return "\n".join(lines)
