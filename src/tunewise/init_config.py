"""`tunewise init DATA`: look at a data file and write a commented tunewise.yaml sized to this machine.

The file is checked as `tunewise data check` checks it (every problem at once; nothing is written while it has
errors). Its format and task type are detected, examples and labels counted, a split proposed, and a plan chosen:
prompting baselines always, fine-tuning when there is enough to train on. The plan is timed with the dry run's probes
(`tunewise run --dry-run`); when it would take longer than the budget, each rung's training time (train.max_minutes),
or else the test examples, are cut to fit, and the YAML says so.
"""
from __future__ import annotations

import datetime as _dt
import json
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tunewise.config import Config, config_from_dict
from tunewise.data import prepare_data
from tunewise.data.validate import DataReport
from tunewise.errors import TunewiseError
from tunewise.ladder.run import estimate
from tunewise.progress import clock
from tunewise.prompting.templates import token_counter
from tunewise.sections import DataConfig, DecisionConfig, TaskConfig

MIN_TRAIN_FOR_TUNING = 40  # fewer training examples than this: prompting only (a LoRA would mostly memorise)
DEFAULT_BUDGET_MIN = 60.0


class InitError(TunewiseError):
    """tunewise init cannot write a config as asked."""


@dataclass
class Plan:
    """What `tunewise init` proposes: the config fields it sets, and why (comments for the YAML)."""

    data: DataConfig
    report: DataReport
    task_type: str
    labels: list[str] | None
    model: str
    rungs: list[str]
    methods: list[str]
    train: dict = field(default_factory=dict)  # train.* fields set (max_minutes)
    eval: dict = field(default_factory=dict)  # eval.* fields set (max_test_examples)
    estimates: list[dict] = field(default_factory=list)  # the dry run's rows: rung, fit_s, predict_s
    notes: list[str] = field(default_factory=list)

    def raw(self, data_path: str) -> dict:
        """The config as a mapping (data.path as given)."""
        raw = {"task": {"type": self.task_type}, "data": {"path": data_path, "format": self.data.format},
               "model": {"name": self.model}, "rungs": self.rungs, "methods": self.methods}
        if self.data.format == "classification":
            raw["data"] |= {"text_field": self.data.text_field, "label_field": self.data.label_field}
        if self.train:
            raw["train"] = dict(self.train)
        if self.eval:
            raw["eval"] = dict(self.eval)
        return raw


def propose(data_path: Path, model: str = "smollm2", fmt: str = "auto", budget_min: float = DEFAULT_BUDGET_MIN,
            estimate: bool = True, log: Callable[[str], None] = print) -> Plan:
    """The plan for `data_path`; raises DataError (every problem) when the file cannot be used as it is."""
    data = DataConfig(path=data_path.resolve(), format=fmt)
    # One pass, as `tunewise data check` checks (lengths counted with the model's tokenizer); DataError on problems.
    prepared = prepare_data(data, TaskConfig(), token_counter(model))
    report, task = prepared.report, prepared.task
    plan = Plan(data.model_copy(update={"format": report.format}), report, task.type, task.labels, model,
                ["zero_shot", "few_shot"], _methods(task.type, len(prepared.split.train)))
    if not plan.methods:
        plan.notes.append(f"only {len(prepared.split.train)} training examples (< {MIN_TRAIN_FOR_TUNING}): prompting "
                          "only; add `methods: [lora]` to try fine-tuning anyway")
    if estimate:
        _fit_budget(plan, budget_min, len(prepared.split.test), log)
    return plan


def _methods(task_type: str, n_train: int) -> list[str]:
    """Fine-tuning to try: LoRA (the usual winner), plus frozen MiniLM features for classification (seconds)."""
    if n_train < MIN_TRAIN_FOR_TUNING:
        return []
    return ["encoder_features", "lora"] if task_type == "classification" else ["lora"]


def _fit_budget(plan: Plan, budget_min: float, n_test: int, log: Callable[[str], None]) -> None:
    """Time the plan with the dry run's probes; cut each rung's training time, else test examples, to fit the budget."""
    log(f"[tunewise] timing the plan on this machine (dry run of {', '.join(plan.rungs + plan.methods)})")
    plan.estimates = estimate(_config(plan), log=lambda m: None)
    ran = [r for r in plan.estimates if not r.get("skipped")]
    total = sum(r["fit_s"] + r["predict_s"] for r in ran)
    budget = budget_min * 60
    if total <= budget:
        return
    # Only the fine-tuned rungs' training can be cut; predicting and a prompting rung's setup cannot.
    training = [r["fit_s"] for r in ran if r["rung"] in plan.methods]
    fixed = total - sum(training)
    if fixed < budget and sum(training) > 0:
        minutes = max(0.1, math.floor(training_budget(training, budget - fixed) / 6) / 10)  # rounded down
        plan.train["max_minutes"] = minutes
        plan.notes.append(f"the whole plan would take {clock(total)} here, over the {budget_min:g} min budget: "
                          f"each rung's training is cut to {minutes:g} min (train.max_minutes; rungs that need less "
                          "train whole)")
    else:
        keep = max(20, int(n_test * budget / total))
        plan.eval["max_test_examples"] = keep
        plan.notes.append(f"the whole plan would take {clock(total)} here, over the {budget_min:g} min budget, most of "
                          f"it predicting: scored on the first {keep} of {n_test} test examples")


def training_budget(fits: list[float], available_s: float) -> float:
    """The per-rung training time M with sum(min(fit, M)) = available_s: rungs that need less than M train whole,
    the others are cut to the same M (seconds)."""
    spent = 0.0
    for i, fit in enumerate(sorted(fits)):
        left = len(fits) - i
        if spent + fit * left >= available_s:  # M is at or below this rung's need
            return (available_s - spent) / left
        spent += fit
    return max(fits)  # everything fits


def _config(plan: Plan) -> Config:
    return config_from_dict(plan.raw(str(plan.data.path)), "<tunewise init>")


def render(plan: Plan, out: Path) -> str:
    """The tunewise.yaml text for `plan`, written to `out` (data.path relative to it), with comments saying why."""
    data_path = _path_from(out.resolve().parent, Path(plan.data.path))
    report = plan.report
    header = [f"tunewise.yaml written by `tunewise init` on {_dt.date.today().isoformat()}: edit freely, then",
              f"  tunewise data check {out.name}   # checks the data as this config reads it",
              f"  tunewise run {out.name}          # runs the ladder; --dry-run times it first",
              f"Data: {sum(report.files.values())} examples in {data_path}, format {report.format} (detected)."]
    if report.labels:
        ordered = sorted(report.labels.items(), key=lambda kv: -kv[1])
        header.append(f"Labels: {len(ordered)} ({', '.join(f'{k} {v}' for k, v in ordered[:8])}"
                      f"{', ...' if len(ordered) > 8 else ''}).")
    splits = ", ".join(f"{name} {count}" for name, count in report.splits.items())
    stratified = ", stratified by label" if report.labels else ""
    header.append(f"Split: {splits} (data.split: val 0.1, test 0.2, seed 0{stratified}).")
    if plan.estimates:
        rows = [f"{r['rung']} {'skipped' if r.get('skipped') else clock(r['fit_s'] + r['predict_s'])}"
                for r in plan.estimates]
        total = sum(r["fit_s"] + r["predict_s"] for r in plan.estimates if not r.get("skipped"))
        header.append(f"Estimated time here (timed probes): {', '.join(rows)}; total {clock(total)}.")
    header += [f"Note: {note}" for note in plan.notes]
    lines = [f"# {line}" if line else "#" for line in header]
    lines += [
        "task:",
        f"  type: {plan.task_type}        # detected from the data",
        "  # labels: [...]          # inferred from the training split; list them to fix the order or add unseen ones",
        "data:",
        f"  path: {json.dumps(data_path)}        # relative to this file (or absolute)",
        f"  format: {report.format}",
    ]
    if report.format == "classification":
        lines += [f"  text_field: {plan.data.text_field}", f"  label_field: {plan.data.label_field}"]
    lines += [
        "  split: {val: 0.1, test: 0.2, seed: 0}   # one held-out split that every rung is scored on",
        "model:",
        f"  name: {json.dumps(plan.model)}       # a bundled name, a local Hugging Face folder or a .gguf file",
        f"rungs: [{', '.join(plan.rungs)}]   # prompting baselines (tunewise methods lists them all)",
        f"methods: [{', '.join(plan.methods)}]   # fine-tuning; `plan: thorough` tries every method",
    ]
    if plan.train:
        lines.append("train:   # cut to fit the time budget (see the note above)")
        lines += [f"  {k}: {v}" for k, v in plan.train.items()]
    if plan.eval:
        lines.append("eval:    # cut to fit the time budget (see the note above)")
        lines += [f"  {k}: {v}" for k, v in plan.eval.items()]
    lines += [
        "decision:",
        "  # How many predictions you expect to make with the chosen rung: the recommendation picks the lowest",
        "  # training + prediction cost at this volume among the rungs tied with the best (a prompt costs nothing to",
        "  # train but more per prediction; a fine-tuned rung the other way round).",
        f"  expected_predictions: {DecisionConfig().expected_predictions}",
        "  # cpu_hour_cost: 0.5      # price of one machine-hour: compare in money instead of machine-seconds",
    ]
    return "\n".join(lines) + "\n"


def _path_from(folder: Path, path: Path) -> str:
    """`path` relative to `folder` when it lies below it, else absolute (a config moved with its data still works)."""
    relative = os.path.relpath(path, folder)
    return str(path) if relative.startswith("..") else relative


def write_config(plan: Plan, out: Path) -> Path:
    """Write the plan to `out`; never over an existing file."""
    if out.exists():
        raise InitError(f"{out}: already exists; tunewise init never overwrites: give another --out")
    out.write_text(render(plan, out), encoding="utf-8")
    return out
