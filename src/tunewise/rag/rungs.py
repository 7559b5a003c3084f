"""The retrieval-augmented rungs: rag_<retriever> (the base model reads retrieved chunks) and RAG + LoRA.

One index per run (chunks of rag.documents, or of the training examples), cached beside the runs
(<output_dir>/.rag-index/) and reused while the corpus and settings hash is unchanged; each rung keeps a copy of it
in its run folder (what it ships with).
"""
from __future__ import annotations

import hashlib
import os
import shutil
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from tunewise.data.text import Document, documents_from_examples, load_documents
from tunewise.evaluate.predict import (
    BaseModelCache,
    predict_conversations,
    scoring_words,
)
from tunewise.evaluate.stats import bootstrap_mean_ci
from tunewise.models.embed import TextEncoder
from tunewise.prompting.rungs import UnchangedBaseRung
from tunewise.prompting.templates import user_text, zero_shot_messages
from tunewise.rag.index import (
    INDEX_FILES,
    Hit,
    Mode,
    Retriever,
    load_index,
    load_or_build,
)
from tunewise.rag.metrics import hits_at_k
from tunewise.records import Example, FitInfo, Message, Prediction
from tunewise.task import Task

if TYPE_CHECKING:
    from tunewise.config import Config


class RagIndex:
    """The run's retriever, built (or loaded from the cache) on first use and shared by every rag rung."""

    def __init__(self, config: Config, train: list[Example]):
        self.config, self.train = config, train
        self.retriever: Retriever | None = None
        self.reused = False
        self.cache_dir: Path | None = None
        self.n_documents = 0

    def documents(self) -> list[Document]:
        """The knowledge source: rag.documents, else the training examples (question + answer each)."""
        source = self.config.rag.documents
        return load_documents(source) if source is not None else documents_from_examples(self.train)

    def restore(self, directory: Path) -> Retriever:
        """Use the index saved in `directory` (a rung's copy, or an export's) as it is: nothing is embedded."""
        encoder = TextEncoder(self.config.model.encoder, batch_size=self.config.eval.batch_size * 4)
        self.retriever, meta = load_index(Path(directory), encoder)
        self.reused, self.cache_dir, self.n_documents = True, Path(directory), meta.get("documents", 0)
        return self.retriever

    def get(self) -> Retriever:
        if self.retriever is None:
            documents = self.documents()
            self.n_documents = len(documents)
            rag = self.config.rag
            self.cache_dir = self._cache_dir()
            encoder = TextEncoder(self.config.model.encoder, batch_size=self.config.eval.batch_size * 4)
            self.retriever, self.reused = load_or_build(documents, self.cache_dir, encoder, rag.chunk_tokens,
                                                        rag.chunk_overlap)
        return self.retriever

    def _cache_dir(self) -> Path:
        """One cache folder per knowledge source (its hash decides whether the saved index is still current)."""
        source = self.config.rag.documents
        key = f"documents:{Path(source).resolve()}" if source else f"train:{self.config.data.model_dump_json()}"
        return Path(self.config.output_dir) / ".rag-index" / hashlib.sha256(key.encode()).hexdigest()[:16]

    def copy_to(self, directory: Path) -> Path:
        """The index files, hard-linked (or copied) into `directory`: the run keeps the index it was scored with."""
        directory.mkdir(parents=True, exist_ok=True)
        for name in INDEX_FILES:
            target = directory / name
            target.unlink(missing_ok=True)
            try:
                os.link(self.cache_dir / name, target)
            except OSError:
                shutil.copy2(self.cache_dir / name, target)
        return directory

    def note(self) -> str:
        n_chunks = len(self.retriever.chunks) if self.retriever else 0
        how = "reused from the cache (corpus and settings unchanged)" if self.reused else "built"
        return f"index of {n_chunks} chunks from {self.n_documents} documents {how}"

    def hits(self, examples: list[Example], mode: Mode, exclude_self: bool = False) -> list[list[Hit]]:
        """The top rag.top_k chunks for each example's input; `exclude_self` drops the example's own document
        (training on the training set as the corpus must not show the answer being learned)."""
        k = self.config.rag.top_k
        found = self.get().retrieve([user_text(e) for e in examples], k + exclude_self, mode)
        if exclude_self:
            found = [[h for h in hits if h.chunk.doc_id != e.id][:k] for e, hits in zip(examples, found)]
        return found


def rag_messages(example: Example, hits: list[Hit], instruction: str | None, rag_instruction: str) -> list[Message]:
    """The zero-shot conversation with the retrieved chunks (each under its source id) before the input."""
    messages = zero_shot_messages(example, instruction)
    documents = "\n\n".join(f"[{h.chunk.doc_id}] {h.chunk.text.strip()}" for h in hits)
    last = max(i for i, m in enumerate(messages) if m["role"] == "user")
    question = messages[last]["content"]
    messages[last] = {"role": "user", "content": f"Documents:\n{documents}\n\n{rag_instruction}\n\n{question}"}
    return messages


def with_sources(predictions: list[Prediction], hits: list[list[Hit]]) -> list[Prediction]:
    """Each prediction with the chunk ids its prompt showed (`sources` in predictions.jsonl)."""
    return [replace(p, details={**(p.details or {}), "sources": [h.chunk.id for h in found]})
            for p, found in zip(predictions, hits)]


def retrieval_summary(hits: list[list[Hit]], examples: list[Example], config: Config, mode: str) -> dict:
    """recall@k for k = 1..top_k with bootstrap CIs, where examples carry gold document ids (rag.gold_field)."""
    summary: dict = {"retriever": mode, "top_k": config.rag.top_k}
    gold = [_gold_ids(e, config.rag.gold_field) for e in examples]
    summary["with_gold"] = sum(bool(g) for g in gold)
    if not summary["with_gold"]:
        return summary
    retrieved = [[h.chunk.doc_id for h in found] for found in hits]
    for k in range(1, config.rag.top_k + 1):
        scored = [float(h) for h in hits_at_k(retrieved, gold, k) if h is not None]
        low, high = bootstrap_mean_ci(scored, config.eval.bootstrap_samples, config.eval.confidence, config.eval.seed)
        summary[f"recall@{k}"] = {"value": sum(scored) / len(scored), "ci_low": low, "ci_high": high}
    return summary


def _gold_ids(example: Example, field: str) -> list[str]:
    value = example.meta.get(field)
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value] if isinstance(value, list) else []


class RagRung(UnchangedBaseRung):
    """The base model, prompted with the rag.top_k chunks one retriever finds for the input."""

    kind = "retrieval"
    skip_reason = None  # every task can retrieve
    summary = None  # prompting rungs' settings; the retrieval summary is `retrieval`

    def __init__(self, base: BaseModelCache, task: Task, config: Config, mode: Mode, index: RagIndex):
        self.base, self.task, self.config, self.mode, self.index = base, task, config, mode, index
        self.name = f"rag_{mode}"
        what = {"dense": "dense (embedding cosine)", "bm25": "BM25", "hybrid": "hybrid (dense + BM25, RRF)"}[mode]
        source = config.rag.documents or "the training examples"
        self.description = (f"base model + top {config.rag.top_k} chunks of {source} by {what} retrieval"
                            + scoring_words(task))
        self.retrieval: dict | None = None
        self._notes: list[str] = []

    def fit(self, train, val, workdir: Path) -> FitInfo:
        self.base.get()  # loaded here (once per run), so the prediction cost is prediction alone
        self.index.get()
        self._notes.append(self.index.note())
        return FitInfo(artifact_dir=self.index.copy_to(workdir / "index"))

    def restore(self, train, artifact_dir: Path | None) -> None:
        """Load the base and the index `fit` copied into the rung's folder (`artifact_dir`)."""
        self.base.get()
        self.index.restore(artifact_dir)

    def estimate_fit(self, train, val, workdir: Path) -> float:
        started = time.perf_counter()
        self.index.get()
        return time.perf_counter() - started

    def predict(self, test: list[Example]) -> list[Prediction]:
        model, tokenizer = self.base.get()
        hits = self.index.hits(test, self.mode)
        conversations = [rag_messages(e, found, self.task.instruction, self.config.rag.instruction)
                         for e, found in zip(test, hits)]
        predictions = predict_conversations(model, tokenizer, conversations, self.task, self.config,
                                            [e.id for e in test], self.name)
        self.retrieval = retrieval_summary(hits, test, self.config, self.mode)
        return with_sources(predictions, hits)

    def notes(self) -> list[str]:
        return list(self._notes)
