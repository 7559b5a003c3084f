"""The ladder: build the plan of rungs from the config, run each on the same split, score and cost it.

A rung is the unit of comparison: `fit(train, val)` then `predict(test)`. Every rung is scored by the
same scorer on the same test ids with the same prompt rendering and decoding; only what it learned differs.
"""
from __future__ import annotations

import dataclasses
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch

from tunewise.config import ALL_METHODS, Config
from tunewise.cost import bytes_on_disk, count_parameters, measure
from tunewise.data.text import load_domain_text
from tunewise.evaluate.generate import generate
from tunewise.evaluate.likelihood import score_labels
from tunewise.evaluate.stats import metrics_with_ci
from tunewise.io import write_json, write_jsonl
from tunewise.methods import bottleneck, freeze, full, ia3, lora, prompt_learning, qlora
from tunewise.methods.dapt import continued_pretraining
from tunewise.methods.features import FeatureRung
from tunewise.methods.head import ClassifierRung
from tunewise.models.chat_template import encode_example, prompt_ids, truncate_prompt
from tunewise.models.load import load_causal_lm
from tunewise.progress import progress_printer
from tunewise.prompting.templates import (
    demo_order,
    few_shot_messages,
    zero_shot_messages,
)
from tunewise.records import Example, Prediction
from tunewise.rung import (
    PROBE_STEPS,
    FitInfo,
    Rung,
    eval_dtype,
    extrapolate_fit,
    training_summary,
)
from tunewise.task import Task
from tunewise.train.batching import Encoded
from tunewise.train.loop import train as train_loop

PROBE_PREDICTIONS = 16  # test examples a dry run predicts per rung


@dataclass
class RungResult:
    """Everything the report shows about one rung."""

    name: str
    kind: str
    description: str
    metrics: dict[str, dict[str, float]]  # metric -> {value, ci_low, ci_high}; empty when skipped
    cost: dict[str, float | int]
    training: dict | None = None
    notes: list[str] = field(default_factory=list)
    skipped: str | None = None  # why the rung could not run here (then it has no metrics and no cost)


# ---------------------------------------------------------------- shared scoring


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


@dataclass
class Method:
    """How one fine-tuning method adapts the loaded base model and stores what it learned.

    The rung that runs it (TunedRung) does the rest the same way for every method: load, train in the one loop,
    save, predict on the zero-shot conversation, measure.
    """

    name: str
    description: str
    apply: Callable  # (model, tokenizer) -> model with only the method's parameters trainable
    save: Callable  # (model, tokenizer, directory) -> None; writes the artifact (safetensors)
    lr: float | None = None  # None: train.lr
    full_precision_base: bool = False  # load the base in fp32 even for bf16 training (its weights train)
    skip_reason: str | None = None  # set when the method cannot run here


def _peft_save(model, tokenizer, directory: Path) -> None:
    model.save_pretrained(str(directory))


def lora_method(config: Config, name: str = "lora", variant: str = "lora", **changes) -> Method:
    """LoRA and its variants; `changes` override LoraConfig fields (target modules, rank)."""
    lc = config.lora.model_copy(update=changes)
    what = {"lora": "LoRA", "rslora": "rsLoRA", "dora": "DoRA"}[variant]
    return Method(
        name, f"{what} r={lc.r} alpha={lc.alpha:g} on {','.join(lc.target_modules)}",
        lambda model, tokenizer: lora.apply(model, lc, variant), _peft_save,
    )


def _instruction_ids(tokenizer, task: Task) -> list[int] | None:
    """The task instruction's token ids (prompt tuning starts from them), or None without an instruction."""
    return tokenizer(task.instruction, add_special_tokens=False)["input_ids"] if task.instruction else None


def methods_for(name: str, config: Config, task: Task) -> list[Method]:
    """The Method(s) a `methods:` entry stands for (lora_ranks is one per rank)."""
    lc = config.lora
    if name in ("lora", "rslora", "dora"):
        return [lora_method(config, name, name)]
    if name == "lora_attention":
        return [lora_method(config, name, target_modules=lc.attention_modules)]
    if name == "lora_ranks":
        return [lora_method(config, f"lora_r{r}", r=r, alpha=lc.alpha * r / lc.r) for r in lc.sweep_ranks]
    if name == "full":
        return [Method("full", "full fine-tuning of every weight", lambda m, t: full.apply(m),
                       full.save, lr=config.full.lr, full_precision_base=True)]
    if name == "freeze":
        n = config.freeze.trainable_layers
        what = f"output layer + last {n} block(s)" if n else "output layer only"
        return [Method("freeze", f"{what} trained, the rest frozen", lambda m, t: freeze.apply(m, config.freeze),
                       lambda m, t, d: freeze.save(m, d), lr=config.freeze.lr)]
    if name in prompt_learning.KINDS:
        pc = config.prompt_learning
        return [Method(
            name, f"{name.replace('_', ' ')} through PEFT, {pc.num_virtual_tokens} virtual tokens",
            lambda m, t: prompt_learning.apply(m, pc, name, _instruction_ids(t, task)),
            _peft_save, lr=pc.lr,
        )]
    if name == "ia3":
        return [Method("ia3", f"IA3 scaling vectors on {','.join(config.ia3.target_modules)}",
                       lambda m, t: ia3.apply(m, config.ia3), _peft_save, lr=config.ia3.lr)]
    if name == "bottleneck":
        bc = config.bottleneck
        return [Method("bottleneck", f"bottleneck adapters (width {bc.size}, {bc.nonlinearity}) after "
                       f"{' and '.join(bc.placement)}", lambda m, t: bottleneck.apply(m, bc),
                       lambda m, t, d: bottleneck.save(m, d), lr=bc.lr)]
    if name == "qlora":
        return [Method("qlora", f"LoRA r={lc.r} on a {config.qlora.bits}-bit base (bitsandbytes)",
                       lambda m, t: qlora.apply(m, lc), _peft_save, skip_reason=qlora.skip_reason())]
    raise ValueError(f"{name} is not a causal-LM fine-tuning method")


class TunedRung:
    """One fine-tuning method trained in tunewise's loop, scored on the zero-shot conversation.

    Supervised examples are the zero-shot conversation plus the answer; only the answer tokens carry loss.
    """

    kind = "fine-tuning"

    def __init__(self, task: Task, config: Config, method: Method):
        self.task, self.config, self.method = task, config, method
        self.name, self.description = method.name, method.description
        self.skip_reason = method.skip_reason
        self.model = self.tokenizer = None
        self.base_params: int | None = None  # parameters of the base before the method changed it

    def _encode(self, examples: list[Example]) -> list[Encoded]:
        return sft_examples(self.tokenizer, examples, self.task.instruction, self.config.data.max_length)

    def _train_config(self):
        cfg = self.config.train
        return cfg if self.method.lr is None else cfg.model_copy(update={"lr": self.method.lr})

    def fit(self, train, val, workdir) -> FitInfo:
        self.model, self.tokenizer = self._load()
        result = train_loop(
            self.model, self._encode(train), self._encode(val), self._train_config(), workdir,
            pad_id=self.tokenizer.pad_token_id,
        )
        return FitInfo(artifact_dir=self._save(workdir), training=training_summary(result))

    def _save(self, workdir: Path) -> Path:
        directory = workdir / ("model" if self.method.full_precision_base else "adapter")
        self.model.to(eval_dtype(self.config))  # stored as it predicts (a full model in bf16 is half the bytes)
        self.method.save(self.model, self.tokenizer, directory)
        return directory

    def estimate_fit(self, train, val, workdir) -> float:
        """Seconds the whole fit would take, from PROBE_STEPS optimizer steps timed on the real training data."""
        cfg = self._train_config()
        probe = cfg.model_copy(update={"max_steps": PROBE_STEPS, "patience": None, "log_every": 10**6})
        self.model, self.tokenizer = self._load()
        encoded_train = self._encode(train)
        result = train_loop(self.model, encoded_train, [], probe, workdir, pad_id=self.tokenizer.pad_token_id)
        return extrapolate_fit(result, encoded_train, self._encode(val[: cfg.max_val_examples]), cfg)

    def _load(self):
        # bf16 training keeps a frozen base in bf16 (what autocast computes with; half the memory of fp32);
        # the methods create their trainable weights in fp32 either way.
        bf16 = self.config.train.precision == "bf16" and not self.method.full_precision_base
        model, tokenizer = load_causal_lm(self.config.model.name, dtype=torch.bfloat16 if bf16 else torch.float32)
        self.base_params = count_parameters(model)[1]
        return self.method.apply(model, tokenizer), tokenizer

    def predict(self, test):
        self.model.to(eval_dtype(self.config))  # the same weight dtype as the prompting rungs predict with
        conversations = [zero_shot_messages(e, self.task.instruction) for e in test]
        return predict_conversations(
            self.model, self.tokenizer, conversations, self.task, self.config, [e.id for e in test], self.name
        )

    def parameters(self):
        return count_parameters(self.model)


class DaptLoraRung(TunedRung):
    """Continued pretraining on raw domain text (LoRA), then supervised LoRA on the same adapter.

    Reported next to plain `lora`: the difference is what reading the domain text first buys.
    """

    def __init__(self, task: Task, config: Config):
        super().__init__(task, config, lora_method(config, "dapt_lora"))
        self.description = f"continued pretraining on {config.dapt.text}, then {self.description}"
        if config.dapt.text is None:
            self.skip_reason = "dapt_lora needs domain text: set dapt.text to a JSONL file or a folder of .txt/.md"

    def fit(self, train, val, workdir) -> FitInfo:
        texts = load_domain_text(self.config.dapt.text)  # problems surface before the model loads
        self.model, self.tokenizer = self._load()
        pad_id = self.tokenizer.pad_token_id
        domain = continued_pretraining(self.model, self.tokenizer, texts, self.config.dapt, self.config.train,
                                       workdir / "dapt", pad_id)
        self.model.train()
        result = train_loop(self.model, self._encode(train), self._encode(val), self._train_config(), workdir, pad_id)
        training = training_summary(result)
        training["dapt"] = training_summary(domain)
        training["wall_s"] = result.wall_s + domain.wall_s
        return FitInfo(artifact_dir=self._save(workdir), training=training)


def planned_methods(config: Config) -> list[str]:
    """The methods a run trains: `methods`, or every method with `plan: thorough`."""
    return list(ALL_METHODS) if config.plan == "thorough" else list(config.methods)


def build_plan(config: Config, task: Task) -> list[Rung]:
    """The rungs to run: prompting first, then each fine-tuning method in the order given."""
    base = BaseModelCache(config.model.name, eval_dtype(config))
    plan: list[Rung] = []
    for name in config.rungs:
        if name == "zero_shot":
            plan.append(PromptRung(base, task, config))
        elif name == "few_shot":
            plan.extend(PromptRung(base, task, config, k) for k in config.prompt.few_shot_k)
    for name in planned_methods(config):
        plan.extend(method_rungs(name, config, task))
    return plan


def method_rungs(name: str, config: Config, task: Task) -> list[Rung]:
    """The rung(s) of one fine-tuning method."""
    if name in ("features", "encoder_features"):
        return [FeatureRung(task, config, "decoder" if name == "features" else "encoder")]
    if name in ("classifier", "encoder_classifier"):
        return [ClassifierRung(task, config, "decoder" if name == "classifier" else "encoder")]
    if name == "dapt_lora":
        return [DaptLoraRung(task, config)]
    return [TunedRung(task, config, method) for method in methods_for(name, config, task)]


# ---------------------------------------------------------------- running


def skipped_result(rung: Rung, reason: str) -> RungResult:
    """A rung that cannot run on this machine or task: shown in the report with its reason."""
    print(f"[tunewise] rung {rung.name}: skipped ({reason})", file=sys.stderr, flush=True)
    return RungResult(rung.name, rung.kind, getattr(rung, "description", ""), {}, {}, skipped=reason)


def run_rung(rung: Rung, train, val, test, task: Task, config: Config, rung_dir: Path) -> RungResult:
    """Fit, predict, score and cost one rung; write its metrics and predictions."""
    reason = getattr(rung, "skip_reason", None)
    if reason:
        return skipped_result(rung, reason)
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
    # Parameters of the model the rung started from; a rung that does not say has added all its trainables.
    base_params = getattr(rung, "base_params", None) or (total_params - trainable_params) or total_params
    if cost["disk_bytes"] and rung.kind == "fine-tuning":
        # What a whole fine-tuned copy of the base takes (in the dtype rungs predict with) over what this rung
        # stores: the reason adapters exist. Full fine-tuning is about 1.
        full_bytes = base_params * torch.finfo(eval_dtype(config)).bits // 8
        cost["storage_ratio"] = round(full_bytes / cost["disk_bytes"], 1)
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
