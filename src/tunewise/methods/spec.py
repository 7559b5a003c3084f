"""What a method module declares to the registry (tunewise.methods): its config section and the method names it
provides, each with a one-line summary and the rung(s) it stands for.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tunewise.sections import Section

if TYPE_CHECKING:
    from tunewise.config import Config
    from tunewise.methods.composition import SingleTaskAdapter
    from tunewise.methods.multitask import TaskData
    from tunewise.rag.rungs import RagIndex
    from tunewise.records import Example
    from tunewise.task import Task


@dataclass(frozen=True)
class SectionSpec:
    """A method's config section: `config.<key>`, a `<key>:` block in the YAML."""

    key: str
    model: type[Section]
    description: str  # one line, for the config reference
    resolve_paths: Callable[[Any, Path], None] | None = None  # makes the raw section's file fields YAML-relative
    checks: dict[str, Callable] = field(default_factory=dict)  # cross-section pydantic field validators of the root


@dataclass
class PlanContext:
    """What a method builds its rungs from: the run's config and task, and what the plan's rungs share."""

    config: Config
    task: Task
    others: list[TaskData] = field(default_factory=list)  # the other tasks of a multi-task config
    index: RagIndex | None = None  # the run's retrieval index (rag_lora)
    # The single-task LoRAs of a multi-task run as they stand when asked (composition combines them; the plan runs
    # them first). None outside a run.
    single_task_adapters: Callable[[], list[SingleTaskAdapter]] | None = None
    train: list[Example] = field(default_factory=list)  # the training split (the alignment rungs check its pairs)
    # Where the `sft` rung's LoRA is once it has run (the alignment rungs start from it); None outside a run.
    sft_adapter: Callable[[], Path | None] | None = None
    reward_model: Callable[[], Path | None] | None = None  # where the reward_model rung's files are once it has run


@dataclass(frozen=True)
class MethodSpec:
    """One name in `methods:`."""

    name: str
    summary: str  # one line for `tunewise methods`, the docs and the plan
    rungs: Callable[[PlanContext], list]  # the rung(s) it stands for (lora_ranks: one per rank)
    one_process: bool = False  # writes files of its own beside the trained weights: refused in multi-process runs
    per_task: bool = False  # scored on every task of a multi-task config next to one LoRA per task (brings lora)
    after_single_task_loras: bool = False  # combines the single-task LoRAs, so the plan trains them just before it
    after_sft: bool = False  # starts from the `sft` rung's LoRA, so the plan brings `sft` and runs it first
    thorough: bool = True  # part of `plan: thorough` (False: opt-in only, named in `methods:`)
