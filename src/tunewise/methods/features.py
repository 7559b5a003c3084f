"""Feature-based rungs ("Finetuning I"): a frozen model embeds each example, a logistic regression classifies it.

`features` mean-pools the causal LM's last hidden state over the zero-shot conversation the other rungs are scored
on, after the part every example shares (system instruction with the label list: run once, its KV cache reused, and
left out of the mean, as it is the same for every example); `encoder_features` mean-pools and L2-normalises the
encoder's token states of the user text (the sentence-transformers recipe). Only the classifier learns; it is saved
as classifier.safetensors + classifier.json.
"""
from __future__ import annotations

import json
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import torch
from pydantic import Field
from safetensors.numpy import load_file, save_file
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

from tunewise.errors import ModelError, TrainingError
from tunewise.evaluate.candidates import per_example
from tunewise.evaluate.likelihood import (
    SharedPrefix,
    cache_arg,
    common_length,
    run_prefix,
)
from tunewise.io import write_json
from tunewise.methods.spec import MethodSpec, SectionSpec
from tunewise.models.chat_template import prompt_ids, truncate_prompt
from tunewise.models.embed import TextEncoder, embed_sequences
from tunewise.models.forward import context_length
from tunewise.models.load import count_parameters, eval_dtype, load_causal_lm
from tunewise.progress import progress_printer
from tunewise.prompting.templates import demo_order, user_text, zero_shot_messages
from tunewise.records import Example, FitInfo, Prediction
from tunewise.sections import Section
from tunewise.task import Task, example_label

if TYPE_CHECKING:
    from tunewise.config import Config



class FeaturesConfig(Section):
    C: float = Field(1.0, gt=0, description="inverse L2 regularisation strength of the logistic regression")
    max_iter: int = Field(2000, ge=10, description="iterations of the logistic-regression solver")
    max_length: int = Field(
        256, ge=8, description="tokens of each example embedded, after the shared instruction for `features` (longer "
        "inputs are cut from the left)",
    )


Source = Literal["decoder", "encoder"]
WEIGHTS_FILE = "classifier.safetensors"
CONFIG_FILE = "classifier.json"
PROBE_EXAMPLES = 16  # training examples a dry run embeds to time the fit
SOLVER_ALLOWANCE_S = 2.0  # the logistic-regression solver on a few thousand embeddings takes about this long
_DISPLAY_NAMES = {"smollm2": "SmolLM2", "minilm": "all-MiniLM-L6-v2"}
_POOLING = {"decoder": "mean over the real tokens after the shared instruction",
            "encoder": "mean over real tokens, L2-normalised"}


# ---------------------------------------------------------------- the classifier


@dataclass
class LinearClassifier:
    """A fitted logistic regression on raw embeddings: log p(label | x) = log_softmax(x @ coef.T + intercept).

    Two labels keep sklearn's binary form: one row, p(labels[1]) = sigmoid(x @ coef[0] + intercept[0]).
    """

    labels: list[str]  # in the order of coef's rows (binary: labels[1] is the positive class)
    coef: np.ndarray  # (1, H) for two labels, else (K, H)
    intercept: np.ndarray  # (1,) for two labels, else (K,)
    meta: dict = field(default_factory=dict)  # source, model, pooling, ... (saved in classifier.json)

    def log_proba(self, features: np.ndarray) -> np.ndarray:
        """(N, K) log-probability of each label for (N, H) embeddings, as sklearn's predict_log_proba."""
        logits = features.astype(np.float64) @ self.coef.T + self.intercept  # (N, 1) binary, else (N, K)
        if len(self.labels) == 2:
            logits = np.concatenate([np.zeros_like(logits), logits], axis=1)  # softmax([0, d]) = [1 - σ(d), σ(d)]
        shifted = logits - logits.max(axis=1, keepdims=True)
        return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))

    def n_parameters(self) -> int:
        """Trained numbers: the weights plus the biases."""
        return int(self.coef.size + self.intercept.size)

    def save(self, directory: Path) -> Path:
        """Write classifier.safetensors (coef, intercept) and classifier.json (labels, meta); returns the folder."""
        directory.mkdir(parents=True, exist_ok=True)
        tensors = {"coef": np.ascontiguousarray(self.coef), "intercept": np.ascontiguousarray(self.intercept)}
        save_file(tensors, str(directory / WEIGHTS_FILE))
        write_json(directory / CONFIG_FILE, {"labels": self.labels, "n_features": int(self.coef.shape[1]), **self.meta})
        return directory


def load_classifier(directory: Path | str) -> LinearClassifier:
    """The classifier a feature rung saved in `directory` (classifier.safetensors + classifier.json)."""
    directory = Path(directory)
    for name in (WEIGHTS_FILE, CONFIG_FILE):
        if not (directory / name).is_file():
            raise ModelError(
                f"{directory / name}: missing; a feature rung's classifier folder holds {WEIGHTS_FILE} and "
                f"{CONFIG_FILE} (written by its fit); point at that folder or fit the rung again"
            )
    meta = json.loads((directory / CONFIG_FILE).read_text(encoding="utf-8"))
    tensors = load_file(str(directory / WEIGHTS_FILE))
    labels = meta.pop("labels")
    meta.pop("n_features", None)
    classifier = LinearClassifier(labels, tensors["coef"], tensors["intercept"], meta)
    rows = 1 if len(labels) == 2 else len(labels)
    if classifier.coef.shape[0] != rows or classifier.intercept.shape != (rows,):
        raise ModelError(
            f"{directory / WEIGHTS_FILE}: coef {classifier.coef.shape} / intercept {classifier.intercept.shape} do "
            f"not fit the {len(labels)} labels in {CONFIG_FILE}; the two files come from different fits"
        )
    return classifier


def fit_classifier(
    features: np.ndarray, targets: np.ndarray, labels: list[str], C: float, max_iter: int, seed: int
) -> tuple[LinearClassifier, dict]:
    """Logistic regression on standardised (N, H) embeddings, the scaling folded back into the weights.

    Standardising first makes C mean the same for every model (decoder hidden states have a few huge dimensions)
    and helps the solver converge; folding it in keeps the saved classifier a plain linear map of raw embeddings.
    `targets` are indices into `labels`, every one of which must occur.
    """
    features = features.astype(np.float64)
    mean = features.mean(axis=0)
    std = features.std(axis=0)
    std[std == 0] = 1.0  # a constant dimension carries nothing; leave it unscaled
    model = LogisticRegression(C=C, max_iter=max_iter, random_state=seed)
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # reported as `converged` instead
        model.fit((features - mean) / std, targets)
    seconds = time.perf_counter() - started
    coef = model.coef_ / std  # (w / s) . x - (w / s) . m + b  ==  w . (x - m) / s + b
    intercept = model.intercept_ - coef @ mean
    iterations = int(np.max(model.n_iter_))
    return LinearClassifier(list(labels), coef, intercept), {
        "solver_seconds": round(seconds, 3),
        "solver_iterations": iterations,
        "converged": iterations < max_iter,
    }


# ---------------------------------------------------------------- embedding


def display_name(name: str) -> str:
    """A short model name for descriptions: the bundled model's name, else the folder or file name."""
    return _DISPLAY_NAMES.get(name, Path(name).name or name)


# ---------------------------------------------------------------- the rung


@dataclass
class DecoderInputs:
    """What the decoder embeds: the prefix every conversation shares (run once), then each example's tokens."""

    prefix: list[int]  # the shared prefix's token ids
    seqs: list[list[int]]  # per example: its tokens after the prefix, or its whole conversation (see after_prefix)
    after_prefix: list[bool]  # per example: whether it starts with the prefix (no system message of its own)


class FeatureRung:
    """A frozen decoder (`features`) or encoder (`encoder_features`) embeds; a logistic regression classifies."""

    kind = "fine-tuning"
    draws_on_train = False
    resume = False  # fitting a logistic regression has no saved state to continue from
    base_params = None  # the frozen model predicts unchanged, with the classifier added
    other_tasks = ()  # scored on this run's task only
    summary = retrieval = None  # not a prompting or retrieving rung

    def __init__(self, task: Task, config: Config, source: Source):
        if source not in ("decoder", "encoder"):
            raise ValueError(f"source must be 'decoder' or 'encoder', got {source!r}")
        self.task, self.config, self.source = task, config, source
        self.name = "features" if source == "decoder" else "encoder_features"
        self.model_name = config.model.name if source == "decoder" else config.model.encoder
        k = per_example(task) if task.type == "classification" else None
        self.description = (f"frozen {display_name(self.model_name)}, {_pooling_words(source)} + logistic regression"
                            + (f"; chooses among {k} candidate labels" if k else ""))
        self.skip_reason = (
            None if task.type == "classification"
            else "feature-based rungs need a classification task (a logistic regression picks one of the labels)"
        )
        self.model = self.tokenizer = None
        # The encoder source embeds the way retrieval and nearest demos do (one TextEncoder for all of them).
        self.encoder = (TextEncoder(self.model_name, config.features.max_length, config.eval.batch_size)
                        if source == "encoder" else None)
        self.classifier: LinearClassifier | None = None
        self._prefix: SharedPrefix | None = None  # decoder: the shared instruction's KV cache, run once
        self._prefix_ids: list[int] = []  # the tokens _prefix holds

    # -------------------------------------------------------- fit

    def fit(self, train: list[Example], val: list[Example], workdir: Path) -> FitInfo:
        """Embed the training examples, fit the classifier, save it to workdir/classifier/."""
        self._load()  # before the clock: embed_seconds and examples/s are embedding alone
        started = time.perf_counter()
        features, tokens = self.embed(train, "embed train")
        embed_s = time.perf_counter() - started
        self.classifier, solver = self._fit_on(features, train)
        artifact_dir = self.classifier.save(Path(workdir) / "classifier")
        predicted = self.classifier.log_proba(features).argmax(axis=1)
        targets = self._targets(train, self.classifier.labels)
        if not solver["converged"]:
            print(f"[tunewise] rung {self.name}: the logistic regression did not converge in "
                  f"{self.config.features.max_iter} iterations; raise features.max_iter", file=sys.stderr, flush=True)
        training = {
            "train_examples": len(train),
            "n_features": int(features.shape[1]),
            "train_accuracy": float((predicted == targets).mean()),
            "embed_seconds": round(embed_s, 3),
            "examples_per_s": round(len(train) / max(embed_s, 1e-9), 1),
            "tokens_per_s": round(tokens / max(embed_s, 1e-9), 1),  # tokens embedded (the ladder's throughput)
            **solver,
        }
        return FitInfo(artifact_dir=artifact_dir, training=training)

    def estimate_fit(self, train: list[Example], val: list[Example], workdir: Path) -> float:
        """Seconds the fit would take: model load + PROBE_EXAMPLES embedded and timed, scaled to train, + solver.

        The probe's classifier is kept, so `predict` works afterwards (the dry run times it next).
        """
        started = time.perf_counter()
        self._load()
        load_s = time.perf_counter() - started
        sample = demo_order(train, self.config.train.seed, balance_labels=True)[:PROBE_EXAMPLES]  # label-balanced
        started = time.perf_counter()
        features, _ = self.embed(sample, "probe")
        per_example_s = (time.perf_counter() - started) / max(len(sample), 1)
        self.classifier, _ = self._fit_on(features, sample)
        return load_s + per_example_s * len(train) + SOLVER_ALLOWANCE_S

    def _fit_on(self, features: np.ndarray, examples: list[Example]) -> tuple[LinearClassifier, dict]:
        labels = [label for label in self.task.labels if label in {example_label(e) for e in examples}]
        if len(labels) < 2:
            raise TrainingError(
                f"rung {self.name}: the training split has {len(labels)} label(s) ({', '.join(labels) or 'none'}); "
                "a classifier needs examples of at least two labels"
            )
        fs = self.config.features
        classifier, solver = fit_classifier(
            features, self._targets(examples, labels), labels, fs.C, fs.max_iter, self.config.train.seed
        )
        classifier.meta = {
            "source": self.source,
            "model": self.model_name,
            "pooling": _POOLING[self.source],
            "max_length": fs.max_length,
            "input": "zero-shot conversation (chat template)" if self.source == "decoder" else "last user message",
        }
        return classifier, solver

    def _targets(self, examples: list[Example], labels: list[str]) -> np.ndarray:
        index = {label: i for i, label in enumerate(labels)}
        unknown = [e for e in examples if example_label(e) not in index]
        if unknown:
            e = unknown[0]
            raise TrainingError(
                f"{e.file}:{e.line}: example {e.id} has label {example_label(e)!r}, not one of {self.task.labels}"
            )
        return np.array([index[example_label(e)] for e in examples])

    # -------------------------------------------------------- predict

    def predict(self, test: list[Example]) -> list[Prediction]:
        """The most probable label of each test example, with every label's log-probability as scores."""
        if self.classifier is None:
            raise TrainingError(f"rung {self.name}: predict before fit; call fit (or restore a saved classifier)")
        features, _, read = self._embed(test, "predict")
        if not test:
            return []
        log_probs = self.classifier.log_proba(features)  # (N, K)
        labels = self.classifier.labels
        return [
            Prediction(id=e.id, output=labels[int(row.argmax())], scores=dict(zip(labels, map(float, row))),
                       prompt_tokens=n)
            for e, row, n in zip(test, log_probs, read)
        ]

    def restore(self, train: list[Example], directory: Path | str) -> None:
        """Predict with the classifier an earlier fit of this rung saved (same source and model); nothing trains."""
        classifier = load_classifier(directory)
        saved = (classifier.meta.get("source"), classifier.meta.get("model"))
        if saved != (self.source, self.model_name):
            raise ModelError(
                f"{Path(directory) / CONFIG_FILE}: classifier fitted on {saved[0]} {saved[1]!r} embeddings, but this "
                f"rung embeds with {self.source} {self.model_name!r}; set model.{_model_field(self.source)} to match"
            )
        self.classifier = classifier

    def parameters(self) -> tuple[int, int]:
        """(classifier weights, frozen model parameters + classifier weights)."""
        trainable = self.classifier.n_parameters() if self.classifier is not None else 0
        model, _ = self._load()
        return trainable, count_parameters(model)[1] + trainable

    # -------------------------------------------------------- embedding

    def predict_task(self, task: Task, test: list[Example]) -> list[Prediction]:
        """Only this run's task is predicted (other_tasks is empty)."""
        raise ValueError(f"rung {self.name} predicts only its own task")

    def language_model(self) -> None:
        """No language model of its own: the forgetting check has nothing to compare."""
        return None

    def alignment_scores(self, test: list[Example], predictions: list[Prediction]) -> None:
        """A classifier: no preferences to score."""
        return None

    def notes(self) -> list[str]:
        return []

    def embed(self, examples: list[Example], what: str = "embed") -> tuple[np.ndarray, int]:
        """((N, H) fp32 embeddings, tokens run through the model) of the examples, in their order."""
        features, tokens, _ = self._embed(examples, what)
        return features, tokens

    def _embed(self, examples: list[Example], what: str) -> tuple[np.ndarray, int, list[int]]:
        """(embeddings, tokens run through the model, each example's prompt tokens: what the model read for it)."""
        self._load()
        if self.encoder is not None:  # the last user message, unit-length mean-pooled encoder states
            seqs = self.encoder.token_ids([user_text(e) for e in examples])
            lengths = [len(s) for s in seqs]
            return self.encoder.embed_ids(seqs, f"rung {self.name}: {what}"), sum(lengths), lengths
        inputs = self._token_ids(examples)
        seqs, P = inputs.seqs, len(inputs.prefix)
        device = next(self.model.parameters()).device
        progress = progress_printer(f"rung {self.name}: {what}", len(seqs))
        pad_id = self.tokenizer.pad_token_id or 0  # only fills masked positions
        after = [i for i, starts in enumerate(inputs.after_prefix) if starts]
        whole = [i for i, starts in enumerate(inputs.after_prefix) if not starts]  # own system message: embedded whole
        features = np.zeros((len(seqs), self.model.config.hidden_size), dtype=np.float32)
        batch_size = self.config.eval.batch_size
        if after:
            forward = self._forward_after(self._prefix_cache(inputs.prefix, device))
            features[after] = embed_sequences(forward, [seqs[i] for i in after], pad_id, device, batch_size, progress)
        if whole:
            features[whole] = embed_sequences(self._forward, [seqs[i] for i in whole], pad_id, device, batch_size)
        read = [len(s) + (P if a else 0) for s, a in zip(seqs, inputs.after_prefix)]
        return features, sum(len(s) for s in seqs) + (P if after else 0), read

    def _conversation_ids(self, examples: list[Example]) -> list[list[int]]:
        return [prompt_ids(self.tokenizer, zero_shot_messages(e, self.task.instruction)) for e in examples]

    def _shared_prefix_ids(self) -> list[int]:
        """The tokens every zero-shot conversation starts with (chat template, system instruction, label list): the
        common prefix of two probe conversations, so it depends on the instruction only, never on the data. Empty
        when it would leave less than features.max_length tokens of the model's context."""
        probes = [Example(id=f"probe{i}", messages=({"role": "user", "content": text},), answer="")
                  for i, text in enumerate(("a", "0 Z"))]
        first, second = self._conversation_ids(probes)
        n = common_length(first, second, min(len(first), len(second)))
        if n > context_length(self.model) - self.config.features.max_length:
            return []  # no room after it for an example's own tokens: conversations are embedded whole, cut
        return first[:n]

    def _token_ids(self, examples: list[Example]) -> DecoderInputs:
        """What the decoder embeds for each example: the zero-shot conversation after the shared prefix (the whole
        conversation when the example brought its own system message), cut from the left to features.max_length."""
        prefix = self._shared_prefix_ids()
        P, room = len(prefix), context_length(self.model)
        seqs, after = [], []
        for ids in self._conversation_ids(examples):
            starts = P > 0 and ids[:P] == prefix
            rest, limit = (ids[P:], room - P) if starts else (ids, room)
            seqs.append(truncate_prompt(rest, min(self.config.features.max_length, limit)))
            after.append(starts)
        return DecoderInputs(prefix, seqs, after)

    def _prefix_cache(self, prefix_ids: list[int], device: torch.device) -> SharedPrefix:
        """The shared prefix run once (its KV cache), kept for every later embed call."""
        if self._prefix is None or self._prefix_ids != prefix_ids:
            with torch.inference_mode():
                self._prefix = run_prefix(self.model, prefix_ids, device)
            self._prefix_ids = prefix_ids
        return self._prefix

    def _forward_after(self, prefix: SharedPrefix):
        """forward(ids, mask) -> (B, R, H) last hidden states of right-padded remainders (B, R) run after the cached
        prefix: exactly what they get in one forward with the prefix in front (causal attention)."""
        decoder = self.model.get_decoder()

        def forward(ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
            B, R = ids.shape
            P = prefix.length
            attention = torch.cat([torch.ones(B, P, dtype=mask.dtype, device=mask.device), mask], dim=1)  # (B, P + R)
            positions = torch.arange(P, P + R, device=ids.device).expand(B, R)  # right padding: real tokens first
            return decoder(input_ids=ids, attention_mask=attention, position_ids=positions, use_cache=False,
                           **{cache_arg(decoder): prefix.cache_for(B)}).last_hidden_state

        return forward

    def _forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """(B, T, H) last hidden states; the decoder body alone, so the (large) output layer never runs."""
        return self.model.get_decoder()(input_ids=ids, attention_mask=mask, use_cache=False).last_hidden_state

    def _load(self):
        """(model, tokenizer), loaded once; bf16 decoder weights when training precision is bf16."""
        if self.model is None:
            if self.encoder is not None:
                self.model, self.tokenizer = self.encoder.load()  # frozen by TextEncoder
            else:
                self.model, self.tokenizer = load_causal_lm(self.model_name, dtype=eval_dtype(self.config))
                self.model.requires_grad_(False)  # frozen: nothing here ever trains it
        return self.model, self.tokenizer


def _pooling_words(source: Source) -> str:
    if source == "decoder":
        return "hidden states of each input after the shared instruction (run once, KV-cached), mean-pooled"
    return "mean-pooled, L2-normalised embeddings"


def _model_field(source: Source) -> str:
    return "name" if source == "decoder" else "encoder"


SECTION = SectionSpec("features", FeaturesConfig, "feature-based rungs (frozen embeddings + logistic regression)")
METHODS = [
    MethodSpec("features", "frozen decoder, mean-pooled hidden states -> logistic regression (classification)",
               lambda plan: [FeatureRung(plan.task, plan.config, "decoder")], one_process=True),
    MethodSpec("encoder_features", "frozen MiniLM embeddings -> logistic regression (classification)",
               lambda plan: [FeatureRung(plan.task, plan.config, "encoder")], one_process=True),
]
