"""THE training recipe, read top to bottom: setup, loop, save.

Answer-only loss, length-grouped (or packed) batches, gradient accumulation, AdamW, warmup + decay, validation
with early stopping (patience, a time budget), and the best trainable weights kept on disk and restored at the end.

Speed on CPU (each measured by `make bench`): bf16 autocast over a base loaded in bf16, the attention kernel
chosen by row width, the output layer only at answer positions and in chunks, micro-batches capped in tokens,
lean RMSNorm/SwiGLU that keep fewer activations (train/fused.py), fused AdamW, no gradient checkpointing unless
asked.
"""
from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import math
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Literal, NamedTuple

import torch
from accelerate import Accelerator
from accelerate.utils import set_seed
from torch import Tensor, nn
from torch.optim.lr_scheduler import LambdaLR

from tunewise.errors import TrainingError
from tunewise.progress import clock, closing_bar, step_progress
from tunewise.sections import TrainConfig
from tunewise.train.batching import (
    IGNORE_INDEX,
    Encoded,
    collate,
    collate_packed,
    length_grouped_batches,
    split_by_tokens,
    token_counts,
)
from tunewise.train.checkpoint import (
    BEST,
    TrainState,
    begin_state,
    load_state,
    load_trainable,
    remove_states,
    save_rng,
    save_state,
    save_trainable,
    state_dir,
    state_dirs,
    temp_state_dir,
)
from tunewise.train.fused import lean_layers
from tunewise.train.loss import answer_loss_sum
from tunewise.train.schedule import lr_lambda

LossFn = Callable[[nn.Module, dict[str, Tensor]], tuple[Tensor, int]]
StopReason = Literal["patience", "epochs", "max_steps", "time_budget"]
EVALS_PER_EPOCH = 4  # validations per epoch when train.eval_every is empty


@dataclass
class TrainResult:
    """What a training run did and what it cost."""

    steps: int  # optimizer steps taken
    epochs_done: float  # passes over the training set (fractional)
    best_step: int | None  # step whose weights the model holds at the end (None: no validation data)
    best_val_loss: float | None  # mean answer-token loss on validation at best_step
    final_train_loss: float  # mean answer-token loss of the last optimizer step
    real_tokens: int  # non-padding tokens trained on
    padded_tokens: int  # tokens computed including padding (real_tokens / padded_tokens = batch efficiency)
    wall_s: float  # whole call: setup, training, validation, checkpoints
    tokens_per_s: float  # real tokens per second spent in training steps (validation excluded)
    lr: float  # the peak learning rate it trained with
    stop_reason: StopReason  # what ended it: patience, epochs (or the max_epochs cap), max_steps, time_budget
    # Stopped for another reason than patience while validation loss was still falling: the last evaluation
    # improved on the best before it by at least min_improvement. More training would likely have helped.
    undertrained: bool = False
    log: list[dict] = field(default_factory=list)  # the train_log.jsonl events

    @property
    def stopped_early(self) -> bool:
        """Patience ran out before the planned number of steps."""
        return self.stop_reason == "patience"


def training_summary(result: TrainResult, lr_check: dict | None = None) -> dict:
    """A TrainResult as the report stores it: its fields, the learning-rate check (None: the rate was given) and
    the logged curve."""
    training = {k: v for k, v in dataclasses.asdict(result).items() if k != "log"}
    training["stopped_early"] = result.stopped_early
    training["lr_check"] = lr_check
    training["curve"] = result.log
    return training


def train(
    model: nn.Module,
    train_data: list[Encoded],
    val_data: list[Encoded],
    cfg: TrainConfig,
    out_dir: Path,
    pad_id: int,
    loss_fn: LossFn = answer_loss_sum,
    resume: bool = False,
    on_eval: Callable[[int, float], None] | None = None,
) -> TrainResult:
    """Train the model's trainable parameters in place; the model ends in eval mode with the best weights.

    `loss_fn(model, batch) -> (summed loss, count)` defaults to the answer-only causal LM loss; a rung with another
    objective (a classification head, say) passes its own and keeps everything else: batching, schedule, clipping,
    validation, early stopping, checkpoints. A batch is `collate`'s dict; `count` is what the sum is averaged over.

    Every `cfg.checkpoint_every` steps, and when SIGTERM or Ctrl-C arrives (then TrainingInterrupted is raised
    after the step), a resumable state is written to `out_dir/checkpoints/`. With `resume`, training continues
    from the newest one and ends exactly where an uninterrupted run would (same weights, bit for bit).

    `on_eval(step, val_loss)`, when given, is called after each validation loss is logged; an exception it raises
    ends training there and propagates (`tunewise tune` reports each loss to Optuna and prunes a trial this way).

    For speed with precision bf16, load the frozen base in bf16 (as the ladder does): autocast computes with
    those values anyway, and fp32 weights would be cast again on every call. Trainable weights stay fp32.
    """
    started = time.perf_counter()
    with training_attention(model), _checkpointing(model, cfg.gradient_checkpointing), \
            lean_layers(model, cfg.lean_layers), _stop_requests() as stop:
        return _train(model, train_data, val_data, cfg, Path(out_dir), pad_id, started, loss_fn, resume, stop, on_eval)


def _train(
    model: nn.Module, train_data: list[Encoded], val_data: list[Encoded], cfg: TrainConfig, out_dir: Path,
    pad_id: int, started: float, loss_fn: LossFn, resume: bool, stop: list[str],
    on_eval: Callable[[int, float], None] | None,
) -> TrainResult:
    # ------------------------------------------------------------------ setup
    accelerator, autocast, params, optimizer = setup_training(
        model, cfg, "train.lr is empty: set it, or let the rung pick it first (train.probe.learning_rate)")
    batches_per_epoch = math.ceil(len(train_data) / cfg.batch_size) // accelerator.num_processes
    if batches_per_epoch == 0 or not any(label != IGNORE_INDEX for e in train_data for label in e.labels[1:]):
        raise TrainingError(
            f"nothing to train on: {len(train_data)} training examples, none with answer tokens after the first "
            f"or fewer batches than processes ({accelerator.num_processes})"
        )
    total_steps = planned_steps(len(train_data), cfg, accelerator.num_processes)
    eval_every = eval_interval(len(train_data), cfg, accelerator.num_processes)
    warmup_steps = int(cfg.warmup_ratio * total_steps)
    scheduler = LambdaLR(
        optimizer, partial(lr_lambda, total_steps=total_steps, warmup_steps=warmup_steps, kind=cfg.schedule)
    )
    checkpoints = out_dir / "checkpoints"
    fingerprint = _fingerprint(cfg, train_data, val_data, accelerator)
    st = _setup_state(checkpoints, model, optimizer, scheduler, fingerprint, resume, accelerator)
    stream = _micro_batches(train_data, cfg, pad_id, accelerator, skip=st.micro_batches_done)
    val_batches = _setup_val_batches(val_data, cfg, pad_id, accelerator.device)
    log_path, best_path = setup_outputs(out_dir, accelerator, st.log)
    # The time budget counts this call's wall time and, for a resumed run, the training time before its state.
    budget_s = None if cfg.max_minutes is None else cfg.max_minutes * 60 - st.train_s

    # ------------------------------------------------------------------ loop
    stop_reason: StopReason | None = None
    show = step_progress(total_steps, st.step)  # a bar on a terminal; None: plain lines every log_every steps
    with closing_bar(show):
        while st.step < total_steps:
            step_started = time.perf_counter()
            model.train()  # dropout on (validation switches it off)
            group = [piece for _ in range(cfg.grad_accum) for piece in next(stream)]
            # Each micro-batch's summed loss is divided by the step's answer-token count, so the gradient is the
            # one of the mean over every answer token of the step, whatever the split into micro-batches.
            step_answers = sum(int((b["labels"][:, 1:] != IGNORE_INDEX).sum()) for b in group)
            step_answers = max(1, int(accelerator.reduce(torch.tensor(step_answers, device=accelerator.device), "sum")))
            step_loss_sum = 0.0
            for batch in group:
                set_attention(model, attention_for(batch, cfg.attention))
                with autocast():
                    loss_sum, _ = loss_fn(model, batch)
                if not torch.isfinite(loss_sum):
                    fp32 = " or use train.precision: fp32" if cfg.precision == "bf16" else ""
                    raise TrainingError(
                        f"the training loss became {loss_sum.item()} at step {st.step + 1}; lower train.lr "
                        f"(now {cfg.lr:g}){fp32}. {_last_good(checkpoints)}"
                    )
                (loss_sum / step_answers).backward()
                step_loss_sum += loss_sum.item()
                real, computed = token_counts(batch)
                st.real_tokens += real
                st.padded_tokens += computed
            st.micro_batches_done += cfg.grad_accum
            if accelerator.num_processes > 1:
                # The loss bypasses model.forward (and so DDP); the trainable gradients are few, so sum them by hand.
                for p in params:
                    if p.grad is not None:
                        p.grad = accelerator.reduce(p.grad, "sum")
                # The whole step's loss (every process's share), so the log reads like a single process's.
                step_loss_sum = float(accelerator.reduce(torch.tensor(step_loss_sum, device=accelerator.device), "sum"))
            grad_norm = clip_gradients(params, cfg.max_grad_norm)
            lr = scheduler.get_last_lr()[0]
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            st.step += 1
            status = None
            st.train_s += time.perf_counter() - step_started
            st.step_loss = step_loss_sum / step_answers
            st.window_loss += step_loss_sum
            st.window_answers += step_answers
            epoch = st.micro_batches_done / batches_per_epoch
            # Past the budget: this step is the last one, evaluated and logged like the planned last step.
            out_of_time = budget_s is not None and time.perf_counter() - started >= budget_s
            if budget_s is not None and accelerator.num_processes > 1:  # every process stops at the same step
                flag = torch.tensor(int(out_of_time), device=accelerator.device)
                out_of_time = bool(accelerator.reduce(flag, "sum"))
            last = st.step == total_steps or out_of_time

            if st.step % cfg.log_every == 0 or last:
                event = log_event("train", st.step, epoch, lr, st.real_tokens, st.train_s, started,
                               loss=st.window_loss / st.window_answers, grad_norm=grad_norm)
                st.window_loss = st.window_answers = 0.0
                write_event(st.log, event, log_path, accelerator)
                eta_s = (total_steps - st.step) * st.train_s / st.step
                status = f"loss {event['loss']:.4f}  {event['tokens_per_s']:.0f} tok/s"
                if show is None:
                    accelerator.print(f"step {st.step}/{total_steps}  epoch {epoch:.2f}  {status}  lr {lr:.2e}  "
                                      f"ETA {clock(eta_s)}", file=sys.stderr)
            if show is not None:
                show(st.step, status)

            if val_batches and (st.step % eval_every == 0 or last):
                val_loss = _validation_loss(model, val_batches, autocast, cfg.attention, loss_fn)
                event = log_event("eval", st.step, epoch, lr, st.real_tokens, st.train_s, started, val_loss=val_loss)
                write_event(st.log, event, log_path, accelerator)
                accelerator.print(f"step {st.step}/{total_steps}  val_loss {val_loss:.4f}", file=sys.stderr)
                if on_eval is not None:
                    on_eval(st.step, val_loss)  # may raise to end training here (a tuner pruning its trial)
                # Patience counts evaluations that do not beat the best by min_improvement, after warmup (while the
                # rate still rises a slow fall says nothing about a plateau); the best weights are the lowest loss
                # seen, however small the step down.
                gained = st.best_val_loss is None or val_loss < st.best_val_loss * (1 - cfg.min_improvement)
                st.evals_without_gain = 0 if gained or st.step <= warmup_steps else st.evals_without_gain + 1
                if st.best_val_loss is None or val_loss < st.best_val_loss:
                    st.best_step, st.best_val_loss = st.step, val_loss
                    if accelerator.is_main_process:
                        save_trainable(model, best_path)
                    accelerator.wait_for_everyone()
                if cfg.patience is not None and st.evals_without_gain >= cfg.patience:
                    stop_reason = "patience"
                    accelerator.print(f"early stop at step {st.step}: val_loss did not fall {cfg.min_improvement:.1%} "
                                      f"below its best in {cfg.patience} evals", file=sys.stderr)
                    break
            if out_of_time and st.step < total_steps:
                stop_reason = "time_budget"
                accelerator.print(f"time budget: stop at step {st.step} of {total_steps} after "
                                  f"{clock(time.perf_counter() - started)} (train.max_minutes {cfg.max_minutes:g})",
                                  file=sys.stderr)
                break

            due = cfg.checkpoint_every is not None and st.step % cfg.checkpoint_every == 0 and st.step < total_steps
            if due or stop:
                if not all(torch.isfinite(p).all() for p in params):  # a state to resume from must be a good one
                    raise TrainingError(f"the trainable weights became NaN or infinite by step {st.step}; lower "
                                        f"train.lr (now {cfg.lr:g}). {_last_good(checkpoints)}")
                where = _save_state(checkpoints, model, optimizer, scheduler, st, fingerprint, accelerator)
                if stop:
                    raise TrainingInterrupted(f"training stopped by {stop[0]} after step {st.step} of {total_steps}; "
                                              f"its state is saved in {where}", where, stop[0])

    # ------------------------------------------------------------------ save
    stop_reason = stop_reason or ("max_steps" if cfg.max_steps else "epochs")
    undertrained = stop_reason != "patience" and still_falling(st.log, cfg.min_improvement)
    if undertrained:
        accelerator.print(f"val_loss was still falling at the last evaluation ({stop_reason} stopped it): more "
                          "training would likely help (raise train.max_epochs, epochs or max_minutes)", file=sys.stderr)
    if st.best_step is not None and st.best_step != st.step:
        load_trainable(model, best_path)
    if accelerator.is_main_process:
        remove_states(checkpoints)  # finished: nothing left to resume (the best weights stay)
    model.eval()
    return TrainResult(
        steps=st.step,
        epochs_done=st.micro_batches_done / batches_per_epoch,
        best_step=st.best_step,
        best_val_loss=st.best_val_loss,
        final_train_loss=math.nan if st.step_loss is None else st.step_loss,
        real_tokens=st.real_tokens,
        padded_tokens=st.padded_tokens,
        wall_s=time.perf_counter() - started,
        tokens_per_s=st.real_tokens / st.train_s if st.train_s else 0.0,
        lr=cfg.lr,
        stop_reason=stop_reason,
        undertrained=undertrained,
        log=st.log,
    )


def still_falling(log: list[dict], min_improvement: float) -> bool:
    """Whether the last validation loss in `log` beat the best before it by min_improvement. A single evaluation
    (a run cut after a few steps) counts as falling: training started from the untrained method and nothing shows
    it had levelled off. No evaluation at all: False (nothing to say)."""
    losses = [event["val_loss"] for event in log if event["event"] == "eval"]
    if len(losses) == 1:
        return True
    return len(losses) >= 2 and losses[-1] < min(losses[:-1]) * (1 - min_improvement)


# ---------------------------------------------------------------------- resuming


class TrainingInterrupted(TrainingError):
    """SIGTERM or Ctrl-C (`signal_name`) stopped training after a step; the state was saved there (`checkpoint`)."""

    def __init__(self, message: str, checkpoint: Path, signal_name: str = "SIGINT"):
        super().__init__(message)
        self.checkpoint = checkpoint
        self.signal_name = signal_name


@contextmanager
def _stop_requests() -> Iterator[list[str]]:
    """While training, SIGTERM and Ctrl-C (SIGINT) ask the loop to save and stop after the current step: the
    yielded list gets the signal's name. Outside the main thread (where handlers cannot be set) nothing changes."""
    requests: list[str] = []
    if threading.current_thread() is not threading.main_thread():
        yield requests
        return

    def ask(signum, frame):
        requests.append(signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, ask) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield requests
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _fingerprint(cfg: TrainConfig, train_data: list[Encoded], val_data: list[Encoded],
                 accelerator: Accelerator) -> dict:
    """What must be the same for a saved state to continue this run: the settings that shape the steps, the data,
    and the number of processes. Logging, checkpoints and validation (which picks the best step but never changes
    a step's update) may differ: `tunewise run --resume --allow-changes` decides which of those a user changes."""
    free = {"log_every", "checkpoint_every", "eval_every", "patience", "min_improvement", "max_minutes",
            "max_val_examples", "lr_check_factors"}
    digest = hashlib.sha256()
    for example in (*train_data, *val_data):
        digest.update(json.dumps([example.input_ids, example.labels]).encode())
    return {**{f"train.{k}": v for k, v in cfg.model_dump(mode="json").items() if k not in free},
            "data": digest.hexdigest(), "processes": accelerator.num_processes}


def _setup_state(checkpoints: Path, model: nn.Module, optimizer, scheduler, fingerprint: dict,
                 resume: bool, accelerator: Accelerator) -> TrainState:
    """A fresh state, or with `resume` the newest saved one restored (a fresh one when none was saved yet)."""
    saved = state_dirs(checkpoints) if resume else []
    if not saved:
        return TrainState(log=[])
    state = load_state(saved[-1], model, optimizer, scheduler, fingerprint, accelerator.process_index)
    accelerator.wait_for_everyone()  # the main process has put the best weights back in place
    print(f"[tunewise] resuming from {saved[-1]} (step {state.step})", file=sys.stderr, flush=True)
    return state


def _save_state(checkpoints: Path, model, optimizer, scheduler, st: TrainState, fingerprint: dict,
                accelerator: Accelerator) -> Path:
    """Every process writes its random generators, then the main one the rest (weights and optimizer are the
    same everywhere) and renames the folder into place."""
    if accelerator.is_main_process:
        begin_state(checkpoints, st.step)
    accelerator.wait_for_everyone()
    save_rng(temp_state_dir(checkpoints, st.step), accelerator.process_index)
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        save_state(checkpoints, model, optimizer, scheduler, st, fingerprint)
    accelerator.wait_for_everyone()
    return state_dir(checkpoints, st.step)


def _last_good(checkpoints: Path) -> str:
    """Where the newest saved state and the best weights are, for a run that cannot go on."""
    states = state_dirs(checkpoints)
    kept = [f"the last saved state is {states[-1]}" if states else "",
            f"the best weights so far are in {checkpoints / BEST}" if (checkpoints / BEST).is_file() else ""]
    kept = [k for k in kept if k]
    return ("Kept: " + "; ".join(kept) + ".") if kept else "No checkpoint was saved before it."


# ---------------------------------------------------------------------- setup helpers


def planned_steps(n_examples: int, cfg: TrainConfig, processes: int = 1) -> int:
    """Optimizer steps a run will take unless it stops early: max_steps, else epochs (empty: the max_epochs cap)
    over the data. The schedule decays over these steps."""
    batches_per_epoch = math.ceil(n_examples / cfg.batch_size) // processes
    epochs = cfg.max_epochs if cfg.epochs is None else cfg.epochs
    return cfg.max_steps or math.ceil(epochs * batches_per_epoch / cfg.grad_accum)


def eval_interval(n_examples: int, cfg: TrainConfig, processes: int = 1) -> int:
    """Optimizer steps between validations: eval_every, else EVALS_PER_EPOCH times per epoch (at least 1)."""
    if cfg.eval_every is not None:
        return cfg.eval_every
    steps_per_epoch = (math.ceil(n_examples / cfg.batch_size) // processes) / cfg.grad_accum
    return max(1, math.ceil(steps_per_epoch / EVALS_PER_EPOCH))


# On CPU, eager attention trains faster than SDPA's flash kernel up to about this width, and SDPA beyond it
# (bf16, SmolLM2 heads, forward + backward: 3.3 vs 7.0 ms at 64 tokens, 45 vs 36 ms at 256); eager also keeps
# the (T x T) probabilities for backward, which only stays small for short rows.
EAGER_MAX_WIDTH = 192


def attention_for(batch: dict[str, Tensor], choice: str) -> str:
    """The attention kernel a micro-batch trains with: `choice`, or for auto the faster one for its width."""
    return attention_for_width(batch["input_ids"].shape[1], batch["input_ids"].is_cuda, choice)


def attention_for_width(width: int, on_cuda: bool, choice: str) -> str:
    """The attention kernel for rows of `width` tokens: `choice`, or for auto eager on short CPU rows, else SDPA."""
    if choice != "auto":
        return choice
    return "eager" if not on_cuda and width <= EAGER_MAX_WIDTH else "sdpa"


def _base_model(model: nn.Module) -> nn.Module:
    """The transformers model under a PEFT wrapper (or the model itself)."""
    return model.get_base_model() if hasattr(model, "get_base_model") else model


@contextmanager
def _checkpointing(model: nn.Module, enabled: bool) -> Iterator[None]:
    """Gradient checkpointing for the run when asked (non-reentrant: frozen inputs need no grad hooks)."""
    if not enabled:
        yield
        return
    base = _base_model(model)
    if not getattr(base, "supports_gradient_checkpointing", False):
        raise TrainingError(f"{type(base).__name__} does not support gradient checkpointing")
    if hasattr(base, "activation_checkpointing_enable"):  # transformers >= 5.24 name; the old one warns
        base.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
    else:
        base.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    try:
        yield
    finally:
        disable = getattr(base, "activation_checkpointing_disable", None) or base.gradient_checkpointing_disable
        disable()


def set_attention(model: nn.Module, name: str) -> None:
    base = _base_model(model)
    if getattr(base.config, "_attn_implementation", name) != name and hasattr(base, "set_attn_implementation"):
        base.set_attn_implementation(name)


@contextmanager
def training_attention(model: nn.Module) -> Iterator[None]:
    """Restore the model's own attention kernel after training switched it (prediction keeps its own)."""
    before = getattr(_base_model(model).config, "_attn_implementation", None)
    try:
        yield
    finally:
        if before is not None:
            set_attention(model, before)


class TrainingSetup(NamedTuple):
    accelerator: Accelerator
    autocast: Callable[[], contextlib.AbstractContextManager]
    params: list[nn.Parameter]  # the trainable ones
    optimizer: torch.optim.AdamW


def setup_training(model: nn.Module, cfg: TrainConfig, missing_lr: str) -> TrainingSetup:
    """How every recipe starts: the accelerator, seeded RNGs (python, numpy, torch: data order and dropout repeat
    exactly), the model on its device, bf16 autocast when cfg.precision says so, the trainable parameters and their
    optimizer. Raises TrainingError when nothing is trainable or cfg.lr is empty (`missing_lr` says which setting)."""
    accelerator = _setup_accelerator()
    set_seed(cfg.seed)
    model.to(accelerator.device)
    # bf16 autocast is entered by hand: accelerate's mixed_precision is fixed once per process and only wraps
    # model.forward, which the answer-only loss does not call. On CPU it is the same torch.autocast either way.
    autocast = partial(torch.autocast, accelerator.device.type, dtype=torch.bfloat16, enabled=cfg.precision == "bf16")
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise TrainingError("the model has no trainable parameters; apply a fine-tuning method first")
    if cfg.lr is None:
        raise TrainingError(missing_lr)
    return TrainingSetup(accelerator, autocast, params, _setup_optimizer(params, cfg))


def _setup_accelerator() -> Accelerator:
    # No mixed_precision argument: accelerate rejects a second Accelerator in the process with a different one.
    return Accelerator(cpu=not torch.cuda.is_available())


def _setup_optimizer(params: list[nn.Parameter], cfg: TrainConfig) -> torch.optim.AdamW:
    """AdamW with weight decay on matrices only (not biases or norms); fused: ~3x faster step than foreach on CPU."""
    groups = [
        {"params": [p for p in params if p.ndim >= 2], "weight_decay": cfg.weight_decay},
        {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0},
    ]
    return torch.optim.AdamW([g for g in groups if g["params"]], lr=cfg.lr, fused=True)


def _micro_batches(
    data: list[Encoded], cfg: TrainConfig, pad_id: int, accelerator: Accelerator, skip: int = 0
) -> Iterator[list[dict[str, Tensor]]]:
    """Micro-batches epoch after epoch, each as its tensor pieces; each process takes every num_processes-th.

    The order depends only on (seed, epoch), so a resumed run skips the `skip` micro-batches it already trained
    on (without building them) and continues with the very next one.
    """
    lengths = [len(e.input_ids) for e in data]
    epoch = 0
    while True:
        batches = length_grouped_batches(lengths, cfg.batch_size, cfg.seed, epoch)
        # Every process must take the same number of steps, or the gradient sums would wait forever.
        usable = len(batches) - len(batches) % accelerator.num_processes
        for indices in batches[accelerator.process_index : usable : accelerator.num_processes]:
            if skip:
                skip -= 1
                continue
            yield _tensors([data[i] for i in indices], cfg, pad_id, accelerator.device)
        epoch += 1


def _tensors(batch: list[Encoded], cfg: TrainConfig, pad_id: int, device: torch.device) -> list[dict[str, Tensor]]:
    """One micro-batch as padded (or packed) tensors, in pieces of at most cfg.max_batch_tokens tokens."""
    pieces = []
    for piece in split_by_tokens(batch, cfg.max_batch_tokens):
        tensors = collate_packed(piece) if cfg.packing else collate(piece, pad_id)
        pieces.append({k: v.to(device) for k, v in tensors.items()})
    return pieces


def _setup_val_batches(
    data: list[Encoded], cfg: TrainConfig, pad_id: int, device: torch.device
) -> list[dict[str, Tensor]]:
    """The first max_val_examples validation examples, batched by length (fixed order: same every eval)."""
    data = sorted(data[: cfg.max_val_examples], key=lambda e: len(e.input_ids))
    return [
        piece
        for start in range(0, len(data), cfg.batch_size)
        for piece in _tensors(data[start : start + cfg.batch_size], cfg, pad_id, device)
    ]


def setup_outputs(out_dir: Path, accelerator: Accelerator, log: list[dict]) -> tuple[Path, Path]:
    """(train_log.jsonl, best weights path); the log is rewritten with `log`, the events up to where this run
    starts (none for a fresh run; a resumed run drops the events its killed predecessor wrote after the state)."""
    log_path = out_dir / "train_log.jsonl"
    best_path = out_dir / "checkpoints" / BEST
    if accelerator.is_main_process:
        best_path.parent.mkdir(parents=True, exist_ok=True)
        log_path.write_text("".join(json.dumps(event) + "\n" for event in log), encoding="utf-8")
    return log_path, best_path


# ---------------------------------------------------------------------- loop helpers


def clip_gradients(params: list[nn.Parameter], max_norm: float | None) -> float:
    """Clip to max_norm (when set) and return the norm before clipping."""
    limit = max_norm if max_norm is not None else math.inf
    return float(torch.nn.utils.clip_grad_norm_(params, limit))


def validation_loss(model: nn.Module, data: list[Encoded], cfg: TrainConfig, pad_id: int,
                    loss_fn: LossFn = answer_loss_sum) -> float:
    """Mean loss over every answer token of the first cfg.max_val_examples of `data`, as the loop validates."""
    device = next(model.parameters()).device
    autocast = partial(torch.autocast, device.type, dtype=torch.bfloat16, enabled=cfg.precision == "bf16")
    with training_attention(model):
        return _validation_loss(model, _setup_val_batches(data, cfg, pad_id, device), autocast, cfg.attention, loss_fn)


@torch.no_grad()
def _validation_loss(
    model: nn.Module, batches: list[dict[str, Tensor]], autocast, attention: str, loss_fn: LossFn
) -> float:
    """Mean loss over every answer token of the validation batches (eval mode: no dropout)."""
    model.eval()
    loss_sum, n_answers = 0.0, 0
    for batch in batches:
        set_attention(model, attention_for(batch, attention))
        with autocast():
            batch_sum, batch_answers = loss_fn(model, batch)
        loss_sum += batch_sum.item()
        n_answers += batch_answers
    return loss_sum / max(n_answers, 1)


def log_event(
    kind: str, step: int, epoch: float, lr: float, real_tokens: int, train_s: float, started: float,
    loss: float | None = None, val_loss: float | None = None, grad_norm: float | None = None,
) -> dict:
    """One train_log.jsonl line; every line has every key, None where it does not apply."""
    return {
        "event": kind,
        "step": step,
        "epoch": round(epoch, 4),
        "loss": loss,
        "val_loss": val_loss,
        "lr": lr,
        "grad_norm": grad_norm,
        "real_tokens": real_tokens,
        "tokens_per_s": real_tokens / train_s if train_s else 0.0,
        "elapsed_s": round(time.perf_counter() - started, 3),
    }


def write_event(log: list[dict], event: dict, path: Path, accelerator: Accelerator) -> None:
    log.append(event)
    if accelerator.is_main_process:
        with path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(event) + "\n")

