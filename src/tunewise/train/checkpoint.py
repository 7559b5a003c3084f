"""Checkpoints: the best trainable weights, and resumable training states written atomically.

A training state is a folder `checkpoints/state-<step>/` holding everything the loop needs to continue exactly:
the trainable weights, AdamW's moments, the scheduler, every random generator, the step counters and the log so
far. It is written under a temporary name and renamed into place, so a kill during the write leaves the previous
state whole; resume takes the newest state folder. Only safetensors and JSON: nothing is unpickled on load.
"""
from __future__ import annotations

import json
import os
import random
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from tunewise.errors import TrainingError, write_failure
from tunewise.io import write_text

STATE_PREFIX = "state-"
TRAINABLE, OPTIMIZER, STATE, BEST = "trainable.safetensors", "optimizer.safetensors", "state.json", "best.safetensors"
REQUIRED = (TRAINABLE, OPTIMIZER, STATE)


def rng_file(rank: int) -> str:
    """Each process's random generators have a file of their own (dropout draws differ between processes)."""
    return f"rng-{rank}.safetensors"

KEEP_STATES = 2  # the newest states kept; older ones are removed once a newer one is in place


def save_trainable(model: nn.Module, path: Path) -> None:
    """Write the trainable parameters to `path` (temp file + rename, so a crash never leaves half a file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {name: p.detach().cpu().contiguous().clone() for name, p in model.named_parameters() if p.requires_grad}
    tmp = path.with_name(path.name + ".tmp")
    write_tensors(tensors, tmp)
    os.replace(tmp, path)


def write_tensors(tensors: dict[str, torch.Tensor], path: Path, metadata: dict[str, str] | None = None) -> None:
    """save_file, with a failed write (disk full, read-only) reported as the file that could not be written."""
    try:
        save_file(tensors, str(path), metadata=metadata)
    except (SafetensorError, OSError) as err:
        raise write_failure(path, err) from None


def load_trainable(model: nn.Module, path: Path) -> None:
    """Copy the weights saved by `save_trainable` back into the model's trainable parameters, in place."""
    saved = _read_tensors(Path(path))
    params = {name: p for name, p in model.named_parameters() if p.requires_grad}
    if saved.keys() != params.keys():
        missing, extra = sorted(params.keys() - saved.keys()), sorted(saved.keys() - params.keys())
        raise TrainingError(
            f"{path} does not match the model's trainable parameters (missing {missing[:3]}, unexpected {extra[:3]})"
        )
    bad = [name for name, p in params.items() if saved[name].shape != p.shape]
    if bad:
        raise TrainingError(f"{path}: {bad[0]} has shape {tuple(saved[bad[0]].shape)}, the model's is "
                            f"{tuple(params[bad[0]].shape)}")
    with torch.no_grad():
        for name, p in params.items():
            p.copy_(saved[name])


def _read_tensors(path: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise TrainingError(f"{path}: missing; the checkpoint is incomplete (delete its folder to resume from an "
                            "older one, or start the run again)")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as err:
        raise TrainingError(f"{path}: not a readable safetensors file ({err}); it may be truncated. Delete its "
                            "checkpoint folder to resume from an older one, or start the run again") from None


# ---------------------------------------------------------------- resumable states


@dataclass
class TrainState:
    """What the loop carries from step to step besides weights, optimizer and scheduler."""

    step: int = 0
    micro_batches_done: int = 0
    real_tokens: int = 0
    padded_tokens: int = 0
    train_s: float = 0.0
    window_loss: float = 0.0
    window_answers: float = 0.0
    best_step: int | None = None
    best_val_loss: float | None = None  # None: no validation yet
    evals_without_gain: int = 0
    step_loss: float | None = None
    log: list | None = None


def state_dirs(checkpoints: Path) -> list[Path]:
    """The complete state folders, oldest first (temporary folders of an interrupted write are not among them)."""
    if not checkpoints.is_dir():
        return []
    found = [p for p in checkpoints.iterdir() if p.is_dir() and p.name.startswith(STATE_PREFIX)
             and p.name[len(STATE_PREFIX):].isdigit()]
    return sorted(found, key=lambda p: int(p.name[len(STATE_PREFIX):]))


def state_dir(checkpoints: Path, step: int) -> Path:
    """Where the state of `step` lives once complete."""
    return checkpoints / f"{STATE_PREFIX}{step}"


def temp_state_dir(checkpoints: Path, step: int) -> Path:
    """Where the state of `step` is written before it is renamed to `state_dir`."""
    return checkpoints / f".{STATE_PREFIX}{step}.tmp"


def begin_state(checkpoints: Path, step: int) -> Path:
    """The temporary folder the state of `step` is written to (emptied if a killed write left it)."""
    tmp = temp_state_dir(checkpoints, step)
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    return tmp


def save_rng(tmp: Path, rank: int = 0) -> None:
    """This process's random generators (torch, CUDA, Python, numpy) into the state being written."""
    write_tensors(_rng_tensors(), tmp / rng_file(rank), metadata={"python": json.dumps(_python_random()),
                                                                  "numpy": json.dumps(_numpy_random())})


def save_state(checkpoints: Path, model: nn.Module, optimizer: torch.optim.Optimizer, scheduler, state: TrainState,
               fingerprint: dict) -> Path:
    """Finish the state of `state.step` and rename it into place; drop all but the newest few states.

    Before this, the main process has made the temporary folder (begin_state) and every process has written its
    random generators there (save_rng); the main process writes the rest here.
    """
    final, tmp = state_dir(checkpoints, state.step), temp_state_dir(checkpoints, state.step)
    save_trainable(model, tmp / TRAINABLE)
    tensors, groups = _optimizer_tensors(optimizer)
    write_tensors(tensors, tmp / OPTIMIZER)
    if (checkpoints / BEST).is_file():
        shutil.copyfile(checkpoints / BEST, tmp / BEST)  # the best weights as of this step
    record = {"state": state.__dict__, "optimizer_groups": groups, "scheduler": _scheduler_dict(scheduler),
              "fingerprint": fingerprint}
    write_text(tmp / STATE, json.dumps(record))
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    for old in state_dirs(checkpoints)[:-KEEP_STATES]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def load_state(directory: Path, model: nn.Module, optimizer: torch.optim.Optimizer, scheduler,
               fingerprint: dict, rank: int = 0) -> TrainState:
    """Restore a state written by `save_state` into the model, optimizer, scheduler and random generators.

    Every file is checked first: a missing or unreadable one is an error naming it, never a silent fresh start.
    A state written by a run with other training settings or data is refused, naming what differs.
    """
    for name in (*REQUIRED, rng_file(rank)):
        if not (directory / name).is_file():
            raise TrainingError(f"{directory / name}: missing; the checkpoint is incomplete (delete {directory} to "
                                "resume from an older one, or start the run again)")
    try:
        record = json.loads((directory / STATE).read_text(encoding="utf-8"))
        state = TrainState(**record["state"])
    except (json.JSONDecodeError, KeyError, TypeError) as err:
        raise TrainingError(f"{directory / STATE}: not a tunewise training state ({err})") from None
    differs = sorted(k for k in fingerprint.keys() | record["fingerprint"].keys()
                     if fingerprint.get(k) != record["fingerprint"].get(k))
    if differs:
        raise TrainingError(f"{directory}: written by a run with other settings ({', '.join(differs)} differ); "
                            "resume with the settings and data it was written with")
    optimizer_tensors, rng = _read_tensors(directory / OPTIMIZER), _read_tensors(directory / rng_file(rank))
    with safe_open(str(directory / rng_file(rank)), "pt") as f:
        saved_random = f.metadata()
    load_trainable(model, directory / TRAINABLE)
    _load_optimizer(optimizer, optimizer_tensors, record["optimizer_groups"], directory / OPTIMIZER)
    _load_scheduler(scheduler, record["scheduler"])
    _restore_rng(rng, json.loads(saved_random["python"]), json.loads(saved_random["numpy"]))
    best = directory / BEST
    if best.is_file() and rank == 0:
        shutil.copyfile(best, directory.parent / BEST)
    return state


def remove_states(checkpoints: Path) -> None:
    """Drop the resumable states once training has finished (the best weights stay)."""
    for path in [*state_dirs(checkpoints), *checkpoints.glob(f".{STATE_PREFIX}*.tmp")]:
        shutil.rmtree(path, ignore_errors=True)


def _optimizer_tensors(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], list[dict]]:
    """AdamW's per-parameter state as flat tensors ('<index>.<name>') and its parameter groups as JSON."""
    saved = optimizer.state_dict()
    tensors = {f"{index}.{key}": value.detach().cpu().contiguous().clone()
               for index, per_param in saved["state"].items() for key, value in per_param.items()}
    return tensors, saved["param_groups"]


def _load_optimizer(optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], groups: list[dict],
                    path: Path) -> None:
    state: dict[int, dict[str, torch.Tensor]] = {}
    for name, value in tensors.items():
        index, key = name.split(".", 1)
        state.setdefault(int(index), {})[key] = value
    for group in groups:
        if "betas" in group:
            group["betas"] = tuple(group["betas"])
    try:
        optimizer.load_state_dict({"state": state, "param_groups": groups})
    except (ValueError, KeyError, RuntimeError) as err:
        raise TrainingError(f"{path}: does not fit this optimizer ({err})") from None


def _scheduler_dict(scheduler) -> dict:
    return {k: v for k, v in scheduler.state_dict().items() if k != "lr_lambdas"}


def _load_scheduler(scheduler, saved: dict) -> None:
    scheduler.load_state_dict({**saved, "lr_lambdas": [None] * len(scheduler.lr_lambdas)})


def _rng_tensors() -> dict[str, torch.Tensor]:
    tensors = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        tensors |= {f"cuda.{i}": s for i, s in enumerate(torch.cuda.get_rng_state_all())}
    return tensors


def _python_random() -> list:
    version, internal, gauss = random.getstate()
    return [version, list(internal), gauss]


def _numpy_random() -> list:
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    return [kind, keys.tolist(), pos, has_gauss, cached]


def _restore_rng(tensors: dict[str, torch.Tensor], python: list, numpy: list) -> None:
    torch.set_rng_state(tensors["torch"])
    cuda = [tensors[k] for k in sorted(k for k in tensors if k.startswith("cuda."))]
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda)
    random.setstate((python[0], tuple(python[1]), python[2]))
    np.random.set_state((numpy[0], np.array(numpy[1], dtype=np.uint32), *numpy[2:]))
