"""The run configuration: one YAML file plus `--set a.b=value` overrides, validated as a whole.

Every field carries a one-line description (shown by `tunewise config show --doc`); every default is
written once, here. Validation collects all problems and reports them together with their paths.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    FiniteFloat,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from tunewise.benchmarks import BUNDLED_BENCHMARK, FORMATS
from tunewise.errors import ConfigError, Problem


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class TaskConfig(_Section):
    type: Literal["classification", "generation"] | None = Field(
        None, description="classification (pick one label) or generation (free text); guessed from the data when empty"
    )
    labels: list[str] | None = Field(
        None, description="the label set (classification); inferred from the training split when empty"
    )
    metric: Literal[
        "accuracy", "macro_f1", "exact_match", "token_f1", "contains", "bleu", "chrf", "rouge1", "rouge2", "rougeL"
    ] | None = Field(
        None,
        description="primary metric; accuracy for classification, token_f1 for generation when empty (contains: "
        "the answer occurs in the output, for models that answer in sentences)",
    )
    instruction: str | None = Field(
        None,
        description="system instruction for every rung; a default that lists the labels is used for classification",
    )


class SplitConfig(_Section):
    val: float = Field(0.1, gt=0, lt=1, description="fraction of the examples held out for validation")
    test: float = Field(0.2, gt=0, lt=1, description="fraction of the examples held out for the test set")
    seed: int = Field(0, description="seed of the split; the split's example ids are saved with the run")

    @model_validator(mode="after")
    def _fractions_leave_training_data(self) -> SplitConfig:
        if self.val + self.test >= 0.9:
            raise ValueError(f"val + test = {self.val + self.test:g} leaves too little for training; keep it below 0.9")
        return self


class DataConfig(_Section):
    path: Path | None = Field(None, description="JSONL or CSV file with all examples; split by `split`")
    train: Path | None = Field(None, description="training file, when you bring your own split (needs `test` too)")
    val: Path | None = Field(None, description="validation file for your own split (optional: taken from train)")
    test: Path | None = Field(None, description="test file for your own split")
    format: Literal["auto", "chat", "alpaca", "prompt_completion", "classification"] = Field(
        "auto", description="record format; auto detects it from the first record's fields"
    )
    text_field: str = Field("text", description="classification format: column holding the input text")
    label_field: str = Field("label", description="classification format: column holding the label")
    id_field: str = Field("id", description="column holding a unique example id (optional; line numbers otherwise)")
    split: SplitConfig = Field(default_factory=SplitConfig, description="how a single file is split")
    max_length: int = Field(512, ge=16, description="longest example in tokens (prompt + answer)")
    overlong: Literal["truncate", "drop", "error"] = Field(
        "truncate", description="what to do with examples longer than max_length"
    )
    min_examples: int = Field(10, ge=1, description="fewer examples than this is an error")

    @model_validator(mode="after")
    def _one_source(self) -> DataConfig:
        if self.path is None and self.train is None:
            raise ValueError("give either `path` (one file, split for you) or `train` + `test` (your own split)")
        if self.path is not None and any(p is not None for p in (self.train, self.val, self.test)):
            raise ValueError("give either `path` or `train`/`val`/`test`, not both")
        if self.train is not None and self.test is None:
            raise ValueError("`train` needs `test` too")
        return self


class ModelConfig(_Section):
    name: str = Field(
        "smollm2", description="generative model: 'smollm2' (bundled), a local HF directory, or a .gguf file"
    )
    encoder: str = Field("minilm", description="encoder for embeddings: 'minilm' (bundled) or a local HF directory")


class PromptConfig(_Section):
    few_shot_k: list[int] = Field(
        [1, 3, 6], description="numbers of demonstrations for the few_shot rungs (the k-sweep; zero_shot is k=0)"
    )
    demo_selection: list[Literal["balanced", "random", "nearest"]] = Field(
        ["balanced"],
        description="how demonstrations are chosen from train, one k-sweep each: balanced (seeded, cycling through "
        "the labels; classification), random (seeded), nearest (the training inputs most similar to the test "
        "input by model.encoder embeddings)",
    )
    demo_seed: int = Field(0, description="seed for drawing demonstrations from train")
    cot_instruction: str = Field(
        "Think step by step about the message above. Then write the final answer on its own last line, "
        "exactly as: Answer: <answer>",
        min_length=1,
        description="the cot rung's cue after the input: ask for reasoning and a last line 'Answer: ...'",
    )
    cot_max_new_tokens: int = Field(256, ge=8, description="the cot rung's longest output (reasoning + answer)")
    template: str | None = Field(
        None,
        description="the template rung's user message, a Jinja2 template with {{ input }}, {{ instruction }} and "
        "{{ labels }}; checked before the run",
    )

    @model_validator(mode="after")
    def _k_positive(self) -> PromptConfig:
        if any(k < 1 for k in self.few_shot_k):
            raise ValueError("few_shot_k values must be >= 1 (zero_shot is the k=0 point of every sweep)")
        return self


class RagConfig(_Section):
    documents: Path | None = Field(
        None,
        description="the knowledge source: a folder of .txt/.md files (one document each; .jsonl files in it: one per "
        "line) or a JSONL file with a `text` field (and an optional `id`) per line; empty: the training examples",
    )
    retrievers: list[Literal["dense", "bm25", "hybrid"]] = Field(
        ["dense", "bm25", "hybrid"],
        description="one rag rung per retriever: dense (model.encoder embeddings, exact cosine), bm25 (words), "
        "hybrid (reciprocal-rank fusion of both)",
    )
    top_k: int = Field(3, ge=1, description="chunks put into each prompt (with their source ids)")
    chunk_tokens: int = Field(128, ge=16, description="chunk size in encoder tokens (MiniLM reads at most 256)")
    chunk_overlap: int = Field(32, ge=0, description="tokens each chunk shares with the one before it")
    instruction: str = Field(
        "Answer from the documents above. If they do not say, answer from what you know.", min_length=1,
        description="written after the retrieved documents and before the input in the user's message",
    )
    gold_field: str = Field(
        "sources", description="the data field with the ids of the documents that answer an example (for recall@k)"
    )
    lora_retriever: Literal["dense", "bm25", "hybrid"] = Field(
        "hybrid", description="the retriever of the rag_lora method (LoRA trained and scored with retrieved context)"
    )

    @model_validator(mode="after")
    def _overlap_below_size(self) -> RagConfig:
        if self.chunk_overlap >= self.chunk_tokens:
            raise ValueError(f"chunk_overlap ({self.chunk_overlap}) must be smaller than chunk_tokens "
                             f"({self.chunk_tokens})")
        return self


class TrainConfig(_Section):
    lr: float = Field(2e-4, gt=0, description="peak learning rate (AdamW)")
    weight_decay: float = Field(0.0, ge=0, description="AdamW weight decay (applied to matrices, not biases/norms)")
    epochs: float = Field(2.0, gt=0, description="passes over the training set (fractional allowed)")
    max_steps: int | None = Field(None, ge=1, description="stop after this many optimizer steps (overrides epochs)")
    batch_size: int = Field(8, ge=1, description="examples per micro-batch")
    grad_accum: int = Field(1, ge=1, description="micro-batches per optimizer step")
    max_batch_tokens: int | None = Field(
        1024, ge=1,
        description="split a micro-batch whose padded size (rows x longest) exceeds this into pieces; the gradient "
        "is the same, peak memory lower (long examples); empty: never split",
    )
    packing: bool = Field(
        False,
        description="put each micro-batch's examples end to end in one row (no attention across examples) "
        "instead of padding; on CPU attention over the long row usually costs more than the padding it saves",
    )
    gradient_checkpointing: bool = Field(
        False,
        description="recompute each layer's activations during backward: peak memory about halved (LoRA on "
        "SmolLM2-135M, bundled example: 1.3 vs 2.4 GiB) for about a quarter fewer tokens/s",
    )
    lean_layers: bool = Field(
        True,
        description="train llama-family models (Llama, Mistral, Qwen2/3, SmolLM) with RMSNorm and SwiGLU "
        "functions that keep fewer activations for backward; same math, less memory, slightly faster",
    )
    attention: Literal["auto", "eager", "sdpa"] = Field(
        "auto",
        description="attention kernel while training: auto = on CPU eager for rows up to 192 tokens and sdpa "
        "for longer ones (each measured faster there), sdpa on GPU; prediction uses the model's own setting",
    )
    warmup_ratio: float = Field(0.05, ge=0, lt=1, description="fraction of steps with linear warmup")
    schedule: Literal["cosine", "linear", "constant"] = Field("cosine", description="decay after warmup")
    max_grad_norm: float | None = Field(1.0, gt=0, description="gradient clipping norm; empty for none")
    eval_every: int = Field(50, ge=1, description="compute validation loss every N optimizer steps")
    patience: int | None = Field(3, ge=1, description="stop after N evaluations without improvement; empty: never")
    max_val_examples: int = Field(128, ge=1, description="validation examples used for the validation loss")
    precision: Literal["bf16", "fp32"] = Field("bf16", description="bf16 autocast (fast on this CPU) or fp32")
    seed: int = Field(0, description="seed for initialisation, data order and dropout")
    log_every: int = Field(10, ge=1, description="print progress every N optimizer steps")
    checkpoint_every: int | None = Field(
        50, ge=1, description="save a resumable training state every N optimizer steps (SIGTERM and Ctrl-C save one "
        "too); `tunewise run --resume runs/<id>` continues from the newest; empty: only on SIGTERM / Ctrl-C",
    )


class LoraConfig(_Section):
    r: int = Field(16, ge=1, description="LoRA rank")
    alpha: float = Field(32, gt=0, description="LoRA scaling numerator (scale = alpha / r; alpha / sqrt(r) for rslora)")
    dropout: float = Field(
        0.0, ge=0, lt=1,
        description="dropout on the LoRA input; 0 by default because on CPU drawing the masks costs as much as "
        "the matmuls they feed (1.7x slower steps measured); try 0.05-0.1 on very small training sets",
    )
    target_modules: list[str] = Field(
        ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
        description="module names that get LoRA adapters",
    )
    attention_modules: list[str] = Field(
        ["q_proj", "k_proj", "v_proj", "o_proj"], description="the lora_attention method's target modules"
    )
    sweep_ranks: list[int] = Field(
        [4, 64], description="the lora_ranks method trains one LoRA per rank here (lora itself covers `r`)"
    )

    @model_validator(mode="after")
    def _ranks_positive(self) -> LoraConfig:
        if any(r < 1 for r in self.sweep_ranks):
            raise ValueError("sweep_ranks values must be >= 1")
        return self


class FullConfig(_Section):
    lr: float = Field(2e-5, gt=0, description="learning rate for full fine-tuning (all weights move: keep it low)")


class FreezeConfig(_Section):
    trainable_layers: int = Field(
        2, ge=0, description="last N transformer blocks trained with the output layer; 0 = the output layer only"
    )
    lr: float = Field(5e-5, gt=0, description="learning rate for the unfrozen layers")


class PromptLearningConfig(_Section):
    num_virtual_tokens: int = Field(20, ge=1, description="learned virtual tokens (prompt/prefix tuning, P-tuning)")
    prompt_tuning_init: Literal["text", "random"] = Field(
        "text", description="prompt tuning: start from the embeddings of the task instruction's tokens, or random"
    )
    encoder_hidden_size: int = Field(128, ge=1, description="P-tuning: hidden size of the prompt encoder MLP")
    lr: float = Field(3e-2, gt=0, description="learning rate for the virtual tokens (they need far more than LoRA)")


class IA3Config(_Section):
    target_modules: list[str] = Field(
        ["k_proj", "v_proj", "down_proj"], description="modules whose activations IA3 rescales"
    )
    feedforward_modules: list[str] = Field(
        ["down_proj"], description="the subset of target_modules that are feed-forward (scaled on their input)"
    )
    lr: float = Field(3e-3, gt=0, description="learning rate for the IA3 scaling vectors")


class BottleneckConfig(_Section):
    size: int = Field(64, ge=1, description="bottleneck width of each adapter (down-projection size)")
    nonlinearity: Literal["relu", "gelu", "silu"] = Field("relu", description="activation between the projections")
    placement: list[Literal["attention", "mlp"]] = Field(
        ["attention", "mlp"], description="after which sublayers of every block an adapter is inserted (Houlsby: both)"
    )
    lr: float = Field(1e-3, gt=0, description="learning rate for the adapters")


class QLoraConfig(_Section):
    bits: Literal[4, 8] = Field(4, description="4 = NF4 QLoRA, 8 = LLM.int8 base with LoRA (bitsandbytes, CUDA only)")


class FeaturesConfig(_Section):
    C: float = Field(1.0, gt=0, description="inverse L2 regularisation strength of the logistic regression")
    max_iter: int = Field(2000, ge=10, description="iterations of the logistic-regression solver")
    max_length: int = Field(256, ge=8, description="tokens of each example embedded (longer inputs are cut)")


class ClassifierConfig(_Section):
    decoder_lr: float = Field(2e-4, gt=0, description="learning rate for the decoder classifier (LoRA + head)")
    encoder_lr: float = Field(5e-5, gt=0, description="learning rate for the encoder classifier (all weights)")


class DaptConfig(_Section):
    text: Path | None = Field(
        None, description="domain text: a JSONL file with a `text` field per line, or a folder of .txt/.md/.jsonl files"
    )
    block_size: int = Field(256, ge=16, description="tokens per training block cut from the domain text")
    epochs: float = Field(1.0, gt=0, description="passes over the domain text before the supervised LoRA")
    lr: float = Field(1e-4, gt=0, description="learning rate of the continued pretraining (LoRA on the same modules)")


class ExtraTaskConfig(_Section):
    name: str = Field(
        description="short name of the task in the report and run folder (letters, digits, '_' or '-')",
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$", max_length=40,
    )
    data: DataConfig = Field(description="the task's examples and split, as the top-level `data` section")
    task: TaskConfig = Field(default_factory=TaskConfig, description="the task's type, labels, metric, instruction")
    weight: float = Field(1.0, gt=0, description="mixing weight: scales the task's share of the training mixture")


class MultitaskConfig(_Section):
    tasks: list[ExtraTaskConfig] = Field(
        [], description="the other tasks trained in the mixture with this run's task (the `multitask` method)"
    )
    weight: float = Field(1.0, gt=0, description="mixing weight of this run's own task (`data`/`task` above)")
    temperature: float = Field(
        1.0, gt=0,
        description="each task's share of the mixture is proportional to (weight x training examples)^(1/T): "
        "1 = in proportion to size, larger values flatten the mixture toward equal shares (small tasks upsampled)",
    )

    @model_validator(mode="after")
    def _unique_names(self) -> MultitaskConfig:
        names = [t.name for t in self.tasks]
        clashes = sorted({n for n in names if names.count(n) > 1} | ({MAIN_TASK} & set(names)))
        if clashes:
            raise ValueError(f"task names must be unique and not '{MAIN_TASK}' (this run's own task): {clashes}")
        return self


# A task's adapter enters the combination at weight 1 unless composition.weights says otherwise, so the default is
# the plain sum: each task's own update keeps the strength its training found, and the other tasks' updates add to
# it. Averaging (1/N each) suits adapters trained on the same task, which agree; for different tasks it shrinks each
# task's update to 1/N of what was learned, as if its LoRA scale were divided by N, which loses much of its gain.
# Lower a weight when one task's update disturbs another's.
DEFAULT_ADAPTER_WEIGHT = 1.0


class CompositionConfig(_Section):
    weights: dict[str, FiniteFloat] = Field(
        {},
        description="weight of each task's single-task LoRA in the combination, by task name ('main': this run's task; "
        f"others: multitask.tasks names); a task not named gets {DEFAULT_ADAPTER_WEIGHT:g}; negative subtracts",
    )
    combination_type: Literal["cat", "linear", "svd"] = Field(
        "cat",
        description="cat: exactly the weighted sum of the adapters' weight updates (rank: the sum of their ranks); "
        "svd: that sum cut to the largest adapter rank (smaller, approximate); linear: A and B matrices summed "
        "separately (same rank, approximate: cross terms between adapters)",
    )

    def weight(self, task: str) -> float:
        """The weight of `task`'s single-task adapter in the combination."""
        return self.weights.get(task, DEFAULT_ADAPTER_WEIGHT)


class SamplingConfig(_Section):
    temperature: float = Field(0.7, gt=0, description="softmax temperature (lower: closer to greedy)")
    top_p: float = Field(1.0, gt=0, le=1, description="nucleus sampling: keep the smallest set of tokens with this mass")
    seed: int = Field(0, description="seed of the sampler, so a rerun gives the same answers")


class EvalConfig(_Section):
    batch_size: int = Field(8, ge=1, description="test examples per forward pass")
    max_new_tokens: int = Field(64, ge=1, description="generation: longest answer")
    stop: list[str] = Field(
        [], description="generation: strings that end an answer, which is cut there (the end-of-turn token always "
        "ends it); every generation rung alike",
    )
    sampling: SamplingConfig | None = Field(
        None, description="generation: sample with these settings instead of greedy decoding (every rung alike); "
        "null: greedy, the default",
    )
    max_test_examples: int | None = Field(None, ge=1, description="score only the first N test examples (quick runs)")
    bootstrap_samples: int = Field(1000, ge=100, description="bootstrap resamples for confidence intervals")
    confidence: float = Field(0.95, gt=0.5, lt=1, description="confidence level of the intervals")
    seed: int = Field(0, description="seed of the bootstrap")
    alpha: float = Field(
        0.05, gt=0, lt=1, description="significance level of the paired tests: a rung is as good as the best unless "
        "p < alpha, and a forgetting-check drop with p < alpha is flagged",
    )
    group_field: str | None = Field(
        None, description="a data field that groups test examples (e.g. the fact a question asks about) in the "
        "report's who-gets-what-right table",
    )
    slice_fields: list[str] = Field(
        [], description="data fields the error analysis reports the metric per value of (besides label and input "
        "length), e.g. [source, language]",
    )


BenchmarkFormat = Literal[FORMATS]


class ForgettingConfig(_Section):
    benchmark: str | None = Field(
        BUNDLED_BENCHMARK, description="multiple-choice questions scored for the base model and every fine-tuned rung "
        "(catastrophic forgetting): 'general_knowledge' (bundled: 236 everyday science, geography, arithmetic and "
        "language questions), a JSONL file of your own (relative to the YAML), or null to skip the check",
    )
    format: BenchmarkFormat = Field("arc", description="the benchmark file's shape (`tunewise eval --help` lists them)")
    max_items: int | None = Field(None, ge=1, description="score only the first N questions (quick runs)")


# ---------------------------------------------------------------- tune (`tunewise tune`, tunewise/tune.py)


class SearchSpec(_Section):
    """Where one parameter is searched: a list of choices (YAML: a plain list), or a range {low, high, log}."""

    choices: list[int | float] | None = Field(None, min_length=1, description="the values tried, in any order")
    low: float | None = Field(None, description="range: the smallest value")
    high: float | None = Field(None, description="range: the largest value")
    log: bool = Field(False, description="range: sample on a log scale (rates and ranks that span decades)")

    @model_validator(mode="before")
    @classmethod
    def _list_is_choices(cls, data: Any) -> Any:
        return {"choices": data} if isinstance(data, list) else data

    @model_validator(mode="after")
    def _choices_or_range(self) -> SearchSpec:
        problems = []
        if self.choices is not None and (self.low is not None or self.high is not None):
            problems.append("give either a list of choices or {low, high, log}, not both")
        elif self.choices is None and (self.low is None or self.high is None):
            problems.append("a range needs both low and high (or give a list of choices)")
        elif self.choices is None and self.low >= self.high:
            problems.append(f"low ({self.low:g}) must be below high ({self.high:g})")
        if self.log and self.choices is not None:
            problems.append("log applies to a range, not to a list of choices")
        elif self.log and self.low is not None and self.low <= 0:
            problems.append(f"log needs low > 0 (got {self.low:g}): a log scale has no zero")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def __repr__(self) -> str:  # as YAML spells it (docs/config.md shows defaults with repr)
        if self.choices is not None:
            return repr(self.choices)
        return f"{{low: {self.low:g}, high: {self.high:g}, log: {str(self.log).lower()}}}"


def _fits(section: type[BaseModel], name: str, spec: SearchSpec | None) -> SearchSpec | None:
    """`spec` with every value checked, and converted, as the field `name` of `section` takes it (lora.r: ints)."""
    if spec is None:
        return None
    target, problems, checked = section(), [], {}
    values = {"choices": spec.choices} if spec.choices is not None else {"low": [spec.low], "high": [spec.high]}
    for key, items in values.items():
        converted = []
        for value in items:
            try:
                setattr(target, name, value)  # validate_assignment: the field's own type and bounds
                converted.append(getattr(target, name))
            except ValidationError as err:
                problems.append(f"{key} {value!r}: {err.errors()[0]['msg']}")
        checked[key] = converted if key == "choices" else converted[0] if converted else None
    if problems:
        raise ValueError("; ".join(problems))
    return spec.model_copy(update=checked)


SEARCHABLE = {"train": ("lr", "epochs", "weight_decay"), "lora": ("r", "alpha", "dropout")}


def _not_searchable(value: Any) -> Any:
    known = ", ".join(f"{section}.{name}" for section, names in SEARCHABLE.items() for name in names)
    raise ValueError(f"not a searchable parameter; searchable: {known}")


class _SpaceSection(_Section):
    # Unknown names are kept as extras only to fail one by one, each with the list of searchable ones (pydantic's
    # own extra_forbidden message would not say what is allowed).
    model_config = ConfigDict(extra="allow", validate_assignment=True)
    __pydantic_extra__: dict[str, Annotated[Any, AfterValidator(_not_searchable)]] = Field(init=False)


class TrainSearch(_SpaceSection):
    lr: SearchSpec | None = Field(
        default_factory=lambda: SearchSpec(low=1e-5, high=1e-3, log=True),
        description="train.lr: a list of choices or {low, high, log}; null: not searched (train.lr is used)",
    )
    epochs: SearchSpec | None = Field(
        None, description="train.epochs, likewise (not with train.max_steps, which overrides epochs)"
    )
    weight_decay: SearchSpec | None = Field(None, description="train.weight_decay, likewise")

    @field_validator("lr", "epochs", "weight_decay")
    @classmethod
    def _values_fit(cls, spec: SearchSpec | None, info: ValidationInfo) -> SearchSpec | None:
        return _fits(TrainConfig, info.field_name, spec)


class LoraSearch(_SpaceSection):
    r: SearchSpec | None = Field(
        default_factory=lambda: SearchSpec(choices=[8, 16, 32]),
        description="lora.r: a list of choices or {low, high, log} (whole numbers); null: not searched",
    )
    alpha: SearchSpec | None = Field(None, description="lora.alpha, likewise")
    dropout: SearchSpec | None = Field(None, description="lora.dropout, likewise")

    @field_validator("r", "alpha", "dropout")
    @classmethod
    def _values_fit(cls, spec: SearchSpec | None, info: ValidationInfo) -> SearchSpec | None:
        return _fits(LoraConfig, info.field_name, spec)


class SearchSpace(_SpaceSection):
    train: TrainSearch = Field(default_factory=TrainSearch, description="training parameters searched")
    lora: LoraSearch = Field(default_factory=LoraSearch, description="LoRA parameters searched")

    def searched(self) -> dict[str, SearchSpec]:
        """{'train.lr': spec, ...} for every parameter searched, in SEARCHABLE order."""
        return {f"{section}.{name}": spec for section, names in SEARCHABLE.items() for name in names
                if (spec := getattr(getattr(self, section), name)) is not None}


class TuneConfig(_Section):
    method: Literal["lora", "lora_attention", "rslora", "dora"] = Field(
        "lora", description="the LoRA-family method every trial trains, exactly as its ladder rung does"
    )
    objective: Literal["val_loss"] = Field(
        "val_loss",
        description="what a trial is scored by, minimised: its best validation loss (the test split stays untouched "
        "for the ladder's final comparison; choosing settings by it would leak the test set into them)",
    )
    space: SearchSpace = Field(
        default_factory=SearchSpace, description="the parameters searched and where (see docs/tune.md)"
    )
    prune_startup_trials: int = Field(
        5, ge=0, description="trials that finish before any is pruned (the median needs a few trials to compare with)"
    )
    prune_warmup_steps: int = Field(
        0, ge=0, description="optimizer steps every trial trains before it can be pruned (early losses say little)"
    )


MAIN_TASK = "main"  # how multi-task tables name the run's own task (data/task at the top level)

# Prompting rungs, in the order a plan runs them. `few_shot` is one rung per demo_selection x few_shot_k.
RungName = Literal["zero_shot", "prefix", "few_shot", "cot", "template", "rag"]
RUNG_SUMMARIES = {
    "zero_shot": "the task instruction as the system message, then the input (what fine-tuned rungs are scored on)",
    "prefix": "the instruction written before the input in the user's message (a plain instruction prompt)",
    "few_shot": "zero_shot plus k demonstrations from train as earlier turns, per prompt.demo_selection",
    "cot": "zero_shot plus a chain-of-thought cue; the answer is read from the output's 'Answer:' line",
    "template": "your own Jinja2 template (prompt.template) renders the user message",
    "rag": "retrieved chunks of rag.documents (or the training set) before the input, one rung per rag.retrievers",
}
# Fine-tuning methods, in the order a plan runs them (roughly cheapest first). ladder.METHODS says what each is.
MethodName = Literal[
    "features", "encoder_features", "freeze", "prompt_tuning", "prefix_tuning", "p_tuning", "ia3", "lora",
    "lora_attention", "rslora", "dora", "lora_ranks", "bottleneck", "classifier", "encoder_classifier", "dapt_lora",
    "multitask", "composition", "full", "qlora", "rag_lora",
]
ALL_METHODS: list[str] = list(MethodName.__args__)
# The demo's plan: LoRA next to the prompting rungs (LoRA trains in about 6 minutes on 2 cores); `plan: thorough` runs them all.
DEFAULT_METHODS = ["lora"]
METHOD_SUMMARIES = {
    "features": "frozen decoder, mean-pooled hidden states -> logistic regression (classification)",
    "encoder_features": "frozen MiniLM embeddings -> logistic regression (classification)",
    "freeze": "train the output layer (+ the last freeze.trainable_layers blocks), freeze the rest",
    "prompt_tuning": "learned virtual input tokens (PEFT), model frozen",
    "prefix_tuning": "learned keys/values in every attention layer (PEFT), model frozen",
    "p_tuning": "virtual tokens from a small prompt-encoder MLP (PEFT), model frozen",
    "ia3": "learned scaling of keys, values and MLP activations (PEFT)",
    "lora": "LoRA on lora.target_modules (all seven projections by default)",
    "lora_attention": "LoRA on the attention projections only (lora.attention_modules)",
    "rslora": "LoRA scaled by alpha/sqrt(r) (rank-stabilised)",
    "dora": "weight-decomposed LoRA (magnitude + direction)",
    "lora_ranks": "one LoRA per rank in lora.sweep_ranks (a rank sweep)",
    "bottleneck": "Houlsby bottleneck adapters after attention and MLP (tunewise's own module)",
    "classifier": "last-token classification head on the decoder, trained with LoRA (classification)",
    "encoder_classifier": "MiniLM with a classification head, every weight trained (classification)",
    "dapt_lora": "continued pretraining on dapt.text, then LoRA on the task",
    "multitask": "one LoRA on a mixture of this task and multitask.tasks, scored per task next to one LoRA per "
    "task (brings the lora rung along)",
    "composition": "the single-task LoRAs of this task and multitask.tasks added into one adapter (PEFT "
    "add_weighted_adapter, composition.weights), no training; scored per task (brings the lora rungs along)",
    "full": "full fine-tuning of every weight (stores a whole model)",
    "qlora": "LoRA on a 4-bit (or 8-bit) base through bitsandbytes; CUDA only, skipped on CPU",
    "rag_lora": "LoRA trained and scored on prompts with retrieved chunks (rag.lora_retriever): RAG + LoRA",
}


class Config(_Section):
    """A whole tunewise run."""

    _source: str = PrivateAttr("<config>")  # the YAML file it was read from, for error messages

    task: TaskConfig = Field(default_factory=TaskConfig, description="what is predicted and how it is scored")
    data: DataConfig = Field(description="where the examples are and how they are split")
    model: ModelConfig = Field(default_factory=ModelConfig, description="which models are used")
    rungs: list[RungName] = Field(
        ["zero_shot", "few_shot"], description="the prompting rungs of the ladder (fine-tuning: `methods`)"
    )
    methods: list[MethodName] = Field(
        DEFAULT_METHODS, description="the fine-tuning methods of the ladder, each one rung (`tunewise methods` lists them)"
    )
    plan: Literal["default", "thorough"] = Field(
        "default", description="thorough: every fine-tuning method (those that cannot run here show as skipped)"
    )
    prompt: PromptConfig = Field(default_factory=PromptConfig, description="prompting rungs")
    rag: RagConfig = Field(default_factory=RagConfig, description="retrieval-augmented rungs (rag, rag_lora)")
    train: TrainConfig = Field(default_factory=TrainConfig, description="training loop (every fine-tuning rung)")
    lora: LoraConfig = Field(default_factory=LoraConfig, description="LoRA rungs (lora, lora_attention, rslora, dora, lora_ranks)")
    full: FullConfig = Field(default_factory=FullConfig, description="full fine-tuning rung")
    freeze: FreezeConfig = Field(default_factory=FreezeConfig, description="head-only / last-layers rung")
    prompt_learning: PromptLearningConfig = Field(
        default_factory=PromptLearningConfig, description="prompt tuning, prefix tuning and P-tuning rungs"
    )
    ia3: IA3Config = Field(default_factory=IA3Config, description="IA3 rung")
    bottleneck: BottleneckConfig = Field(default_factory=BottleneckConfig, description="bottleneck adapter rung")
    qlora: QLoraConfig = Field(default_factory=QLoraConfig, description="QLoRA rung (CUDA only)")
    features: FeaturesConfig = Field(
        default_factory=FeaturesConfig, description="feature-based rungs (frozen embeddings + logistic regression)"
    )
    classifier: ClassifierConfig = Field(
        default_factory=ClassifierConfig, description="classification-head rungs (decoder + LoRA, encoder)"
    )
    dapt: DaptConfig = Field(default_factory=DaptConfig, description="continued pretraining before LoRA (dapt_lora)")
    multitask: MultitaskConfig = Field(
        default_factory=MultitaskConfig, description="other tasks mixed in by the multitask rung"
    )
    composition: CompositionConfig = Field(
        default_factory=CompositionConfig,
        description="the composition rung: how the single-task LoRAs of this task and multitask.tasks are combined",
    )
    eval: EvalConfig = Field(default_factory=EvalConfig, description="scoring and confidence intervals")
    forgetting: ForgettingConfig = Field(
        default_factory=ForgettingConfig, description="general-knowledge check of every fine-tuned rung against the base"
    )
    tune: TuneConfig = Field(
        default_factory=TuneConfig, description="hyperparameter search of one method (`tunewise tune`, docs/tune.md)"
    )
    output_dir: Path = Field(Path("runs"), description="runs are written to <output_dir>/<run id>/")
    seed: int = Field(0, description="global seed, recorded with the run")

    @property
    def source(self) -> str:
        """The file this config was read from ('<config>' when built in code)."""
        return self._source

    def __eq__(self, other: object) -> bool:
        """Equal settings make equal configs, wherever each was read from."""
        return isinstance(other, Config) and self.model_dump() == other.model_dump()

    @field_validator("composition")
    @classmethod
    def _weights_name_tasks(cls, composition: CompositionConfig, info: ValidationInfo) -> CompositionConfig:
        multitask = info.data.get("multitask")
        if multitask is None:  # the multitask section has problems of its own, reported instead
            return composition
        tasks = [MAIN_TASK, *(t.name for t in multitask.tasks)]
        unknown = [name for name in composition.weights if name not in tasks]
        if unknown:
            others = ", ".join(tasks[1:]) or "none listed"
            raise ValueError(f"{', '.join(f'weights.{name}' for name in unknown)}: not a task of this run; expected "
                             f"'{MAIN_TASK}' (this run's task) or a name under multitask.tasks ({others})")
        return composition

    @model_validator(mode="after")
    def _template_given(self) -> Config:
        if "template" in self.rungs and not self.prompt.template:
            raise ValueError("the template rung needs prompt.template (a Jinja2 template that uses {{ input }})")
        return self

    @field_validator("tune")
    @classmethod
    def _searched_epochs_matter(cls, tune: TuneConfig, info: ValidationInfo) -> TuneConfig:
        train = info.data.get("train")  # None: the train section has problems of its own, reported instead
        if train is not None and train.max_steps is not None and tune.space.train.epochs is not None:
            raise ValueError(f"space.train.epochs: train.max_steps ({train.max_steps}) overrides epochs, so every "
                             "trial would take the same steps; set train.max_steps to null or stop searching epochs")
        return tune


# ---------------------------------------------------------------- loading


def parse_override(text: str) -> tuple[list[str], Any]:
    """'train.lr=1e-4' -> (['train', 'lr'], 1e-4); the value is parsed as YAML."""
    if "=" not in text:
        raise ConfigError([Problem("--set", None, text, "bad_override", "expected KEY=VALUE, e.g. train.lr=1e-4")])
    key, value = text.split("=", 1)
    return key.strip().split("."), yaml.safe_load(value)


def apply_overrides(raw: dict, overrides: list[str]) -> dict:
    """Set each dotted key in a copy of the raw YAML mapping."""
    raw = _deep_copy(raw)
    for text in overrides:
        keys, value = parse_override(text)
        node = raw
        for key in keys[:-1]:
            node = node.setdefault(key, {})
            if not isinstance(node, dict):
                raise ConfigError([Problem("--set", None, text, "bad_override", f"'{key}' is not a section")])
        node[keys[-1]] = value
    return raw


def _deep_copy(raw: dict) -> dict:
    return {k: _deep_copy(v) if isinstance(v, dict) else v for k, v in raw.items()}


def resolve_paths(raw: dict, base: Path) -> dict:
    """Data paths in a YAML file are relative to the YAML file's folder."""
    sections = [raw.get("data")]
    multitask = raw.get("multitask")
    if isinstance(multitask, dict) and isinstance(multitask.get("tasks"), list):
        sections += [t.get("data") for t in multitask["tasks"] if isinstance(t, dict)]
    for data in sections:
        if not isinstance(data, dict):
            continue
        for key in ("path", "train", "val", "test"):
            value = data.get(key)
            if isinstance(value, str) and not Path(value).is_absolute():
                data[key] = str(base / value)
    for section, key in (("dapt", "text"), ("rag", "documents"), ("forgetting", "benchmark")):
        value = raw.get(section)
        path = value.get(key) if isinstance(value, dict) else None
        if isinstance(path, str) and path != BUNDLED_BENCHMARK and not Path(path).is_absolute():
            value[key] = str(base / path)
    return raw


def config_from_dict(raw: dict, source: str = "<config>") -> Config:
    """Validate a raw mapping; every problem is reported at once with its dotted path."""
    try:
        config = Config.model_validate(raw)
        config._source = source
        return config
    except ValidationError as err:
        problems = [
            Problem(source, None, ".".join(str(p) for p in e["loc"]) or "-", e["type"], e["msg"]) for e in err.errors()
        ]
        raise ConfigError(problems) from None


def load_config(path: Path | str, overrides: list[str] | None = None) -> Config:
    """Read a tunewise.yaml, apply `--set` overrides and validate."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError([Problem(str(path), None, None, "not_found", "config file does not exist")])
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as err:
        line = getattr(getattr(err, "problem_mark", None), "line", None)
        raise ConfigError(
            [Problem(str(path), None if line is None else line + 1, None, "bad_yaml", str(err).splitlines()[0])]
        ) from None
    if not isinstance(raw, dict):
        raise ConfigError([Problem(str(path), 1, None, "bad_yaml", "expected a mapping of sections at the top level")])
    # Absolute: the resolved config is saved in the run folder, and a path relative to the working folder would
    # be read relative to the run folder when `tunewise run --resume` loads it back.
    raw = resolve_paths(apply_overrides(raw, overrides or []), path.parent.resolve())
    return config_from_dict(raw, str(path))


def config_to_yaml(config: Config) -> str:
    """The resolved config as YAML; loading it back gives the same Config."""
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)


@dataclass(frozen=True)
class FieldDoc:
    """One config field as documented: dotted name, type in words, default (repr; empty when required), description."""

    name: str
    kind: str
    default: str
    description: str


def field_docs(model: type[BaseModel] = Config, prefix: str = "") -> list[FieldDoc]:
    """Every field of `model` and its sections, depth first, for `config show --doc` and docs/config.md."""
    rows = []
    for name, info in model.model_fields.items():
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            rows.extend(field_docs(annotation, f"{prefix}{name}."))
            continue
        item = _list_item_model(annotation)
        if item is not None:  # a list of sections: its own line, then each item's fields as name[].field
            rows.append(FieldDoc(prefix + name, f"list of {item.__name__}",
                                 repr(info.get_default(call_default_factory=True)), info.description or ""))
            rows.extend(field_docs(item, f"{prefix}{name}[]."))
            continue
        default = "" if info.is_required() else repr(info.get_default(call_default_factory=True))
        rows.append(FieldDoc(prefix + name, type_words(annotation), default, info.description or ""))
    return rows


def describe_fields(model: type[BaseModel] = Config, prefix: str = "") -> list[tuple[str, str, str]]:
    """(dotted name, default, description) for every field, for `config show --doc`."""
    return [(f.name, f.default, f.description) for f in field_docs(model, prefix)]


def type_words(annotation) -> str:
    """A field's type as a reader wants it: `a | b` for choices, `X or null` for optional ones."""
    origin, args = getattr(annotation, "__origin__", None), getattr(annotation, "__args__", ())
    if origin is Literal:
        return " | ".join(repr(a) if isinstance(a, str) else str(a) for a in args)
    if args and type(None) in args and origin is not list and origin is not dict:  # X | None
        rest = [a for a in args if a is not type(None)]
        return " or ".join(type_words(a) for a in rest) + " or null"
    if origin in (list, dict):
        return f"{origin.__name__} of {', '.join(type_words(a) for a in args)}"
    if args:  # another union
        return " or ".join(type_words(a) for a in args)
    return getattr(annotation, "__name__", str(annotation))


def _list_item_model(annotation) -> type[BaseModel] | None:
    """The section class of a `list[Section]` annotation, else None."""
    args = getattr(annotation, "__args__", ())
    if getattr(annotation, "__origin__", None) is list and len(args) == 1:
        item = args[0]
        if isinstance(item, type) and issubclass(item, BaseModel):
            return item
    return None
