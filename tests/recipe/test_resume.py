"""Exact resume: a run killed (SIGKILL) mid-epoch, between the micro-steps of one optimizer step, and resumed ends
with the same weights bit for bit as a run never interrupted; a kill during a checkpoint write leaves the previous
state usable; SIGTERM saves and stops; missing or corrupt state files are errors that name the file; a diverging
run stops and keeps its last good state. Each run is its own process (resume_worker.py), as a real kill is."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from tunewise.errors import TrainingError
from tunewise.sections import TrainConfig
from tunewise.train.checkpoint import OPTIMIZER, STATE, TRAINABLE, rng_file, state_dirs
from tunewise.train.loop import train

WORKER = Path(__file__).with_name("resume_worker.py")
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}  # same threads: same float sums


def worker(out: Path, mode: str, at: int = 0) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(WORKER), str(out), mode, str(at)], capture_output=True, text=True,
                          env=ENV, timeout=300, check=False)


def weights(path: Path) -> dict[str, torch.Tensor]:
    return load_file(str(path))


def assert_identical(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for name, tensor in a.items():
        assert torch.equal(tensor, b[name]), name


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    out = tmp_path_factory.mktemp("full")
    done = worker(out, "full")
    assert done.returncode == 0, done.stderr[-2000:]
    return out


def test_sigkill_between_micro_steps_then_resume_equals_an_uninterrupted_run(uninterrupted, tmp_path):
    # 12 steps x 2 micro-batches (+ validation calls); call 15 falls inside step 7, after the state of step 6.
    killed = worker(tmp_path, "kill", 15)
    assert killed.returncode == -9
    assert [p.name for p in state_dirs(tmp_path / "checkpoints")] == ["state-3", "state-6"]
    resumed = worker(tmp_path, "resume")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "resuming from" in resumed.stderr and "state-6" in resumed.stderr
    assert_identical(weights(tmp_path / "final.safetensors"), weights(uninterrupted / "final.safetensors"))
    # The log continues as one run's log: the same events as the uninterrupted run's, without the killed tail.
    strip = [{k: v for k, v in e.items() if k not in ("elapsed_s", "tokens_per_s")}
             for e in map(eval_json, (tmp_path / "train_log.jsonl").read_text().splitlines())]
    expected = [{k: v for k, v in e.items() if k not in ("elapsed_s", "tokens_per_s")}
                for e in map(eval_json, (uninterrupted / "train_log.jsonl").read_text().splitlines())]
    assert strip == expected
    assert state_dirs(tmp_path / "checkpoints") == []  # finished: the resumable states are gone


def eval_json(line: str) -> dict:
    import json

    return json.loads(line)


def test_a_kill_during_a_checkpoint_write_leaves_the_previous_state(uninterrupted, tmp_path):
    killed = worker(tmp_path, "killsave", 6)
    assert killed.returncode == -9
    checkpoints = tmp_path / "checkpoints"
    assert [p.name for p in state_dirs(checkpoints)] == ["state-3"]  # the half-written one is not a state
    assert (checkpoints / ".state-6.tmp").is_dir()
    resumed = worker(tmp_path, "resume")
    assert resumed.returncode == 0 and "state-3" in resumed.stderr
    assert_identical(weights(tmp_path / "final.safetensors"), weights(uninterrupted / "final.safetensors"))


def test_sigterm_saves_a_state_and_stops_with_how_to_go_on(uninterrupted, tmp_path):
    stopped = worker(tmp_path, "term", 12)  # inside step 5 (calls 9-10 are step 4's validation)
    assert stopped.returncode == 3, stopped.stderr[-2000:]
    assert "stopped by SIGTERM after step 5" in stopped.stderr
    assert [p.name for p in state_dirs(tmp_path / "checkpoints")] == ["state-3", "state-5"]
    resumed = worker(tmp_path, "resume")
    assert resumed.returncode == 0
    assert_identical(weights(tmp_path / "final.safetensors"), weights(uninterrupted / "final.safetensors"))


@pytest.fixture(scope="module")
def killed_run(tmp_path_factory):
    """The folder of a run SIGKILLed at its 15th model call, its saved states left behind; tests damage copies."""
    out = tmp_path_factory.mktemp("killed")
    killed = worker(out, "kill", 15)
    assert killed.returncode == -9, killed.stderr[-2000:]
    return out


@pytest.mark.parametrize("damage", ["delete_optimizer", "truncate_trainable", "delete_state", "delete_rng"])
def test_missing_or_corrupt_state_files_are_named(killed_run, tmp_path, damage):
    shutil.copytree(killed_run, tmp_path, dirs_exist_ok=True)
    newest = state_dirs(tmp_path / "checkpoints")[-1]
    if damage == "delete_optimizer":
        (newest / OPTIMIZER).unlink()
        named = newest / OPTIMIZER
    elif damage == "truncate_trainable":
        data = (newest / TRAINABLE).read_bytes()
        (newest / TRAINABLE).write_bytes(data[: len(data) // 2])
        named = newest / TRAINABLE
    elif damage == "delete_state":
        (newest / STATE).unlink()
        named = newest / STATE
    else:
        named = newest / rng_file(0)
        named.unlink()
    resumed = worker(tmp_path, "resume")
    assert resumed.returncode != 0 and str(named) in resumed.stderr
    assert "TrainingError" in resumed.stderr and not (tmp_path / "final.safetensors").exists()


def test_a_diverging_run_stops_and_keeps_its_last_good_state(tiny_llama, tmp_path):
    sys.path.insert(0, str(WORKER.parent))
    from resume_worker import data, model

    net = model()
    cfg = TrainConfig(lr=1e37, max_steps=40, batch_size=4, eval_every=100, patience=None, precision="fp32",
                      log_every=100, checkpoint_every=1, max_grad_norm=None, warmup_ratio=0.0, schedule="constant")
    with pytest.raises(TrainingError, match="lower train.lr") as err:
        train(net, data(40, 1), [], cfg, tmp_path, pad_id=2)
    states = state_dirs(tmp_path / "checkpoints")
    assert states and str(states[-1]) in str(err.value)
    saved = load_file(str(states[-1] / TRAINABLE))
    assert all(torch.isfinite(t).all() for t in saved.values())  # the last state kept is a good one
