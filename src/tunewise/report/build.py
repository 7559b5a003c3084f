"""report.json: the record of a run, assembled from what the ladder computed (each rung's result, the paired tests,
the recommendation, the forgetting check, the multi-task section) plus the analyses made here (agreement between
rungs, error analysis). Every view (report.md, report.html, the terminal table) is rendered from it.
"""
from __future__ import annotations

import datetime as _dt
import platform
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from tunewise import __version__
from tunewise.records import Example
from tunewise.report.agreement import agreement
from tunewise.report.data_shape import data_shape
from tunewise.report.errors import error_analysis
from tunewise.task import Task

if TYPE_CHECKING:
    from tunewise.config import Config
    from tunewise.ladder.recommend import Recommendation
    from tunewise.ladder.result import RungResult

SCHEMA_VERSION = 1


def environment() -> dict:
    """The versions and machine a run ran with."""
    import peft
    import transformers

    return {
        "tunewise": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "peft": peft.__version__,
        "threads": torch.get_num_threads(),
        "device": "cuda" if torch.cuda.is_available() else "cpu",
        "machine": platform.machine(),
    }


def build_report(run_dir: Path, config: Config, task: Task, data_summary: dict, results: list[RungResult],
                 rec: Recommendation, significance: dict | None, test: list[Example], train: list[Example],
                 decoding: dict | None = None, forgetting: dict | None = None, multitask: dict | None = None,
                 partial: dict | None = None, split: dict[str, list[Example]] | None = None) -> dict:
    """report.json of the rungs in `results`. A `partial` one (the run was interrupted) says so: its recommendation
    weighs the finished rungs only, and its next step is the resume command. `split` (train/val/test as prepared)
    adds its class balance and length histograms to the data section; they are computed here, not kept in
    data.json, so that a resumed run's data.json stays the one it started with."""
    reason, next_steps = rec.reason, rec.next_steps
    if partial:
        reason = f"Among the finished rungs only ({', '.join(r.name for r in results)}): {reason}"
        left = partial["not_finished"]
        to_do = f"run the rungs that did not finish ({', '.join(left)})" if left else "finish the report"
        next_steps = [f"Resume the run to {to_do}: {partial['resume']}"]  # the others weigh the finished rungs only
    report = {
        "schema_version": SCHEMA_VERSION,
        "run_id": run_dir.name,
        "run_dir": str(run_dir),
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        **({"partial": partial} if partial else {}),
        "config": config.model_dump(mode="json"),
        "task": {"type": task.type, "labels": task.labels, "metric": task.metric, "instruction": task.instruction},
        "primary_metric": task.metric,
        "data": {k: v for k, v in data_summary.items() if k != "split_ids"} | (
            data_shape(split, task.type) if split is not None else {}),
        "rungs": [r.as_report() for r in results],
        "recommendation": {
            "rung": rec.rung,
            "best_rung": rec.best_rung,
            "tied_with_best": rec.tied_with_best,
            "reason": reason,
            "next_steps": next_steps,
            "cost": rec.cost,
        },
        "environment": environment(),
    }
    if decoding is not None:
        report["decoding"] = decoding
    report["significance"] = significance
    report["agreement"] = agreement(results, test, task.metric, config.eval.group_field, train)
    report["forgetting"] = forgetting
    report["errors"] = error_analysis(results, test, task.metric, task.type, slice_fields(config))
    if multitask is not None:
        report["multitask"] = multitask
    return report


def slice_fields(config: Config) -> list[str]:
    """The error analysis's metadata slices: eval.slice_fields, and the group field when it is not among them."""
    fields = list(config.eval.slice_fields)
    group = config.eval.group_field
    return fields + [group] if group and group not in fields else fields
