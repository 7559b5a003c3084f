"""`tunewise tune`: an Optuna search (TPE, median pruning) over one LoRA-family method's settings.

Each trial trains the method exactly as its ladder rung does (TunedRung, the one training loop) on the run's own
split and is scored by its validation loss; the test split is never read, so the ladder's final comparison stays
clean. The study lives in SQLite (rerun to continue it), its trials in the run registry, the best settings in a
YAML file that `tunewise run` takes.
"""
from __future__ import annotations

import gc
import hashlib
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import optuna
from optuna.trial import FrozenTrial, TrialState

from tunewise.config import (
    Config,
    LoraConfig,
    SearchSpec,
    config_from_dict,
    config_to_yaml,
    flat_differences,
    resolve_paths,
)
from tunewise.data import PreparedData, prepare_data
from tunewise.distributed import world_size
from tunewise.errors import ConfigError, Problem, TrainingError, TunewiseError
from tunewise.io import write_json, write_text
from tunewise.ladder.plan import method_rungs, planned_methods
from tunewise.ladder.run import seed_everything
from tunewise.methods.tuned import TunedRung
from tunewise.prompting.templates import token_counter
from tunewise.registry import RunRecorder, data_hash
from tunewise.sections import TrainConfig
from tunewise.task import Task
from tunewise.train.loop import TrainingInterrupted

OBJECTIVE = "val_loss"
STUDY_DB = "study.db"  # the default storage, inside the study folder
STUDY_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")  # it names a folder too
SECTIONS = {"train": TrainConfig, "lora": LoraConfig}
# Settings a continued study may change: they change how training logs and saves, or when trials are pruned,
# never what a trial's training computes.
FREE_ON_CONTINUE = ("train.log_every", "train.checkpoint_every", "tune.prune_startup_trials",
                    "tune.prune_warmup_steps")


class TuneError(TunewiseError):
    """A study could not start, continue or give a result."""


@dataclass
class TuneResult:
    """A finished `tunewise tune` call: where the study is and what it found."""

    study_name: str
    storage: str  # Optuna storage URL (sqlite:///...); a rerun with it continues the study
    study_dir: Path  # <output_dir>/tune-<study>/: config.yaml, data.json, trials/<n>/train_log.jsonl, best*.yaml
    best_path: Path  # the base config with the best values: `tunewise run` takes it
    best_trial: int
    best_value: float  # the best trial's validation loss
    best_params: dict[str, float | int]  # dotted field -> value, e.g. {"train.lr": 3e-4, "lora.r": 16}
    counts: dict[str, int]  # over the whole study: complete, pruned, failed
    new_trials: int  # trials run by this call


def tune(config: Config, trials: int, storage: str | None = None, study_name: str | None = None,
         log=print) -> TuneResult:
    """Run `trials` more trials of the study `study_name` in `storage` (a new study, or the one there continued),
    record them in the run registry and write the best values into <output_dir>/tune-<study>/best.yaml (a new name
    when that exists). Defaults: the name `<method>-<config hash>`, the storage a SQLite file in the study folder."""
    _check_request(config, trials, study_name)
    config = absolute_paths(config)
    study_name = study_name or default_study_name(config)
    prepared = prepare_data(config.data, config.task, token_counter(config.model.name))  # before any weights load
    if not prepared.split.val:
        raise TuneError("tune scores trials on the validation split, and it is empty; set data.split.val or give "
                        "data.val")
    study_dir = Path(config.output_dir) / f"tune-{study_name}"
    study_dir.mkdir(parents=True, exist_ok=True)
    storage = storage or f"sqlite:///{(study_dir / STUDY_DB).resolve()}"
    study = _open_study(config, study_name, storage, prepared)
    write_text(study_dir / "config.yaml", config_to_yaml(config))
    write_json(study_dir / "data.json", prepared.summary())
    recorder = RunRecorder(log)
    recorder.started(study_dir)
    report = partial(study_report, config, prepared.task, study)
    recorder.progress(report())
    try:
        best_path = _search(config, study, prepared, study_dir, trials, storage, recorder, log)
    except (TrainingInterrupted, KeyboardInterrupt) as err:
        recorder.ended("interrupted", report(), err)
        why = str(err).split(";")[0] or "Ctrl-C"  # not the loop's "state saved in": a trial is never resumed
        raise TrainingInterrupted(f"tune stopped ({why}); the trial it was in is marked failed, finished trials "
                                  "stay in the study: run the same command again to continue it", study_dir) from None
    except BaseException as err:
        recorder.ended("failed", report(), err)
        raise
    recorder.ended("finished", report())
    best = best_trial(study)
    return TuneResult(study_name, storage, study_dir, best_path, best.number, best.value, dict(best.params),
                      trial_counts(study), trials)


def _search(config: Config, study: optuna.Study, prepared: PreparedData, study_dir: Path, trials: int, storage: str,
            recorder: RunRecorder, log) -> Path:
    """Run the trials, then write the best config; the path written."""
    searched = ", ".join(f"{name} in {spec!r}" for name, spec in config.tune.space.searched().items())
    split = prepared.split
    done = sum(trial_counts(study).values())
    log(f"[tunewise] study {study.study_name}: {done} trials so far ({_shown(storage)}); {trials} more "
        f"of {config.tune.method}, searching {searched}; {len(split.train)} train / {len(split.val)} val examples "
        "(the test split is not used)")

    def after_trial(study: optuna.Study, trial: FrozenTrial) -> None:
        log(f"[tunewise] {trial_line(trial, best_trial(study))}")
        recorder.progress(study_report(config, prepared.task, study))

    study.optimize(_objective(config, prepared, study_dir), n_trials=trials, catch=(_TrialFailed,),
                   callbacks=[after_trial])
    if best_trial(study) is None:
        raise TuneError(f"study {study.study_name}: no trial finished ({_counts_text(study)}), so there is no best "
                        "config; the failed trials' errors are above (a diverging loss: lower the lr range)")
    path = write_best(config, study, study_dir, storage)
    log(f"[tunewise] best settings: {path}")
    return path


# ---------------------------------------------------------------------- the study


def default_study_name(config: Config) -> str:
    """<method>-<first 6 hex digits of the config's sha256>: the same config continues the same study."""
    return f"{config.tune.method}-{hashlib.sha256(config_to_yaml(config).encode()).hexdigest()[:6]}"


def absolute_paths(config: Config) -> Config:
    """`config` with its input paths absolute: best.yaml is read from the study folder, and the same config run from
    another folder must name the same study. (load_config makes them absolute already; a config built in Python
    may still hold paths relative to the working folder.)"""
    return config_from_dict(resolve_paths(config.model_dump(mode="json"), Path.cwd()), config.source)


def _check_request(config: Config, trials: int, study_name: str | None) -> None:
    if world_size() > 1:
        raise TuneError("tunewise tune runs in one process; start it without torchrun or accelerate launch")
    if trials < 1:
        raise TuneError(f"--trials {trials}: expected 1 or more")
    if study_name is not None and not STUDY_NAME.match(study_name):
        raise TuneError(f"--study {study_name!r}: use letters, digits, '_', '-' or '.' (it names a folder)")
    if not config.tune.space.searched():
        raise ConfigError([Problem(config.source, None, "tune.space", "empty_space",
                                   "nothing to search: give at least one parameter, e.g. "
                                   "tune: {space: {train: {lr: {low: 1e-5, high: 1e-3, log: true}}}}")])


def _open_study(config: Config, name: str, storage: str, prepared: PreparedData) -> optuna.Study:
    """The study `name` in `storage`, made or continued; a continued one must have the same config and data."""
    # tunewise logs one line per trial itself, failed ones with their error (Optuna would add a traceback).
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    tc = config.tune
    study = optuna.create_study(
        storage=storage, study_name=name, direction="minimize", load_if_exists=True,
        pruner=optuna.pruners.MedianPruner(n_startup_trials=tc.prune_startup_trials,
                                           n_warmup_steps=tc.prune_warmup_steps),
    )
    now = {"config": config.model_dump(mode="json"), "data_hash": data_hash(prepared.summary())}
    if "config" not in study.user_attrs:
        for key, value in now.items():
            study.set_user_attr(key, value)
    else:
        _check_same_study(study, now, config.source)
    # Seeded from train.seed, shifted by the trials already there: a continued study must not redraw the values
    # its first session drew (TPE samples at random for its first trials).
    study.sampler = optuna.samplers.TPESampler(seed=config.train.seed + len(study.trials))
    return study


def _check_same_study(study: optuna.Study, now: dict, source: str) -> None:
    """Refuse to continue a study under another config or data: its trials would not be comparable."""
    if study.user_attrs.get("data_hash") != now["data_hash"]:
        raise TuneError(f"study {study.study_name}: the data files changed since it started; its trials would not "
                        "compare with new ones: give another --study name")
    differs = [f for f in flat_differences(study.user_attrs["config"], now["config"]) if f not in FREE_ON_CONTINUE]
    if differs:
        raise ConfigError([Problem(source, None, f, "changed_in_study",
                                   f"differs from the config study {study.study_name} started with; continue it "
                                   "with the same value, or give another --study name") for f in differs],
                          title="the config differs from the study being continued")


# ---------------------------------------------------------------------- one trial


class _TrialFailed(Exception):
    """A trial's training failed (diverged, say): Optuna marks it failed and the study goes on."""


def _objective(config: Config, prepared: PreparedData, study_dir: Path) -> Callable[[optuna.Trial], float]:
    """Optuna's objective: one training with the trial's values; its best validation loss."""
    space = config.tune.space.searched()

    def objective(trial: optuna.Trial) -> float:
        values = {name: suggest(trial, name, spec) for name, spec in space.items()}
        # A trial is never resumed, so it saves no resumable states on the way (SIGTERM / Ctrl-C still stop it).
        trial_config = with_values(config, {**values, "train.checkpoint_every": None})
        (rung,) = method_rungs(config.tune.method, trial_config, prepared.task)  # LoRA-family names: one rung
        workdir = study_dir / "trials" / str(trial.number)
        seed_everything(config.seed)  # as the ladder seeds every rung
        started = time.perf_counter()
        try:
            result = rung.train_model(prepared.split.train, prepared.split.val, workdir, partial(report_or_prune, trial))
        except TrainingInterrupted:
            raise
        except TrainingError as err:
            trial.set_user_attr("error", str(err).splitlines()[0])
            raise _TrialFailed(str(err)) from None
        finally:
            _note_cost(trial, rung, time.perf_counter() - started)
            shutil.rmtree(workdir / "checkpoints", ignore_errors=True)  # the trial's weights: train_log.jsonl stays
            rung.model = None
            gc.collect()
        trial.set_user_attr("best_step", result.best_step)
        return result.best_val_loss

    return objective


def suggest(trial: optuna.Trial, name: str, spec: SearchSpec) -> float | int:
    """The trial's value of the dotted field `name`: a choice, or from the range (whole numbers for int fields)."""
    if spec.choices is not None:
        return trial.suggest_categorical(name, spec.choices)
    section, field = name.split(".")
    if SECTIONS[section].model_fields[field].annotation is int:
        return trial.suggest_int(name, int(spec.low), int(spec.high), log=spec.log)
    return trial.suggest_float(name, spec.low, spec.high, log=spec.log)


def report_or_prune(trial: optuna.Trial, step: int, val_loss: float) -> None:
    """The training loop's on_eval: report the validation loss at `step`; end the trial when the pruner says so."""
    trial.report(val_loss, step)
    if trial.should_prune():
        raise optuna.TrialPruned(f"val_loss {val_loss:.4f} at step {step}: worse than the median of earlier trials")


def with_values(config: Config, values: dict[str, object]) -> Config:
    """`config` with each dotted field ('train.lr') set to its value, validated as if written in the YAML."""
    raw = config.model_dump(mode="json")
    for name, value in values.items():
        section, field = name.split(".")
        raw[section][field] = value
    return config_from_dict(raw, config.source)


def _note_cost(trial: optuna.Trial, rung: TunedRung, wall_s: float) -> None:
    trial.set_user_attr("fit_wall_s", round(wall_s, 3))
    if rung.model is not None:
        trainable, total = rung.parameters()
        trial.set_user_attr("trainable_params", trainable)
        trial.set_user_attr("total_params", total)


# ---------------------------------------------------------------------- results


def best_trial(study: optuna.Study) -> FrozenTrial | None:
    """The complete trial with the lowest validation loss, or None before any trial completed."""
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    return min(complete, key=lambda t: (t.value, t.number)) if complete else None


def trial_counts(study: optuna.Study) -> dict[str, int]:
    states = [t.state for t in study.get_trials(deepcopy=False)]
    return {"complete": states.count(TrialState.COMPLETE), "pruned": states.count(TrialState.PRUNED),
            "failed": states.count(TrialState.FAIL)}


def _counts_text(study: optuna.Study) -> str:
    return ", ".join(f"{n} {state}" for state, n in trial_counts(study).items())


def _values_text(params: dict) -> str:
    return ", ".join(f"{name}={value:g}" for name, value in params.items())


def trial_line(trial: FrozenTrial, best: FrozenTrial | None) -> str:
    """One log line: the trial's values and how it ended."""
    if trial.state == TrialState.COMPLETE:
        ended = f"val_loss {trial.value:.4f}"
    elif trial.state == TrialState.PRUNED:
        step = max(trial.intermediate_values, default=None)
        ended = f"pruned at step {step} (val_loss {trial.intermediate_values[step]:.4f})" if step is not None \
            else "pruned"
    else:
        ended = f"failed: {trial.user_attrs.get('error', 'see the error above')}"
    best_text = f"; best so far: trial {best.number}, val_loss {best.value:.4f}" if best is not None else ""
    return f"trial {trial.number}: {_values_text(trial.params)} -> {ended}{best_text}"


def study_report(config: Config, task: Task, study: optuna.Study) -> dict:
    """The study as the run registry records a run: its trials as rungs (with the values each tried), the best
    trial as the recommended one, the validation loss as the metric."""
    best = best_trial(study)
    return {
        "config": config.model_dump(mode="json"),
        "task": {"type": task.type, "metric": OBJECTIVE},
        "primary_metric": OBJECTIVE,
        "rungs": [_trial_row(t) for t in study.get_trials(deepcopy=False) if t.state.is_finished()],
        "recommendation": {"rung": f"trial-{best.number}" if best is not None else None},
    }


def _trial_row(trial: FrozenTrial) -> dict:
    kind = {TrialState.COMPLETE: "trial", TrialState.PRUNED: "pruned trial"}.get(trial.state, "failed trial")
    value = trial.value if trial.state == TrialState.COMPLETE else None
    if value is None and trial.intermediate_values:  # a pruned trial: its last reported loss
        value = trial.intermediate_values[max(trial.intermediate_values)]
    skipped = None
    if trial.state == TrialState.PRUNED:
        skipped = f"pruned at step {max(trial.intermediate_values, default=0)}"
    elif trial.state != TrialState.COMPLETE:
        skipped = trial.user_attrs.get("error", "failed")
    cost = {k: trial.user_attrs[k] for k in ("fit_wall_s", "trainable_params", "total_params") if k in trial.user_attrs}
    return {"name": f"trial-{trial.number}", "kind": kind, "skipped": skipped,
            "metrics": {OBJECTIVE: {"value": value}} if value is not None else {}, "cost": cost,
            "params": dict(trial.params)}


def write_best(config: Config, study: optuna.Study, study_dir: Path, storage: str) -> Path:
    """The config with the best trial's values, as best.yaml in the study folder (best-2.yaml, ... when taken),
    under a comment header saying where the values come from."""
    best = best_trial(study)
    path, n = study_dir / "best.yaml", 2
    while path.exists():
        path, n = study_dir / f"best-{n}.yaml", n + 1
    method = config.tune.method
    trials = f"{len(study.trials)} trials ({_counts_text(study)})"
    header = [
        f"# tunewise tune: the best settings found by study {study.study_name} ({_shown(storage)})",
        f"# {trials}; best: trial {best.number}, validation loss {best.value:.4f}",
        f"# chosen for the {method} method: {_values_text(best.params)}",
        "# every other setting is the study's config. The test split was not used to choose them:",
        f"# `tunewise run {path}` scores them next to the other rungs.",
    ]
    if method not in planned_methods(config):
        header.append(f"# note: `methods` does not list {method}, the method tuned; add it to train these values")
    write_text(path, "\n".join(header) + "\n" + config_to_yaml(with_values(config, best.params)))
    return path


def _shown(storage: str) -> str:
    """The storage URL without its password, for logs and files."""
    from sqlalchemy.engine import make_url  # optuna's own dependency
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(storage).render_as_string(hide_password=True)
    except ArgumentError:  # not a database URL: show only its scheme
        return storage.split("://", 1)[0] + "://..."
