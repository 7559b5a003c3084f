"""The config sections every part of tunewise shares: task, data, model, prompting, RAG, training, evaluation.

Each method's own section lives with the method (tunewise.methods); tunewise.config assembles the root Config from
these and the registered method sections. Every field carries a one-line description; every default is written
once. This module is the bottom of the import graph: it imports nothing of tunewise but the question-set names.
"""
from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from tunewise.question_sets import BUNDLED_BENCHMARK, FORMATS


class Section(BaseModel):
    """A config section: unknown keys are errors, and assignments are validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class TaskConfig(Section):
    type: Literal["classification", "generation", "preference"] | None = Field(
        None, description="classification (pick one label), generation (free text) or preference (replies learned "
        "from chosen/rejected pairs, scored on generated replies); guessed from the data when empty"
    )
    labels: list[str] | None = Field(
        None, description="the label set (classification); inferred from the training split when empty"
    )
    metric: Literal[
        "accuracy", "macro_f1", "exact_match", "token_f1", "contains", "bleu", "chrf", "rouge1", "rouge2", "rougeL",
        "judge_pass", "judge_score",
    ] | None = Field(
        None,
        description="primary metric; accuracy for classification, token_f1 for generation, judge_pass for a task "
        "with a judge (else rougeL against the chosen reply for preference data) when empty (contains: the answer "
        "occurs in the output, for models that answer in sentences)",
    )
    judge: str | None = Field(
        None,
        description="your own scoring code, 'path/to/judge.py:function' (path relative to this YAML): called as "
        "function(prompt, completion) for every generated answer, it returns true/false or a number; scored as "
        "judge_pass and judge_score on every rung and used as the reward of the RL rung. It runs your code in "
        "tunewise's process",
    )
    judge_threshold: float = Field(
        0.5, description="a judge that returns numbers passes an answer when its score is at least this"
    )
    instruction: str | None = Field(
        None,
        description="system instruction for every rung; a default that lists the labels is used for classification",
    )


class SplitConfig(Section):
    val: float = Field(0.1, gt=0, lt=1, description="fraction of the examples held out for validation")
    test: float = Field(0.2, gt=0, lt=1, description="fraction of the examples held out for the test set")
    seed: int = Field(0, description="seed of the split; the split's example ids are saved with the run")

    @model_validator(mode="after")
    def _fractions_leave_training_data(self) -> SplitConfig:
        if self.val + self.test >= 0.9:
            raise ValueError(f"val + test = {self.val + self.test:g} leaves too little for training; keep it below 0.9")
        return self


class DataConfig(Section):
    path: Path | None = Field(
        None, description="JSONL, CSV/TSV, Parquet or Arrow/Feather file, or a folder written by datasets' "
        "save_to_disk, with all examples; split by `split`"
    )
    train: Path | None = Field(
        None, description="training file (any kind `path` takes), when you bring your own split (needs `test` too)"
    )
    val: Path | None = Field(None, description="validation file for your own split (optional: taken from train)")
    test: Path | None = Field(None, description="test file for your own split")
    format: Literal["auto", "preference", "kto", "chat", "alpaca", "prompt_completion", "classification"] = Field(
        "auto", description="record format; auto detects it from the first record's fields (preference: prompt or "
        "messages + chosen + rejected; kto: prompt + completion + label true/false)"
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
    near_duplicate_threshold: float = Field(
        0.6, gt=0, le=1, description="inputs at least this alike (cosine of TF-IDF character 3-5-grams, after "
        "lowercasing and dropping punctuation) are near-duplicates; 1-2 words changed in a sentence score ~0.7-0.95, "
        "unrelated sentences < 0.35"
    )
    dedup: bool = Field(
        False, description="before training, drop train/val examples that are near-duplicates of a test example, "
        "and within train and within val every near-duplicate after the first; the test split never changes"
    )
    label_noise_threshold: float = Field(
        0.8, ge=0.5, le=1, description="classification: `data check` lists training examples to which a 5-fold "
        "TF-IDF + logistic regression gives another label at least this probability (so their own at most 1 - it)"
    )

    @model_validator(mode="after")
    def _one_source(self) -> DataConfig:
        if self.path is None and self.train is None:
            raise ValueError("give either `path` (one file, split for you) or `train` + `test` (your own split)")
        if self.path is not None and any(p is not None for p in (self.train, self.val, self.test)):
            raise ValueError("give either `path` or `train`/`val`/`test`, not both")
        if self.train is not None and self.test is None:
            raise ValueError("`train` needs `test` too")
        return self


class ModelConfig(Section):
    name: str = Field(
        "smollm2", description="generative model: 'smollm2' (bundled), a local HF directory, or a .gguf file"
    )
    encoder: str = Field("minilm", description="encoder for embeddings: 'minilm' (bundled) or a local HF directory")


class PromptConfig(Section):
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


class RagConfig(Section):
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


class TrainConfig(Section):
    lr: float | None = Field(
        None, gt=0,
        description="peak learning rate (AdamW) of the methods without a rate of their own (the LoRA family); empty: "
        "a short learning-rate check picks it for each method (lr_check_factors around the method's centre rate)",
    )
    lr_check_factors: list[float] = Field(
        [0.5, 1.0, 2.0], min_length=1,
        description="the learning-rate check tries the method's centre rate times each factor for a few steps "
        "from the same starting weights and keeps the one with the lowest validation loss",
    )
    weight_decay: float = Field(0.0, ge=0, description="AdamW weight decay (applied to matrices, not biases/norms)")
    epochs: float | None = Field(
        None, gt=0,
        description="passes over the training set (fractional allowed); empty: train until validation loss stops "
        "improving (patience), at most max_epochs",
    )
    max_epochs: float = Field(
        2.0, gt=0,
        description="the cap when epochs is empty; the schedule's length and the dry run's estimate (an upper "
        "bound) use it, so a cap far beyond where runs stop makes the decay slow and the estimate pessimistic; a "
        "run that hits it while validation loss still falls is flagged undertrained",
    )
    max_minutes: float | None = Field(
        None, gt=0,
        description="time budget of each fine-tuned rung, its learning-rate check included: training stops after "
        "the step that crosses it (evaluated there, the best weights kept); empty: no budget",
    )
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
    eval_every: int | None = Field(
        None, ge=1,
        description="compute validation loss every N optimizer steps; empty: 4 times per epoch (ceil(steps per "
        "epoch / 4)), often enough for patience to stop within an epoch of the best and cheap (a validation pass "
        "reads max_val_examples without backward)",
    )
    patience: int | None = Field(3, ge=1, description="stop after N evaluations without improvement; empty: never")
    min_improvement: float = Field(
        0.01, ge=0, lt=1,
        description="relative drop of validation loss below the best so far that counts as improvement (0.01: 1%); "
        "smaller moves are evaluation noise, not a model still learning",
    )
    max_val_examples: int = Field(128, ge=1, description="validation examples used for the validation loss")
    precision: Literal["bf16", "fp32"] = Field("bf16", description="bf16 autocast (fast on this CPU) or fp32")
    seed: int = Field(0, description="seed for initialisation, data order and dropout")
    log_every: int = Field(10, ge=1, description="print progress every N optimizer steps")
    checkpoint_every: int | None = Field(
        50, ge=1, description="save a resumable training state every N optimizer steps (SIGTERM and Ctrl-C save one "
        "too); `tunewise run --resume runs/<id>` continues from the newest; empty: only on SIGTERM / Ctrl-C",
    )


class SamplingConfig(Section):
    temperature: float = Field(0.7, gt=0, description="softmax temperature (lower: closer to greedy)")
    top_p: float = Field(1.0, gt=0, le=1, description="nucleus sampling: keep the smallest set of tokens with this mass")
    seed: int = Field(0, description="seed of the sampler, so a rerun gives the same answers")


class EvalConfig(Section):
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
    candidate_labels: int | None = Field(
        20, ge=2, description="when the task has more labels than this, every rung chooses among this many candidate "
        "labels per test example: the labels of its nearest training examples by model.encoder embeddings, nearest "
        "first (label scoring costs time per label); empty: always score every label",
    )
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


class ForgettingConfig(Section):
    benchmark: str | None = Field(
        BUNDLED_BENCHMARK, description="multiple-choice questions scored for the base model and every fine-tuned rung "
        "(catastrophic forgetting): 'general_knowledge' (bundled: 236 everyday science, geography, arithmetic and "
        "language questions), a JSONL file of your own (relative to the YAML), or null to skip the check",
    )
    format: BenchmarkFormat = Field("arc", description="the benchmark file's shape (`tunewise eval --help` lists them)")
    max_items: int | None = Field(None, ge=1, description="score only the first N questions (quick runs)")


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


DATA_FILES = ("path", "train", "val", "test")  # the file fields of a data section


def resolve_file_fields(section: object, keys: tuple[str, ...], base: Path) -> None:
    """Make the relative paths in these keys of a raw YAML section relative to `base` (the YAML file's folder)."""
    if not isinstance(section, dict):
        return
    for key in keys:
        value = section.get(key)
        if isinstance(value, str) and value != BUNDLED_BENCHMARK and not Path(value).is_absolute():
            section[key] = str(base / value)


class DecisionConfig(Section):
    """How the recommendation weighs cost: training once, then every prediction the chosen rung will make."""

    expected_predictions: int = Field(
        100_000, ge=0, description="how many predictions the chosen rung will make in its lifetime: the volume the "
        "recommendation prices (training + this many predictions, cheapest among the rungs tied with the best)",
    )
    cpu_hour_cost: float | None = Field(
        None, ge=0, description="price of one hour of this machine (any currency); empty: costs are compared in "
        "machine-seconds",
    )
    storage_gb_cost: float | None = Field(
        None, ge=0, description="price of keeping 1 GB of a rung's artifacts for the deployment's life (same "
        "currency; needs cpu_hour_cost); empty: storage is not priced",
    )

    @model_validator(mode="after")
    def _storage_priced_with_time(self) -> DecisionConfig:
        if self.storage_gb_cost is not None and self.cpu_hour_cost is None:
            raise ValueError("storage_gb_cost needs cpu_hour_cost too: machine-seconds and a price do not add up; "
                             "set decision.cpu_hour_cost or leave storage_gb_cost empty")
        return self
