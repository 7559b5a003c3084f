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

from tunewise.config import ALL_METHODS, MAIN_TASK, Config
from tunewise.cost import bytes_on_disk, count_parameters, measure
from tunewise.data.text import load_domain_text
from tunewise.distributed import barrier, is_main
from tunewise.errors import TrainingError
from tunewise.evaluate.benchmarks import BenchmarkScores, ChoiceItem
from tunewise.evaluate.forgetting import score_model
from tunewise.evaluate.scorers import confusion, per_class
from tunewise.evaluate.stats import item_correct, item_score, metrics_with_ci
from tunewise.io import write_json, write_jsonl
from tunewise.methods import (
    bottleneck,
    composition,
    freeze,
    full,
    ia3,
    lora,
    prompt_learning,
    qlora,
)
from tunewise.methods.dapt import continued_pretraining
from tunewise.methods.features import FeatureRung
from tunewise.methods.head import ClassifierRung
from tunewise.methods.multitask import (
    TaskData,
    main_task_data,
    mix,
    mixture_shares,
    validation_mix,
)
from tunewise.models.adapted import PEFT_WEIGHTS, write_base_record
from tunewise.models.chat_template import encode_example
from tunewise.models.embed import TextEncoder
from tunewise.models.load import load_causal_lm
from tunewise.predict import BaseModelCache, predict_conversations
from tunewise.prompting.demos import NearestDemos
from tunewise.prompting.rungs import PromptRung
from tunewise.prompting.templates import zero_shot_messages
from tunewise.rag.rungs import (
    RagIndex,
    RagRung,
    rag_messages,
    retrieval_summary,
    with_sources,
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
from tunewise.train.loop import TrainResult
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
    task: str | None = None  # multi-task runs: the other task this rung was trained and scored on (None: the run's)
    per_task: dict[str, dict] | None = None  # multitask, composition: other task -> metrics on that task's test set
    prompt: dict | None = None  # prompting rungs: style, demo selection and k, prompts shortened to fit, ...
    retrieval: dict | None = None  # rag rungs: retriever, recall@k with CIs where the data has gold source ids
    per_class: dict | None = None  # classification: per label precision, recall, f1, support; and the confusion
    correct: list[bool] | None = field(default=None, repr=False)  # per test example (not in report.json)
    item_scores: list[float] | None = field(default=None, repr=False)  # per test example, for paired tests
    predictions: list[Prediction] | None = field(default=None, repr=False)  # per test example, for error analysis
    benchmark: BenchmarkScores | None = field(default=None, repr=False)  # the forgetting check's scores


# ---------------------------------------------------------------- shared scoring


def sft_examples(tokenizer, examples: list[Example], instruction: str, max_length: int) -> list[Encoded]:
    """Training sequences: the zero-shot conversation (what the rung is scored on) plus the answer."""
    conversations = [zero_shot_messages(e, instruction) for e in examples]
    return sft_conversations(tokenizer, conversations, [e.answer for e in examples], max_length)


def sft_conversations(tokenizer, conversations, answers: list[str], max_length: int) -> list[Encoded]:
    """Training sequences: each conversation plus its answer; only the answer tokens carry loss."""
    encoded = []
    for messages, answer in zip(conversations, answers):
        ids, labels = encode_example(tokenizer, messages, answer, max_length)
        encoded.append(Encoded(input_ids=ids, labels=labels))
    return encoded


# ---------------------------------------------------------------- rungs


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
        self.max_length = config.data.max_length  # longest training sequence (another task's own, see multitask)
        self.resume = False  # continue training from the newest saved state in the rung's folder (run --resume)

    def _encode(self, examples: list[Example]) -> list[Encoded]:
        return sft_examples(self.tokenizer, examples, self.task.instruction, self.max_length)

    def _training_data(self, train: list[Example], val: list[Example]) -> tuple[list[Encoded], list[Encoded]]:
        """(training, validation) sequences; the multitask rung mixes in other tasks here."""
        return self._encode(train), self._encode(val)

    def _train_config(self):
        cfg = self.config.train
        return cfg if self.method.lr is None else cfg.model_copy(update={"lr": self.method.lr})

    def fit(self, train, val, workdir) -> FitInfo:
        result = self.train_model(train, val, workdir)
        return FitInfo(artifact_dir=self._save(workdir), training=training_summary(result))

    def train_model(self, train, val, workdir: Path, on_eval=None) -> TrainResult:
        """Load the model and train it on (train, val) in `workdir` (nothing saved beyond the loop's own files);
        `on_eval(step, val_loss)` as train.loop.train takes it (tunewise tune prunes with it)."""
        self.model, self.tokenizer = self._load()
        encoded_train, encoded_val = self._training_data(train, val)
        return train_loop(self.model, encoded_train, encoded_val, self._train_config(), workdir,
                          pad_id=self.tokenizer.pad_token_id, resume=self.resume, on_eval=on_eval)

    def _save(self, workdir: Path) -> Path:
        directory = workdir / ("model" if self.method.full_precision_base else "adapter")
        self.model.to(eval_dtype(self.config))  # stored as it predicts (a full model in bf16 is half the bytes)
        if is_main():  # several processes hold the same trained weights; one writes them
            self.method.save(self.model, self.tokenizer, directory)
            if not self.method.full_precision_base:
                write_base_record(directory, self.model, self.tokenizer)  # checked when the adapter loads again
        barrier()
        return directory

    def estimate_fit(self, train, val, workdir) -> float:
        """Seconds the whole fit would take, from PROBE_STEPS optimizer steps timed on the real training data."""
        cfg = self._train_config()
        probe = cfg.model_copy(update={"max_steps": PROBE_STEPS, "patience": None, "log_every": 10**6})
        self.model, self.tokenizer = self._load()
        encoded_train, encoded_val = self._training_data(train, val)
        result = train_loop(self.model, encoded_train, [], probe, workdir, pad_id=self.tokenizer.pad_token_id)
        return extrapolate_fit(result, encoded_train, encoded_val[: cfg.max_val_examples], cfg)

    def _load(self):
        # bf16 training keeps a frozen base in bf16 (what autocast computes with; half the memory of fp32);
        # the methods create their trainable weights in fp32 either way.
        bf16 = self.config.train.precision == "bf16" and not self.method.full_precision_base
        model, tokenizer = load_causal_lm(self.config.model.name, dtype=torch.bfloat16 if bf16 else torch.float32)
        self.base_params = count_parameters(model)[1]
        return self.method.apply(model, tokenizer), tokenizer

    def predict(self, test):
        return self.predict_task(self.task, test)

    def predict_task(self, task: Task, test: list[Example]) -> list[Prediction]:
        """Predictions for `test` as examples of `task` (its instruction, labels or decoding)."""
        self.model.to(eval_dtype(self.config))  # the same weight dtype as the prompting rungs predict with
        conversations = [zero_shot_messages(e, task.instruction) for e in test]
        return predict_conversations(
            self.model, self.tokenizer, conversations, task, self.config, [e.id for e in test], self.name
        )

    def parameters(self):
        return count_parameters(self.model)

    def language_model(self):
        """(model, tokenizer) after training, as the rung predicts with: what the forgetting check scores."""
        self.model.to(eval_dtype(self.config))
        return self.model, self.tokenizer


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
                                       workdir / "dapt", pad_id, resume=self.resume)
        self.model.train()
        encoded_train, encoded_val = self._training_data(train, val)
        result = train_loop(self.model, encoded_train, encoded_val, self._train_config(), workdir, pad_id,
                            resume=self.resume)
        training = training_summary(result)
        training["dapt"] = training_summary(domain)
        training["wall_s"] = result.wall_s + domain.wall_s
        return FitInfo(artifact_dir=self._save(workdir), training=training)


class MultitaskRung(TunedRung):
    """One LoRA trained on a mixture of this run's task and `multitask.tasks`, each with its own instruction.

    Scored on this run's test set like every rung, and on each other task's test set (`other_tasks`), where the
    report sets it next to a LoRA trained on that task alone.
    """

    def __init__(self, task: Task, config: Config, others: list[TaskData]):
        super().__init__(task, config, lora_method(config, "multitask"))
        self.other_tasks = others
        self.mixture: dict[str, float] = {}  # task name -> share of the training mixture, set by _training_data
        names = ", ".join(t.name for t in others) or "no other task"
        self.description = f"{self.description}, trained on a mixture of {MAIN_TASK} + {names}"
        if not others:
            self.skip_reason = "multitask needs other tasks: list them under multitask.tasks (name, data, task)"

    def tasks(self, train: list[Example], val: list[Example]) -> list[TaskData]:
        """Every task of the mixture, this run's first."""
        main = main_task_data(self.task, train, val, [], self.config.multitask.weight, self.max_length)
        return [main, *self.other_tasks]

    def _training_data(self, train, val):
        tasks = self.tasks(train, val)
        shares = mixture_shares([len(t.train) for t in tasks], [t.weight for t in tasks],
                                self.config.multitask.temperature)
        self.mixture = {t.name: round(share, 4) for t, share in zip(tasks, shares)}

        def encode(t: TaskData, examples: list[Example]) -> list[Encoded]:
            return sft_examples(self.tokenizer, examples, t.task.instruction, t.max_length)
        mixed_train = mix([encode(t, t.train) for t in tasks], shares, self.config.train.seed)
        mixed_val = validation_mix([encode(t, t.val) for t in tasks], shares, self.config.train.max_val_examples)
        return mixed_train, mixed_val

    def fit(self, train, val, workdir) -> FitInfo:
        info = super().fit(train, val, workdir)
        info.training["mixture"] = dict(self.mixture)
        return info


@dataclass
class SingleTaskAdapter:
    """One task's single-task LoRA, as the composition rung combines it."""

    task: str  # MAIN_TASK or another task's name
    rung: str  # the rung that trained it: lora, or lora[<task>]
    folder: Path  # its adapter folder
    skipped: str | None = None  # why that rung did not run


class CompositionRung(TunedRung):
    """The single-task LoRAs of a multi-task run (this task's `lora`, each `lora[<task>]`) combined into one adapter by
    a weighted sum of their weight updates (methods.composition); nothing is trained.

    Scored like MultitaskRung: on this run's test set, and on each other task's (`other_tasks`). The run trains the
    single-task rungs first and tells this rung where their adapters are (`use_adapters`).
    """

    def __init__(self, task: Task, config: Config, others: list[TaskData]):
        cc = config.composition
        super().__init__(task, config, Method("composition", "", self._compose, _peft_save))
        self.other_tasks = others
        self.sources: list[SingleTaskAdapter] = []
        terms = " + ".join(f"{cc.weight(name):g} x {rung}" for name, rung in self.single_task_rungs())
        self.description = f"{cc.combination_type} combination of single-task LoRA adapters, {terms}; not trained"
        if not others:
            self.skip_reason = "composition combines one LoRA per task: list other tasks under multitask.tasks (name, " \
                               "data, task)"

    def single_task_rungs(self) -> list[tuple[str, str]]:
        """(task name, the rung that trains its single-task LoRA) for every task, this run's first."""
        return [(MAIN_TASK, "lora"), *((t.name, f"lora[{t.name}]") for t in self.other_tasks)]

    def use_adapters(self, adapters: list[SingleTaskAdapter]) -> None:
        """Combine these adapters; when one of them did not run or left no weights, the rung is skipped, saying so."""
        self.sources = adapters
        missing = [a for a in adapters if a.skipped or not (a.folder / PEFT_WEIGHTS).is_file()]
        if missing and not self.skip_reason:
            self.skip_reason = "composition needs every task's single-task LoRA: " + "; ".join(
                f"{a.rung} was skipped ({a.skipped})" if a.skipped else f"{a.rung} left no {a.folder / PEFT_WEIGHTS}"
                for a in missing)

    def _compose(self, model, tokenizer):
        cc = self.config.composition
        return composition.compose(model, tokenizer, {a.task: a.folder for a in self.sources},
                                   {a.task: cc.weight(a.task) for a in self.sources}, cc.combination_type)

    def _load(self):
        # fp32 whatever train.precision says: the combined adapter takes the base's dtype (composition.compose).
        model, tokenizer = load_causal_lm(self.config.model.name, dtype=torch.float32)
        self.base_params = count_parameters(model)[1]
        return self.method.apply(model, tokenizer), tokenizer

    def fit(self, train, val, workdir) -> FitInfo:
        self.model, self.tokenizer = self._load()
        return FitInfo(artifact_dir=self._save(workdir))

    def estimate_fit(self, train, val, workdir) -> float:
        """Seconds the fit takes, timed on untrained LoRAs of the same shape (the single-task ones do not exist yet)."""
        model, tokenizer = load_causal_lm(self.config.model.name, dtype=torch.float32)
        untrained = lora_method(self.config).apply(model, tokenizer)
        untrained.save_pretrained(str(workdir / "untrained"))
        self.use_adapters([SingleTaskAdapter(name, rung, workdir / "untrained")
                           for name, rung in self.single_task_rungs()])
        started = time.perf_counter()
        self.fit(train, val, workdir)
        return time.perf_counter() - started

    def parameters(self):
        return composition.adapter_parameters(self.model), count_parameters(self.model)[1]

    def notes(self) -> list[str]:
        kind = self.config.composition.combination_type
        return [f"combined adapter rank {composition.rank(self.model)} from {len(self.sources)} single-task LoRAs ({kind})"]


class RagLoraRung(TunedRung):
    """RAG + LoRA: LoRA trained on prompts that carry the retrieved chunks, and scored with them.

    Training examples retrieve like test ones, except that their own document is left out when the training set
    is the corpus (otherwise every prompt would show its answer). The adapter folder ships with its index.
    """

    def __init__(self, task: Task, config: Config, index: RagIndex):
        super().__init__(task, config, lora_method(config, "rag_lora"))
        self.index, self.mode = index, config.rag.lora_retriever
        self.description = f"{self.description}, trained and scored with the top {config.rag.top_k} chunks " \
                           f"({self.mode} retrieval) in the prompt"
        self.retrieval: dict | None = None

    def _conversations(self, examples: list[Example], task: Task, exclude_self: bool):
        hits = self.index.hits(examples, self.mode, exclude_self)
        rag = self.config.rag
        return [rag_messages(e, found, task.instruction, rag.instruction) for e, found in zip(examples, hits)], hits

    def _encode(self, examples: list[Example]) -> list[Encoded]:
        conversations, _ = self._conversations(examples, self.task, exclude_self=True)
        return sft_conversations(self.tokenizer, conversations, [e.answer for e in examples], self.max_length)

    def _save(self, workdir: Path) -> Path:
        adapter = super()._save(workdir)
        self.index.copy_to(adapter / "rag_index")
        return adapter

    def predict_task(self, task: Task, test: list[Example]) -> list[Prediction]:
        self.model.to(eval_dtype(self.config))
        conversations, hits = self._conversations(test, task, exclude_self=False)
        predictions = predict_conversations(
            self.model, self.tokenizer, conversations, task, self.config, [e.id for e in test], self.name
        )
        self.retrieval = retrieval_summary(hits, test, self.config, self.mode)
        return with_sources(predictions, hits)

    def notes(self) -> list[str]:
        return [self.index.note()]


MULTI_TASK_METHODS = ("multitask", "composition")  # scored per task, next to one LoRA trained on each task alone


def planned_methods(config: Config) -> list[str]:
    """The methods a run trains: `methods`, or every method with `plan: thorough`.

    multitask and composition are compared with one LoRA per task, so they bring `lora` along (just before the first
    of them) when not planned; composition combines its adapter, so `lora` also moves before composition.
    """
    names = list(ALL_METHODS) if config.plan == "thorough" else list(config.methods)
    first = next((name for name in names if name in MULTI_TASK_METHODS), None)
    if first and "lora" not in names:
        names.insert(names.index(first), "lora")
    if "composition" in names and names.index("lora") > names.index("composition"):
        names.remove("lora")
        names.insert(names.index("composition"), "lora")
    return names


def multi_task(config: Config) -> bool:
    """Whether the run has a rung scored per task (multitask, composition): it reads multitask.tasks' data and trains
    one LoRA per other task (single_task_rungs)."""
    return any(name in MULTI_TASK_METHODS for name in planned_methods(config))


def single_task_rungs(config: Config, others: list[TaskData]) -> list[tuple[TaskData, TunedRung]]:
    """For a multi-task run: a LoRA trained and scored on each other task alone (what multitask is measured by and
    composition combines)."""
    if not multi_task(config):
        return []
    rungs = []
    for t in others:
        rung = TunedRung(t.task, config, lora_method(config, f"lora[{t.name}]"))
        rung.description = f"{rung.description}, trained on {t.name} alone"
        rung.max_length = t.max_length
        rungs.append((t, rung))
    return rungs


def build_plan(
    config: Config, task: Task, train: list[Example], others: list[TaskData] | None = None
) -> list[Rung]:
    """The rungs to run: prompting first, then each fine-tuning method in the order given.

    `train`: the training split (nearest-neighbour demonstrations index it); `others`: the other tasks of a
    multi-task config (prepared data), for the multitask and composition rungs.
    """
    index = RagIndex(config, train)
    plan = prompting_rungs(config, task, train, index)
    for name in planned_methods(config):
        plan.extend(method_rungs(name, config, task, others or [], index))
    return plan


def prompting_rungs(
    config: Config, task: Task, train: list[Example], index: RagIndex | None = None
) -> list[Rung]:
    """The prompting rungs in config order; few_shot is one rung per demo selection and k (a k-sweep each), rag
    one per retriever (sharing `index`)."""
    base = BaseModelCache(config.model.name, eval_dtype(config))
    nearest = NearestDemos(train, TextEncoder(config.model.encoder, batch_size=config.eval.batch_size * 4))
    plan: list[Rung] = []
    index = index or RagIndex(config, train)
    for style in config.rungs:
        if style == "rag":
            plan.extend(RagRung(base, task, config, mode, index) for mode in config.rag.retrievers)
        elif style == "few_shot":
            for selection in config.prompt.demo_selection:
                plan.extend(PromptRung(base, task, config, "few_shot", k, selection, nearest)
                            for k in config.prompt.few_shot_k)
        else:
            plan.append(PromptRung(base, task, config, style))
    return plan


def method_rungs(
    name: str, config: Config, task: Task, others: list[TaskData] | None = None, index: RagIndex | None = None
) -> list[Rung]:
    """The rung(s) of one fine-tuning method (`index`: the run's retrieval index, for rag_lora)."""
    if name in ("features", "encoder_features"):
        return [FeatureRung(task, config, "decoder" if name == "features" else "encoder")]
    if name in ("classifier", "encoder_classifier"):
        return [ClassifierRung(task, config, "decoder" if name == "classifier" else "encoder")]
    if name == "dapt_lora":
        return [DaptLoraRung(task, config)]
    if name == "multitask":
        return [MultitaskRung(task, config, others or [])]
    if name == "composition":
        return [CompositionRung(task, config, others or [])]
    if name == "rag_lora":
        return [RagLoraRung(task, config, index or RagIndex(config, []))]
    return [TunedRung(task, config, method) for method in methods_for(name, config, task)]


# ---------------------------------------------------------------- running


def skipped_result(rung: Rung, reason: str) -> RungResult:
    """A rung that cannot run on this machine or task: shown in the report with its reason."""
    print(f"[tunewise] rung {rung.name}: skipped ({reason})", file=sys.stderr, flush=True)
    return RungResult(rung.name, rung.kind, getattr(rung, "description", ""), {}, {}, skipped=reason)


def run_rung(rung: Rung, train, val, test, task: Task, config: Config, rung_dir: Path,
             benchmark: list[ChoiceItem] | None = None) -> RungResult:
    """Fit, predict, score and cost one rung; write its metrics and predictions. A rung with a language model of
    its own (fine-tuned) also scores the forgetting check's `benchmark` questions."""
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
    metrics = score(predictions, test, task, config)
    write_predictions(rung_dir / "predictions.jsonl", predictions, test)
    per_task = {}
    for other in getattr(rung, "other_tasks", []):
        print(f"[tunewise] rung {rung.name}: predict {len(other.test)} {other.name} test examples",
              file=sys.stderr, flush=True)
        other_predictions = rung.predict_task(other.task, other.test)
        per_task[other.name] = score(other_predictions, other.test, other.task, config)
        write_predictions(rung_dir / "tasks" / other.name / "predictions.jsonl", other_predictions, other.test)
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
    notes = rung.notes() if hasattr(rung, "notes") else []
    result = RungResult(rung.name, rung.kind, getattr(rung, "description", ""), metrics, cost, info.training,
                        notes=notes, per_task=per_task or None, prompt=getattr(rung, "summary", None),
                        retrieval=getattr(rung, "retrieval", None),
                        correct=[item_correct(task.metric, p.output, e.answer) for p, e in zip(predictions, test)],
                        item_scores=[item_score(task.metric, p.output, e.answer) for p, e in zip(predictions, test)],
                        predictions=predictions,
                        per_class=class_report(predictions, test, task))
    if benchmark and hasattr(rung, "language_model"):
        result.benchmark = score_model(*rung.language_model(), benchmark, config, f"rung {rung.name}")
    write_json(rung_dir / "metrics.json", {"metrics": metrics, "cost": cost} | ({"per_task": per_task} if per_task else {}))
    if info.training:
        write_json(rung_dir / "training.json", info.training)
    return result


def class_report(predictions: list[Prediction], examples: list[Example], task: Task) -> dict | None:
    """Classification: per-label precision/recall/F1/support and the confusion matrix (rows: reference)."""
    if task.type != "classification":
        return None
    outputs, references = [p.output for p in predictions], [e.answer for e in examples]
    return {"labels": per_class(outputs, references, task.labels),
            "confusion": {"labels": list(task.labels), "counts": confusion(outputs, references, task.labels)}}


def score(predictions: list[Prediction], examples: list[Example], task: Task, config: Config) -> dict:
    """Every metric of the task with its bootstrap confidence interval."""
    return metrics_with_ci(
        task.type,
        task.labels,
        [p.output for p in predictions],
        [e.answer for e in examples],
        n_resamples=config.eval.bootstrap_samples,
        confidence=config.eval.confidence,
        seed=config.eval.seed,
    )


def write_predictions(path: Path, predictions: list[Prediction], examples: list[Example]) -> None:
    """predictions.jsonl: id, prediction, reference (and label scores for classification)."""
    write_jsonl(
        path,
        [{"id": p.id, "prediction": p.output, "reference": e.answer, **({"scores": p.scores} if p.scores else {}),
          **(p.details or {})} for p, e in zip(predictions, examples)],
    )


def estimate_rung(rung: Rung, train, val, test, workdir: Path) -> dict:
    """Estimated seconds to fit and predict a rung, from a short timed probe of each (the dry run)."""
    print(f"[tunewise] rung {rung.name}: timing a probe", file=sys.stderr, flush=True)
    fit_s = rung.estimate_fit(train, val, workdir)
    sample = test[:PROBE_PREDICTIONS]
    started = time.perf_counter()
    rung.predict(sample)
    predict_s = (time.perf_counter() - started) * len(test) / max(len(sample), 1)
    return {"rung": rung.name, "fit_s": fit_s, "predict_s": predict_s}


PER_EXAMPLE = ("correct", "item_scores", "predictions", "benchmark")  # RungResult fields report.json leaves out
RESULT_FILE = "result.json"  # a finished rung's whole RungResult: `tunewise run --resume` keeps it, not redoes it


def save_result(result: RungResult, rung_dir: Path) -> None:
    """Write the rung's whole result (per-example fields included) once it is finished."""
    predictions = None if result.predictions is None else [dataclasses.asdict(p) for p in result.predictions]
    record = summarise(result) | {"correct": result.correct, "item_scores": result.item_scores,
                                  "predictions": predictions}
    b = result.benchmark
    record["benchmark"] = None if b is None else {
        "format": b.format, "ids": [item.id for item in b.items], "log_likelihoods": b.log_likelihoods,
        "item_scores": b.item_scores}
    write_json(rung_dir / RESULT_FILE, record)


def load_result(rung_dir: Path, benchmark: list[ChoiceItem] | None) -> RungResult | None:
    """The result a finished rung saved (None when it did not finish); its forgetting scores are tied back to
    the benchmark's questions, which must be the ones it was scored on."""
    path = rung_dir / RESULT_FILE
    if not path.is_file():
        return None
    record = json.loads(path.read_text(encoding="utf-8"))
    if record.get("predictions") is not None:
        record["predictions"] = [Prediction(**p) for p in record["predictions"]]
    saved = record.pop("benchmark", None)
    result = RungResult(**record)
    if saved is not None:
        if benchmark is None or [item.id for item in benchmark] != saved["ids"]:
            raise TrainingError(f"{path}: its forgetting check was scored on other questions than this run's "
                                "forgetting.benchmark; resume with the benchmark it was run with")
        result.benchmark = BenchmarkScores(saved["format"], benchmark, saved["log_likelihoods"], saved["item_scores"])
    return result


def summarise(result: RungResult) -> dict:
    """The rung as report.json stores it (without the per-example fields, PER_EXAMPLE)."""
    shallow = dataclasses.replace(result, **dict.fromkeys(PER_EXAMPLE))  # asdict would deep-copy them first
    summary = {k: v for k, v in dataclasses.asdict(shallow).items() if k not in PER_EXAMPLE}
    return json.loads(json.dumps(summary, default=str))
