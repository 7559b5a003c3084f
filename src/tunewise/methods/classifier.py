"""Classification-head rungs: a linear head on a model's pooled hidden state predicts the label directly.

No generation and no label scoring: one forward pass gives (B, num_labels) logits, trained with cross-entropy in
tunewise's loop (batching, schedule, clipping, validation, early stopping all apply) through its `loss_fn` hook.

Two rungs on one shared base (`_HeadRung`: encoding, fit, predict, parameter counts, fit estimate):

- `DecoderClassifierRung` ("classifier"): the generative model's body with LoRA (`methods.lora.apply`,
  config.lora) and our own fp32 `nn.Linear(hidden, num_labels)` head on the hidden state of the last real token of
  the zero-shot chat prompt (the "assistant\\n" generation prompt, which has seen the whole conversation). Our own
  head rather than LlamaForSequenceClassification because: the model loads through `load_causal_lm` like every
  other rung (GGUF conversion and cache, pad token); LoRA goes through the shared `lora.apply` (its lean bf16
  forward included) and is saved in PEFT's plain layout; the head stays fp32 over a bf16 base and is computed
  outside autocast; and the pooled position comes from the attention mask, not from `pad_token_id` (for SmolLM2
  pad == eos == <|im_end|>, which also occurs inside every prompt). The unused output layer stays loaded (tied to
  the embeddings on SmolLM2, so it costs nothing) and is left out of `parameters()`.
  Saved in `adapter/`: PEFT's adapter_config.json + adapter_model.safetensors, and beside them head.safetensors
  (weight (L, C), bias (L,)) and head_config.json (labels in logit order, base model, pooling, prompt settings).
- `EncoderClassifierRung` ("encoder_classifier"): the encoder (config.model.encoder, MiniLM by default) as
  AutoModelForSequenceClassification, all weights trained (BERT-style fine-tuning), on the last user message.
  Pooling is the architecture's own: for BERT the [CLS] token through the pooler (dense + tanh), then dropout and
  the linear classifier. Mean pooling (what all-MiniLM-L6-v2 was trained with) was the alternative; the standard
  head wins because the saved `model/` directory (save_pretrained: safetensors, tokenizer, id2label) then opens
  in any Hugging Face tool, `pipeline("text-classification")` included, and gives exactly our logits.

Both encode an example as Encoded(input_ids, labels=[-100] * (n - 1) + [class index]) so `collate` works
unchanged and the loop counts one "answer" per example; the loss reads the class at the last real token. Batches
are always padded (train.packing is ignored: the head pools one example per row). Weights are saved as they
predict (eval_dtype: bf16 when training in bf16), like the ladder's other fine-tuning rungs.
"""
from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from peft import PeftModel
from pydantic import Field
from safetensors.torch import load_file, save_file
from torch import Tensor, nn
from transformers import (
    AutoModelForSequenceClassification,
    AutoTokenizer,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

from tunewise.errors import DataError, ModelError, Problem, TrainingError
from tunewise.methods import lora
from tunewise.methods.lora import LoraConfig
from tunewise.methods.spec import MethodSpec, SectionSpec
from tunewise.methods.tuned import LORA_LR, fixed_rate, quiet_peft
from tunewise.models.chat_template import prompt_ids, truncate_prompt
from tunewise.models.load import (
    count_parameters,
    dtype_for,
    eval_dtype,
    from_local,
    load_causal_lm,
)
from tunewise.models.resolve import resolve_encoder
from tunewise.progress import progress_printer
from tunewise.prompting.templates import zero_shot_messages
from tunewise.records import Example, FitInfo, Prediction
from tunewise.sections import Section, TrainConfig
from tunewise.task import Task, example_label
from tunewise.train.batching import IGNORE_INDEX, Encoded, collate
from tunewise.train.loop import training_summary
from tunewise.train.probe import estimate_training, train_at_checked_rate

if TYPE_CHECKING:
    from tunewise.config import Config


ENCODER_LR = 5e-5  # the encoder classifier's centre rate: every weight of the encoder moves (BERT fine-tuning's rate)


class ClassifierConfig(Section):
    decoder_lr: float | None = Field(
        None, gt=0, description="learning rate for the decoder classifier (LoRA + head); empty: the learning-rate "
        f"check around {LORA_LR:g}",
    )
    encoder_lr: float | None = Field(
        None, gt=0, description="learning rate for the encoder classifier (all weights); empty: the learning-rate "
        f"check around {ENCODER_LR:g}",
    )


HEAD_WEIGHTS = "head.safetensors"
HEAD_CONFIG = "head_config.json"


# ---------------------------------------------------------------- models


def last_token_index(attention_mask: Tensor) -> Tensor:
    """(B,) position of each row's last real token: the rightmost 1 of its (B, T) attention mask."""
    positions = torch.arange(attention_mask.shape[1], device=attention_mask.device)  # (T,)
    return (attention_mask * positions).argmax(dim=1)


class DecoderClassifier(nn.Module):
    """A causal LM's body (with LoRA) and a linear head on the hidden state of the last real token."""

    def __init__(self, lm: PeftModel, head: nn.Linear):
        super().__init__()
        self.lm, self.head = lm, head

    @property
    def body(self) -> nn.Module:
        """Embeddings, layers and final norm (the LoRA layers live inside); the output layer is not used."""
        base = self.lm.get_base_model()
        body = base.get_decoder() if hasattr(base, "get_decoder") else None
        if body is None or body is base:
            raise ModelError(f"{type(base).__name__} has no separate decoder body; use a causal LM such as Llama")
        return body

    def get_base_model(self) -> PreTrainedModel:
        """The transformers model, where the training loop switches attention kernels and checkpointing."""
        return self.lm.get_base_model()

    def forward(self, input_ids: Tensor, attention_mask: Tensor) -> Tensor:
        """(B, L) fp32 logits; the head runs outside autocast, in its own weights' dtype."""
        hidden = self.body(input_ids=input_ids, attention_mask=attention_mask, use_cache=False).last_hidden_state
        rows = torch.arange(hidden.shape[0], device=hidden.device)
        pooled = hidden[rows, last_token_index(attention_mask)]  # (B, T, C) -> (B, C)
        with torch.autocast(pooled.device.type, enabled=False):
            return self.head(pooled.to(self.head.weight.dtype)).float()


class EncoderClassifier(nn.Module):
    """An AutoModelForSequenceClassification encoder with the same call as DecoderClassifier."""

    def __init__(self, model: PreTrainedModel):
        super().__init__()
        self.model = model

    def get_base_model(self) -> PreTrainedModel:
        """The transformers model, where the training loop switches attention kernels and checkpointing."""
        return self.model

    def forward(self, input_ids: Tensor, attention_mask: Tensor) -> Tensor:
        """(B, L) fp32 logits from the architecture's own pooling and head ([CLS] + pooler for BERT)."""
        return self.model(input_ids=input_ids, attention_mask=attention_mask).logits.float()


def classification_loss_sum(model: nn.Module, batch: dict[str, Tensor]) -> tuple[Tensor, int]:
    """Summed fp32 cross-entropy over the batch's examples and how many there are (the loop's `loss_fn`)."""
    if "attention_mask" not in batch:
        raise TrainingError("classification heads need padded batches with an attention mask, not packed ones")
    logits = model(batch["input_ids"], batch["attention_mask"])  # (B, L)
    last = last_token_index(batch["attention_mask"])  # (B,)
    targets = batch["labels"].gather(1, last[:, None]).squeeze(1)  # (B,) the class sits at the last real token
    return F.cross_entropy(logits, targets, reduction="sum"), len(targets)


# ---------------------------------------------------------------- inputs


def class_indices(labels: Sequence[str], examples: Sequence[Example]) -> list[int]:
    """Each example's label as its position in the label set (the logit that should win); all unknowns at once."""
    labels = list(labels)
    problems = [
        Problem(e.file or e.id, e.line or None, "label", "unknown_label",
                f"label {example_label(e)!r} is not in the task's label set {labels}")
        for e in examples if example_label(e) not in labels
    ]
    if problems:
        raise DataError(problems)
    return [labels.index(example_label(e)) for e in examples]


def decoder_input_ids(
    tokenizer: PreTrainedTokenizerBase, example: Example, instruction: str | None, max_length: int
) -> list[int]:
    """The zero-shot chat prompt (what the other rungs are scored on), cut from the left to max_length."""
    return truncate_prompt(prompt_ids(tokenizer, zero_shot_messages(example, instruction)), max_length)


def encoder_input_ids(tokenizer: PreTrainedTokenizerBase, example: Example, max_length: int) -> list[int]:
    """The example's last user message with the encoder's special tokens ([CLS] ... [SEP]), cut to max_length."""
    users = [m["content"] for m in example.messages if m["role"] == "user"]
    text = users[-1] if users else ""
    return tokenizer(text, truncation=True, max_length=max_length)["input_ids"]


def with_class_labels(inputs: Sequence[list[int]], classes: Sequence[int]) -> list[Encoded]:
    """Training sequences: the class index as the label of the last token, IGNORE_INDEX elsewhere."""
    return [Encoded(ids, [IGNORE_INDEX] * (len(ids) - 1) + [c]) for ids, c in zip(inputs, classes)]


# ---------------------------------------------------------------- setup, save, load


def new_decoder_classifier(
    name: str, num_labels: int, lora_cfg: LoraConfig, dtype: torch.dtype, seed: int
) -> tuple[DecoderClassifier, PreTrainedTokenizerBase]:
    """The causal LM in `dtype` with LoRA adapters and an fp32 head (normal, std = initializer_range).

    Seeded, so a rerun starts from the same LoRA A matrices and head.
    """
    model, tokenizer = load_causal_lm(name, dtype=dtype)
    hidden_size = model.config.hidden_size
    std = getattr(model.config, "initializer_range", 0.02)
    torch.manual_seed(seed)
    lm = lora.apply(model, lora_cfg)
    head = nn.Linear(hidden_size, num_labels, dtype=torch.float32)
    with torch.no_grad():
        head.weight.normal_(0.0, std)
        head.bias.zero_()
    return DecoderClassifier(lm, head), tokenizer


def save_decoder_classifier(model: DecoderClassifier, directory: Path, settings: dict) -> None:
    """PEFT's adapter files, head.safetensors and head_config.json (`settings` plus the pooling) in `directory`."""
    directory = Path(directory)
    model.lm.save_pretrained(str(directory))
    head = {k: v.detach().cpu().contiguous() for k, v in model.head.state_dict().items()}  # weight (L, C), bias (L,)
    save_file(head, str(directory / HEAD_WEIGHTS))
    text = json.dumps({**settings, "pooling": "last_token"}, indent=2) + "\n"
    (directory / HEAD_CONFIG).write_text(text, encoding="utf-8")


def load_decoder_classifier(
    directory: Path, dtype: torch.dtype = torch.float32, model_name: str | None = None
) -> tuple[DecoderClassifier, PreTrainedTokenizerBase, dict]:
    """(model in eval mode and `dtype`, tokenizer, head_config) from a directory saved by save_decoder_classifier.

    The base model is head_config's `base_model` unless `model_name` says where it lives now.
    """
    directory = Path(directory)
    settings = _read_head_config(directory)
    base, tokenizer = load_causal_lm(model_name or settings["base_model"], dtype=dtype)
    with quiet_peft():
        lm = PeftModel.from_pretrained(base, str(directory))
    weights = load_file(str(directory / HEAD_WEIGHTS))
    head = nn.Linear(weights["weight"].shape[1], weights["weight"].shape[0])
    head.load_state_dict(weights)
    return DecoderClassifier(lm, head).to(dtype).eval(), tokenizer, settings


def _read_head_config(directory: Path) -> dict:
    path = directory / HEAD_CONFIG
    if not path.is_file() or not (directory / HEAD_WEIGHTS).is_file():
        raise ModelError(f"{directory}: no {HEAD_CONFIG} / {HEAD_WEIGHTS}; expected the adapter/ folder of a "
                         "classifier rung")
    return json.loads(path.read_text(encoding="utf-8"))


def new_encoder_classifier(
    name: str, labels: Sequence[str], seed: int
) -> tuple[EncoderClassifier, PreTrainedTokenizerBase]:
    """The encoder as AutoModelForSequenceClassification (fp32, seeded new head), every weight trainable."""
    directory = resolve_encoder(name)
    torch.manual_seed(seed)  # the classifier's initial weights
    try:
        model = from_local(
            AutoModelForSequenceClassification, directory, num_labels=len(labels), id2label=dict(enumerate(labels)),
            label2id={label: i for i, label in enumerate(labels)}, dtype=torch.float32,
        )
        tokenizer = AutoTokenizer.from_pretrained(directory)
    except (OSError, ValueError) as err:
        raise ModelError(f"{directory}: could not load the encoder as a sequence classifier ({err})") from None
    model.requires_grad_(True)
    return EncoderClassifier(model), tokenizer


def save_encoder_classifier(model: EncoderClassifier, tokenizer: PreTrainedTokenizerBase, directory: Path) -> None:
    """save_pretrained of model (safetensors, config.json with id2label) and tokenizer into `directory`."""
    model.model.save_pretrained(str(directory))
    tokenizer.save_pretrained(str(directory))


def load_encoder_classifier(
    directory: Path, dtype: torch.dtype = torch.float32
) -> tuple[EncoderClassifier, PreTrainedTokenizerBase, list[str]]:
    """(model in eval mode and `dtype`, tokenizer, labels in logit order) from save_encoder_classifier's folder."""
    try:
        model = from_local(AutoModelForSequenceClassification, directory, dtype=dtype)
        tokenizer = AutoTokenizer.from_pretrained(str(directory))
    except (OSError, ValueError) as err:
        raise ModelError(f"{directory}: could not load the encoder classifier ({err})") from None
    labels = [model.config.id2label[i] for i in range(model.config.num_labels)]
    return EncoderClassifier(model).eval(), tokenizer, labels


# ---------------------------------------------------------------- predicting


@torch.inference_mode()
def class_log_probs(
    model: nn.Module, inputs: Sequence[list[int]], num_labels: int, pad_id: int, batch_size: int,
    progress: Callable[[int], None] | None = None,
) -> Tensor:
    """(N, L) fp32 log-softmax of the logits, rows in input order; batches of similar length."""
    order = sorted(range(len(inputs)), key=lambda i: len(inputs[i]))
    device = next(model.parameters()).device
    out = torch.empty((len(inputs), num_labels))
    for start in range(0, len(order), batch_size):
        rows = order[start : start + batch_size]
        batch = collate([Encoded(inputs[i], [IGNORE_INDEX] * len(inputs[i])) for i in rows], pad_id)
        logits = model(batch["input_ids"].to(device), batch["attention_mask"].to(device))  # (b, L)
        out[rows] = torch.log_softmax(logits.float(), dim=-1).cpu()
        if progress:
            progress(start + len(rows))
    return out


def predictions(
    ids: Sequence[str], labels: Sequence[str], log_probs: Tensor, prompt_tokens: Sequence[int] | None = None
) -> list[Prediction]:
    """One Prediction per row: the most likely label, every label's log-probability and the tokens it read."""
    best = log_probs.argmax(dim=1).tolist()
    read = prompt_tokens if prompt_tokens is not None else [None] * len(best)
    return [
        Prediction(id=i, output=labels[b], scores=dict(zip(labels, map(float, row))), prompt_tokens=n)
        for i, b, row, n in zip(ids, best, log_probs.tolist(), read)
    ]


# ---------------------------------------------------------------- the rungs


class _HeadRung(ABC):
    """A classification head trained in tunewise's loop; the subclasses say which model, inputs and files."""

    name: str
    kind = "fine-tuning"
    draws_on_train = False
    base_params = None  # the parameter count of the model it started from is not reported for a head
    summary = retrieval = None  # not a prompting or retrieving rung

    def __init__(self, task: Task, config: Config):
        self.task, self.config = task, config
        self.skip_reason = None if task.type == "classification" else (
            f"{self.name} predicts one label of a fixed set; this is a {task.type} task"
        )
        self.model: DecoderClassifier | EncoderClassifier | None = None
        self.tokenizer: PreTrainedTokenizerBase | None = None
        self.resume = False  # continue training from the newest saved state in the rung's folder (run --resume)
        self.other_tasks: list = []  # scored on this run's task only

    # ------------------------------------------------------------ what each rung provides

    @abstractmethod
    def _own_rate(self) -> tuple[float | None, float]:
        """(this rung's rate in config.classifier, None when empty; the learning-rate check's centre)."""

    @abstractmethod
    def _load(self) -> None:
        """Set self.model and self.tokenizer to the untrained classifier (seeded with train.seed)."""

    @abstractmethod
    def _max_length(self) -> int:
        """Longest input in tokens."""

    @abstractmethod
    def _inputs(self, examples: Sequence[Example]) -> list[list[int]]:
        """Each example's input ids, in order."""

    @abstractmethod
    def save(self, workdir: Path) -> Path:
        """Write the trained weights under workdir (as they predict: eval_dtype); returns the folder."""

    @abstractmethod
    def load(self, artifact_dir: Path) -> None:
        """Restore the model `save` wrote (in the dtype predict uses), so predict reproduces the fitted rung."""

    # ------------------------------------------------------------ shared setup

    def _train_config(self) -> TrainConfig:
        """config.train, never packed (the head pools each padded row)."""
        return self.config.train.model_copy(update={"packing": False})

    def _rates(self) -> tuple[float | None, float]:
        """(the rate the user chose, None when the learning-rate check picks it; the check's centre)."""
        own, centre = self._own_rate()
        return fixed_rate(self.config.train.lr, own, centre), centre

    def _encode(self, examples: Sequence[Example]) -> list[Encoded]:
        return with_class_labels(self._inputs(examples), class_indices(self.task.labels, examples))

    def _pad_id(self) -> int:
        pad = self.tokenizer.pad_token_id
        return 0 if pad is None else pad  # the attention mask hides padding whatever its id

    def _check_labels(self, artifact_dir: Path, labels: Sequence[str]) -> None:
        if list(labels) != list(self.task.labels):
            raise ModelError(f"{artifact_dir}: trained for labels {labels}, but the task's are {self.task.labels}")

    # ------------------------------------------------------------ the Rung protocol

    def fit(self, train: list[Example], val: list[Example], workdir: Path) -> FitInfo:
        """Train the head (and LoRA, or the whole encoder), keep the best weights, save them under workdir."""
        self._load()
        encoded_train, encoded_val, cfg = self._encode(train), self._encode(val), self._train_config()
        fixed, centre = self._rates()
        result, check = train_at_checked_rate(self.model, encoded_train, encoded_val, cfg, fixed, centre, workdir,
                                              self._pad_id(), classification_loss_sum, resume=self.resume)
        training = training_summary(result, check.summary() if check else None)
        return FitInfo(artifact_dir=self.save(workdir), training=training)

    def restore(self, train: list[Example], artifact_dir: Path | None) -> None:
        """The trained classifier `save` wrote (see `load`); nothing trains."""
        self.load(Path(artifact_dir))

    def predict(self, test: list[Example]) -> list[Prediction]:
        """The most likely label per test example (in test order) with every label's log-probability."""
        self.model.to(eval_dtype(self.config)).eval()  # the weight dtype every rung predicts with
        progress = progress_printer(f"rung {self.name}: predict", len(test))
        inputs = self._inputs(test)
        log_probs = class_log_probs(
            self.model, inputs, len(self.task.labels), self._pad_id(), self.config.eval.batch_size, progress
        )  # (N, L)
        return predictions([e.id for e in test], self.task.labels, log_probs, [len(ids) for ids in inputs])

    def predict_task(self, task: Task, test: list[Example]) -> list[Prediction]:
        """Only this run's task is predicted (other_tasks is empty)."""
        if task is not self.task:
            raise ValueError(f"rung {self.name} predicts only its own task")
        return self.predict(test)

    def parameters(self) -> tuple[int, int]:
        """(trainable, total) of the model that predicts."""
        return count_parameters(self.model)

    def estimate_fit(self, train: list[Example], val: list[Example], workdir: Path) -> float:
        """Seconds the whole fit would take: the learning-rate check (when it will run; its probes are the timing)
        and the planned training at the probed speed, an upper bound when patience stops the run before the cap."""
        cfg = self._train_config()
        self._load()
        fixed, centre = self._rates()
        return estimate_training(self.model, self._encode(train), self._encode(val[: cfg.max_val_examples]), cfg,
                                 fixed, centre, workdir, self._pad_id(), classification_loss_sum)

    def notes(self) -> list[str]:
        return []

    def language_model(self) -> None:
        """No language model: a head predicts labels, so the forgetting check has nothing to score."""
        return None

    def alignment_scores(self, test: list[Example], predictions: list[Prediction]) -> None:
        """A classifier: no preferences to score."""
        return None


class DecoderClassifierRung(_HeadRung):
    """A last-token classification head on the decoder, trained with LoRA ("classifier")."""

    name = "classifier"

    def __init__(self, task: Task, config: Config):
        super().__init__(task, config)
        lc = config.lora
        self.description = f"classification head on the last prompt token + LoRA r={lc.r} alpha={lc.alpha:g}"

    def _own_rate(self) -> tuple[float | None, float]:
        return self.config.classifier.decoder_lr, LORA_LR

    def _load(self) -> None:
        # bf16 training keeps the frozen base in bf16 (what autocast computes with), as the lora rung does.
        self.model, self.tokenizer = new_decoder_classifier(
            self.config.model.name, len(self.task.labels), self.config.lora, dtype_for(self.config.train.precision),
            self.config.train.seed,
        )

    def _max_length(self) -> int:
        return self.config.data.max_length

    def _inputs(self, examples: Sequence[Example]) -> list[list[int]]:
        return [decoder_input_ids(self.tokenizer, e, self.task.instruction, self._max_length()) for e in examples]

    def save(self, workdir: Path) -> Path:
        """PEFT's adapter files, head.safetensors and head_config.json in workdir/adapter/; returns the folder.

        Stored as they predict (eval_dtype: bf16 when training in bf16), like the ladder's other fine-tuning rungs.
        """
        self.model.to(eval_dtype(self.config))
        directory = Path(workdir) / "adapter"
        settings = {"labels": list(self.task.labels), "base_model": self.config.model.name,
                    "instruction": self.task.instruction, "max_length": self._max_length()}
        save_decoder_classifier(self.model, directory, settings)
        return directory

    def load(self, artifact_dir: Path) -> None:
        """Restore the adapter and head `save` wrote, on config.model.name, in the dtype predict uses."""
        dtype = eval_dtype(self.config)
        self.model, self.tokenizer, settings = load_decoder_classifier(artifact_dir, dtype, self.config.model.name)
        self._check_labels(artifact_dir, settings["labels"])

    def parameters(self) -> tuple[int, int]:
        """(trainable, total) of the decoder body + LoRA + head; the unused output layer is left out."""
        return count_parameters(nn.ModuleList([self.model.body, self.model.head]))


class EncoderClassifierRung(_HeadRung):
    """The encoder as a sequence classifier, every weight trained ("encoder_classifier")."""

    name = "encoder_classifier"

    def __init__(self, task: Task, config: Config):
        super().__init__(task, config)
        self.description = f"encoder {config.model.encoder} + classification head ([CLS]), all weights trained"

    def _own_rate(self) -> tuple[float | None, float]:
        return self.config.classifier.encoder_lr, ENCODER_LR

    def _load(self) -> None:
        # Every weight trains, so all stay fp32 (autocast computes in bf16 when precision is bf16).
        self.model, self.tokenizer = new_encoder_classifier(
            self.config.model.encoder, self.task.labels, self.config.train.seed
        )

    def _max_length(self) -> int:
        return min(self.config.data.max_length, self.model.model.config.max_position_embeddings)

    def _inputs(self, examples: Sequence[Example]) -> list[list[int]]:
        return [encoder_input_ids(self.tokenizer, e, self._max_length()) for e in examples]

    def save(self, workdir: Path) -> Path:
        """save_pretrained of model and tokenizer in workdir/model/; returns the folder.

        Stored as they predict (eval_dtype: bf16 when training in bf16), like the ladder's other fine-tuning rungs.
        """
        self.model.to(eval_dtype(self.config))
        directory = Path(workdir) / "model"
        save_encoder_classifier(self.model, self.tokenizer, directory)
        return directory

    def load(self, artifact_dir: Path) -> None:
        """Restore the model folder `save` wrote, in the dtype predict uses."""
        self.model, self.tokenizer, labels = load_encoder_classifier(artifact_dir, eval_dtype(self.config))
        self._check_labels(artifact_dir, labels)


SECTION = SectionSpec("classifier", ClassifierConfig, "classification-head rungs (decoder + LoRA, encoder)")
METHODS = [
    MethodSpec("classifier", "last-token classification head on the decoder, trained with LoRA (classification)",
               lambda plan: [DecoderClassifierRung(plan.task, plan.config)], one_process=True),
    MethodSpec("encoder_classifier", "MiniLM with a classification head, every weight trained (classification)",
               lambda plan: [EncoderClassifierRung(plan.task, plan.config)], one_process=True),
]
