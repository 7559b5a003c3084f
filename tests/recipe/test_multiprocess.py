"""Two training processes (gloo on CPU, launched as `accelerate launch --multi_gpu --num_processes 2` launches
them) take the same micro-batches per step as one process with twice the gradient accumulation: the loss curves
agree, only rank 0 writes files, and a run killed in both processes resumes to the weights of an uninterrupted
two-process run, bit for bit."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import write_tiny_run_config
from safetensors.torch import load_file

WORKER = Path(__file__).with_name("multiprocess_worker.py")
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
LAUNCH = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
          "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no"]


def launch(out: Path, *args: str, processes: int = 2) -> subprocess.CompletedProcess:
    head = [*LAUNCH, "--main_process_port", str(29500 + os.getpid() % 1000)] if processes == 2 else [sys.executable]
    return subprocess.run([*head, str(WORKER), str(out), *args], capture_output=True, text=True, env=ENV,
                          timeout=600, check=False)


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory):
    out = tmp_path_factory.mktemp("two")
    done = launch(out, "1")
    assert done.returncode == 0, done.stderr[-3000:]
    return out


def losses(out: Path, rank: int = 0) -> list[float]:
    return json.loads((out / f"losses-{rank}.json").read_text())


def test_two_processes_follow_the_single_process_loss_curve(two_processes, tmp_path):
    single = launch(tmp_path, "2", processes=1)  # grad_accum 2: the same micro-batches per optimizer step
    assert single.returncode == 0, single.stderr[-3000:]
    one, two = losses(tmp_path), losses(two_processes)
    assert len(one) == len(two) == 12
    assert one[0] == pytest.approx(two[0], abs=1e-6)  # the same first step exactly (same weights, same batches)
    # Later steps differ only through dropout: each process draws its own masks.
    assert max(abs(a - b) for a, b in zip(one, two)) < 0.02
    assert losses(two_processes, 1) == two  # every process logs the whole step's loss


def test_only_rank_zero_writes_the_training_files(two_processes):
    log = [json.loads(line) for line in (two_processes / "train_log.jsonl").read_text().splitlines()]
    steps = [e["step"] for e in log if e["event"] == "train"]
    assert steps == list(range(1, 13))  # one writer: every step once, no interleaved duplicates
    assert sorted(p.name for p in (two_processes / "checkpoints").iterdir()) == ["best.safetensors"]


def test_a_killed_two_process_run_resumes_exactly(two_processes, tmp_path):
    killed = launch(tmp_path, "1", "kill")
    assert killed.returncode != 0
    assert (tmp_path / "checkpoints" / "state-3" / "rng-1.safetensors").is_file()  # each process's generators
    resumed = launch(tmp_path, "1", "resume")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    a, b = load_file(str(tmp_path / "final.safetensors")), load_file(str(two_processes / "final.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def ladder_config(folder: Path, model_dir: Path, grad_accum: int) -> Path:
    return write_tiny_run_config(
        folder, model_dir, f"{{lr: 2.0e-3, max_steps: 10, batch_size: 4, grad_accum: {grad_accum}, eval_every: 5, "
        "patience: null, precision: fp32, log_every: 1}", lora="{r: 4, alpha: 8, dropout: 0.0}")


def train_losses(folder: Path) -> list[float]:
    [run_dir] = list((folder / "runs").iterdir())
    log = (run_dir / "rungs" / "lora" / "train_log.jsonl").read_text().splitlines()
    return [e["loss"] for e in map(json.loads, log) if e["event"] == "train"]


def test_the_ladder_trains_lora_in_two_processes_like_one(tiny_model_dir, tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    single = subprocess.run([sys.executable, "-m", "tunewise.cli", "run", str(ladder_config(one, tiny_model_dir, 2))],
                            capture_output=True, text=True, env=ENV, timeout=600, check=False)
    assert single.returncode == 0, single.stderr[-3000:]
    port = str(29500 + (os.getpid() + 7) % 1000)
    double = subprocess.run([*LAUNCH, "--main_process_port", port, "-m", "tunewise.cli", "run",
                             str(ladder_config(two, tiny_model_dir, 1))], capture_output=True, text=True, env=ENV,
                            timeout=600, check=False)
    assert double.returncode == 0, double.stderr[-3000:]
    assert len(list((two / "runs").iterdir())) == 1  # one run folder, written by rank 0
    a, b = train_losses(one), train_losses(two)
    assert len(a) == len(b) == 10 and max(abs(x - y) for x, y in zip(a, b)) < 1e-4  # no dropout: the same steps
    assert double.stdout.count("Recommendation:") == 1  # one process prints the table
