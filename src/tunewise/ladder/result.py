"""A rung's result: what the report shows of it, and the files a finished rung leaves in its folder
(metrics.json, predictions.jsonl, training.json, and result.json, which `tunewise run --resume` keeps).
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

from tunewise.errors import TrainingError
from tunewise.evaluate.multiple_choice import BenchmarkScores, ChoiceItem
from tunewise.io import write_json, write_jsonl
from tunewise.records import Example, Prediction


@dataclass
class RungResult:
    """Everything the report shows about one rung."""

    name: str
    kind: str
    description: str
    metrics: dict[str, dict[str, float]]  # metric -> {value, ci_low, ci_high}; empty when skipped
    cost: dict[str, float | int]
    training: dict | None = None
    notes: list[str] = field(default_factory=list)
    skipped: str | None = None  # why the rung could not run here (then it has no metrics and no cost)
    task: str | None = None  # multi-task runs: the other task this rung was trained and scored on (None: the run's)
    per_task: dict[str, dict] | None = None  # multitask, composition: other task -> metrics on that task's test set
    prompt: dict | None = None  # prompting rungs: style, demo selection and k, prompts shortened to fit, ...
    retrieval: dict | None = None  # rag rungs: retriever, recall@k with CIs where the data has gold source ids
    # preference tasks, sft and alignment rungs: held-out preference accuracy, chosen drift, KL to the reference
    alignment: dict | None = None
    per_class: dict | None = None  # classification: per label precision, recall, f1, support; and the confusion
    artifact: str | None = None  # the folder under the rung's folder holding what it learned (adapter, model, ...)
    correct: list[bool] | None = field(default=None, repr=False)  # per test example (not in report.json)
    item_scores: list[float] | None = field(default=None, repr=False)  # per test example, for paired tests
    predictions: list[Prediction] | None = field(default=None, repr=False)  # per test example, for error analysis
    benchmark: BenchmarkScores | None = field(default=None, repr=False)  # the forgetting check's scores

    def as_report(self) -> dict:
        """The rung as report.json stores it (without the per-example fields, PER_EXAMPLE)."""
        shallow = dataclasses.replace(self, **dict.fromkeys(PER_EXAMPLE))  # asdict would deep-copy them first
        summary = {k: v for k, v in dataclasses.asdict(shallow).items() if k not in PER_EXAMPLE}
        return json.loads(json.dumps(summary, default=str))


def write_predictions(path: Path, predictions: list[Prediction], examples: list[Example]) -> None:
    """predictions.jsonl: id, prediction, reference (and label scores for classification)."""
    write_jsonl(
        path,
        [{"id": p.id, "prediction": p.output, "reference": e.answer, **({"scores": p.scores} if p.scores else {}),
          **(p.details or {})} for p, e in zip(predictions, examples)],
    )


PER_EXAMPLE = ("correct", "item_scores", "predictions", "benchmark")  # RungResult fields report.json leaves out
RESULT_FILE = "result.json"  # a finished rung's whole RungResult: `tunewise run --resume` keeps it, not redoes it


def save_result(result: RungResult, rung_dir: Path) -> None:
    """Write the rung's whole result (per-example fields included) once it is finished."""
    predictions = None if result.predictions is None else [dataclasses.asdict(p) for p in result.predictions]
    record = summarise(result) | {"correct": result.correct, "item_scores": result.item_scores,
                                  "predictions": predictions}
    b = result.benchmark
    record["benchmark"] = None if b is None else {
        "format": b.format, "ids": [item.id for item in b.items], "log_likelihoods": b.log_likelihoods,
        "item_scores": b.item_scores}
    write_json(rung_dir / RESULT_FILE, record)


def load_result(rung_dir: Path, benchmark: list[ChoiceItem] | None) -> RungResult | None:
    """The result a finished rung saved (None when it did not finish); its forgetting scores are tied back to
    the benchmark's questions, which must be the ones it was scored on."""
    path = rung_dir / RESULT_FILE
    if not path.is_file():
        return None
    record = json.loads(path.read_text(encoding="utf-8"))
    if record.get("predictions") is not None:
        record["predictions"] = [Prediction(**p) for p in record["predictions"]]
    saved = record.pop("benchmark", None)
    result = RungResult(**record)
    if saved is not None:
        if benchmark is None or [item.id for item in benchmark] != saved["ids"]:
            raise TrainingError(f"{path}: its forgetting check was scored on other questions than this run's "
                                "forgetting.benchmark; resume with the benchmark it was run with")
        result.benchmark = BenchmarkScores(saved["format"], benchmark, saved["log_likelihoods"], saved["item_scores"])
    return result


def summarise(result: RungResult) -> dict:
    """The rung as report.json stores it (without the per-example fields, PER_EXAMPLE)."""
    return result.as_report()
