"""The public Python surface, re-exported by `tunewise` itself: run the ladder, check data, estimate a run,
evaluate a model, read a report. The CLI is a thin layer over these functions; no other module imports this one.
"""
from __future__ import annotations

from pathlib import Path

from tunewise.config import Config
from tunewise.data import check_data
from tunewise.ladder.folder import resume_config
from tunewise.ladder.run import LadderResult
from tunewise.ladder.run import estimate as _estimate
from tunewise.ladder.run import run as _run
from tunewise.prompting.templates import token_counter
from tunewise.report.files import load_report
from tunewise.report.render import terminal_table
from tunewise.sections import DataConfig, TaskConfig
from tunewise.standalone import EvalSettings
from tunewise.standalone import evaluate as evaluate_target


def run(config: Config, log=print, resume: Path | None = None, trackers: list[str] | None = None) -> LadderResult:
    """Run the whole ladder on `config`: check the data, split it, run every rung on the same test set and write
    runs/<id>/report.json, .md and .html. `resume`: a stopped run's folder (see `resume_config`); `trackers`:
    tensorboard and/or mlflow, mirrored as each rung ends. Ctrl-C raises RunInterrupted after a partial report."""
    return _run(config, log, resume, trackers)


def check(data: DataConfig, task: TaskConfig, model_name: str | None = None):
    """Validate the data set (every problem at once); loads only a tokenizer, never model weights."""
    return check_data(data, task, token_counter(model_name) if model_name else None)


def estimate(config: Config, log=print) -> list[dict]:
    """Dry run: check the data, time a short probe of each rung and extrapolate; writes no run folder. Each row:
    rung, fit_s, predict_s (estimated seconds on this machine), and skipped (why) for rungs that cannot run."""
    return _estimate(config, log)


def evaluate(target: str | Path, settings=None) -> dict:
    """`tunewise eval`: a benchmark and/or perplexity on a model, adapter or run, or a run re-scored from its saved
    predictions (tunewise.standalone says which targets and what each gives)."""
    return evaluate_target(target, settings or EvalSettings())


__all__ = ["LadderResult", "check", "estimate", "evaluate", "load_report", "resume_config", "run", "terminal_table"]
