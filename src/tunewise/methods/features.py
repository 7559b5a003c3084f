"""Feature-based rungs ("Finetuning I"): a frozen model embeds each example, a logistic regression classifies it.

`features` mean-pools the causal LM's last hidden state over the zero-shot conversation the other rungs are scored
on; `encoder_features` mean-pools and L2-normalises the encoder's token states of the user text (the
sentence-transformers recipe). Only the classifier learns; it is saved as classifier.safetensors + classifier.json.
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
    max_length: int = Field(256, ge=8, description="tokens of each example embedded (longer inputs are cut)")


Source = Literal["decoder", "encoder"]
WEIGHTS_FILE = "classifier.safetensors"
CONFIG_FILE = "classifier.json"
PROBE_EXAMPLES = 16  # training examples a dry run embeds to time the fit
SOLVER_ALLOWANCE_S = 2.0  # the logistic-regression solver on a few thousand embeddings takes about this long
_DISPLAY_NAMES = {"smollm2": "SmolLM2", "minilm": "all-MiniLM-L6-v2"}
_POOLING = {"decoder": "mean over real tokens", "encoder": "mean over real tokens, L2-normalised"}


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


class FeatureRung:
    """A frozen decoder (`features`) or encoder (`encoder_features`) embeds; a logistic regression classifies."""

    kind = "fine-tuning"
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
        self.description = f"frozen {display_name(self.model_name)} {_pooling_words(source)} + logistic regression"
        self.skip_reason = (
            None if task.type == "classification"
            else "feature-based rungs need a classification task (a logistic regression picks one of the labels)"
        )
        self.model = self.tokenizer = None
        # The encoder source embeds the way retrieval and nearest demos do (one TextEncoder for all of them).
        self.encoder = (TextEncoder(self.model_name, config.features.max_length, config.eval.batch_size)
                        if source == "encoder" else None)
        self.classifier: LinearClassifier | None = None

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
        features, _ = self.embed(test, "predict")
        if not test:
            return []
        log_probs = self.classifier.log_proba(features)  # (N, K)
        labels = self.classifier.labels
        return [
            Prediction(id=e.id, output=labels[int(row.argmax())], scores=dict(zip(labels, map(float, row))))
            for e, row in zip(test, log_probs)
        ]

    def restore(self, directory: Path | str) -> LinearClassifier:
        """Predict with a classifier saved by an earlier fit of this rung (same source and model)."""
        classifier = load_classifier(directory)
        saved = (classifier.meta.get("source"), classifier.meta.get("model"))
        if saved != (self.source, self.model_name):
            raise ModelError(
                f"{Path(directory) / CONFIG_FILE}: classifier fitted on {saved[0]} {saved[1]!r} embeddings, but this "
                f"rung embeds with {self.source} {self.model_name!r}; set model.{_model_field(self.source)} to match"
            )
        self.classifier = classifier
        return classifier

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

    def notes(self) -> list[str]:
        return []

    def embed(self, examples: list[Example], what: str = "embed") -> tuple[np.ndarray, int]:
        """((N, H) fp32 embeddings, tokens embedded) of the examples, in their order."""
        self._load()
        if self.encoder is not None:  # the last user message, unit-length mean-pooled encoder states
            seqs = self.encoder.token_ids([user_text(e) for e in examples])
            return self.encoder.embed_ids(seqs, f"rung {self.name}: {what}"), sum(len(s) for s in seqs)
        seqs = self._token_ids(examples)
        device = next(self.model.parameters()).device
        progress = progress_printer(f"rung {self.name}: {what}", len(seqs))
        features = embed_sequences(
            self._forward, seqs, self.tokenizer.pad_token_id or 0, device, self.config.eval.batch_size, progress
        )  # the pad id only fills masked positions
        return features, sum(len(s) for s in seqs)

    def _token_ids(self, examples: list[Example]) -> list[list[int]]:
        """What the decoder embeds for each example: the zero-shot conversation, cut from the left."""
        limit = min(self.config.features.max_length, context_length(self.model))
        conversations = [zero_shot_messages(e, self.task.instruction) for e in examples]
        return [truncate_prompt(prompt_ids(self.tokenizer, c), limit) for c in conversations]

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
    return "mean-pooled hidden states" if source == "decoder" else "mean-pooled, L2-normalised embeddings"


def _model_field(source: Source) -> str:
    return "name" if source == "decoder" else "encoder"


SECTION = SectionSpec("features", FeaturesConfig, "feature-based rungs (frozen embeddings + logistic regression)")
METHODS = [
    MethodSpec("features", "frozen decoder, mean-pooled hidden states -> logistic regression (classification)",
               lambda plan: [FeatureRung(plan.task, plan.config, "decoder")], one_process=True),
    MethodSpec("encoder_features", "frozen MiniLM embeddings -> logistic regression (classification)",
               lambda plan: [FeatureRung(plan.task, plan.config, "encoder")], one_process=True),
]
