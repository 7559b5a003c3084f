"""What to export from a finished run folder: the rung (by default the recommended one, and only a fine-tuned
one) and its saved adapter/ or model/ folder; ExportError, raised by every export step.
"""
from __future__ import annotations

from pathlib import Path

from tunewise.errors import TunewiseError


class ExportError(TunewiseError):
    """An export could not be made or did not pass its check."""


def rung_entry(report: dict, name: str) -> dict:
    """The report's entry for rung `name`, which must be a fine-tuned rung that was not skipped."""
    rungs = {r["name"]: r for r in report["rungs"]}
    exportable = [n for n, r in rungs.items() if r["kind"] == "fine-tuning" and not r.get("skipped")]
    if name not in rungs:
        raise ExportError(f"--rung {name}: no such rung in {report['run_id']}; fine-tuned rungs: "
                          f"{', '.join(exportable) or 'none'}")
    if name not in exportable:
        what = "was skipped" if rungs[name].get("skipped") else f"is a {rungs[name]['kind']} rung (nothing trained)"
        raise ExportError(f"--rung {name}: {what}; export takes a fine-tuned rung: {', '.join(exportable) or 'none'}"
                          + (". The report recommends it: its prompt is in report.json's rung entry."
                             if name == report["recommendation"]["rung"] and not rungs[name].get("skipped") else ""))
    return rungs[name]


def saved_folder(run_dir: Path, entry: dict) -> Path:
    """The rung's saved folder: adapter/ (adapters) or model/ (full fine-tuning, encoder classifiers)."""
    for folder in ("adapter", "model"):
        path = run_dir / "rungs" / entry["name"] / folder
        if path.is_dir():
            return path
    raise ExportError(f"{run_dir / 'rungs' / entry['name']}: no adapter/ or model/ folder to export")
