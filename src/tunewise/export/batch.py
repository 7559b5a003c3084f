"""`tunewise predict`: a file of inputs through an export, offline, into predictions.jsonl (the batch path jobs run).

The inputs are records in the run's format (its data.format), answers optional: a record with its answer keeps
it as `reference`. Every problem in the file is reported before any model loads; the output file is never
overwritten.
"""
from __future__ import annotations

from pathlib import Path

from tunewise.config import load_config
from tunewise.data.load import load_file
from tunewise.errors import DataError
from tunewise.export.package import (
    CONFIG_FILE,
    ExportedRung,
    load_export,
    probabilities,
    read_manifest,
)
from tunewise.export.source import ExportError
from tunewise.io import write_jsonl
from tunewise.records import Example, Prediction


def predict_file(export_dir: Path | str, data: Path | str, out: Path | str) -> tuple[Path, int]:
    """Predict every record of `data` with the export in `export_dir`; returns (the predictions file, rows)."""
    out = Path(out)
    if out.exists():
        raise ExportError(f"{out}: already exists; tunewise predict never overwrites, give a new --out file")
    manifest = read_manifest(Path(export_dir))
    config = load_config(Path(export_dir) / CONFIG_FILE)  # the run's data settings (field names) read the inputs
    loaded = load_file(data, config.data, manifest.data_format, answers_optional=True)
    if loaded.errors:
        raise DataError(loaded.errors)
    exported = load_export(export_dir)
    predictions = exported.predict(loaded.examples)
    write_jsonl(out, prediction_rows(exported, predictions, loaded.examples))
    return out, len(predictions)


def prediction_rows(exported: ExportedRung, predictions: list[Prediction], examples: list[Example]) -> list[dict]:
    """predictions.jsonl rows, as a run writes them: id, prediction, reference (when the input had one), label
    scores and their probabilities (classification), and what the rung used (demonstrations, sources)."""
    rows = []
    for p, e in zip(predictions, examples):
        row = {"id": p.id, "prediction": p.output}
        if e.answer:
            row["reference"] = e.answer
        if p.scores:
            row |= {"probabilities": probabilities(p.scores), "scores": p.scores}
        rows.append(row | (p.details or {}))
    return rows
