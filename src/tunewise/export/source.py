"""What to export from a finished run folder: the rung (by default the recommended one) and the folder of files it
saved; ExportError, raised by every export step.
"""
from __future__ import annotations

from pathlib import Path

from tunewise.errors import TunewiseError


class ExportError(TunewiseError):
    """An export could not be made or did not pass its check."""


def rung_entry(report: dict, name: str) -> dict:
    """The report's entry for rung `name`, which must have run (not skipped)."""
    rungs = {r["name"]: r for r in report["rungs"]}
    ran = [n for n, r in rungs.items() if not r.get("skipped")]
    if name not in rungs:
        raise ExportError(f"--rung {name}: no such rung in {report['run_id']}; rungs that ran: {', '.join(ran) or 'none'}")
    if name not in ran:
        raise ExportError(f"--rung {name}: was skipped ({rungs[name]['skipped']}); rungs that ran: "
                          f"{', '.join(ran) or 'none'}")
    return rungs[name]


def saved_folder(run_dir: Path, entry: dict) -> Path | None:
    """The rung's saved files (adapter/, model/, classifier/, index/ ...); None for a rung that saves none (a prompt
    style). Reports written before rungs named their folder: adapter/ or model/."""
    rung_dir = run_dir / "rungs" / entry["name"]
    if entry.get("artifact"):
        path = rung_dir / entry["artifact"]
        if not path.exists():
            raise ExportError(f"{path}: missing; the run saved rung {entry['name']}'s files there")
        return path
    if "artifact" in entry:
        return None
    for folder in ("adapter", "model"):
        if (rung_dir / folder).is_dir():
            return rung_dir / folder
    raise ExportError(f"{rung_dir}: no adapter/ or model/ folder to export")
