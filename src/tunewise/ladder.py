"""The ladder: build the plan of rungs from the config, run each on the same split, score and cost it.

A rung is the unit of comparison: `fit(train, val)` then `predict(test)`. Every rung is scored by the
same scorer on the same test ids with the same prompt rendering and decoding; only what it learned differs.
"""
from __future__ import annotations

import dataclasses
import json
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import torch

from tunewise.config import Config
from tunewise.cost import bytes_on_disk, count_parameters, measure
from tunewise.evaluate.generate import generate
from tunewise.evaluate.likelihood import score_labels
from tunewise.evaluate.stats import metrics_with_ci
from tunewise.io import write_json, write_jsonl
from tunewise.methods import lora
from tunewise.models.chat_template import encode_example, prompt_ids, truncate_prompt
from tunewise.models.load import load_causal_lm
from tunewise.progress import progress_printer
from tunewise.prompting.templates import (
    demo_order,
    few_shot_messages,
    zero_shot_messages,
)
from tunewise.records import Example, Prediction
from tunewise.task import Task
from tunewise.train.batching import Encoded
from tunewise.train.loop import planned_steps
from tunewise.train.loop import train as train_loop

PROBE_STEPS = 4  # optimizer steps a dry run times per fine-tuning rung
PROBE_PREDICTIONS = 16  # test examples a dry run predicts per rung


@dataclass
class FitInfo:
    """What fitting a rung produced, besides its side effects on the model."""

    artifact_dir: Path | None = None  # what the rung needs on disk beyond the base model
    training: dict | None = None  # steps, tokens/s, curve... for trained rungs


class Rung(Protocol):
    """One approach on the ladder."""

    name: str
    kind: str  # "prompting" | "fine-tuning"

    def fit(self, train: list[Example], val: list[Example], workdir: Path) -> FitInfo: ...

    def predict(self, test: list[Example]) -> list[Prediction]: ...

    def parameters(self) -> tuple[int, int]: ...  # (trainable, total) of the model that predicts

    def estimate_fit(self, train: list[Example], val: list[Example], workdir: Path) -> float: ...  # seconds


@dataclass
class RungResult:
    """Everything the report shows about one rung."""

    name: str
    kind: str
    description: str
    metrics: dict[str, dict[str, float]]  # metric -> {value, ci_low, ci_high}
    cost: dict[str, float | int]
    training: dict | None = None
    notes: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- shared scoring


def eval_dtype(config: Config) -> torch.dtype:
    """Every rung predicts with weights in this dtype (bf16 weights skip autocast's per-call weight casts)."""
    return torch.bfloat16 if config.train.precision == "bf16" else torch.float32


class BaseModelCache:
    """Loads the base model once for all prompting rungs; fine-tuning rungs load their own copy."""

    def __init__(self, name: str, dtype: torch.dtype):
        self.name, self.dtype = name, dtype
        self._loaded = None

    def get(self):
        if self._loaded is None:
            self._loaded = load_causal_lm(self.name, dtype=self.dtype)
        return self._loaded


def predict_conversations(
    model, tokenizer, conversations, task: Task, config: Config, ids: list[str], name: str = "predict"
) -> list[Prediction]:
    """Score (classification) or decode (generation) each conversation, identically for every rung."""
    limit = prompt_limit(model, config)
    prompts = [truncate_prompt(prompt_ids(tokenizer, messages), limit) for messages in conversations]
    # Weights are already in eval_dtype(config), so no autocast on top (it would only re-cast them every call).
    precision = "fp32"
    progress = progress_printer(f"rung {name}: predict", len(prompts))
    if task.type == "classification":
        scores = score_labels(
            model, tokenizer, prompts, task.labels, batch_size=config.eval.batch_size, precision=precision,
            progress=progress,
        )  # (N, L) summed log-probabilities
        best = scores.argmax(axis=1)
        return [
            Prediction(id=i, output=task.labels[b], scores=dict(zip(task.labels, map(float, row))))
            for i, b, row in zip(ids, best, scores)
        ]
    texts = generate(
        model,
        tokenizer,
        prompts,
        max_new_tokens=config.eval.max_new_tokens,
        batch_size=config.eval.batch_size,
        precision=precision,
        progress=progress,
    )
    return [Prediction(id=i, output=t) for i, t in zip(ids, texts)]


def prompt_limit(model, config: Config) -> int:
    """Longest prompt we feed: the model's context minus room for the answer."""
    context = getattr(model.config, "max_position_embeddings", None) or 2048
    return context - config.eval.max_new_tokens


def sft_examples(tokenizer, examples: list[Example], instruction: str, max_length: int) -> list[Encoded]:
    """Training sequences: the zero-shot conversation (what the rung is scored on) plus the answer."""
    encoded = []
    for e in examples:
        ids, labels = encode_example(tokenizer, zero_shot_messages(e, instruction), e.answer, max_length)
        encoded.append(Encoded(input_ids=ids, labels=labels))
    return encoded


# ---------------------------------------------------------------- rungs


class PromptRung:
    """The base model with the task instruction and k demonstrations from train as earlier chat turns.

    k = 0 is the zero-shot rung; demonstrations are fixed, seeded and label-balanced (see `demo_order`).
    """

    kind = "prompting"

    def __init__(self, base: BaseModelCache, task: Task, config: Config, k: int = 0):
        self.name = f"few_shot_k{k}" if k else "zero_shot"
        self.description = f"base model, {k} demonstration(s) from train" if k else "base model, instruction prompt"
        self.base, self.task, self.config, self.k = base, task, config, k
        self.demos: list[Example] = []

    def fit(self, train, val, workdir) -> FitInfo:
        if self.k:
            balance = self.task.type == "classification"
            self.demos = demo_order(train, self.config.prompt.demo_seed, balance)[: self.k]
            write_json(workdir / "demos.json", [e.id for e in self.demos])
        return FitInfo()

    def estimate_fit(self, train, val, workdir) -> float:
        self.fit(train, val, workdir)  # choosing demonstrations takes no measurable time
        return 0.0

    def _conversation(self, example: Example):
        if self.k:
            return few_shot_messages(example, self.demos, self.task.instruction)
        return zero_shot_messages(example, self.task.instruction)

    def predict(self, test):
        model, tokenizer = self.base.get()
        conversations = [self._conversation(e) for e in test]
        return predict_conversations(
            model, tokenizer, conversations, self.task, self.config, [e.id for e in test], self.name
        )

    def parameters(self):
        return 0, count_parameters(self.base.get()[0])[1]


class LoraRung:
    """LoRA supervised fine-tuning in tunewise's loop, scored on the zero-shot conversation."""

    kind = "fine-tuning"

    def __init__(self, task: Task, config: Config):
        self.name = "lora"
        lc = config.lora
        self.description = f"LoRA r={lc.r} alpha={lc.alpha:g} on {','.join(lc.target_modules)}"
        self.task, self.config = task, config
        self.model = self.tokenizer = None

    def _encode(self, examples: list[Example]) -> list[Encoded]:
        return sft_examples(self.tokenizer, examples, self.task.instruction, self.config.data.max_length)

    def fit(self, train, val, workdir) -> FitInfo:
        self.model, self.tokenizer = self._load()
        result = train_loop(
            self.model,
            self._encode(train),
            self._encode(val),
            self.config.train,
            workdir,
            pad_id=self.tokenizer.pad_token_id,
        )
        adapter_dir = workdir / "adapter"
        self.model.save_pretrained(str(adapter_dir))
        training = {k: v for k, v in dataclasses.asdict(result).items() if k != "log"}
        training["curve"] = result.log
        return FitInfo(artifact_dir=adapter_dir, training=training)

    def estimate_fit(self, train, val, workdir) -> float:
        """Seconds the whole fit would take, from PROBE_STEPS optimizer steps timed on the real training data.

        Validation passes are costed at twice the training tokens/s (forward only, no backward).
        """
        cfg = self.config.train
        probe = cfg.model_copy(update={"max_steps": PROBE_STEPS, "patience": None, "log_every": 10**6})
        self.model, self.tokenizer = self._load()
        encoded_train = self._encode(train)
        result = train_loop(self.model, encoded_train, [], probe, workdir, pad_id=self.tokenizer.pad_token_id)
        steps = planned_steps(len(train), cfg)
        mean_length = sum(len(e.input_ids) for e in encoded_train) / len(encoded_train)
        train_tokens = steps * cfg.batch_size * cfg.grad_accum * mean_length
        val_tokens = sum(len(e.input_ids) for e in self._encode(val[: cfg.max_val_examples]))
        n_evals = math.ceil(steps / cfg.eval_every) if val else 0
        return (train_tokens + n_evals * val_tokens / 2) / result.tokens_per_s

    def _load(self):
        # bf16 training keeps the frozen base in bf16 (what autocast computes with; half the memory of fp32);
        # PEFT creates the adapter weights in fp32 either way.
        dtype = torch.bfloat16 if self.config.train.precision == "bf16" else torch.float32
        model, tokenizer = load_causal_lm(self.config.model.name, dtype=dtype)
        return lora.apply(model, self.config.lora), tokenizer

    def predict(self, test):
        self.model.to(eval_dtype(self.config))  # the same weight dtype as the prompting rungs predict with
        conversations = [zero_shot_messages(e, self.task.instruction) for e in test]
        return predict_conversations(
            self.model, self.tokenizer, conversations, self.task, self.config, [e.id for e in test], self.name
        )

    def parameters(self):
        return count_parameters(self.model)


def build_plan(config: Config, task: Task) -> list[Rung]:
    """The rungs to run, in order of increasing cost."""
    base = BaseModelCache(config.model.name, eval_dtype(config))
    plan: list[Rung] = []
    for name in config.rungs:
        if name == "zero_shot":
            plan.append(PromptRung(base, task, config))
        elif name == "few_shot":
            plan.extend(PromptRung(base, task, config, k) for k in config.prompt.few_shot_k)
        elif name == "lora":
            plan.append(LoraRung(task, config))
    return plan


# ---------------------------------------------------------------- running


def run_rung(rung: Rung, train, val, test, task: Task, config: Config, rung_dir: Path) -> RungResult:
    """Fit, predict, score and cost one rung; write its metrics and predictions."""
    rung_dir.mkdir(parents=True, exist_ok=True)
    print(f"[tunewise] rung {rung.name}: fit", file=sys.stderr, flush=True)
    with measure() as fit_cost:
        info = rung.fit(train, val, rung_dir)
    print(f"[tunewise] rung {rung.name}: predict {len(test)} test examples", file=sys.stderr, flush=True)
    with measure() as predict_cost:
        predictions = rung.predict(test)
    references = [e.answer for e in test]
    metrics = metrics_with_ci(
        task.type,
        task.labels,
        [p.output for p in predictions],
        references,
        n_resamples=config.eval.bootstrap_samples,
        confidence=config.eval.confidence,
        seed=config.eval.seed,
    )
    trainable_params, total_params = rung.parameters()
    cost = {
        "fit_wall_s": round(fit_cost.wall_s, 3),
        "predict_wall_s": round(predict_cost.wall_s, 3),
        "peak_rss_bytes": max(fit_cost.peak_rss_bytes, predict_cost.peak_rss_bytes),
        "trainable_params": trainable_params,
        "total_params": total_params,
        "disk_bytes": bytes_on_disk(info.artifact_dir),
    }
    if info.training:
        cost["train_tokens_per_s"] = round(info.training.get("tokens_per_s", 0.0), 1)
    result = RungResult(rung.name, rung.kind, getattr(rung, "description", ""), metrics, cost, info.training)
    write_json(rung_dir / "metrics.json", {"metrics": metrics, "cost": cost})
    write_jsonl(
        rung_dir / "predictions.jsonl",
        [{"id": p.id, "prediction": p.output, "reference": r, **({"scores": p.scores} if p.scores else {})}
         for p, r in zip(predictions, references)],
    )
    if info.training:
        write_json(rung_dir / "training.json", info.training)
    return result


def estimate_rung(rung: Rung, train, val, test, workdir: Path) -> dict:
    """Estimated seconds to fit and predict a rung, from a short timed probe of each (the dry run)."""
    print(f"[tunewise] rung {rung.name}: timing a probe", file=sys.stderr, flush=True)
    fit_s = rung.estimate_fit(train, val, workdir)
    sample = test[:PROBE_PREDICTIONS]
    started = time.perf_counter()
    rung.predict(sample)
    predict_s = (time.perf_counter() - started) * len(test) / max(len(sample), 1)
    return {"rung": rung.name, "fit_s": fit_s, "predict_s": predict_s}


def summarise(result: RungResult) -> dict:
    """The rung as report.json stores it."""
    return json.loads(json.dumps(dataclasses.asdict(result), default=str))
