"""What every causal-LM fine-tuning method shares: the rung that loads the base, lets the method adapt it, trains it
in tunewise's loop on the zero-shot conversation plus the answer, saves what the method stores, and predicts.

A method module says only how it changes the model and what it stores (a `Method`); `TunedRung` does the rest the
same way for every method, so the comparison between methods is fair by construction.
"""
from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tunewise.distributed import barrier, is_main
from tunewise.evaluate.predict import predict_conversations
from tunewise.models.adapted import attach_peft_adapter, write_base_record
from tunewise.models.chat_template import encode_example
from tunewise.models.load import (
    count_parameters,
    dtype_for,
    eval_dtype,
    is_whole_model,
    load_causal_lm,
)
from tunewise.prompting.templates import zero_shot_messages
from tunewise.records import Example, FitInfo, Prediction
from tunewise.task import Task
from tunewise.train.batching import Encoded
from tunewise.train.loop import TrainResult, training_summary
from tunewise.train.probe import estimate_training, train_at_checked_rate

# The learning-rate check's centre for the LoRA family (and the decoder classifier's LoRA): the long-standing LoRA
# rate; the check tries it x train.lr_check_factors (1e-4, 2e-4, 4e-4 by default).
LORA_LR = 2e-4

if TYPE_CHECKING:
    import torch

    from tunewise.config import Config


@contextlib.contextmanager
def quiet_peft() -> Iterator[None]:
    """Wrap a PEFT call: PEFT 0.21 asks transformers 5 for `is_gradient_checkpointing`, which warns on every call;
    harmless."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        yield


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


def peft_save(model, tokenizer, directory: Path) -> None:
    """PEFT's own layout (adapter_config.json + adapter_model.safetensors), which plain PEFT loads."""
    model.save_pretrained(str(directory))


def peft_load(model, tokenizer, directory: Path, base: str):
    """`model` with the PEFT adapter `peft_save` wrote (checked: safetensors, no NaN, trained on this base)."""
    return attach_peft_adapter(model, tokenizer, directory, base)


@dataclass
class Method:
    """How one fine-tuning method adapts the loaded base model and stores what it learned."""

    name: str
    description: str
    apply: Callable  # (model, tokenizer) -> model with only the method's parameters trainable
    save: Callable  # (model, tokenizer, directory) -> None; writes the artifact (safetensors)
    load: Callable = peft_load  # (base model, tokenizer, directory, base name) -> the model `save` stored
    lr: float | None = None  # the rate the user gave in the method's own section (its `lr` field); None: not given
    centre_lr: float | None = None  # a method with a rate field of its own: its centre; None: train.lr / LORA_LR
    full_precision_base: bool = False  # load the base in fp32 even for bf16 training (its weights train)
    skip_reason: str | None = None  # set when the method cannot run here


def fixed_rate(train_lr: float | None, own_lr: float | None, own_centre: float | None) -> float | None:
    """The rate a rung trains at when the user chose one; None when the learning-rate check picks it.

    A method's own rate field wins. train.lr is the rate of the methods without one (the LoRA family); a method with
    its own field keeps its centre when only train.lr is given (a LoRA rate would wreck full fine-tuning), as it did
    before the check existed. Neither given: None, the check runs.
    """
    if own_lr is not None:
        return own_lr
    if train_lr is not None:
        return train_lr if own_centre is None else own_centre
    return None




class TunedRung:
    """One fine-tuning method trained in tunewise's loop, scored on the zero-shot conversation.

    Supervised examples are the zero-shot conversation plus the answer; only the answer tokens carry loss.
    """

    kind = "fine-tuning"
    draws_on_train = False
    summary = None  # prompting rungs' settings; none here
    retrieval = None  # set by predict when the rung retrieves (rag_lora)

    def __init__(self, task: Task, config: Config, method: Method):
        self.task, self.config, self.method = task, config, method
        self.name, self.description = method.name, method.description
        self.skip_reason = method.skip_reason
        self.model = self.tokenizer = None
        self.base_params: int | None = None  # parameters of the base before the method changed it
        self.max_length = config.data.max_length  # longest training sequence (another task's own, see multitask)
        self.resume = False  # continue training from the newest saved state in the rung's folder (run --resume)
        self.other_tasks = []  # other tasks it is also scored on (multitask, composition)
        self.lr_check: dict | None = None  # the learning-rate check of the last training (None: the rate was given)

    def _encode(self, examples: list[Example]) -> list[Encoded]:
        return sft_examples(self.tokenizer, examples, self.task.instruction, self.max_length)

    def _training_data(self, train: list[Example], val: list[Example]) -> tuple[list[Encoded], list[Encoded]]:
        """(training, validation) sequences; the multitask rung mixes in other tasks here."""
        return self._encode(train), self._encode(val)

    def _rates(self) -> tuple[float | None, float]:
        """(the rate the user chose, None when the check picks it; the check's centre rate)."""
        method = self.method
        return fixed_rate(self.config.train.lr, method.lr, method.centre_lr), method.centre_lr or LORA_LR

    def fit(self, train, val, workdir) -> FitInfo:
        result = self.train_model(train, val, workdir)
        return FitInfo(artifact_dir=self._save(workdir), training=training_summary(result, self.lr_check))

    def train_model(self, train, val, workdir: Path, on_eval=None) -> TrainResult:
        """Load the model and train it on (train, val) in `workdir` (nothing saved beyond the loop's own files);
        `on_eval(step, val_loss)` as train.loop.train takes it (tunewise tune prunes with it)."""
        self.model, self.tokenizer = self._load()
        encoded_train, encoded_val = self._training_data(train, val)
        return self.train_loaded(encoded_train, encoded_val, workdir, on_eval)

    def train_loaded(self, encoded_train, encoded_val, workdir: Path, on_eval=None) -> TrainResult:
        """Train the loaded model: the learning-rate check first unless a rate was given (self.lr_check records
        it), then the run at the picked rate."""
        fixed, centre = self._rates()
        result, check = train_at_checked_rate(self.model, encoded_train, encoded_val, self.config.train, fixed, centre,
                                              workdir, self.tokenizer.pad_token_id, resume=self.resume,
                                              on_eval=on_eval)
        self.lr_check = check.summary() if check else None
        return result

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
        """Seconds the whole fit would take: the learning-rate check (when it will run; its probes are the timing)
        and the planned training at the probed speed, an upper bound when patience stops the run before the cap."""
        self.model, self.tokenizer = self._load()
        encoded_train, encoded_val = self._training_data(train, val)
        fixed, centre = self._rates()
        return estimate_training(self.model, encoded_train, encoded_val, self.config.train, fixed, centre, workdir,
                                 self.tokenizer.pad_token_id)

    def _load(self):
        # bf16 training keeps a frozen base in bf16 (what autocast computes with; half the memory of fp32);
        # the methods create their trainable weights in fp32 either way.
        precision = "fp32" if self.method.full_precision_base else self.config.train.precision
        model, tokenizer = load_causal_lm(self.config.model.name, dtype=dtype_for(precision))
        self.base_params = count_parameters(model)[1]
        return self.method.apply(model, tokenizer), tokenizer

    def restore(self, train, artifact_dir: Path | None) -> None:
        """Load what `_save` stored, in the dtype predict uses: a whole model (full fine-tuning, or a merged or GGUF
        export of any rung) as it is, else the method's files on a fresh base. Nothing trains."""
        dtype = eval_dtype(self.config)
        if is_whole_model(Path(artifact_dir)):
            self.model, self.tokenizer = load_causal_lm(str(artifact_dir), dtype=dtype)
        else:
            model, self.tokenizer = self._restore_base(dtype)
            with quiet_peft():
                self.model = self.method.load(model, self.tokenizer, Path(artifact_dir), self.config.model.name)
        self.model.to(dtype).eval()  # the method's weights too (PEFT keeps them fp32), as predict_task does

    def _restore_base(self, dtype: torch.dtype):
        """(base model, tokenizer) that the method's saved files load onto: the base in the dtype predict uses."""
        model, tokenizer = load_causal_lm(self.config.model.name, dtype=dtype)
        self.base_params = count_parameters(model)[1]
        return model, tokenizer

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

    def notes(self) -> list[str]:
        return []

    def alignment_scores(self, test: list[Example], predictions: list[Prediction]) -> dict | None:
        """None: only the preference rungs (methods/alignment.py) score preferences."""
        return None

    def language_model(self):
        """(model, tokenizer) after training, as the rung predicts with: what the forgetting check scores."""
        self.model.to(eval_dtype(self.config))
        return self.model, self.tokenizer
