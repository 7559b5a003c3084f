"""What makes an export folder answer on its own: its manifest (tunewise_export.json), the run's config and, when the
rung draws on them, the training examples; `load_export` turns the folder back into the rung that was scored.

Every export writes these beside its files, whatever the format, so `tunewise predict` and the server's
/v1/predict and /v1/classify routes take any of them. Loading rebuilds the rung from the run's plan with the
run's config (instruction, labels, prompt style, demonstrations, retrieval, decoding) and restores its saved files
(Rung.restore); nothing trains, so it answers exactly as the rung was scored.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import threading
from dataclasses import dataclass, replace
from pathlib import Path

from tunewise.config import Config, load_config
from tunewise.evaluate.candidates import (
    nearest_labels,
    needs_candidates,
    restrict_to_candidates,
)
from tunewise.export.source import ExportError
from tunewise.io import write_json, write_jsonl
from tunewise.ladder.plan import rung_named
from tunewise.models.embed import TextEncoder
from tunewise.prompting.templates import user_text
from tunewise.records import Example, Prediction
from tunewise.task import Task, example_label

MANIFEST = "tunewise_export.json"
CONFIG_FILE = "config.yaml"
TRAIN_FILE = "train.jsonl"
MANIFEST_VERSION = 1


@dataclass(frozen=True)
class Manifest:
    """tunewise_export.json: which rung of which run the folder holds, and where its files are."""

    format: str  # package | adapter | merged | gguf (what `tunewise export --format` wrote)
    rung: str  # the rung's name in its run
    kind: str  # prompting | retrieval | fine-tuning
    run_id: str
    artifact: str | None  # the rung's files, relative to the folder ("." = the folder itself); None: none
    task: dict  # Task.to_dict(): type, labels, metric, instruction
    base_model: str  # model.name the rung was built on ("smollm2", a folder, a .gguf file)
    data_format: str  # the run's record format (chat, alpaca, prompt_completion, classification): inputs' format
    train_examples: int  # training examples shipped in train.jsonl (0: the rung does not draw on them)
    version: int = MANIFEST_VERSION


def is_export(path: Path) -> bool:
    """Whether `path` is a folder `tunewise export` wrote."""
    return (Path(path) / MANIFEST).is_file()


def read_manifest(folder: Path) -> Manifest:
    path = Path(folder) / MANIFEST
    if not path.is_file():
        raise ExportError(f"{folder}: no {MANIFEST}; give a folder `tunewise export` wrote")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        manifest = Manifest(**data)
    except (OSError, json.JSONDecodeError, TypeError) as err:
        raise ExportError(f"{path}: not a readable tunewise export manifest ({err}); export the rung again") from None
    if manifest.version > MANIFEST_VERSION:
        raise ExportError(f"{path}: written by a newer tunewise (manifest version {manifest.version}); upgrade tunewise")
    return manifest


def write_package_files(out: Path, manifest: Manifest, config_text: str, train: list[Example]) -> None:
    """The manifest, the run's config and (when the rung draws on them) its training examples, into `out`."""
    write_json(out / MANIFEST, dataclasses.asdict(manifest))
    (out / CONFIG_FILE).write_text(config_text, encoding="utf-8")
    if train:
        write_jsonl(out / TRAIN_FILE, [dataclasses.asdict(e) for e in train])


def read_train(folder: Path) -> list[Example]:
    path = Path(folder) / TRAIN_FILE
    if not path.is_file():
        return []
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [Example(**{**row, "messages": tuple(row["messages"])}) for row in rows]


def draws_on_train(config: Config, task: Task, rung) -> bool:
    """Whether the rung needs the training examples to answer: demonstrations, or candidate labels (chosen from the
    nearest training examples' labels when there are more labels than eval.candidate_labels)."""
    return rung.draws_on_train or needs_candidates(task, config.eval.candidate_labels)


# ---------------------------------------------------------------- answering


def input_id(example_text: str) -> str:
    """An id for an input that came without one: the same text always gets the same id (caches key on ids)."""
    return "input:" + hashlib.sha256(example_text.encode("utf-8")).hexdigest()[:16]


def text_example(text: str) -> Example:
    """A served input: one user message, no answer."""
    return Example(input_id(text), ({"role": "user", "content": text},), "")


def probabilities(scores: dict[str, float]) -> dict[str, float]:
    """Label log-likelihoods (or log-probabilities) normalised over the labels scored: a softmax."""
    top = max(scores.values())
    weights = {label: math.exp(s - top) for label, s in scores.items()}
    total = sum(weights.values())
    return {label: w / total for label, w in weights.items()}


class ExportedRung:
    """An export folder loaded: its rung restored, answering inputs as the rung answered the test set."""

    def __init__(self, folder: Path | str):
        self.folder = Path(folder)
        self.manifest = read_manifest(self.folder)
        self.config = load_config(self.folder / CONFIG_FILE)
        # The judge scores answers; a package only answers (its spec, a path on the training machine, is not loaded).
        self.task = Task(**{k: v for k, v in self.manifest.task.items() if k != "judge"})
        self.train = read_train(self.folder)
        self.rung = rung_named(self.config, self.task, self.train, self.manifest.rung)
        artifact = None if self.manifest.artifact is None else self.folder / self.manifest.artifact
        self.rung.restore(self.train, artifact)
        self.lock = threading.Lock()  # one prediction at a time: the rung's model and task are shared
        self._encoder: TextEncoder | None = None
        self._train_vectors = None  # the training examples' embeddings, for candidate labels

    @property
    def name(self) -> str:
        return self.manifest.rung

    @property
    def classifies(self) -> bool:
        return self.task.type == "classification"

    def predict(self, examples: list[Example]) -> list[Prediction]:
        """The rung's predictions for `examples`, decoded as the run decoded its test set (candidate labels
        included)."""
        with self.lock:
            task = self._with_candidates(examples)
            self.rung.task = task
            return restrict_to_candidates(self.rung.predict(examples), task)

    def _with_candidates(self, examples: list[Example]) -> Task:
        k = self.config.eval.candidate_labels
        if not needs_candidates(self.task, k) or not examples:
            return self.task
        if self._train_vectors is None:
            self._encoder = TextEncoder(self.config.model.encoder, batch_size=self.config.eval.batch_size * 4)
            self._train_vectors = self._encoder.embed([user_text(e) for e in self.train], "embed train")
        vectors = self._encoder.embed([user_text(e) for e in examples], "embed inputs")
        rows = nearest_labels(self._train_vectors, [example_label(e) for e in self.train], vectors,
                              self.task.labels, k)
        return replace(self.task, candidates={e.id: row for e, row in zip(examples, rows)})


def load_export(folder: Path | str) -> ExportedRung:
    """The export in `folder`, restored and ready to predict."""
    return ExportedRung(folder)
