"""The preference recipe, read top to bottom: reference log-probs once, then DPO / IPO / ORPO / SimPO / KTO steps on
the policy's log-probs of each reply (or Bradley-Terry steps on a reward model's scores of each reply), validation
with early stopping, the best trainable weights kept.

A reply's log-prob is the sum over its tokens (end-of-turn included) of log p(token | prompt, reply so far), read
where the row's own tokens are (prompt ids and reply ids are concatenated, never re-tokenised from joined text, and
padding is masked by position, never by pad id: SmolLM2's pad is its end-of-turn token). The reference model is the
policy with its adapter disabled (a fresh LoRA on the SFT model merged into the base): its log-probs are computed
once, before the first step, and never change.

Shared with the supervised recipe (train/loop.py): AdamW with decay on matrices, warmup + decay schedule, bf16
autocast, gradient clipping, the train_log.jsonl events, the best weights file and TrainResult. Not here: packing,
resuming from a saved state, multi-process training (the alignment methods are one-process rungs).
"""
from __future__ import annotations

import itertools
import math
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.optim.lr_scheduler import LambdaLR

from tunewise.errors import TrainingError
from tunewise.progress import clock
from tunewise.sections import TrainConfig
from tunewise.train.batching import length_grouped_batches
from tunewise.train.checkpoint import load_trainable, save_trainable
from tunewise.train.loop import (
    TrainResult,
    attention_for_width,
    clip_gradients,
    eval_interval,
    log_event,
    planned_steps,
    set_attention,
    setup_outputs,
    setup_training,
    still_falling,
    training_attention,
    write_event,
)
from tunewise.train.loss import decoder_and_head
from tunewise.train.schedule import lr_lambda

LOGIT_CHUNK = 256  # reply positions per output-layer chunk when scoring without gradients
# (model, prompts, replies, pad id) -> ((R,) each row's score, (R,) each reply's token count): what a loss is made of
RowScorer = Callable[[nn.Module, Sequence[list[int]], Sequence[list[int]], int], tuple[Tensor, Tensor]]


@dataclass(frozen=True)
class EncodedPreference:
    """One preference item as token ids. A pair has both replies; a KTO item has one: `chosen` when the completion is
    desirable, `rejected` when it is not. Replies end with the end-of-turn token."""

    prompt: list[int]
    chosen: list[int] | None
    rejected: list[int] | None

    @property
    def paired(self) -> bool:
        return self.chosen is not None and self.rejected is not None

    def replies(self) -> list[list[int]]:
        return [r for r in (self.chosen, self.rejected) if r is not None]


@dataclass(frozen=True)
class Objective:
    """Which preference loss, and its settings (methods/alignment.py documents each field)."""

    name: str  # dpo | ipo | orpo | simpo | kto | bradley_terry (a reward model's pairwise loss)
    beta: float
    sft_weight: float = 0.0  # dpo/ipo: + this x the chosen reply's mean token NLL (against likelihood displacement)
    simpo_gamma: float = 1.0  # simpo: the target margin between mean log-probs, in units of beta
    orpo_lambda: float = 0.1  # orpo: weight of the odds-ratio term next to the chosen reply's NLL
    kto_desirable_weight: float = 1.0
    kto_undesirable_weight: float = 1.0

    @property
    def needs_reference(self) -> bool:
        return self.name in ("dpo", "ipo", "kto")

    @property
    def needs_pairs(self) -> bool:
        return self.name != "kto"


# ---------------------------------------------------------------------- the losses, each a formula on log-probs
# pc, pr: the policy's summed log-probs of the chosen / rejected reply, (B,); rc, rr: the reference's; nc, nr: the
# replies' token counts. Each returns the per-item loss, (B,).


def dpo_loss(pc: Tensor, pr: Tensor, rc: Tensor, rr: Tensor, beta: float) -> Tensor:
    """DPO (sigmoid): -log sigmoid(beta * ((pc - rc) - (pr - rr))); log 2 where the policy is the reference."""
    return -F.logsigmoid(beta * ((pc - rc) - (pr - rr)))


def ipo_loss(pc: Tensor, pr: Tensor, rc: Tensor, rr: Tensor, nc: Tensor, nr: Tensor, beta: float) -> Tensor:
    """IPO: ((mean-token log-ratio of chosen - of rejected) - 1 / (2 beta))^2 (per-token means, as TRL's IPO)."""
    return ((pc - rc) / nc - (pr - rr) / nr - 1 / (2 * beta)) ** 2


def simpo_loss(pc: Tensor, pr: Tensor, nc: Tensor, nr: Tensor, beta: float, gamma: float) -> Tensor:
    """SimPO: -log sigmoid(beta * (pc / nc - pr / nr) - gamma * beta); no reference model."""
    return -F.logsigmoid(beta * (pc / nc - pr / nr) - gamma * beta)


def log_odds(mean_logp: Tensor) -> Tensor:
    """log(p / (1 - p)) of a reply's mean token probability p = exp(mean_logp)."""
    mean_logp = mean_logp.clamp(max=-1e-6)  # p = 1 would make the odds infinite
    return mean_logp - torch.log(-torch.expm1(mean_logp))


def orpo_loss(pc: Tensor, pr: Tensor, nc: Tensor, nr: Tensor, lam: float) -> Tensor:
    """ORPO: the chosen reply's mean token NLL + lam * -log sigmoid(log odds(chosen) - log odds(rejected))."""
    return -pc / nc + lam * -F.logsigmoid(log_odds(pc / nc) - log_odds(pr / nr))


def kto_loss(policy: Tensor, reference: Tensor, desirable: Tensor, beta: float, w_desirable: float,
             w_undesirable: float) -> Tensor:
    """KTO: w_d (1 - sigmoid(beta (r - z))) for desirable replies, w_u (1 - sigmoid(beta (z - r))) for undesirable,
    r = policy - reference log-prob of the reply. z, the reference point, is the batch's mean r clamped at 0 and
    held constant (a cheaper estimate than KTO's mismatched-pair KL, from the same batch)."""
    ratio = policy - reference
    z = ratio.mean().clamp(min=0).detach()
    return torch.where(desirable, w_desirable * (1 - torch.sigmoid(beta * (ratio - z))),
                       w_undesirable * (1 - torch.sigmoid(beta * (z - ratio))))


@dataclass
class BatchLoss:
    """One micro-batch's per-item losses and what the log shows of them."""

    losses: Tensor  # (B,)
    margins: list[float]  # pairs: the objective's margin (DPO/IPO: beta x reward margin; others: mean log-prob gap)
    right: list[bool]  # pairs: the policy gives the chosen reply the higher log-prob
    chosen_logps: list[float]  # the policy's summed log-prob of each chosen reply


def objective_loss(objective: Objective, items: Sequence[EncodedPreference], logps: Tensor, counts: Tensor,
                   references: Tensor | None) -> BatchLoss:
    """The objective's per-item loss from the rows' log-probs: rows run chosen then rejected per item (one row for a
    KTO item); `references` holds the reference's log-prob of the same rows."""
    first = torch.tensor([0, *[len(it.replies()) for it in items]], device=logps.device).cumsum(0)[:-1]
    if objective.name == "kto":  # one loss per row (a pair's two replies count as two items)
        flags = [flag for it in items for flag, reply in ((True, it.chosen), (False, it.rejected)) if reply is not None]
        desirable = torch.tensor(flags, device=logps.device)
        losses = kto_loss(logps, references, desirable, objective.beta, objective.kto_desirable_weight,
                          objective.kto_undesirable_weight)
        pairs = [int(f) for f, it in zip(first, items) if it.paired]
        right = [bool(logps[i] > logps[i + 1]) for i in pairs]
        return BatchLoss(losses, [], right, logps.detach()[desirable].tolist())
    pc, pr, nc, nr = logps[first], logps[first + 1], counts[first], counts[first + 1]
    beta = objective.beta
    if objective.name in ("dpo", "ipo"):
        rc, rr = references[first], references[first + 1]
        if objective.name == "dpo":
            losses = dpo_loss(pc, pr, rc, rr, beta)
            margins = beta * ((pc - rc) - (pr - rr))
        else:
            losses = ipo_loss(pc, pr, rc, rr, nc, nr, beta)
            margins = (pc - rc) / nc - (pr - rr) / nr
        losses = losses + objective.sft_weight * -pc / nc
    elif objective.name == "simpo":
        losses, margins = simpo_loss(pc, pr, nc, nr, beta, objective.simpo_gamma), pc / nc - pr / nr
    elif objective.name == "orpo":
        losses, margins = orpo_loss(pc, pr, nc, nr, objective.orpo_lambda), pc / nc - pr / nr
    elif objective.name == "bradley_terry":  # pc, pr: a reward model's scores of the two replies
        losses, margins = -F.logsigmoid(pc - pr), pc - pr
    else:
        raise TrainingError(f"unknown preference objective {objective.name!r}; expected dpo, ipo, orpo, simpo, kto or "
                            "bradley_terry")
    return BatchLoss(losses, margins.detach().tolist(), (pc > pr).tolist(), pc.detach().tolist())


# ---------------------------------------------------------------------- log-probs of replies


def reply_logps(model: nn.Module, prompts: Sequence[list[int]], replies: Sequence[list[int]],
                pad_id: int) -> tuple[Tensor, Tensor]:
    """((R,) summed log-prob of each reply after its prompt, (R,) each reply's token count), one padded forward.

    The output layer runs only at the positions that predict a reply token; padding is masked by position.
    """
    device = next(model.parameters()).device
    rows = [list(p) + list(r) for p, r in zip(prompts, replies)]
    width = max(len(row) for row in rows)
    input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(rows), width), dtype=torch.long)
    predicts_reply = torch.zeros((len(rows), width), dtype=torch.bool)  # position t predicts token t + 1
    for i, (row, prompt) in enumerate(zip(rows, prompts)):
        input_ids[i, : len(row)] = torch.tensor(row)
        attention_mask[i, : len(row)] = 1
        predicts_reply[i, len(prompt) - 1 : len(row) - 1] = True
    input_ids, attention_mask = input_ids.to(device), attention_mask.to(device)
    predicts_reply = predicts_reply.to(device)
    body, head = decoder_and_head(model)
    hidden = body(input_ids=input_ids, attention_mask=attention_mask, use_cache=False).last_hidden_state  # (R, T, C)
    row_of, position = predicts_reply.nonzero(as_tuple=True)  # (N,) each
    targets = input_ids[row_of, position + 1]  # (N,)
    token_logps = _token_logps(hidden[row_of, position], head, targets)  # (N,)
    sums = torch.zeros(len(rows), device=device, dtype=torch.float32).index_add(0, row_of, token_logps)
    counts = torch.tensor([len(r) for r in replies], device=device, dtype=torch.float32)
    return sums, counts


def _token_logps(hidden: Tensor, head: nn.Module, targets: Tensor) -> Tensor:
    """(N,) fp32 log p(target) from the output layer at N positions; in chunks when nothing needs gradients."""
    if torch.is_grad_enabled():
        logits = head(hidden).float()  # (N, V)
        return logits.gather(1, targets[:, None]).squeeze(1) - torch.logsumexp(logits, dim=-1)
    parts = []
    for start in range(0, len(targets), LOGIT_CHUNK):
        logits = head(hidden[start : start + LOGIT_CHUNK]).float()
        parts.append(logits.gather(1, targets[start : start + LOGIT_CHUNK, None]).squeeze(1)
                     - torch.logsumexp(logits, dim=-1))
    return torch.cat(parts) if parts else hidden.new_zeros(0, dtype=torch.float32)


def _rows(items: Sequence[EncodedPreference]) -> tuple[list[list[int]], list[list[int]]]:
    """(prompts, replies) of the items' rows: chosen then rejected per item."""
    prompts, replies = [], []
    for item in items:
        for reply in item.replies():
            prompts.append(item.prompt)
            replies.append(reply)
    return prompts, replies


@torch.no_grad()
def reference_logps(model: nn.Module, items: Sequence[EncodedPreference], pad_id: int, batch_size: int,
                    autocast: Callable) -> list[Tensor]:
    """Each item's rows' log-probs under the reference: the policy with its adapter disabled (eval mode)."""
    if not hasattr(model, "disable_adapter"):
        raise TrainingError("the DPO/IPO/KTO reference is the model with its adapter disabled; apply LoRA first")
    model.eval()
    out = []
    with model.disable_adapter():
        for start in range(0, len(items), batch_size):
            batch = items[start : start + batch_size]
            prompts, replies = _rows(batch)
            with autocast():
                logps, _ = reply_logps(model, prompts, replies, pad_id)
            out.extend(_per_item(logps.detach().cpu(), batch))
    return out


def _per_item(values: Tensor, items: Sequence[EncodedPreference]) -> list[Tensor]:
    """Rows' values split back into one tensor per item (one or two rows)."""
    return list(torch.split(values, [len(item.replies()) for item in items]))


# ---------------------------------------------------------------------- the recipe


def train_preference(
    model: nn.Module,
    train_data: list[EncodedPreference],
    val_data: list[EncodedPreference],
    cfg: TrainConfig,
    objective: Objective,
    out_dir: Path,
    pad_id: int,
    score_rows: RowScorer = reply_logps,
) -> TrainResult:
    """Train the model's trainable parameters on preferences in place; it ends in eval mode with the best weights
    (lowest validation loss). cfg.lr must be set. train_log.jsonl gets the supervised loop's events plus margin,
    accuracy (chosen reply scored above the rejected one) and the chosen reply's mean score. `score_rows` scores
    each (prompt, reply) row: the policy's log-prob, or a reward model's score."""
    started = time.perf_counter()
    with training_attention(model):
        return _train(model, train_data, val_data, cfg, objective, Path(out_dir), pad_id, started, score_rows)


def _train(model, train_data, val_data, cfg: TrainConfig, objective: Objective, out_dir: Path, pad_id: int,
           started: float, score_rows: RowScorer) -> TrainResult:
    # ------------------------------------------------------------------ setup
    accelerator, autocast, params, optimizer = setup_training(
        model, cfg, "preference training needs a learning rate (alignment.lr)")
    if accelerator.num_processes > 1:
        raise TrainingError("preference training runs in one process; start it without torchrun")
    if not train_data:
        raise TrainingError("nothing to train on: no preference items")
    total_steps = planned_steps(len(train_data), cfg)
    eval_every = eval_interval(len(train_data), cfg)
    warmup_steps = int(cfg.warmup_ratio * total_steps)
    scheduler = LambdaLR(optimizer, partial(lr_lambda, total_steps=total_steps, warmup_steps=warmup_steps,
                                            kind=cfg.schedule))
    val_data = val_data[: cfg.max_val_examples]
    # Every micro-batch the run can take, planned up front (the order depends only on the seed), so the reference's
    # log-probs are computed once, before the first step, for the items training will see and no others.
    planned = list(itertools.islice(_batches(train_data, cfg), total_steps * cfg.grad_accum))
    stream = iter(planned)
    references = val_references = None
    if objective.needs_reference:
        seen = list(dict.fromkeys(i for indices in planned for i in indices))  # first-use order: length-grouped
        references = dict(zip(seen, reference_logps(model, [train_data[i] for i in seen], pad_id, cfg.batch_size,
                                                     autocast)))
        val_references = reference_logps(model, val_data, pad_id, cfg.batch_size, autocast)
    log: list[dict] = []
    log_path, best_path = setup_outputs(out_dir, accelerator, log)
    batches_per_epoch = max(1, math.ceil(len(train_data) / cfg.batch_size))
    step = micro_batches_done = real_tokens = padded_tokens = 0
    train_s, window = 0.0, _Window()
    best_step = best_val_loss = step_loss = None
    evals_without_gain = 0
    stop_reason = None
    budget_s = None if cfg.max_minutes is None else cfg.max_minutes * 60

    # ------------------------------------------------------------------ loop
    while step < total_steps:
        step_started = time.perf_counter()
        model.train()
        group = [next(stream) for _ in range(cfg.grad_accum)]
        step_items = sum(len(indices) for indices in group)
        step_loss_sum = 0.0
        for indices in group:
            items = [train_data[i] for i in indices]
            refs = None if references is None else torch.cat([references[i] for i in indices])
            prompts, replies = _rows(items)
            width = max(len(p) + len(r) for p, r in zip(prompts, replies))
            set_attention(model, attention_for_width(width, accelerator.device.type == "cuda", cfg.attention))
            with autocast():
                logps, counts = score_rows(model, prompts, replies, pad_id)
            out = objective_loss(objective, items, logps, counts, None if refs is None else refs.to(logps.device))
            loss_sum = out.losses.sum()
            if not torch.isfinite(loss_sum):
                raise TrainingError(f"the preference loss became {loss_sum.item()} at step {step + 1}; lower "
                                    f"alignment.lr (now {cfg.lr:g})")
            (loss_sum / step_items).backward()
            step_loss_sum += loss_sum.item()
            window.add(out)
            real_tokens += sum(len(p) + len(r) for p, r in zip(prompts, replies))
            padded_tokens += len(prompts) * max(len(p) + len(r) for p, r in zip(prompts, replies))
        micro_batches_done += cfg.grad_accum
        grad_norm = clip_gradients(params, cfg.max_grad_norm)
        lr = scheduler.get_last_lr()[0]
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        step += 1
        train_s += time.perf_counter() - step_started
        step_loss = step_loss_sum / step_items
        epoch = micro_batches_done / batches_per_epoch
        out_of_time = budget_s is not None and time.perf_counter() - started >= budget_s
        last = step == total_steps or out_of_time

        if step % cfg.log_every == 0 or last:
            event = log_event("train", step, epoch, lr, real_tokens, train_s, started, loss=window.mean_loss(),
                           grad_norm=grad_norm) | window.stats()
            window = _Window()
            write_event(log, event, log_path, accelerator)
            print(f"step {step}/{total_steps}  loss {event['loss']:.4f}  margin {event['margin']}  "
                  f"ETA {clock((total_steps - step) * train_s / step)}", file=sys.stderr)

        if val_data and (step % eval_every == 0 or last):
            val_loss, val_accuracy = evaluate_preference(model, val_data, val_references, objective, cfg, pad_id,
                                                         autocast, score_rows)
            event = log_event("eval", step, epoch, lr, real_tokens, train_s, started, val_loss=val_loss)
            write_event(log, event | {"val_accuracy": val_accuracy}, log_path, accelerator)
            print(f"step {step}/{total_steps}  val_loss {val_loss:.4f}  val_accuracy {val_accuracy}", file=sys.stderr)
            gained = best_val_loss is None or val_loss < best_val_loss - abs(best_val_loss) * cfg.min_improvement
            evals_without_gain = 0 if gained or step <= warmup_steps else evals_without_gain + 1
            if best_val_loss is None or val_loss < best_val_loss:
                best_step, best_val_loss = step, val_loss
                save_trainable(model, best_path)
            if cfg.patience is not None and evals_without_gain >= cfg.patience:
                stop_reason = "patience"
                break
        if out_of_time and step < total_steps:
            stop_reason = "time_budget"
            break

    # ------------------------------------------------------------------ save
    stop_reason = stop_reason or ("max_steps" if cfg.max_steps else "epochs")
    if best_step is not None and best_step != step:
        load_trainable(model, best_path)
    model.eval()
    return TrainResult(
        steps=step, epochs_done=micro_batches_done / batches_per_epoch, best_step=best_step,
        best_val_loss=best_val_loss, final_train_loss=math.nan if step_loss is None else step_loss,
        real_tokens=real_tokens, padded_tokens=padded_tokens, wall_s=time.perf_counter() - started,
        tokens_per_s=real_tokens / train_s if train_s else 0.0, lr=cfg.lr, stop_reason=stop_reason,
        undertrained=stop_reason != "patience" and still_falling(log, cfg.min_improvement), log=log,
    )


@torch.no_grad()
def evaluate_preference(model, items: Sequence[EncodedPreference], references: list[Tensor] | None,
                        objective: Objective, cfg: TrainConfig, pad_id: int, autocast,
                        score_rows: RowScorer = reply_logps) -> tuple[float, float | None]:
    """(mean loss, fraction of pairs whose chosen reply scores higher; None without pairs)."""
    model.eval()
    total, right, pairs = 0.0, 0, 0
    for start in range(0, len(items), cfg.batch_size):
        batch = items[start : start + cfg.batch_size]
        prompts, replies = _rows(batch)
        with autocast():
            logps, counts = score_rows(model, prompts, replies, pad_id)
        refs = None if references is None else torch.cat(references[start : start + len(batch)]).to(logps.device)
        out = objective_loss(objective, batch, logps, counts, refs)
        total += float(out.losses.sum())
        right += sum(out.right)
        pairs += len(out.right)
    return total / max(len(items), 1), (right / pairs if pairs else None)


class _Window:
    """The log window's running sums: loss, margin, accuracy, chosen log-prob."""

    def __init__(self):
        self.losses, self.margins, self.right, self.chosen = [], [], [], []

    def add(self, out: BatchLoss) -> None:
        self.losses.extend(out.losses.detach().tolist())
        self.margins.extend(out.margins)
        self.right.extend(out.right)
        self.chosen.extend(out.chosen_logps)

    def mean_loss(self) -> float:
        return sum(self.losses) / max(len(self.losses), 1)

    def stats(self) -> dict:
        mean = lambda values: round(sum(values) / len(values), 5) if values else None
        return {"margin": mean(self.margins), "accuracy": mean([float(r) for r in self.right]),
                "chosen_logp": mean(self.chosen)}


def _batches(data: list[EncodedPreference], cfg: TrainConfig) -> Iterator[list[int]]:
    """Item indices per micro-batch, epoch after epoch, grouped by length; the order depends only on (seed, epoch)."""
    lengths = [len(item.prompt) + max(len(r) for r in item.replies()) for item in data]
    epoch = 0
    while True:
        yield from length_grouped_batches(lengths, cfg.batch_size, cfg.seed, epoch)
        epoch += 1
