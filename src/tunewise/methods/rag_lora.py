"""RAG + LoRA: LoRA trained on prompts that carry the retrieved chunks, and scored with them.

Training examples retrieve like test ones, except that their own document is left out when the training set is the
corpus (otherwise every prompt would show its answer). The adapter folder ships with its index. Settings: the
shared `rag` section (rag.lora_retriever, top_k, instruction) and `lora`.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from tunewise.evaluate.predict import predict_conversations
from tunewise.methods.lora import lora_method
from tunewise.methods.spec import MethodSpec
from tunewise.methods.tuned import TunedRung, sft_conversations
from tunewise.models.load import eval_dtype
from tunewise.rag.rungs import RagIndex, rag_messages, retrieval_summary, with_sources
from tunewise.records import Example, Prediction
from tunewise.task import Task
from tunewise.train.batching import Encoded

if TYPE_CHECKING:
    from tunewise.config import Config


INDEX_FOLDER = "rag_index"  # beside the adapter's weights: the index the rung was trained and scored with


class RagLoraRung(TunedRung):
    """LoRA trained and scored with the top rag.top_k chunks of `index` in the prompt."""

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
        self.index.copy_to(adapter / INDEX_FOLDER)
        return adapter

    def restore(self, train, artifact_dir: Path | None) -> None:
        """The adapter (or a merged model) and the index `_save` copied beside its weights (rag_index/)."""
        super().restore(train, artifact_dir)
        folder = Path(artifact_dir)
        self.index.restore((folder if folder.is_dir() else folder.parent) / INDEX_FOLDER)

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


SECTION = None  # its settings are the shared `rag` section's (and `lora`)
METHODS = [MethodSpec(
    "rag_lora", "LoRA trained and scored on prompts with retrieved chunks (rag.lora_retriever): RAG + LoRA",
    lambda plan: [RagLoraRung(plan.task, plan.config, plan.index or RagIndex(plan.config, []))], one_process=True,
)]
