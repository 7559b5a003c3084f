"""Adapter composition: the single-task LoRA adapters of a multi-task run combined into one adapter, no training.

PEFT's `add_weighted_adapter` does the combining. With "cat" (the default) the combined adapter stacks the sources'
low-rank factors, so its weight update is exactly sum_i w_i * scale_i * B_i A_i at rank sum_i r_i; "svd" cuts that
sum back to the largest source rank, and "linear" adds the A and B factors separately (cross terms: approximate).
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import torch
from peft import PeftModel, get_peft_model_state_dict
from pydantic import Field, FiniteFloat, ValidationInfo, field_validator
from torch import nn

from tunewise.methods.lora import lora_method
from tunewise.methods.multitask import TaskData
from tunewise.methods.spec import MethodSpec, SectionSpec
from tunewise.methods.tuned import Method, TunedRung, peft_save, quiet_peft
from tunewise.models.adapted import PEFT_WEIGHTS, attach_peft_adapter
from tunewise.models.load import count_parameters, load_causal_lm
from tunewise.records import FitInfo
from tunewise.sections import MAIN_TASK, Section
from tunewise.task import Task

if TYPE_CHECKING:
    from tunewise.config import Config

# A task's adapter enters the combination at weight 1 unless composition.weights says otherwise, so the default is
# the plain sum: each task's own update keeps the strength its training found, and the other tasks' updates add to
# it. Averaging (1/N each) suits adapters trained on the same task, which agree; for different tasks it shrinks each
# task's update to 1/N of what was learned, as if its LoRA scale were divided by N, which loses much of its gain.
# Lower a weight when one task's update disturbs another's.
DEFAULT_ADAPTER_WEIGHT = 1.0


class CompositionConfig(Section):
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


COMBINED = "default"  # the combined adapter's name: PEFT saves the "default" adapter at the folder's top level


def compose(model: nn.Module, tokenizer, adapters: dict[str, Path], weights: dict[str, float],
            combination_type: str) -> PeftModel:
    """The base `model` with one LoRA adapter: the weighted combination of the adapters in `adapters` (task name ->
    PEFT adapter folder), each weighted by `weights[task]`; the source adapters are loaded, combined and removed.

    PEFT creates the combined adapter in the base layers' dtype: give an fp32 base for an exact sum.
    """
    sources = []
    with quiet_peft():
        for task, folder in adapters.items():
            name = f"task_{task}"  # never COMBINED, and free of PEFT's "lora_" parameter prefix
            # checked first: safetensors, finite weights, trained on this base
            model = attach_peft_adapter(model, tokenizer, folder, "the run's base model", name)
            sources.append(name)
        # svd: the reduced SVD gives the same leading factors as the full one, without the square U and V.
        model.add_weighted_adapter(sources, [weights[task] for task in adapters], COMBINED,
                                   combination_type=combination_type, svd_full_matrices=False)
    model.set_adapter(COMBINED)
    for name in sources:
        model.delete_adapter(name)
    return model.eval()


def adapter_parameters(model: PeftModel) -> int:
    """Parameters of the combined adapter (what its adapter_model.safetensors holds)."""
    return sum(t.numel() for t in get_peft_model_state_dict(model, adapter_name=COMBINED).values())


def rank(model: PeftModel) -> int:
    """The combined adapter's LoRA rank (cat: the sum of the sources' ranks)."""
    return model.peft_config[COMBINED].r


@dataclass
class SingleTaskAdapter:
    """One task's single-task LoRA, as the composition rung combines it."""

    task: str  # MAIN_TASK or another task's name
    rung: str  # the rung that trained it: lora, or lora[<task>]
    folder: Path  # its adapter folder
    skipped: str | None = None  # why that rung did not run


class CompositionRung(TunedRung):
    """The single-task LoRAs of a multi-task run (this task's `lora`, each `lora[<task>]`) combined into one adapter by
    a weighted sum of their weight updates (`compose`); nothing is trained.

    Scored like MultitaskRung: on this run's test set, and on each other task's (`other_tasks`). The plan runs the
    single-task rungs first; `find_adapters` says where their adapters are once they have run.
    """

    def __init__(self, task: Task, config: Config, others: list[TaskData],
                 find_adapters: Callable[[], list[SingleTaskAdapter]] | None = None):
        cc = config.composition
        super().__init__(task, config, Method("composition", "", self._compose, peft_save))
        self.other_tasks = others
        self.sources: list[SingleTaskAdapter] = []
        self._find_adapters = find_adapters
        self._missing: str | None = None
        terms = " + ".join(f"{cc.weight(name):g} x {rung}" for name, rung in self.single_task_rungs())
        self.description = f"{cc.combination_type} combination of single-task LoRA adapters, {terms}; not trained"
        if not others:
            self.skip_reason = "composition combines one LoRA per task: list other tasks under multitask.tasks (name, " \
                               "data, task)"

    @property
    def skip_reason(self) -> str | None:
        """Why the rung cannot run: no other task, or a single-task LoRA that did not run or left no weights (read by
        the run loop just before this rung, when the single-task LoRAs have run)."""
        if self._no_tasks:
            return self._no_tasks
        if not self.sources and self._find_adapters is not None:
            self.use_adapters(self._find_adapters())
        return self._missing

    @skip_reason.setter
    def skip_reason(self, reason: str | None) -> None:
        self._no_tasks = reason

    def single_task_rungs(self) -> list[tuple[str, str]]:
        """(task name, the rung that trains its single-task LoRA) for every task, this run's first."""
        return [(MAIN_TASK, "lora"), *((t.name, f"lora[{t.name}]") for t in self.other_tasks)]

    def use_adapters(self, adapters: list[SingleTaskAdapter]) -> None:
        """Combine these adapters; when one of them did not run or left no weights, the rung is skipped, saying so."""
        self.sources = adapters
        missing = [a for a in adapters if a.skipped or not (a.folder / PEFT_WEIGHTS).is_file()]
        if missing:
            self._missing = "composition needs every task's single-task LoRA: " + "; ".join(
                f"{a.rung} was skipped ({a.skipped})" if a.skipped else f"{a.rung} left no {a.folder / PEFT_WEIGHTS}"
                for a in missing)

    def _compose(self, model, tokenizer):
        cc = self.config.composition
        return compose(model, tokenizer, {a.task: a.folder for a in self.sources},
                       {a.task: cc.weight(a.task) for a in self.sources}, cc.combination_type)

    def _load(self):
        # fp32 whatever train.precision says: the combined adapter takes the base's dtype (compose).
        model, tokenizer = load_causal_lm(self.config.model.name, dtype=torch.float32)
        self.base_params = count_parameters(model)[1]
        return self.method.apply(model, tokenizer), tokenizer

    def fit(self, train, val, workdir) -> FitInfo:
        self.model, self.tokenizer = self._load()
        return FitInfo(artifact_dir=self._save(workdir))

    def estimate_fit(self, train, val, workdir) -> float:
        """Seconds the fit takes, timed on untrained LoRAs of the same shape (the single-task ones do not exist yet)."""
        model, tokenizer = load_causal_lm(self.config.model.name, dtype=torch.float32)
        untrained = lora_method(self.config).apply(model, tokenizer)
        untrained.save_pretrained(str(workdir / "untrained"))
        self.use_adapters([SingleTaskAdapter(name, rung, workdir / "untrained")
                           for name, rung in self.single_task_rungs()])
        started = time.perf_counter()
        self.fit(train, val, workdir)
        return time.perf_counter() - started

    def parameters(self):
        return adapter_parameters(self.model), count_parameters(self.model)[1]

    def notes(self) -> list[str]:
        kind = self.config.composition.combination_type
        return [f"combined adapter rank {rank(self.model)} from {len(self.sources)} single-task LoRAs ({kind})"]


def _check_weights_name_tasks(cls, composition: CompositionConfig, info: ValidationInfo) -> CompositionConfig:
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


SECTION = SectionSpec(
    "composition", CompositionConfig,
    "the composition rung: how the single-task LoRAs of this task and multitask.tasks are combined",
    checks={"_weights_name_tasks": field_validator("composition")(_check_weights_name_tasks)},
)
METHODS = [MethodSpec(
    "composition", "the single-task LoRAs of this task and multitask.tasks added into one adapter (PEFT "
    "add_weighted_adapter, composition.weights), no training; scored per task (brings the lora rungs along)",
    lambda plan: [CompositionRung(plan.task, plan.config, plan.others, plan.single_task_adapters)], per_task=True,
    after_single_task_loras=True,
)]
