"""`tunewise run --resume` through the real CLI on the tiny llama: a run killed (SIGKILL) or stopped (SIGTERM)
while LoRA trains, then resumed, ends with the adapter and report of a run never interrupted; a stopped run leaves a
partial report of its finished rungs; a resumed run keeps its finished rungs; a changed config is refused field by
field unless the change is allowed and safe."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import save_tiny_model, write_tiny_run_config
from safetensors.torch import load_file

from tunewise.train.checkpoint import state_dirs

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}


def write_config(folder: Path, model_dir: Path) -> Path:
    return write_tiny_run_config(
        folder, model_dir, "{lr: 2.0e-3, max_steps: 400, batch_size: 8, eval_every: 100, patience: null, "
        "precision: fp32, log_every: 10, checkpoint_every: 25}", lora="{r: 4, alpha: 8, dropout: 0.1}",
        forgetting_items=20)


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tunewise.cli", *args], capture_output=True, text=True, env=ENV,
                          timeout=600, check=False)


def start(config: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "tunewise.cli", "run", str(config)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=ENV)


def wait_for(condition, proc: subprocess.Popen, timeout: float = 300) -> None:
    deadline = time.time() + timeout
    while not condition():
        assert proc.poll() is None, "the run ended before it could be interrupted"
        assert time.time() < deadline
        time.sleep(0.02)


def only_run(folder: Path) -> Path:
    [run_dir] = [p for p in (folder / "runs").iterdir() if not p.name.startswith(".")]
    return run_dir


def adapter(run_dir: Path) -> dict[str, torch.Tensor]:
    return load_file(str(run_dir / "rungs" / "lora" / "adapter" / "adapter_model.safetensors"))


def metrics(run_dir: Path) -> dict:
    report = json.loads((run_dir / "report.json").read_text())
    return {r["name"]: r["metrics"] for r in report["rungs"]} | {"forgetting": report["forgetting"]["rungs"]}


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, tiny_model_dir_module):
    folder = tmp_path_factory.mktemp("uninterrupted")
    done = cli("run", str(write_config(folder, tiny_model_dir_module)))
    assert done.returncode == 0, done.stderr[-3000:]
    return only_run(folder)


@pytest.fixture(scope="module")
def tiny_model_dir_module(tmp_path_factory, tiny_tokenizer):
    return save_tiny_model(tmp_path_factory.mktemp("model") / "tiny-model", tiny_tokenizer)


def assert_same_run(run_dir: Path, reference: Path) -> None:
    a, b = adapter(run_dir), adapter(reference)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert metrics(run_dir) == metrics(reference)


def test_sigkill_while_training_then_resume_equals_an_uninterrupted_run(uninterrupted, tiny_model_dir_module,
                                                                       tmp_path):
    proc = start(write_config(tmp_path, tiny_model_dir_module))
    checkpoints = lambda: only_run(tmp_path) / "rungs" / "lora" / "checkpoints"
    wait_for(lambda: (tmp_path / "runs").is_dir() and any(True for _ in (tmp_path / "runs").iterdir())
             and len(state_dirs(checkpoints())) >= 2, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    run_dir = only_run(tmp_path)
    assert not (run_dir / "report.json").exists() and (run_dir / "rungs" / "zero_shot" / "result.json").is_file()
    resumed = cli("run", "--resume", str(run_dir))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "zero_shot: finished before the run stopped; kept" in resumed.stderr
    assert "resuming from" in resumed.stderr
    assert_same_run(run_dir, uninterrupted)


def test_sigterm_saves_stops_with_the_resume_command_and_resumes_exactly(uninterrupted, tiny_model_dir_module,
                                                                        tmp_path):
    proc = start(write_config(tmp_path, tiny_model_dir_module))
    log = lambda: only_run(tmp_path) / "rungs" / "lora" / "train_log.jsonl"
    wait_for(lambda: (tmp_path / "runs").is_dir() and any(True for _ in (tmp_path / "runs").iterdir())
             and log().is_file() and log().stat().st_size > 0, proc)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=300)
    run_dir = only_run(tmp_path)
    assert proc.returncode == 143, err[-3000:]  # 128 + SIGTERM, as a shell says of a process SIGTERM ended
    last = err.strip().splitlines()[-1]
    assert last.startswith("tunewise: interrupted during rung lora: training stopped by SIGTERM after step ")
    assert last.endswith(f"kept 1 finished rung (zero_shot) and a partial report in {run_dir / 'report.md'}; "
                         f"resume with: tunewise run --resume {run_dir}")
    partial = json.loads((run_dir / "report.json").read_text())["partial"]
    assert (partial["signal"], partial["finished"], partial["not_finished"]) == ("SIGTERM", ["zero_shot"], ["lora"])
    assert Path(partial["training_state"]).parent == run_dir / "rungs" / "lora" / "checkpoints"
    resumed = cli("run", "--resume", str(run_dir))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert_same_run(run_dir, uninterrupted)


def test_a_changed_config_is_refused_naming_each_field(uninterrupted):
    refused = cli("run", "--resume", str(uninterrupted), "--set", "train.lr=1.0", "--set", "train.eval_every=7")
    assert refused.returncode == 2
    assert "train.lr: changed_on_resume: was 0.002 when the run started, now 1.0" in refused.stderr
    assert "train.eval_every: changed_on_resume" in refused.stderr and "--allow-changes train.eval_every" in refused.stderr
    unsafe = cli("run", "--resume", str(uninterrupted), "--set", "train.lr=1.0", "--allow-changes", "train.lr")
    assert unsafe.returncode == 2 and "train.lr: unsafe_change" in unsafe.stderr


def test_an_allowed_change_resumes_and_keeps_finished_rungs(uninterrupted, tmp_path):
    before = metrics(uninterrupted)
    allowed = cli("run", "--resume", str(uninterrupted), "--set", "train.log_every=7",
                  "--allow-changes", "train.log_every")
    assert allowed.returncode == 0, allowed.stderr[-3000:]
    assert "lora: finished before the run stopped; kept" in allowed.stderr
    assert metrics(uninterrupted) == before
    assert "log_every: 7" in (uninterrupted / "config.yaml").read_text()
    assert "log_every: 10" in (uninterrupted / "config.before-resume-1.yaml").read_text()
