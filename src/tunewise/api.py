"""The public Python surface: `run(config)` runs the ladder, `check(...)` validates data.

The CLI is a thin layer over these functions.
"""
from __future__ import annotations

import datetime as _dt
import gc
import hashlib
import json
import platform
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from tunewise import __version__
from tunewise.config import (
    MAIN_TASK,
    Config,
    DataConfig,
    TaskConfig,
    config_to_yaml,
    load_config,
)
from tunewise.data.text import load_documents, load_domain_text
from tunewise.distributed import barrier, is_main, setup, share, world_size
from tunewise.errors import ConfigError, DataError, Problem, RunInterrupted, TunewiseError
from tunewise.evaluate.forgetting import (
    forgetting_items,
    forgetting_section,
    score_model,
)
from tunewise.evaluate.significance import compare
from tunewise.io import write_json, write_text
from tunewise.ladder import (
    CompositionRung,
    SingleTaskAdapter,
    build_plan,
    estimate_rung,
    load_result,
    multi_task,
    planned_methods,
    run_rung,
    save_result,
    single_task_rungs,
    summarise,
)
from tunewise.methods.multitask import (
    TaskData,
    cross_task_leakage,
    main_task_data,
    mixture_shares,
    multitask_summary,
    prepare_tasks,
)
from tunewise.models.chat_template import answer_ids, prompt_ids
from tunewise.models.load import load_causal_lm, load_tokenizer
from tunewise.predict import decoding
from tunewise.prompting.templates import zero_shot_messages
from tunewise.prompting.user_template import check_template
from tunewise.recommend import recommend
from tunewise.records import Example
from tunewise.registry import RunRecorder
from tunewise.report.agreement import agreement
from tunewise.report.errors import error_analysis
from tunewise.report.html import html_report
from tunewise.report.render import k_sweep_svg, markdown, terminal_table
from tunewise.rung import eval_dtype
from tunewise.tracking import Tracking
from tunewise.train.loop import TrainingInterrupted


@dataclass
class LadderResult:
    """A finished run: where it is and what it found."""

    run_dir: Path
    report: dict

    @property
    def recommendation(self) -> str:
        return self.report["recommendation"]["rung"]


def token_counter(model_name: str):
    """count_tokens(example, instruction) for the length check: the zero-shot conversation plus the answer."""
    tokenizer = load_tokenizer(model_name)

    def count_tokens(example: Example, instruction: str | None) -> int:
        messages = zero_shot_messages(example, instruction)
        return len(prompt_ids(tokenizer, messages)) + len(answer_ids(tokenizer, example.answer))

    return count_tokens


def check(data: DataConfig, task: TaskConfig, model_name: str | None = None):
    """Validate the data set (every problem at once); loads only a tokenizer, never model weights."""
    from tunewise.data import check_data

    count = token_counter(model_name) if model_name else None
    return check_data(data, task, count)


def new_run_dir(config: Config) -> Path:
    """runs/<UTC time>-<config hash>; never an existing folder (nothing the user had is overwritten)."""
    digest = hashlib.sha256(config_to_yaml(config).encode()).hexdigest()[:6]
    stamp = _dt.datetime.now(_dt.UTC).strftime("%Y%m%d-%H%M%S")
    base = Path(config.output_dir) / f"{stamp}-{digest}"
    path, n = base, 1
    while path.exists():
        path, n = Path(f"{base}-{n}"), n + 1
    return path


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def environment() -> dict:
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


def run(config: Config, log=print, resume: Path | None = None, trackers: list[str] | None = None) -> LadderResult:
    """Run the whole ladder: check data, split, run every rung on the same test set, write the report.

    With `resume` (a run folder whose config is `config`, see `resume_config`), rungs that finished there are
    kept as they are, and a rung that was training continues from its newest saved state. The run registry
    (tunewise.registry) records the run as running once its folder exists, then finished, failed or interrupted.
    `trackers` (`--log`: tensorboard, mlflow) mirror the run into those tools as each rung ends (tunewise.tracking);
    one whose package is not installed is refused here, before any compute.

    Ctrl-C (or SIGTERM while training) raises RunInterrupted, whose one-line message says what was kept and how to
    resume; once a rung has finished, a partial report of the finished rungs is written first (see `_run_ladder`).
    """
    tracking = Tracking.asked_for(trackers, log)
    recorder = RunRecorder(log)
    try:
        result = _run_ladder(config, log, resume, recorder, tracking)
    except RunInterrupted as err:
        recorder.ended("interrupted", err.report, error=err)
        tracking.ended("interrupted")
        raise
    except KeyboardInterrupt as err:  # before the run folder was ready, or again while the partial report was written
        recorder.ended("interrupted", error=err)
        tracking.ended("interrupted")
        raise RunInterrupted(_interrupted_early(recorder.run_dir, resume)) from None
    except BaseException as err:
        recorder.ended("failed", error=err)
        tracking.ended("failed")
        raise
    recorder.ended("finished", result.report)
    tracking.ended("finished")
    return result


def _run_ladder(config: Config, log, resume: Path | None, recorder: RunRecorder, tracking: Tracking) -> LadderResult:
    """`run` itself; `recorder` and `tracking` are told the run folder once it exists.

    Interrupted once the folder exists (Ctrl-C anywhere, or SIGTERM while training), it writes the report of the
    rungs finished so far, marked partial, and raises RunInterrupted; the resumed run overwrites it with the full one.
    """
    setup_processes(config)
    if not is_main():
        log = lambda message: None
    prepared, test, others, benchmark = _prepare(config)
    task, split = prepared.task, prepared.split
    data_summary = prepared.summary()
    data_summary["scored_test_examples"] = len(test)
    if others:
        data_summary["multitask"] = multitask_data_summary(task, split, test, others, log)

    if resume is None:
        run_dir = share(new_run_dir(config) if is_main() else None)  # one folder, named by the main process
        if is_main():
            run_dir.mkdir(parents=True)
        barrier()
        write_text(run_dir / "config.yaml", config_to_yaml(config))
        write_json(run_dir / "data.json", data_summary)
    else:
        run_dir = Path(resume)
        _check_same_data(run_dir, data_summary)
    stage = "planning"  # what the run is doing: an interruption names it
    results = []
    task_results = []  # multi-task runs: one LoRA per other task, trained and scored on that task alone

    def finished(rung, rung_dir: Path, train, val, rung_test, rung_task):
        """The rung's result: kept from before when resuming and it finished, else run (and saved) now."""
        nonlocal stage
        stage = f"rung {rung.name}"
        kept = load_result(rung_dir, benchmark) if resume else None
        if kept is not None:
            log(f"[tunewise] {rung.name}: finished before the run stopped; kept")
            tracking.rung(summarise(kept), rung_dir)  # a resumed run is a new tracker run: it gets every rung
            return kept
        seed_everything(config.seed)
        if hasattr(rung, "resume"):
            rung.resume = resume is not None
        result = run_rung(rung, train, val, rung_test, rung_task, config, rung_dir,
                          benchmark if rung_task is task else None)
        save_result(result, rung_dir)
        tracking.rung(summarise(result), rung_dir)
        gc.collect()
        if not result.skipped:
            m = result.metrics[rung_task.metric]
            log(f"[tunewise] {rung.name}: {rung_task.metric} {m['value']:.3f} [{m['ci_low']:.3f}, {m['ci_high']:.3f}]")
        return result

    single = single_task_rungs(config, others)

    def run_single_task_rungs():
        while single:
            other, rung = single.pop(0)
            result = finished(rung, _single_task_dir(run_dir, other.name), other.train, other.val, other.test,
                              other.task)
            result.task = other.name
            task_results.append(result)

    def ladder_report(partial: dict | None = None) -> dict:
        """report.json of the rungs finished so far. A `partial` one (the run was interrupted) says so, and leaves
        out the forgetting check, which would load and score the base model again."""
        significance = paired_tests(results, task.metric, config)
        rec = recommend([r for r in results if not r.skipped], task.metric, significance, config.eval.alpha)
        reason, next_steps = rec.reason, rec.next_steps
        if partial:
            reason = f"Among the finished rungs only ({', '.join(r.name for r in results)}): {reason}"
            left = partial["not_finished"]
            to_do = f"run the rungs that did not finish ({', '.join(left)})" if left else "finish the report"
            next_steps = [f"Resume the run to {to_do}: {partial['resume']}"]  # the others weigh the finished rungs only
        report = {
            "schema_version": 1,
            "run_id": run_dir.name,
            "run_dir": str(run_dir),
            "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            **({"partial": partial} if partial else {}),
            "config": config.model_dump(mode="json"),
            "task": {"type": task.type, "labels": task.labels, "metric": task.metric,
                     "instruction": task.instruction},
            "primary_metric": task.metric,
            "data": {k: v for k, v in data_summary.items() if k != "split_ids"},
            "rungs": [summarise(r) for r in results],
            "recommendation": {
                "rung": rec.rung,
                "best_rung": rec.best_rung,
                "tied_with_best": rec.tied_with_best,
                "reason": reason,
                "next_steps": next_steps,
            },
            "environment": environment(),
        }
        if task.type != "classification":
            report["decoding"] = decoding(config)
        report["significance"] = significance
        report["agreement"] = agreement(results, test, task.metric, config.eval.group_field, split.train)
        report["forgetting"] = None if partial else forgetting(results, benchmark, config, log)
        report["errors"] = error_analysis(results, test, task.metric, task.type, _slice_fields(config))
        if multi_task(config):
            report["multitask"] = _multitask_report(task, split, others, results, task_results, config)
        return report

    planned = []
    try:
        log(f"[tunewise] run folder: {run_dir}" + (" (resumed)" if resume else ""))
        recorder.started(run_dir)
        tracking.started(config, run_dir, data_summary, resumed=resume is not None)
        log(f"[tunewise] {len(split.train)} train / {len(split.val)} val / {len(test)} test examples; task {task.type}")
        plan = build_plan(config, task, split.train, others)
        planned = [rung.name for rung in plan] + [rung.name for _, rung in single]
        while plan:
            # Taken off the plan, a rung is freed once scored: its model, and after the last prompting rung the
            # shared base model, do not stay in memory while later rungs train.
            rung = plan.pop(0)
            if isinstance(rung, CompositionRung):  # it combines the single-task LoRAs, so they are trained first
                run_single_task_rungs()
                rung.use_adapters(_single_task_adapters(run_dir, others, results + task_results))
            results.append(finished(rung, run_dir / "rungs" / rung.name, split.train, split.val, test, task))
        run_single_task_rungs()
        stage = "the report"
        report = ladder_report()
        write_report(run_dir, report)
        tracking.report(run_dir, report)
    except (KeyboardInterrupt, TrainingInterrupted) as err:
        # A second Ctrl-C while the partial report is built stops that too (each file is written whole or not at
        # all); `run` then ends with a shorter line.
        training = isinstance(err, TrainingInterrupted)
        done = [r.name for r in results + task_results]
        partial = {"interrupted": stage, "signal": err.signal_name if training else "SIGINT", "finished": done,
                   "not_finished": [name for name in planned if name not in done],
                   "resume": f"tunewise run --resume {run_dir}"}
        if training:
            partial["training_state"] = str(err.checkpoint)
        report = ladder_report(partial) if any(not r.skipped for r in results) else None
        if report is not None:
            write_report(run_dir, report)
            tracking.report(run_dir, report)
        raise RunInterrupted(interruption_message(err, stage, run_dir, done, report is not None), partial["signal"],
                             report) from None
    return LadderResult(run_dir, report)


def write_report(run_dir: Path, report: dict) -> None:
    """report.json, report.md, report.html and (with few-shot rungs) k_sweep.svg of a full or partial report."""
    write_json(run_dir / "report.json", report)
    chart = k_sweep_svg(report)
    if chart:
        write_text(run_dir / "k_sweep.svg", chart)
    write_text(run_dir / "report.md", markdown(report))
    write_text(run_dir / "report.html", html_report(report, run_dir))


def interruption_message(err: BaseException, stage: str, run_dir: Path, finished: list[str],
                         wrote_report: bool) -> str:
    """The line an interrupted run ends with: where it stopped, what it kept, and the command that goes on."""
    why = f"interrupted during {stage}" + (f": {err}" if isinstance(err, TrainingInterrupted) else "")
    rungs = f"{len(finished)} finished rung{'s' if len(finished) != 1 else ''} ({', '.join(finished)})"
    if wrote_report:
        kept = f"kept {rungs} and a partial report in {run_dir / 'report.md'}"
    elif finished:
        kept = f"kept {rungs}; no report (none of them was scored)"
    else:
        kept = "no rung had finished, so no report was written"
    return f"{why}; {kept}; resume with: tunewise run --resume {run_dir}"


def _interrupted_early(run_dir: Path | None, resume: Path | None) -> str:
    """The line for Ctrl-C before the run folder was ready (or again while the partial report was written)."""
    if run_dir is not None:
        return (f"interrupted again while the partial report was written (each report file is written whole or not at "
                f"all); resume with: tunewise run --resume {run_dir}")
    if resume is not None:
        return (f"interrupted while checking the data; {resume} is as it was; resume with: tunewise run --resume "
                f"{resume}")
    return "interrupted before the run folder was made; nothing was written"


# Rungs that write files of their own (indexes, classifiers) outside the trained weights: one process at a time.
SINGLE_PROCESS = ("rag", "rag_lora", "features", "encoder_features", "classifier", "encoder_classifier")


def setup_processes(config: Config) -> None:
    """Join the launcher's processes when there are several; refuse rungs that cannot run in several yet."""
    if world_size() == 1:
        return
    planned = [*config.rungs, *planned_methods(config)]
    refused = [name for name in planned if name in SINGLE_PROCESS]
    if refused:
        raise ConfigError([Problem("<config>", None, "rungs/methods", "single_process_only",
                                   f"{', '.join(refused)} run in one process only; drop them from this multi-process "
                                   f"run (it has {world_size()} processes) or run without a launcher")])
    setup()


def _check_same_data(run_dir: Path, summary: dict) -> None:
    """A resumed run must see the data it started with: the same files (hashes), split and counts."""
    path = run_dir / "data.json"
    if not path.is_file():
        raise TunewiseError(f"{path}: missing; is {run_dir} a tunewise run folder?")
    saved = json.loads(path.read_text(encoding="utf-8"))
    now = json.loads(json.dumps(summary, default=str))
    differs = sorted(k for k in saved.keys() | now.keys() if saved.get(k) != now.get(k))
    if differs:
        raise TunewiseError(f"{run_dir}: the data changed since the run started ({', '.join(differs)} differ in "
                            "data.json); resuming needs the same files, so start a new run instead")


# Fields a resumed run may change with --allow-changes: they change how often training logs, saves, validates
# and when it stops early, or how many examples a forward pass takes, never what a finished rung computed.
SAFE_ON_RESUME = ("train.log_every", "train.checkpoint_every", "train.eval_every", "train.patience",
                  "train.max_val_examples", "eval.batch_size")


def resume_config(run_dir: Path, config_path: Path | None = None, overrides: list[str] | None = None,
                  allow: list[str] | None = None) -> Config:
    """The config to resume `run_dir` with: its saved config.yaml, or the one given (a YAML and/or --set
    overrides), refused with every differing field named unless each is in `allow` (and safe to change)."""
    saved_path = Path(run_dir) / "config.yaml"
    if not saved_path.is_file():
        raise TunewiseError(f"{saved_path}: missing; is {run_dir} a tunewise run folder?")
    saved = load_config(saved_path)
    if config_path is None and not overrides:
        return saved
    requested = load_config(config_path or saved_path, overrides)
    differs = _flat_differences(saved.model_dump(mode="json"), requested.model_dump(mode="json"))
    allow = allow or []
    source = str(config_path) if config_path else "--set"
    problems = [Problem(source, None, field, "unsafe_change",
                        f"{field} cannot change when resuming: finished rungs were computed with it; allowed: "
                        f"{', '.join(SAFE_ON_RESUME)}") for field in allow if field not in SAFE_ON_RESUME]
    problems += [Problem(source, None, field, "changed_on_resume",
                         f"was {a!r} when the run started, now {b!r}; resume with the same value"
                         + (f" or pass --allow-changes {field}" if field in SAFE_ON_RESUME else ""))
                 for field, (a, b) in differs.items() if field not in allow]
    if problems:
        raise ConfigError(problems, title="the config differs from the run being resumed")
    if differs:
        n = len(list(Path(run_dir).glob("config.before-resume-*.yaml"))) + 1
        write_text(Path(run_dir) / f"config.before-resume-{n}.yaml", saved_path.read_text(encoding="utf-8"))
        write_text(saved_path, config_to_yaml(requested))
    return requested


def _flat_differences(a: dict, b: dict, prefix: str = "") -> dict[str, tuple]:
    """{dotted field: (a's value, b's value)} for every leaf that differs."""
    out = {}
    for key in sorted(a.keys() | b.keys()):
        x, y = a.get(key), b.get(key)
        if isinstance(x, dict) and isinstance(y, dict):
            out |= _flat_differences(x, y, f"{prefix}{key}.")
        elif x != y:
            out[f"{prefix}{key}"] = (x, y)
    return out


def _prepare(config: Config):
    """Seed, then check and split the data (problems surface here, before any weights load): (the prepared data,
    the test set every rung is scored on, the other tasks of a multi-task run, the forgetting check's questions when
    fine-tuned rungs will answer them). Problems in any file of any task are reported together."""
    from tunewise.data import prepare_data

    seed_everything(config.seed)
    count_tokens = token_counter(config.model.name)
    methods = planned_methods(config)
    problems, prepared, others = [], None, []
    try:
        prepared = prepare_data(config.data, config.task, count_tokens)
    except DataError as err:
        problems += err.problems
    if multi_task(config):
        others, task_problems = prepare_tasks(config.multitask, count_tokens, config.eval.max_test_examples)
        problems += task_problems
    benchmark = None
    if methods:  # the forgetting check runs with fine-tuned rungs
        try:
            benchmark = forgetting_items(config)
        except DataError as err:
            problems += err.problems
    if problems:
        raise DataError(problems)
    if "dapt_lora" in methods and config.dapt.text is not None:
        load_domain_text(config.dapt.text)  # every problem in the domain text, before any training
    if ("rag" in config.rungs or "rag_lora" in methods) and config.rag.documents is not None:
        load_documents(config.rag.documents)  # every problem in the knowledge source, before any model loads
    if "template" in config.rungs:
        split = prepared.split
        check_template(config.prompt.template, config.source, split.train + split.val + split.test, prepared.task)
    test = prepared.split.test
    test = test[: config.eval.max_test_examples] if config.eval.max_test_examples else test
    return prepared, test, others, benchmark


def multitask_data_summary(task, split, test, others: list[TaskData], log) -> dict:
    """data.json's record of the other tasks, with any test input one task shares with another's training data."""
    everything = [main_task_data(task, split.train, split.val, test, 1.0, 0), *others]
    leaked = cross_task_leakage(everything)
    for where, n in leaked.items():
        log(f"[tunewise] warning: {n} {where} (the same input, so not held out from the multitask and composition rungs)")
    return {"tasks": [t.summary for t in others], "cross_task_leakage": leaked}


def paired_tests(results, metric: str, config: Config) -> dict | None:
    """Every scored rung against the best one on the same test items: paired bootstrap and McNemar."""
    scored = [r for r in results if not r.skipped and r.item_scores is not None]
    if len(scored) < 2:
        return None
    best = max(scored, key=lambda r: r.metrics[metric]["value"])
    ev = config.eval
    rows = [{"rung": r.name, **compare(best.item_scores, r.item_scores, ev.bootstrap_samples, ev.confidence,
                                       ev.seed).to_dict()} for r in scored if r is not best]
    return {"best": best.name, "metric": metric, "alpha": ev.alpha, "rows": rows}


def _slice_fields(config: Config) -> list[str]:
    """The error analysis's metadata slices: eval.slice_fields, and the group field when it is not among them."""
    fields = list(config.eval.slice_fields)
    group = config.eval.group_field
    return fields + [group] if group and group not in fields else fields


def forgetting(results, benchmark, config: Config, log) -> dict | None:
    """The forgetting section: the base model scored on the benchmark next to every fine-tuned rung's scores."""
    tuned = {r.name: r.benchmark for r in results if r.benchmark is not None}
    if not tuned:
        return None
    model, tokenizer = load_causal_lm(config.model.name, dtype=eval_dtype(config))
    base = score_model(model, tokenizer, benchmark, config, "base model")
    del model
    section = forgetting_section(base, tuned, config)
    for row in section["rungs"]:
        if row["flag"] == "drop":
            log(f"[tunewise] warning: {row['rung']} forgets: {section['metric']} on the forgetting check "
                f"{row['change']['difference'] * 100:+.1f} points against the base (p = {row['p_value']:.3g})")
    return section


def _single_task_dir(run_dir: Path, task_name: str) -> Path:
    """The folder of another task's single-task LoRA rung (lora[<task>])."""
    return run_dir / "tasks" / task_name / "lora"


def _single_task_adapters(run_dir: Path, others: list[TaskData], results) -> list[SingleTaskAdapter]:
    """Every task's single-task LoRA (this run's `lora`, then lora[<task>] per other task) for the composition rung;
    `results`: the rungs run so far, which say whether each was skipped."""
    skipped = {r.name: r.skipped for r in results}
    adapters = [SingleTaskAdapter(MAIN_TASK, "lora", run_dir / "rungs" / "lora" / "adapter", skipped.get("lora"))]
    for t in others:
        rung = f"lora[{t.name}]"
        adapters.append(SingleTaskAdapter(t.name, rung, _single_task_dir(run_dir, t.name) / "adapter",
                                          skipped.get(rung)))
    return adapters


def _multitask_report(task, split, others, results, task_results, config: Config) -> dict:
    """report.json's multi-task section: per task, one LoRA per task next to the mixture's LoRA (with its mixture)
    and the composed adapter (with its weights), each where planned."""
    by_name = {r.name: r for r in results if not r.skipped}
    planned = planned_methods(config)
    tasks = [main_task_data(task, split.train, split.val, [], config.multitask.weight, config.data.max_length), *others]
    shares = None
    if "multitask" in planned:
        sizes, weights = [len(t.train) for t in tasks], [t.weight for t in tasks]
        shares = mixture_shares(sizes, weights, config.multitask.temperature)
    single = {MAIN_TASK: by_name["lora"].metrics if "lora" in by_name else None}
    single |= {r.task: r.metrics for r in task_results if not r.skipped}

    def per_task(name: str) -> dict:
        rung = by_name.get(name)
        return {MAIN_TASK: rung.metrics, **(rung.per_task or {})} if rung else {}
    section = multitask_summary(tasks, shares, single, per_task("multitask"), per_task("composition"))
    cc = config.composition
    section["composition"] = {"combination_type": cc.combination_type,
                              "weights": {t.name: cc.weight(t.name) for t in tasks}} if "composition" in planned else None
    section["single_task_rungs"] = [summarise(r) for r in task_results]
    return section


def estimate(config: Config, log=print) -> list[dict]:
    """Dry run: check the data, then time a short probe of each rung and extrapolate; writes no run folder.

    Each row: rung, fit_s, predict_s (estimated seconds for the whole run's work on this machine).
    """
    import tempfile

    prepared, test, others, _ = _prepare(config)
    split = prepared.split
    log(f"[tunewise] dry run: {len(split.train)} train / {len(split.val)} val / {len(test)} test examples")
    rows = []
    plan = [(rung, split.train, split.val, test) for rung in build_plan(config, prepared.task, split.train, others)]
    singles = [(rung, t.train, t.val, t.test) for t, rung in single_task_rungs(config, others)]
    # In run()'s order: the other tasks' LoRAs train just before the composition rung that combines them, else last.
    at = next((i for i, (rung, *_) in enumerate(plan) if isinstance(rung, CompositionRung)), len(plan))
    planned = plan[:at] + singles + plan[at:]
    with tempfile.TemporaryDirectory(prefix="tunewise-dry-run-") as scratch:
        for rung, train, val, rung_test in planned:
            if getattr(rung, "skip_reason", None):
                rows.append({"rung": rung.name, "fit_s": 0.0, "predict_s": 0.0, "skipped": rung.skip_reason})
                continue
            seed_everything(config.seed)
            rows.append(estimate_rung(rung, train, val, rung_test, Path(scratch) / rung.name))
    return rows


def evaluate(target: str | Path, settings=None) -> dict:
    """`tunewise eval`: a benchmark and/or perplexity on a model, adapter or run, or a run re-scored from its saved
    predictions (evaluate.standalone says which targets and what each gives)."""
    from tunewise.evaluate.standalone import EvalSettings
    from tunewise.evaluate.standalone import evaluate as evaluate_target

    return evaluate_target(target, settings or EvalSettings())


def load_report(run_dir: Path) -> dict:
    """report.json of a finished run."""
    path = Path(run_dir) / "report.json"
    if not path.is_file():
        raise TunewiseError(f"{path}: no report.json here; is {run_dir} a finished tunewise run folder?")
    return json.loads(path.read_text(encoding="utf-8"))


__all__ = ["LadderResult", "check", "estimate", "evaluate", "load_report", "run", "terminal_table"]
