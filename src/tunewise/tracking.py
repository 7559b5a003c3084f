"""Experiment tracking, opt-in: `tunewise run --log tensorboard` / `--log mlflow` mirror a run into those tools.

Each tracker gets the params when the run folder exists (the resolved config as dotted keys, the run id, the data
hash), each rung as soon as it finishes (its train/eval curve as the report keeps it, its final
metrics with CI bounds, its costs) and the report at the end. The training loop knows nothing of this: it stays
free of callbacks (STYLE.md rule 1), so a rung's curve appears when the rung ends, not step by step while it trains.
"""
from __future__ import annotations

import importlib.util
import json
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from tunewise.config import Config
from tunewise.distributed import is_main
from tunewise.errors import TunewiseError
from tunewise.registry import data_hash
from tunewise.report.html import training_curve

EXTRA = "tracking"  # pip install 'tunewise[tracking]' installs every tracker's package (pyproject.toml)
REPORT_FILES = ("report.md", "report.json", "report.html", "k_sweep.svg", "config.yaml")  # kept with an MLflow run
# train_log.jsonl fields logged per step: (event kind, field, metric name); lr and tokens/s come from train events
# only, so a step with both kinds of event has one value of each.
STEP_FIELDS = (("train", "loss", "train_loss"), ("train", "lr", "lr"), ("train", "tokens_per_s", "tokens_per_s"),
               ("train", "grad_norm", "grad_norm"), ("eval", "val_loss", "val_loss"))
MLFLOW_STATUS = {"finished": "FINISHED", "failed": "FAILED", "interrupted": "KILLED"}  # tunewise's -> MLflow's
GENERIC_CONFIG_NAMES = ("tunewise", "config")  # config file stems that say less than the folder they are in

Log = Callable[[str], None]


class TrackingError(TunewiseError):
    """A tracker was asked for that is unknown, not installed, or could not start."""


@dataclass(frozen=True)
class RunInfo:
    """What every tracker is told once the run folder exists."""

    run_dir: Path  # runs/<id>
    output_dir: Path  # config.output_dir: where MLflow's default store lives, shared by the runs written there
    experiment: str  # named after the config file (experiment_name)
    params: dict[str, str]  # the resolved config as dotted keys, plus run_id and data_sha256
    resumed: bool  # `tunewise run --resume`: a new attempt at a run that started before


class Tracker(Protocol):
    """One tracking tool, opened with (RunInfo, log); `Tracking` calls it from the main process only, in this order."""

    name: str

    def rung(self, rung: dict, events: list[dict]) -> None:
        """A finished rung (its report.json entry) and its train/eval events (empty for untrained rungs)."""

    def report(self, run_dir: Path, report: dict) -> None:
        """The finished report; its files are written in run_dir."""

    def close(self, status: str) -> None:
        """The run ended: finished, failed or interrupted."""


# ---------------------------------------------------------------- what is logged, the same for every tracker


def flat_params(tree: dict, prefix: str = "") -> dict[str, str]:
    """{dotted key: value as text} for every leaf of a nested mapping; lists, numbers and null as JSON."""
    out = {}
    for key, value in tree.items():
        if isinstance(value, dict) and value:
            out |= flat_params(value, f"{prefix}{key}.")
        else:
            out[f"{prefix}{key}"] = value if isinstance(value, str) else json.dumps(value)
    return out


def run_params(config: Config, run_dir: Path, data_summary: dict) -> dict[str, str]:
    """The params of a run: its id, its data hash (as `tunewise runs show` gives it) and the resolved config."""
    return {"run_id": run_dir.name, "data_sha256": data_hash(data_summary) or "",
            **flat_params(config.model_dump(mode="json"))}


def metric_key(rung_name: str) -> str:
    """A rung's name as a metric-key prefix both tools accept (MLflow refuses brackets): `lora[size]` -> `lora_size`."""
    return re.sub(r"[^\w\-. ]+", "_", rung_name).strip("_")


def step_metrics(rung_name: str, events: list[dict]) -> list[tuple[str, int, float]]:
    """(key, step, value) for every number of a rung's train/eval events: <rung>/train_loss, val_loss, lr, ..."""
    prefix = metric_key(rung_name)
    return [(f"{prefix}/{name}", event["step"], float(event[key]))
            for event in events for kind, key, name in STEP_FIELDS
            if event.get("event") == kind and event.get(key) is not None]


def final_metrics(rung: dict) -> dict[str, float]:
    """A scored rung's metrics with their CI bounds (<rung>/accuracy, accuracy_ci_low, accuracy_ci_high) and its
    numeric costs (<rung>/cost/fit_wall_s, ...); nothing for a skipped rung."""
    prefix, out = metric_key(rung["name"]), {}
    for metric, m in (rung.get("metrics") or {}).items():
        for suffix, key in (("", "value"), ("_ci_low", "ci_low"), ("_ci_high", "ci_high")):
            if m.get(key) is not None:
                out[f"{prefix}/{metric}{suffix}"] = float(m[key])
    for name, value in (rung.get("cost") or {}).items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            out[f"{prefix}/cost/{name}"] = float(value)
    return out


def experiment_name(config_source: str) -> str:
    """The experiment a run is logged in: its config file's name, or its folder's for a generic tunewise.yaml."""
    if config_source.startswith("<"):  # built in code, no file
        return "tunewise"
    path = Path(config_source).resolve()  # `tunewise run tunewise.yaml` names the folder it is in
    return path.parent.name if path.stem in GENERIC_CONFIG_NAMES and path.parent.name else path.stem


# ---------------------------------------------------------------- TensorBoard


class TensorBoardTracker:
    """Scalars and text in runs/<id>/tensorboard/ (one event file per attempt; a resumed run re-logs the rungs it
    kept, and TensorBoard keeps the newest point of each step)."""

    name = "tensorboard"

    def __init__(self, run: RunInfo, log: Log):
        from torch.utils.tensorboard import SummaryWriter

        folder = run.run_dir / "tensorboard"
        self.writer = SummaryWriter(log_dir=str(folder))
        self.writer.add_text("config", params_markdown(run.params))
        log(f"[tunewise] tensorboard: logging to {folder} (view: tensorboard --logdir {run.run_dir.parent})")

    def rung(self, rung: dict, events: list[dict]) -> None:
        for key, step, value in step_metrics(rung["name"], events):
            self.writer.add_scalar(key, value, step)
        for key, value in final_metrics(rung).items():
            self.writer.add_scalar(key, value, 0)
        if rung.get("skipped"):
            self.writer.add_text(f"{metric_key(rung['name'])}/skipped", rung["skipped"])
        self.writer.flush()  # so a long run shows each rung as it ends

    def report(self, run_dir: Path, report: dict) -> None:
        self.writer.add_text("report", (run_dir / "report.md").read_text(encoding="utf-8"))
        self.writer.flush()

    def close(self, status: str) -> None:
        self.writer.add_text("status", status)
        self.writer.close()


def params_markdown(params: dict[str, str]) -> str:
    """The params as a markdown table (TensorBoard's text tab renders it)."""
    cells = {key: value.replace("|", "\\|").replace("\n", " ") for key, value in params.items()}
    return "| param | value |\n|---|---|\n" + "\n".join(f"| {k} | {v} |" for k, v in cells.items())


# ---------------------------------------------------------------- MLflow


def mlflow_tracking_uri(output_dir: Path) -> str:
    """MLFLOW_TRACKING_URI when set, else a SQLite store at <output_dir>/mlflow.db shared by the runs written there.

    Not a plain `file:` folder: MLflow 3 refuses those unless MLFLOW_ALLOW_FILE_STORE=true, and SQLite is its own
    recommended local store (`mlflow ui --backend-store-uri` opens it as is)."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{(output_dir / 'mlflow.db').resolve()}"


class MlflowTracker:
    """One MLflow run per tunewise run (per attempt when resumed), its rungs told apart by the `<rung>/` prefix.

    Not a nested run per rung: the rungs of a ladder are scored on one test split and are compared with each other,
    and one run per ladder keeps `lora/accuracy` a column that MLflow's run comparison lines up across ladders."""

    name = "mlflow"

    def __init__(self, run: RunInfo, log: Log):
        os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")  # before the import: nothing leaves the machine
        from mlflow.entities import Param
        from mlflow.tracking import MlflowClient

        uri = mlflow_tracking_uri(run.output_dir)
        self.client = MlflowClient(tracking_uri=uri)
        experiment = self._experiment_id(run, uri)
        tags = {"tunewise.run_id": run.run_dir.name, "tunewise.run_dir": str(run.run_dir),
                "tunewise.resumed": str(run.resumed).lower()}
        self.run_id = self.client.create_run(experiment, tags=tags, run_name=run.run_dir.name).info.run_id
        self.client.log_batch(self.run_id, params=[Param(k, v) for k, v in run.params.items()])
        log(f"[tunewise] mlflow: run {self.run_id} in experiment {self.client.get_experiment(experiment).name!r} "
            f"(view: mlflow ui --backend-store-uri {uri})")

    def _experiment_id(self, run: RunInfo, uri: str) -> str:
        """A resumed run's earlier experiment; else MLFLOW_EXPERIMENT_NAME or `run.experiment`, created if new
        (its artifacts next to the default store, never in the working directory)."""
        if run.resumed:
            earlier = self.client.search_runs([e.experiment_id for e in self.client.search_experiments()],
                                              f"tags.`tunewise.run_id` = '{run.run_dir.name}'", max_results=1)
            if earlier:
                return earlier[0].info.experiment_id
        name = os.environ.get("MLFLOW_EXPERIMENT_NAME") or run.experiment
        found = self.client.get_experiment_by_name(name)
        if found is not None:
            return found.experiment_id
        default_store = "MLFLOW_TRACKING_URI" not in os.environ
        artifacts = (run.output_dir / "mlartifacts").resolve().as_uri() if default_store else None
        return self.client.create_experiment(name, artifact_location=artifacts)

    def rung(self, rung: dict, events: list[dict]) -> None:
        from mlflow.entities import Metric, RunTag

        now = int(time.time() * 1000)
        metrics = [Metric(key, value, now, step) for key, step, value in step_metrics(rung["name"], events)]
        metrics += [Metric(key, value, now, 0) for key, value in final_metrics(rung).items()]
        tags = [RunTag(f"skipped/{metric_key(rung['name'])}", rung["skipped"])] if rung.get("skipped") else []
        self.client.log_batch(self.run_id, metrics=metrics, tags=tags)

    def report(self, run_dir: Path, report: dict) -> None:
        for name in REPORT_FILES:
            if (run_dir / name).is_file():
                self.client.log_artifact(self.run_id, str(run_dir / name))
        self.client.set_tag(self.run_id, "tunewise.recommendation", report["recommendation"]["rung"])

    def close(self, status: str) -> None:
        self.client.set_terminated(self.run_id, MLFLOW_STATUS[status])


# ---------------------------------------------------------------- the trackers a run asked for

# --log name -> (the package it imports, its Tracker)
TRACKERS: dict[str, tuple[str, Callable[[RunInfo, Log], Tracker]]] = {
    "tensorboard": ("tensorboard", TensorBoardTracker),
    "mlflow": ("mlflow", MlflowTracker),
}


def missing_package_error(tracker: str, package: str) -> TrackingError | None:
    """The error for a tracker whose package is not installed here; None when it is."""
    if importlib.util.find_spec(package) is not None:
        return None
    return TrackingError(f"--log {tracker}: needs the `{package}` package, which is not installed in this "
                         f"environment; install it with: pip install 'tunewise[{EXTRA}]'")


def tracker_names(values: list[str] | None) -> list[str]:
    """--log values (repeatable, each may be a comma list) as tracker names, each once, in order; an unknown name or
    a missing package is refused, every one at once."""
    names = list(dict.fromkeys(n.strip().lower() for v in values or [] for n in v.split(",") if n.strip()))
    unknown = [n for n in names if n not in TRACKERS]
    if unknown:
        raise TrackingError(f"--log {', '.join(unknown)}: unknown tracker; expected {' or '.join(TRACKERS)} "
                            "(repeat --log or give a comma list for several)")
    missing = [err for n in names if (err := missing_package_error(n, TRACKERS[n][0]))]
    if missing:
        raise TrackingError("\n".join(str(err) for err in missing))
    return names


@dataclass
class Tracking:
    """The trackers a run asked for, each told the same things in the same order; with none it does nothing.

    A tracker that cannot start stops the run before its first rung; one that fails later is dropped with a
    warning, so a tracking problem never costs a finished ladder (its files are in the run folder either way)."""

    names: list[str] = field(default_factory=list)
    log: Log = print
    trackers: list[Tracker] = field(default_factory=list)

    @classmethod
    def asked_for(cls, values: list[str] | None, log: Log = print) -> Tracking:
        """Tracking for `--log` values; raises TrackingError (before any compute) as `tracker_names` says."""
        return cls(tracker_names(values), log)

    def started(self, config: Config, run_dir: Path, data_summary: dict, resumed: bool) -> None:
        """Open every tracker (main process only) once the run folder exists."""
        if not self.names or not is_main():
            return
        run = RunInfo(run_dir, Path(config.output_dir), experiment_name(config.source),
                      run_params(config, run_dir, data_summary), resumed)
        for name in self.names:
            try:
                self.trackers.append(TRACKERS[name][1](run, self.log))
            except Exception as err:
                raise TrackingError(f"--log {name}: could not start ({type(err).__name__}: {err})") from err

    def rung(self, rung: dict, rung_dir: Path) -> None:
        """A finished rung (its report.json entry), logged at once so a long run shows progress."""
        if self.trackers:
            events = training_curve(rung, rung_dir)
            self._each(f"rung {rung['name']}", lambda tracker: tracker.rung(rung, events))

    def report(self, run_dir: Path, report: dict) -> None:
        self._each("the report", lambda tracker: tracker.report(run_dir, report))

    def ended(self, status: str) -> None:
        """Close every tracker: finished, failed or interrupted."""
        self._each("the end of the run", lambda tracker: tracker.close(status))
        self.trackers = []

    def _each(self, what: str, call: Callable[[Tracker], None]) -> None:
        for tracker in list(self.trackers):
            try:
                call(tracker)
            except Exception as err:  # noqa: BLE001 -- a tracker's failure must not cost the ladder's finished rungs
                self.trackers.remove(tracker)
                self.log(f"[tunewise] warning: {tracker.name}: could not log {what} ({type(err).__name__}: {err}); "
                         "the run goes on without it")
