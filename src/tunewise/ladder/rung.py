"""What every rung of the ladder is: the protocol the run loop (ladder/run.py) reads, every attribute declared.

A rung is the unit of comparison: the loop scores every rung's predictions with the same scorer on the same test
ids and measures its cost the same way; a rung only decides how it learns and predicts. Implementations: the
prompting rungs (prompting/rungs.py), the RAG rungs (rag/rungs.py) and each method's rungs (methods/).
"""
from __future__ import annotations

from pathlib import Path
from typing import Protocol

from tunewise.records import Example, FitInfo, Prediction
from tunewise.task import Task


class Rung(Protocol):
    """One approach on the ladder."""

    name: str
    kind: str  # "prompting" | "retrieval" | "fine-tuning"
    task: Task  # what it predicts: instruction, labels, each example's candidate labels (may be replaced before predict)
    draws_on_train: bool  # predict reads the training examples (demonstrations): an export ships them
    description: str  # one line for the report
    skip_reason: str | None  # why it cannot run here (QLoRA where bitsandbytes does not, a classification-only method on generation)
    resume: bool  # set by the loop: continue training from the newest saved state in the rung's folder
    base_params: int | None  # parameters of the model it started from, when it changed them (None: not known)
    other_tasks: list  # multi-task rungs: the other tasks (methods.multitask.TaskData) it is also scored on
    summary: dict | None  # prompting rungs: style, demo selection and k, prompts shortened to fit, ...
    retrieval: dict | None  # retrieving rungs: retriever, recall@k with CIs (set by predict)

    def fit(self, train: list[Example], val: list[Example], workdir: Path) -> FitInfo: ...

    # Load what `fit` saved (`artifact_dir`: its artifact folder, or a shipped copy of it) instead of fitting, so
    # predict answers as the fitted rung did; `train`: the training examples it draws demonstrations from.
    def restore(self, train: list[Example], artifact_dir: Path | None) -> None: ...

    def predict(self, test: list[Example]) -> list[Prediction]: ...

    def predict_task(self, task: Task, test: list[Example]) -> list[Prediction]: ...  # for each of other_tasks

    # sft and the alignment rungs: held-out preference accuracy, chosen drift, KL to the reference (None for the
    # rest); called after predict, outside its timing (the extra scoring passes are not prediction cost)
    def alignment_scores(self, test: list[Example], predictions: list[Prediction]) -> dict | None: ...

    def parameters(self) -> tuple[int, int]: ...  # (trainable, total) of the model that predicts

    def estimate_fit(self, train: list[Example], val: list[Example], workdir: Path) -> float: ...  # seconds

    def notes(self) -> list[str]: ...  # lines for the report (index size, combined rank, ...)

    def language_model(self): ...  # (model, tokenizer) it predicts with, for the forgetting check; None: no LM of its own
