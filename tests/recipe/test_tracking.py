"""Experiment tracking: a tiny ladder run with `--log tensorboard --log mlflow` puts each rung's train_log.jsonl curve,
report.json's metrics, the params and the report into each tool, read back with the tool's own reader; a tracker
that is unknown or not installed is refused before any compute; a tracker that fails later does not stop the run."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import save_tiny_model, write_tiny_run_config
from mlflow.tracking import MlflowClient
from tensorboard.backend.event_processing.event_accumulator import (
    SCALARS,
    TENSORS,
    EventAccumulator,
)

from tunewise.cli import main
from tunewise.config import config_to_yaml, load_config
from tunewise.registry import data_hash
from tunewise.tracking import Tracking, missing_package_error, tracker_names

REPO = Path(__file__).resolve().parents[2]
# MLflow's SQLite store (the default) uses a SQLAlchemy loader that SQLAlchemy 2.1 deprecates: their matter.
pytestmark = pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy is deprecated:DeprecationWarning")
TRAIN = "{lr: 5.0e-3, max_steps: 12, batch_size: 8, precision: fp32, log_every: 2, eval_every: 4}"


@pytest.fixture(scope="module")
def tracked(tmp_path_factory, tiny_tokenizer) -> Path:
    """The run folder of one tiny ladder (zero_shot, lora) logged to TensorBoard and MLflow's default local store."""
    folder = tmp_path_factory.mktemp("tracked")
    model_dir = save_tiny_model(folder / "tiny-model", tiny_tokenizer)
    config = write_tiny_run_config(folder, model_dir, TRAIN)
    with pytest.MonkeyPatch.context() as env:
        env.delenv("MLFLOW_TRACKING_URI", raising=False)  # the default store: <output_dir>/mlflow.db
        env.delenv("MLFLOW_EXPERIMENT_NAME", raising=False)
        env.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
        assert main(["run", str(config), "--set", "methods=[lora]", "--log", "tensorboard", "--log", "mlflow"]) == 0
    (run_dir,) = (folder / "runs").glob("*/report.json")
    return run_dir.parent


def _train_log(run_dir: Path, rung: str) -> list[dict]:
    lines = (run_dir / "rungs" / rung / "train_log.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def _curve(events: list[dict], kind: str, key: str) -> dict[int, float]:
    return {e["step"]: e[key] for e in events if e["event"] == kind}


def _rung(run_dir: Path, name: str) -> dict:
    report = json.loads((run_dir / "report.json").read_text())
    return next(r for r in report["rungs"] if r["name"] == name)


def test_tensorboard_holds_the_train_log_curve_and_the_reports_metrics(tracked):
    events = _train_log(tracked, "lora")
    board = EventAccumulator(str(tracked / "tensorboard"), size_guidance={SCALARS: 0, TENSORS: 0})
    board.Reload()

    def scalars(tag):
        return {e.step: e.value for e in board.Scalars(tag)}

    train_loss, val_loss = _curve(events, "train", "loss"), _curve(events, "eval", "val_loss")
    assert len(train_loss) == 6 and len(val_loss) == 3
    assert scalars("lora/train_loss") == pytest.approx(train_loss, rel=1e-6)  # float32 in the event file
    assert scalars("lora/val_loss") == pytest.approx(val_loss, rel=1e-6)
    assert scalars("lora/lr") == pytest.approx(_curve(events, "train", "lr"), rel=1e-6)
    for name in ("lora", "zero_shot"):
        accuracy = _rung(tracked, name)["metrics"]["accuracy"]
        assert scalars(f"{name}/accuracy")[0] == pytest.approx(accuracy["value"], rel=1e-6)
        assert scalars(f"{name}/accuracy_ci_low")[0] == pytest.approx(accuracy["ci_low"], rel=1e-6)
    assert scalars("lora/cost/fit_wall_s")[0] == pytest.approx(_rung(tracked, "lora")["cost"]["fit_wall_s"], rel=1e-6)
    report_text = board.Tensors("report/text_summary")[0].tensor_proto.string_val[0].decode()
    assert report_text == (tracked / "report.md").read_text()


def test_mlflow_holds_the_metric_history_params_and_report_files(tracked, tmp_path):
    client = MlflowClient(tracking_uri=f"sqlite:///{tracked.parent / 'mlflow.db'}")
    experiment = client.get_experiment_by_name(tracked.parent.parent.name)  # named after tunewise.yaml's folder
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.info.run_name == tracked.name and run.info.status == "FINISHED"

    events = _train_log(tracked, "lora")
    for key, (kind, field) in {"train_loss": ("train", "loss"), "val_loss": ("eval", "val_loss"),
                               "tokens_per_s": ("train", "tokens_per_s")}.items():
        history = client.get_metric_history(run.info.run_id, f"lora/{key}")
        assert {m.step: m.value for m in history} == _curve(events, kind, field)
    accuracy = _rung(tracked, "lora")["metrics"]["accuracy"]
    assert run.data.metrics["lora/accuracy"] == accuracy["value"]
    assert run.data.metrics["lora/accuracy_ci_high"] == accuracy["ci_high"]

    params = run.data.params
    assert float(params["train.lr"]) == 5.0e-3 and params["methods"] == '["lora"]'
    assert params["run_id"] == tracked.name
    assert params["data_sha256"] == data_hash(json.loads((tracked / "data.json").read_text()))
    assert run.data.tags["tunewise.recommendation"] == json.loads((tracked / "report.json").read_text())[
        "recommendation"]["rung"]

    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"report.md", "report.json", "report.html", "config.yaml"} <= artifacts
    copy = client.download_artifacts(run.info.run_id, "report.md", str(tmp_path))
    assert Path(copy).read_text() == (tracked / "report.md").read_text()
    assert (tracked.parent / "mlartifacts").is_dir() and not (REPO / "mlruns").exists()  # nothing in the repo


def test_a_tracker_that_is_unknown_or_not_installed_is_refused_before_any_compute(tmp_path, capsys):
    error = missing_package_error("mlflow", "tunewise_no_such_package")
    assert str(error) == ("--log mlflow: needs the `tunewise_no_such_package` package, which is not installed in "
                          "this environment; install it with: pip install 'tunewise[tracking]'")
    assert missing_package_error("mlflow", "mlflow") is None
    assert tracker_names(["TensorBoard, mlflow", "mlflow", ""]) == ["tensorboard", "mlflow"]

    # No model at that path: had the run got as far as loading anything, it would fail otherwise.
    config = write_tiny_run_config(tmp_path, tmp_path / "no-such-model", TRAIN)
    assert main(["run", str(config), "--log", "tensorboard,wandb"]) == 2
    assert "tunewise: error: --log wandb: unknown tracker; expected tensorboard or mlflow" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


RUNG = {"name": "lora[size]", "metrics": {"accuracy": {"value": 0.5, "ci_low": 0.25, "ci_high": 0.75}},
        "cost": {"fit_wall_s": 1.5}, "training": {"curve": [
            {"event": "train", "step": 2, "loss": 2.0, "lr": 1e-3, "tokens_per_s": 100.0, "grad_norm": None},
            {"event": "eval", "step": 2, "val_loss": 2.5, "lr": 1e-3}]}}


def test_mlflow_tracking_uri_is_honoured_and_a_resumed_run_joins_its_experiment(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", (tmp_path / "mlruns").as_uri())  # a plain folder store, opted into
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    monkeypatch.delenv("MLFLOW_EXPERIMENT_NAME", raising=False)
    config = load_config(write_tiny_run_config(tmp_path, tmp_path / "model", TRAIN))
    run_dir = tmp_path / "runs" / "20250101-000000-abc123"
    run_dir.mkdir(parents=True)
    (run_dir / "config.yaml").write_text(config_to_yaml(config))
    # The first attempt is interrupted; `--resume` reads the run folder's config.yaml, whose name says nothing.
    for attempt, status in ((config, "interrupted"), (load_config(run_dir / "config.yaml"), "finished")):
        tracking = Tracking.asked_for(["mlflow"], log=lambda message: None)
        tracking.started(attempt, run_dir, {"file_hashes": {"data.jsonl": "0" * 64}}, resumed=status == "finished")
        tracking.rung(RUNG, run_dir / "rungs" / "lora[size]")  # no train_log.jsonl there: the curve it kept
        tracking.ended(status)

    client = MlflowClient(tracking_uri=(tmp_path / "mlruns").as_uri())
    experiment = client.get_experiment_by_name(tmp_path.name)
    runs = client.search_runs([experiment.experiment_id], order_by=["attributes.start_time ASC"])
    assert [r.info.status for r in runs] == ["KILLED", "FINISHED"]
    assert [r.data.tags["tunewise.resumed"] for r in runs] == ["false", "true"]
    for run in runs:
        assert run.data.metrics["lora_size/accuracy"] == 0.5 and run.data.metrics["lora_size/val_loss"] == 2.5
        assert "lora_size/grad_norm" not in run.data.metrics  # null in the log: nothing logged
    assert not (tmp_path / "runs" / "mlflow.db").exists()  # the URI given replaces the default store


class Failing:
    """A tracker whose every call fails, as one would when its server went away."""

    name = "failing"

    def rung(self, rung, events):
        raise ConnectionError("server went away")

    def report(self, run_dir, report):
        raise AssertionError("dropped trackers are not called again")

    def close(self, status):
        raise AssertionError("dropped trackers are not called again")


def test_a_tracker_that_fails_mid_run_is_dropped_with_a_warning(tmp_path):
    said = []
    tracking = Tracking(["failing"], said.append, [Failing()])
    tracking.rung(RUNG, tmp_path)
    tracking.report(tmp_path, {})
    tracking.ended("finished")
    warning = ("[tunewise] warning: failing: could not log rung lora[size] (ConnectionError: server went away); "
               "the run goes on without it")
    assert said == [warning]
