"""Short runs before the real one: the learning-rate check (a few steps at each of a few rates, from the same
starting weights) and the dry run's estimate of a training run (timed steps, extrapolated to the planned run).
"""
from __future__ import annotations

import json
import math
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from tunewise.errors import TrainingError
from tunewise.io import write_json
from tunewise.progress import clock, note
from tunewise.sections import TrainConfig
from tunewise.train.batching import Encoded
from tunewise.train.loop import (
    LossFn,
    TrainingInterrupted,
    TrainResult,
    eval_interval,
    planned_steps,
    train,
    validation_loss,
)
from tunewise.train.loss import answer_loss_sum

PROBE_STEPS = 4  # optimizer steps a dry run times per fine-tuning rung whose rate is given
# Steps per rate of the learning-rate check. Enough for the rates to separate (a too-low rate has barely moved the
# loss, a too-high one has overshot or diverged) and cheap: 3 rates x 8 steps is ~2 min for LoRA on the bundled
# demo on CPU (~4.4 s a step), a sixth of one epoch.
LR_CHECK_STEPS = 8
LR_CHECK_VAL_EXAMPLES = 32  # the first validation examples that score each rate (the same ones for every rate)
LR_CHECK_FILE = "lr_check.json"  # in the rung's folder: a resumed run reads the pick back instead of checking again


@dataclass
class LrCheck:
    """What the learning-rate check tried and picked."""

    rates: list[float]
    val_losses: list[float]  # after LR_CHECK_STEPS steps at each rate; inf: it diverged
    picked: float  # the rate with the lowest validation loss
    seconds: float  # wall time of the whole check
    tokens_per_s: float  # real tokens per second of the probes' training steps (what the dry run extrapolates)

    def summary(self) -> dict:
        """As the report stores it (training.lr_check): a diverged rate's loss is None (JSON has no infinity)."""
        losses = [loss if math.isfinite(loss) else None for loss in self.val_losses]
        return {"rates": self.rates, "val_losses": losses, "picked": self.picked, "seconds": round(self.seconds, 3)}


def check_rates(centre: float, cfg: TrainConfig) -> list[float]:
    """The rates the check tries: the method's centre rate times each of train.lr_check_factors, ascending."""
    return sorted({centre * factor for factor in cfg.lr_check_factors})


def lr_check_config(cfg: TrainConfig, rate: float) -> TrainConfig:
    """One probe's settings: LR_CHECK_STEPS steps at `rate`, constant, without warmup.

    A constant rate from the first step, because a rate that cannot stand 8 full-rate steps is too hot for the run
    (whose warmup is short: 5% of its steps), and it offsets the short horizon's own bias towards high rates (a few
    steps reward the fastest early drop, not the best end point). No early stopping, time budget, states or lines.
    """
    return cfg.model_copy(update={
        "lr": rate, "max_steps": LR_CHECK_STEPS, "schedule": "constant", "warmup_ratio": 0.0, "patience": None,
        "max_minutes": None, "checkpoint_every": None, "log_every": 10**6, "max_val_examples": LR_CHECK_VAL_EXAMPLES,
    })


def check_learning_rates(
    model: nn.Module, encoded_train: list[Encoded], encoded_val: list[Encoded], cfg: TrainConfig,
    rates: list[float], workdir: Path, pad_id: int, loss_fn: LossFn = answer_loss_sum,
) -> LrCheck:
    """Train LR_CHECK_STEPS steps at each rate from the same initial trainable weights (a fresh optimizer each
    time), score each by validation loss on the first LR_CHECK_VAL_EXAMPLES of `encoded_val`, pick the lowest.

    A probe whose loss diverges counts as worst. The model ends with its initial weights, so the real run starts
    exactly where it would have without the check (the loop reseeds data order and dropout itself).
    """
    started = time.perf_counter()
    trainable = {name: p for name, p in model.named_parameters() if p.requires_grad}
    initial = {name: p.detach().clone() for name, p in trainable.items()}
    val = encoded_val[:LR_CHECK_VAL_EXAMPLES]
    losses, failures, tokens, train_s = [], [], 0, 0.0
    for i, rate in enumerate(rates):
        probe_dir = Path(workdir) / "lr_check" / str(i)
        shutil.rmtree(probe_dir, ignore_errors=True)
        try:
            result = train(model, encoded_train, [], lr_check_config(cfg, rate), probe_dir, pad_id, loss_fn)
            loss = validation_loss(model, val, lr_check_config(cfg, rate), pad_id, loss_fn)
            tokens, train_s = tokens + result.real_tokens, train_s + result.real_tokens / max(result.tokens_per_s, 1e-9)
        except TrainingInterrupted:
            raise
        except TrainingError as err:  # a non-finite loss or weights: this rate is too high
            loss = math.inf
            failures.append(f"{rate:g}: {str(err).split(';')[0]}")
        losses.append(loss if math.isfinite(loss) else math.inf)
        with torch.no_grad():
            for name, p in trainable.items():
                p.copy_(initial[name])
    shutil.rmtree(Path(workdir) / "lr_check", ignore_errors=True)
    if all(math.isinf(loss) for loss in losses):
        raise TrainingError(f"the learning-rate check diverged at every rate ({'; '.join(failures)}); set a lower "
                            "train.lr (or the method's own lr) yourself")
    picked = rates[min(range(len(rates)), key=losses.__getitem__)]
    return LrCheck(list(rates), losses, picked, time.perf_counter() - started, tokens / train_s if train_s else 0.0)


def learning_rate(
    model: nn.Module, encoded_train: list[Encoded], encoded_val: list[Encoded], cfg: TrainConfig,
    fixed: float | None, centre: float, workdir: Path, pad_id: int, loss_fn: LossFn = answer_loss_sum,
    resume: bool = False,
) -> tuple[float, LrCheck | None]:
    """(rate to train with, the check that picked it or None): `fixed` when the user chose a rate; else the check
    around `centre` (saved in workdir/lr_check.json, which a resumed run reads back instead of checking again).
    Without validation data there is nothing to score the rates by: the centre rate, unchecked."""
    if fixed is not None:
        return fixed, None
    if not encoded_val:
        note(f"no validation data for the learning-rate check: training at the centre rate {centre:g}")
        return centre, None
    rates = check_rates(centre, cfg)
    saved = Path(workdir) / LR_CHECK_FILE
    if resume and saved.is_file():
        record = json.loads(saved.read_text(encoding="utf-8"))
        if record["rates"] == rates:
            check = LrCheck(rates, [math.inf if v is None else v for v in record["val_losses"]], record["picked"],
                            record["seconds"], 0.0)
            note(f"learning-rate check: {record['picked']:g}, as picked before the interruption ({saved})")
            return check.picked, check
    check = check_learning_rates(model, encoded_train, encoded_val, cfg, rates, workdir, pad_id, loss_fn)
    write_json(saved, check.summary())
    note(lr_check_line(check, len(encoded_val[:LR_CHECK_VAL_EXAMPLES])))
    return check.picked, check


def train_at_checked_rate(
    model: nn.Module, encoded_train: list[Encoded], encoded_val: list[Encoded], cfg: TrainConfig,
    fixed: float | None, centre: float, workdir: Path, pad_id: int, loss_fn: LossFn = answer_loss_sum,
    resume: bool = False, on_eval=None,
) -> tuple[TrainResult, LrCheck | None]:
    """The run every trained rung does: the learning-rate check unless a rate was given (see `learning_rate`), then
    training at the picked rate (its time budget less the check's time). Returns (the run, the check or None)."""
    lr, check = learning_rate(model, encoded_train, encoded_val, cfg, fixed, centre, workdir, pad_id, loss_fn,
                              resume=resume)
    result = train(model, encoded_train, encoded_val, at_picked_rate(cfg, lr, check), workdir, pad_id, loss_fn,
                   resume=resume, on_eval=on_eval)
    return result, check


def at_picked_rate(cfg: TrainConfig, lr: float, check: LrCheck | None) -> TrainConfig:
    """The run's settings: `cfg` at rate `lr`, its time budget (max_minutes, the rung's) less what the check took."""
    update: dict = {"lr": lr}
    if cfg.max_minutes is not None and check is not None:
        update["max_minutes"] = max(cfg.max_minutes - check.seconds / 60, 1e-6)  # spent: one step, then stop
    return cfg.model_copy(update=update)


def lr_check_line(check: LrCheck, n_val: int) -> str:
    """One log line: every rate's validation loss and the pick; a pick at the edge of the range says so."""
    tried = ", ".join(f"{r:g} {'diverged' if math.isinf(v) else f'{v:.4f}'}" for r, v in zip(check.rates,
                                                                                         check.val_losses))
    edge = ""
    if len(check.rates) > 1 and check.picked in (check.rates[0], check.rates[-1]):
        side = "highest" if check.picked == check.rates[-1] else "lowest"
        edge = f"; the {side} rate tried: train.lr_check_factors could reach further"
    return (f"learning-rate check ({LR_CHECK_STEPS} steps each, val loss on {n_val} examples): {tried}; picked "
            f"{check.picked:g} ({clock(check.seconds)}){edge}")


# ---------------------------------------------------------------------- the dry run


def probe_config(cfg: TrainConfig) -> TrainConfig:
    """The training settings of a probe: PROBE_STEPS steps, no early stopping, time budget or progress lines."""
    return cfg.model_copy(update={"max_steps": PROBE_STEPS, "patience": None, "max_minutes": None,
                                  "log_every": 10**6})


def estimate_training(
    model: nn.Module, encoded_train: list[Encoded], encoded_val: list[Encoded], cfg: TrainConfig,
    fixed: float | None, centre: float, workdir: Path, pad_id: int, loss_fn: LossFn = answer_loss_sum,
) -> float:
    """Seconds a rung's training would take: the learning-rate check when it will run (run here for real: its
    probes are the timing), then the planned run at the probes' tokens/s; with a given rate, PROBE_STEPS timed
    steps instead. `encoded_val` is what the run validates on (its first max_val_examples)."""
    if fixed is None and encoded_val:
        check = check_learning_rates(model, encoded_train, encoded_val, cfg, check_rates(centre, cfg), workdir,
                                     pad_id, loss_fn)
        seconds = check.seconds + extrapolate_fit(check.tokens_per_s, encoded_train, encoded_val, cfg)
    else:
        probe = probe_config(cfg.model_copy(update={"lr": fixed or centre}))
        result = train(model, encoded_train, [], probe, workdir, pad_id, loss_fn)
        seconds = extrapolate_fit(result.tokens_per_s, encoded_train, encoded_val, cfg)
    # A time budget ends the run there (after one more step and a validation, which this leaves out).
    return seconds if cfg.max_minutes is None else min(seconds, cfg.max_minutes * 60)


def extrapolate_fit(tokens_per_s: float, encoded_train: list[Encoded], encoded_val: list[Encoded],
                    cfg: TrainConfig) -> float:
    """Seconds for the planned run at `tokens_per_s`; validation passes at twice that rate (no backward).

    With train.epochs empty the run is planned to the max_epochs cap, so this is an upper bound when patience
    stops it earlier (or max_minutes, which it does not account for).
    """
    steps = planned_steps(len(encoded_train), cfg)
    mean_length = sum(len(e.input_ids) for e in encoded_train) / len(encoded_train)
    train_tokens = steps * cfg.batch_size * cfg.grad_accum * mean_length
    val_tokens = sum(len(e.input_ids) for e in encoded_val[: cfg.max_val_examples])
    n_evals = math.ceil(steps / eval_interval(len(encoded_train), cfg)) if encoded_val else 0
    return (train_tokens + n_evals * val_tokens / 2) / tokens_per_s
