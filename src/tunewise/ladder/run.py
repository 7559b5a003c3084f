"""The run: check and split the data, run every rung of the plan on the same test set (fit, predict, score, cost),
then write the report. Read top to bottom: `run` -> `_run_ladder` -> `run_rung` for each rung -> the report.

The run registry records the run as running once its folder exists, then finished, failed or interrupted; trackers
(`--log`) mirror it as each rung ends. Ctrl-C (or SIGTERM while training) ends the run with RunInterrupted, after
a partial report of the finished rungs.
"""
from __future__ import annotations

import gc
import random
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from tunewise.config import Config, config_to_yaml
from tunewise.data import PreparedData, prepare_data
from tunewise.data.text import load_documents, load_domain_text
from tunewise.distributed import barrier, is_main, setup, share, world_size
from tunewise.errors import ConfigError, DataError, Problem, RunInterrupted
from tunewise.evaluate.candidates import (
    candidates_summary,
    restrict_to_candidates,
    with_candidates,
)
from tunewise.evaluate.forgetting import (
    forgetting_items,
    forgetting_section,
    score_model,
)
from tunewise.evaluate.multiple_choice import ChoiceItem
from tunewise.evaluate.predict import decoding
from tunewise.io import write_json, write_text
from tunewise.ladder.cost import bytes_on_disk, measure, prediction_cost
from tunewise.ladder.folder import check_same_data, new_run_dir
from tunewise.ladder.plan import (
    PlannedRung,
    build_plan,
    multi_task,
    one_process_only,
    planned_methods,
)
from tunewise.ladder.recommend import recommend
from tunewise.ladder.result import (
    RungResult,
    load_result,
    save_result,
    write_predictions,
)
from tunewise.ladder.rung import Rung
from tunewise.ladder.score import (
    against_sft,
    class_report,
    judge_scores,
    paired_tests,
    per_item,
    score,
)
from tunewise.methods.composition import SingleTaskAdapter
from tunewise.methods.multitask import (
    TaskData,
    cross_task_leakage,
    main_task_data,
    mixture_shares,
    multitask_summary,
    prepare_tasks,
)
from tunewise.methods.reward import reward_win_rates
from tunewise.models.embed import TextEncoder
from tunewise.models.load import eval_dtype, load_causal_lm
from tunewise.prompting.templates import token_counter, user_text
from tunewise.prompting.user_template import check_template
from tunewise.records import Example
from tunewise.registry import RunRecorder
from tunewise.report.build import build_report
from tunewise.report.files import write_report
from tunewise.sections import MAIN_TASK
from tunewise.task import Task
from tunewise.tracking import Tracking
from tunewise.train.loop import TrainingInterrupted

PROBE_PREDICTIONS = 16  # test examples a dry run predicts per rung


@dataclass
class LadderResult:
    """A finished run: where it is and what it found."""

    run_dir: Path
    report: dict

    @property
    def recommendation(self) -> str:
        return self.report["recommendation"]["rung"]


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


# ---------------------------------------------------------------- the run


def run(config: Config, log=print, resume: Path | None = None, trackers: list[str] | None = None) -> LadderResult:
    """Run the whole ladder: check data, split, run every rung on the same test set, write the report.

    With `resume` (a run folder whose config is `config`, see ladder.folder.resume_config), rungs that finished
    there are kept as they are, and a rung that was training continues from its newest saved state. `trackers`
    (`--log`: tensorboard, mlflow) mirror the run into those tools as each rung ends; one whose package is not
    installed is refused here, before any compute.
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


class _Ladder:
    """One run in progress: its folder, data and the results so far (what the report and an interruption need)."""

    def __init__(self, config: Config, log, resume: Path | None, tracking: Tracking, prepared: PreparedData,
                 test: list[Example], others: list[TaskData], benchmark: list[ChoiceItem] | None):
        self.config, self.log, self.resume, self.tracking = config, log, resume, tracking
        self.task, self.split, self.test, self.others, self.benchmark = \
            prepared.task, prepared.split, test, others, benchmark
        self.data_summary = prepared.summary()
        self.data_summary["scored_test_examples"] = len(test)
        if self.task.candidates is not None:
            self.data_summary["candidate_labels"] = candidates_summary(self.task, test, config.model.encoder)
        if others:
            self.data_summary["multitask"] = multitask_data_summary(self.task, self.split, test, others, log)
        self.run_dir: Path | None = None
        self.stage = "planning"  # what the run is doing: an interruption names it
        self.results: list[RungResult] = []  # this run's task
        self.task_results: list[RungResult] = []  # multi-task runs: one LoRA per other task, scored on that task alone

    def open_folder(self) -> None:
        """A new run folder with config.yaml and data.json, or the resumed one (checked to hold the same data)."""
        if self.resume is None:
            run_dir = share(new_run_dir(self.config) if is_main() else None)  # one folder, named by the main process
            if is_main():
                run_dir.mkdir(parents=True)
            barrier()
            write_text(run_dir / "config.yaml", config_to_yaml(self.config))
            write_json(run_dir / "data.json", self.data_summary)
        else:
            run_dir = Path(self.resume)
            check_same_data(run_dir, self.data_summary)
        self.run_dir = run_dir

    def finished(self, planned: PlannedRung) -> RungResult:
        """The rung's result: kept from before when resuming and it finished, else run (and saved) now."""
        rung, other = planned.rung, planned.other
        self.stage = f"rung {rung.name}"
        rung_dir = self.run_dir / planned.folder
        kept = load_result(rung_dir, self.benchmark) if self.resume else None
        if kept is not None:
            self.log(f"[tunewise] {rung.name}: finished before the run stopped; kept")
            result = kept
        else:
            seed_everything(self.config.seed)
            rung.resume = self.resume is not None
            if other is None:
                result = run_rung(rung, self.split.train, self.split.val, self.test, self.task, self.config, rung_dir,
                                  self.benchmark, self.log)
            else:
                result = run_rung(rung, other.train, other.val, other.test, other.task, self.config, rung_dir,
                                  None, self.log)
            save_result(result, rung_dir)
        self.tracking.rung(result.as_report(), rung_dir)  # a resumed run is a new tracker run: it gets every rung
        if kept is None:
            gc.collect()
            if not result.skipped:
                metric = (other.task if other else self.task).metric
                m = result.metrics[metric]
                self.log(f"[tunewise] {rung.name}: {metric} {m['value']:.3f} [{m['ci_low']:.3f}, {m['ci_high']:.3f}]")
        if other is None:
            self.results.append(result)
        else:
            result.task = other.name
            self.task_results.append(result)
        return result

    def single_task_adapters(self) -> list[SingleTaskAdapter]:
        """Every task's single-task LoRA (this run's `lora`, then lora[<task>] per other task) as the rungs so far
        left them, for the composition rung."""
        skipped = {r.name: r.skipped for r in self.results + self.task_results}
        adapters = [SingleTaskAdapter(MAIN_TASK, "lora", self.run_dir / "rungs" / "lora" / "adapter",
                                      skipped.get("lora"))]
        for t in self.others:
            rung = f"lora[{t.name}]"
            adapters.append(SingleTaskAdapter(t.name, rung, self.run_dir / "tasks" / t.name / "lora" / "adapter",
                                              skipped.get(rung)))
        return adapters

    def sft_adapter(self) -> Path | None:
        """The sft rung's LoRA once it has run (None when it was skipped or has not run)."""
        return self._finished_adapter("sft")

    def reward_model(self) -> Path | None:
        """The reward_model rung's saved files once it has run (None when it was skipped or has not run)."""
        return self._finished_adapter("reward_model")

    def _finished_adapter(self, name: str) -> Path | None:
        """rungs/<name>/adapter of this run's rung `name` once it has run unskipped, else None."""
        done = any(r.name == name and not r.skipped for r in self.results)
        return self.run_dir / "rungs" / name / "adapter" if done else None

    def reward_win_rates(self) -> None:
        """Every preference-trained rung's answers against sft's, judged by the run's reward model (once per rung)."""
        finished = {r.name: r for r in self.results if not r.skipped}
        if "reward_model" not in finished or "sft" not in finished:
            return
        rungs = [r for r in self.results if r.alignment and r.name not in ("sft", "reward_model")
                 and "reward_win_rate_vs_sft" not in r.alignment and r.predictions]
        if not rungs:
            return
        self.log("[tunewise] reward model: scoring every alignment rung's answers against sft's")
        found = reward_win_rates(self.run_dir / "rungs" / "reward_model" / "adapter", self.config, self.task,
                                 self.test, [p.output for p in finished["sft"].predictions],
                                 {r.name: [p.output for p in r.predictions] for r in rungs})
        for r in rungs:
            r.alignment["reward_win_rate_vs_sft"] = found[r.name]

    def report(self, partial: dict | None = None) -> dict:
        """report.json of the rungs finished so far. A `partial` one (the run was interrupted) leaves out the
        forgetting check, which would load and score the base model again."""
        config, task, results = self.config, self.task, self.results
        significance = paired_tests(results, task.metric, config)
        against_sft(results, task.metric, config)
        if partial is None:
            self.reward_win_rates()
        rec = recommend([r for r in results if not r.skipped], task.metric, significance, config.eval.alpha,
                        config.decision)
        return build_report(
            self.run_dir, config, task, self.data_summary, results, rec, significance, self.test, self.split.train,
            decoding=None if task.type == "classification" else decoding(config),
            forgetting=None if partial else forgetting(results, self.benchmark, config, self.log),
            multitask=multitask_section(task, self.split, self.others, results, self.task_results, config)
            if multi_task(config) else None,
            partial=partial, split=self.split.as_dict(),
        )


def _run_ladder(config: Config, log, resume: Path | None, recorder: RunRecorder, tracking: Tracking) -> LadderResult:
    """`run` itself; `recorder` and `tracking` are told the run folder once it exists.

    Interrupted once the folder exists (Ctrl-C anywhere, or SIGTERM while training), it writes the report of the
    rungs finished so far, marked partial, and raises RunInterrupted; the resumed run overwrites it with the full one.
    """
    setup_processes(config)
    if not is_main():
        log = lambda message: None
    ladder = _Ladder(config, log, resume, tracking, *prepare(config))
    ladder.open_folder()
    run_dir, split = ladder.run_dir, ladder.split
    planned_names: list[str] = []
    try:
        log(f"[tunewise] run folder: {run_dir}" + (" (resumed)" if resume else ""))
        recorder.started(run_dir)
        tracking.started(config, run_dir, ladder.data_summary, resumed=resume is not None)
        log(f"[tunewise] {len(split.train)} train / {len(split.val)} val / {len(ladder.test)} test examples; "
            f"task {ladder.task.type}")
        plan = build_plan(config, ladder.task, split.train, ladder.others, ladder.single_task_adapters,
                          ladder.sft_adapter, ladder.reward_model)
        planned_names = [p.rung.name for p in plan]
        while plan:
            # Taken off the plan, a rung is freed once scored: its model, and after the last prompting rung the
            # shared base model, do not stay in memory while later rungs train.
            ladder.finished(plan.pop(0))
        ladder.stage = "the report"
        report = ladder.report()
        write_report(run_dir, report)
        tracking.report(run_dir, report)
    except (KeyboardInterrupt, TrainingInterrupted) as err:
        # A second Ctrl-C while the partial report is built stops that too (each file is written whole or not at
        # all); `run` then ends with a shorter line.
        training = isinstance(err, TrainingInterrupted)
        done = [r.name for r in ladder.results + ladder.task_results]
        partial = {"interrupted": ladder.stage, "signal": err.signal_name if training else "SIGINT", "finished": done,
                   "not_finished": [name for name in planned_names if name not in done],
                   "resume": f"tunewise run --resume {run_dir}"}
        if training:
            partial["training_state"] = str(err.checkpoint)
        report = ladder.report(partial) if any(not r.skipped for r in ladder.results) else None
        if report is not None:
            write_report(run_dir, report)
            tracking.report(run_dir, report)
        raise RunInterrupted(interruption_message(err, ladder.stage, run_dir, done, report is not None),
                             partial["signal"], report) from None
    return LadderResult(run_dir, report)


def run_rung(rung: Rung, train, val, test, task: Task, config: Config, rung_dir: Path,
             benchmark: list[ChoiceItem] | None = None, log: Callable[[str], None] = print) -> RungResult:
    """Fit, predict, score and cost one rung; write its metrics and predictions. A rung with a language model of
    its own (fine-tuned) also scores the forgetting check's `benchmark` questions."""
    if rung.skip_reason:
        return skipped_result(rung, rung.skip_reason, log)
    rung_dir.mkdir(parents=True, exist_ok=True)
    log(f"[tunewise] rung {rung.name}: fit")
    with measure() as fit_cost:
        info = rung.fit(train, val, rung_dir)
    log(f"[tunewise] rung {rung.name}: predict {len(test)} test examples")
    with measure() as predict_cost:
        predictions = rung.predict(test)
    predictions = restrict_to_candidates(predictions, task)  # rungs that scored every label choose as the rest do
    alignment = rung.alignment_scores(test, predictions)  # outside predict's timing: scoring, not prediction cost
    judged = judge_scores(predictions, test, task) if task.judge is not None else None  # the user's code, once
    metrics = score(predictions, test, task, config, judged)
    write_predictions(rung_dir / "predictions.jsonl", predictions, test)
    per_task = {}
    for other in rung.other_tasks:
        log(f"[tunewise] rung {rung.name}: predict {len(other.test)} {other.name} test examples")
        other_predictions = rung.predict_task(other.task, other.test)
        per_task[other.name] = score(other_predictions, other.test, other.task, config)
        write_predictions(rung_dir / "tasks" / other.name / "predictions.jsonl", other_predictions, other.test)
    trainable_params, total_params = rung.parameters()
    cost = {
        "fit_wall_s": round(fit_cost.wall_s, 3),
        "predict_wall_s": round(predict_cost.wall_s, 3),
        **prediction_cost(predict_cost, predictions, config.eval.batch_size),
        "peak_rss_bytes": max(fit_cost.peak_rss_bytes, predict_cost.peak_rss_bytes),
        "trainable_params": trainable_params,
        "total_params": total_params,
        "disk_bytes": bytes_on_disk(info.artifact_dir),
    }
    if info.training:
        cost["train_tokens_per_s"] = round(info.training.get("tokens_per_s", 0.0), 1)
    # Parameters of the model the rung started from; a rung that does not say has added all its trainables.
    base_params = rung.base_params or (total_params - trainable_params) or total_params
    if cost["disk_bytes"] and rung.kind == "fine-tuning":
        # What a whole fine-tuned copy of the base takes (in the dtype rungs predict with) over what this rung
        # stores: the reason adapters exist. Full fine-tuning is about 1.
        full_bytes = base_params * torch.finfo(eval_dtype(config)).bits // 8
        cost["storage_ratio"] = round(full_bytes / cost["disk_bytes"], 1)
    correct, item_scores = per_item(predictions, test, task, judged)
    result = RungResult(rung.name, rung.kind, rung.description, metrics, cost, info.training,
                        notes=rung.notes(), per_task=per_task or None, prompt=rung.summary,
                        retrieval=rung.retrieval, alignment=alignment,
                        correct=correct,
                        item_scores=item_scores,
                        predictions=predictions,
                        per_class=class_report(predictions, test, task),
                        artifact=_artifact_folder(info.artifact_dir, rung_dir))
    language_model = rung.language_model() if benchmark else None
    if language_model is not None:
        result.benchmark = score_model(*language_model, benchmark, config, f"rung {rung.name}")
    write_json(rung_dir / "metrics.json", {"metrics": metrics, "cost": cost} | ({"per_task": per_task} if per_task else {}))
    if info.training:
        write_json(rung_dir / "training.json", info.training)
    return result


def _artifact_folder(artifact_dir: Path | None, rung_dir: Path) -> str | None:
    """The artifact's path relative to the rung's folder ("adapter", "classifier", ...), None when it has none."""
    if artifact_dir is None:
        return None
    try:
        return str(Path(artifact_dir).relative_to(rung_dir))
    except ValueError:  # stored elsewhere (a shared index): its full path
        return str(artifact_dir)


def skipped_result(rung: Rung, reason: str, log: Callable[[str], None] = print) -> RungResult:
    """A rung that cannot run on this machine or task: shown in the report with its reason."""
    log(f"[tunewise] rung {rung.name}: skipped ({reason})")
    return RungResult(rung.name, rung.kind, rung.description, {}, {}, skipped=reason)


# ---------------------------------------------------------------- before the rungs: processes and data


def setup_processes(config: Config) -> None:
    """Join the launcher's processes when there are several; refuse rungs that cannot run in several yet."""
    if world_size() == 1:
        return
    refused = one_process_only(config)
    if refused:
        raise ConfigError([Problem("<config>", None, "rungs/methods", "single_process_only",
                                   f"{', '.join(refused)} run in one process only; drop them from this multi-process "
                                   f"run (it has {world_size()} processes) or run without a launcher")])
    setup()


def prepare(config: Config) -> tuple[PreparedData, list[Example], list[TaskData], list[ChoiceItem] | None]:
    """Seed, then check and split the data (problems surface here, before any weights load): (the prepared data,
    the test set every rung is scored on, the other tasks of a multi-task run, the forgetting check's questions when
    fine-tuned rungs will answer them). Problems in any file of any task are reported together."""
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
    # Many labels: each test example's candidate labels, embedded once here for every rung (and the dry run).
    encoder = TextEncoder(config.model.encoder, batch_size=config.eval.batch_size * 4)
    prepared.task = with_candidates(prepared.task, prepared.split.train, test, user_text, encoder,
                                    config.eval.candidate_labels)
    return prepared, test, others, benchmark


def multitask_data_summary(task, split, test, others: list[TaskData], log) -> dict:
    """data.json's record of the other tasks, with any test input one task shares with another's training data."""
    everything = [main_task_data(task, split.train, split.val, test, 1.0, 0), *others]
    leaked = cross_task_leakage(everything)
    for where, n in leaked.items():
        log(f"[tunewise] warning: {n} {where} (the same input, so not held out from the multitask and composition rungs)")
    return {"tasks": [t.summary for t in others], "cross_task_leakage": leaked}


# ---------------------------------------------------------------- after the rungs: the report's run-wide sections


def forgetting(results: list[RungResult], benchmark, config: Config, log) -> dict | None:
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


def multitask_section(task, split, others, results, task_results, config: Config) -> dict:
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
    section["single_task_rungs"] = [r.as_report() for r in task_results]
    return section


# ---------------------------------------------------------------- interruptions


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


# ---------------------------------------------------------------- the dry run


def estimate(config: Config, log=print) -> list[dict]:
    """Dry run: check the data, then time a short probe of each rung and extrapolate; writes no run folder.

    Each row: rung, fit_s, predict_s (estimated seconds for the whole run's work on this machine).
    """
    prepared, test, others, _ = prepare(config)
    split = prepared.split
    log(f"[tunewise] dry run: {len(split.train)} train / {len(split.val)} val / {len(test)} test examples")
    rows = []
    with tempfile.TemporaryDirectory(prefix="tunewise-dry-run-") as scratch:
        for planned in build_plan(config, prepared.task, split.train, others):
            rung, other = planned.rung, planned.other
            if rung.skip_reason:
                rows.append({"rung": rung.name, "fit_s": 0.0, "predict_s": 0.0, "skipped": rung.skip_reason})
                continue
            seed_everything(config.seed)
            train, val, rung_test = (split.train, split.val, test) if other is None else (other.train, other.val,
                                                                                         other.test)
            rows.append(estimate_rung(rung, train, val, rung_test, Path(scratch) / rung.name, log))
    return rows


def estimate_rung(rung: Rung, train, val, test, workdir: Path, log: Callable[[str], None] = print) -> dict:
    """Estimated seconds to fit and predict a rung, from a short timed probe of each (the dry run)."""
    log(f"[tunewise] rung {rung.name}: timing a probe")
    fit_s = rung.estimate_fit(train, val, workdir)
    sample = test[:PROBE_PREDICTIONS]
    started = time.perf_counter()
    rung.predict(sample)
    predict_s = (time.perf_counter() - started) * len(test) / max(len(sample), 1)
    return {"rung": rung.name, "fit_s": fit_s, "predict_s": predict_s}
