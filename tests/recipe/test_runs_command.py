"""`tunewise runs` on real tiny runs: both are recorded as finished, `compare` prints their rungs side by side with
the values of their report.json, `rm` deletes only with --yes when stdin is not a terminal, and a run that fails,
or is stopped and resumed, keeps one row with the right status."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import save_tiny_model, write_tiny_run_config

from tunewise import api, registry
from tunewise.config import load_config

QUICK = "{lr: 5.0e-3, max_steps: 4, batch_size: 8, precision: fp32}"


def cli(*args: str, registry_file: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    if registry_file is not None:
        env["TUNEWISE_REGISTRY"] = str(registry_file)
    return subprocess.run([sys.executable, "-m", "tunewise.cli", *args], capture_output=True, text=True, env=env,
                          stdin=subprocess.DEVNULL, timeout=600, check=False)


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory, tiny_tokenizer):
    """(run A: zero_shot and LoRA, run B: zero_shot only, the registry they were recorded in)."""
    folder = tmp_path_factory.mktemp("runs")
    model_dir = save_tiny_model(folder / "tiny-model", tiny_tokenizer)
    path = write_tiny_run_config(folder, model_dir, QUICK)
    registry_file = folder / "registry.sqlite"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TUNEWISE_REGISTRY", str(registry_file))
        a = api.run(load_config(path, ["methods=[lora]", "forgetting.benchmark=null"]), log=lambda m: None)
        b = api.run(load_config(path, ["methods=[]"]), log=lambda m: None)
    return a, b, registry_file


def test_ls_lists_both_runs_as_finished(two_runs):
    a, b, registry_file = two_runs
    listed = cli("runs", "ls", registry_file=registry_file)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0].split() == ["id", "created", "status", "task", "recommended", "folder"]
    rows = {line.split()[0]: line for line in lines[1:]}
    for result in (a, b):
        row = rows[result.run_dir.name]
        assert " finished " in row and " classification " in row and row.endswith(str(result.run_dir.resolve()))
        assert f"{result.recommendation} (accuracy " in row
    assert lines[1].startswith(b.run_dir.name)  # newest first


def test_the_row_holds_the_reports_results_and_the_config_hash(two_runs):
    a, _, registry_file = two_runs
    record = registry.find_run(a.run_dir.name, path=registry_file)
    assert [r["name"] for r in record.rungs] == [r["name"] for r in a.report["rungs"]] == ["zero_shot", "lora"]
    lora = next(r for r in a.report["rungs"] if r["name"] == "lora")
    assert record.rungs[1]["metrics"] == lora["metrics"]
    assert record.rungs[1]["cost"]["trainable_params"] == lora["cost"]["trainable_params"] > 0
    assert record.recommended_rung == a.recommendation
    assert a.run_dir.name.endswith(record.config_hash[:6])  # the folder is named after the same hash


def test_compare_prints_a_table_of_both_runs_rungs(two_runs):
    a, b, registry_file = two_runs
    compared = cli("runs", "compare", a.run_dir.name, b.run_dir.name[:-2], registry_file=registry_file)
    assert compared.returncode == 0, compared.stderr
    out = compared.stdout
    assert f"A: {a.run_dir.name}" in out and f"B: {b.run_dir.name}" in out
    rows = {line.split()[0]: line for line in out.splitlines() if line.startswith(("zero_shot", "lora"))}
    assert rows.keys() == {"zero_shot", "lora"}
    for name in ("zero_shot", "lora"):
        for result in (a, b):
            rung = next((r for r in result.report["rungs"] if r["name"] == name), None)
            if rung is not None:
                m = rung["metrics"]["accuracy"]
                assert f"{m['value']:.3f} [{m['ci_low']:.3f}, {m['ci_high']:.3f}]" in rows[name]
    assert rows["lora"].split()[-3:] == ["-", "-", "-"]  # run B has no LoRA rung
    for i, result in enumerate((a, b)):  # each run's recommended rung is marked in its own column group
        cells = [cell.strip() for cell in rows[result.recommendation].split("  ") if cell.strip()]
        assert cells[1 + 3 * i].startswith("* "), cells


def _registered_copy(run_dir: Path, tmp_path: Path) -> Path:
    """A copy of a finished run, registered with `tunewise runs add` in this test's own registry."""
    copy = tmp_path / run_dir.name
    shutil.copytree(run_dir, copy)
    added = cli("runs", "add", str(copy))
    assert added.returncode == 0 and f"added {copy.name} (finished" in added.stdout, added.stderr
    return copy


def test_rm_without_yes_on_a_non_terminal_refuses_and_deletes_nothing(two_runs, tmp_path):
    copy = _registered_copy(two_runs[1].run_dir, tmp_path)
    refused = cli("runs", "rm", copy.name)
    assert refused.returncode == 2
    assert "stdin is not a terminal" in refused.stderr and "--yes" in refused.stderr
    assert f"delete its folder {copy}" in refused.stdout  # what would go is shown first
    assert (copy / "report.json").is_file() and [r.id for r in registry.list_runs()] == [copy.name]


def test_rm_with_yes_deletes_the_folder_and_the_row(two_runs, tmp_path):
    copy = _registered_copy(two_runs[1].run_dir, tmp_path)
    removed = cli("runs", "rm", copy.name, "--yes")
    assert removed.returncode == 0, removed.stderr
    assert not copy.exists() and registry.list_runs() == []
    assert "no runs recorded in" in cli("runs", "ls").stdout


def test_a_run_that_fails_after_its_folder_exists_is_recorded_as_failed(tmp_path, tiny_model_dir):
    # The data check needs only the tokenizer; the first rung fails loading weights that are not safetensors.
    (tiny_model_dir / "model.safetensors").write_bytes(b"not safetensors" * 100)
    config = load_config(write_tiny_run_config(tmp_path, tiny_model_dir, QUICK), ["methods=[]"])
    with pytest.raises(Exception):  # noqa: B017 - whichever error loading broken weights gives
        api.run(config, log=lambda m: None)
    [record] = registry.list_runs()
    [run_dir] = (tmp_path / "runs").iterdir()
    assert record.id == run_dir.name and record.status == "failed" and record.error
    assert record.rungs == [] and record.data_hash is not None


def test_a_run_with_a_corrupt_registry_finishes_with_one_warning(tmp_path, tiny_model_dir, private_run_registry):
    private_run_registry.write_bytes(b"not a database " * 100)
    lines = []
    result = api.run(load_config(write_tiny_run_config(tmp_path, tiny_model_dir, QUICK), ["methods=[]"]),
                     log=lines.append)
    assert (result.run_dir / "report.json").is_file()
    warnings = [line for line in lines if "registry" in line]
    assert len(warnings) == 1 and warnings[0].startswith("[tunewise] warning:") and "move it aside" in warnings[0]
    assert private_run_registry.read_bytes() == b"not a database " * 100  # left as it was


def test_a_stopped_run_is_interrupted_and_its_resume_finishes_the_same_row(tmp_path, tiny_model_dir):
    config = write_tiny_run_config(tmp_path, tiny_model_dir, "{lr: 2.0e-3, max_steps: 300, batch_size: 8, "
                                   "precision: fp32, log_every: 5, checkpoint_every: 25, eval_every: 100}",
                                   forgetting_items=4)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "tunewise.cli", "run", str(config)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    train_log = lambda: [*(tmp_path / "runs").glob("*/rungs/lora/train_log.jsonl")]
    deadline = time.time() + 300
    while not (train_log() and train_log()[0].stat().st_size > 0):
        assert proc.poll() is None and time.time() < deadline, "the run ended before it could be stopped"
        time.sleep(0.02)
    assert registry.list_runs()[0].status == "running"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 143, err[-3000:]
    [stopped] = registry.list_runs()
    assert stopped.status == "interrupted" and "RunInterrupted" in stopped.error and "--resume" in stopped.error
    assert [r["name"] for r in stopped.rungs] == ["zero_shot"]  # the partial report's rungs

    run_dir = train_log()[0].parents[2]
    resumed = cli("run", "--resume", str(run_dir))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    [done] = registry.list_runs()
    report = json.loads((run_dir / "report.json").read_text())
    assert (done.id, done.created, done.status) == (stopped.id, stopped.created, "finished")
    assert done.error is None and done.recommended_rung == report["recommendation"]["rung"]
