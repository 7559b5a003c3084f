"""The plan of a run: which rungs it runs, in which order, each with the data it trains and is scored on.

Prompting rungs come first (config.rungs), then each fine-tuning method's rungs in `methods:` order (every
registered method with `plan: thorough`). A multi-task run also trains one LoRA per other task, alone, just before
the rung that combines them (composition), else last.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tunewise.errors import TunewiseError
from tunewise.evaluate.predict import BaseModelCache
from tunewise.ladder.rung import Rung
from tunewise.methods import METHODS
from tunewise.methods.composition import SingleTaskAdapter
from tunewise.methods.multitask import TaskData, single_task_rung
from tunewise.methods.spec import PlanContext
from tunewise.models.embed import TextEncoder
from tunewise.models.load import eval_dtype
from tunewise.prompting.demos import NearestDemos
from tunewise.prompting.rungs import PromptRung
from tunewise.rag.rungs import RagIndex, RagRung
from tunewise.records import Example
from tunewise.task import Task

if TYPE_CHECKING:
    from tunewise.config import Config

ONE_PROCESS_RUNGS = ("rag",)  # prompting rungs that write files of their own (the index): one process at a time


@dataclass
class PlannedRung:
    """One rung of the plan and where it works: this run's task, or another task's (a single-task LoRA)."""

    rung: Rung
    folder: Path  # relative to the run folder: rungs/<name>, or tasks/<task>/lora
    other: TaskData | None = None  # None: this run's task, its split and test set


def planned_methods(config: Config) -> list[str]:
    """The methods a run trains: `methods`, or every method with `plan: thorough`.

    Methods scored per task (multitask, composition) are compared with one LoRA per task, so they bring `lora` along
    (just before the first of them) when not planned; a method that combines the single-task LoRAs (composition)
    also moves `lora` before it. Alignment methods that start from the SFT model bring (or move) `sft` before them.
    """
    names = [n for n, spec in METHODS.items() if spec.thorough] if config.plan == "thorough" else list(config.methods)
    first = next((name for name in names if METHODS[name].per_task), None)
    if first and "lora" not in names:
        names.insert(names.index(first), "lora")
    aligned = next((name for name in names if METHODS[name].after_sft), None)
    if aligned and "sft" not in names[: names.index(aligned)]:
        if "sft" in names:
            names.remove("sft")
        names.insert(names.index(aligned), "sft")
    combiner = next((name for name in names if METHODS[name].after_single_task_loras), None)
    if combiner and names.index("lora") > names.index(combiner):
        names.remove("lora")
        names.insert(names.index(combiner), "lora")
    return names


def multi_task(config: Config) -> bool:
    """Whether the run has a rung scored per task: it reads multitask.tasks' data and trains one LoRA per other
    task (each alone)."""
    return any(METHODS[name].per_task for name in planned_methods(config))


def one_process_only(config: Config) -> list[str]:
    """The planned rungs and methods that cannot run in several processes yet."""
    return [*(r for r in config.rungs if r in ONE_PROCESS_RUNGS),
            *(m for m in planned_methods(config) if METHODS[m].one_process)]


def build_plan(config: Config, task: Task, train: list[Example], others: list[TaskData] | None = None,
               single_task_adapters: Callable[[], list[SingleTaskAdapter]] | None = None,
               sft_adapter: Callable[[], Path | None] | None = None,
               reward_model: Callable[[], Path | None] | None = None) -> list[PlannedRung]:
    """The rungs to run, in order. `train`: the training split (nearest-neighbour demonstrations and retrieval
    index it); `others`: the other tasks of a multi-task config; `single_task_adapters`: where the single-task LoRAs
    are once they have run (the run loop knows; composition combines them); `sft_adapter`: where the sft rung's
    LoRA is once it has run (the alignment rungs start from it)."""
    others = others or []
    index = RagIndex(config, train)
    plan = [PlannedRung(rung, Path("rungs") / rung.name) for rung in prompting_rungs(config, task, train, index)]
    context = PlanContext(config, task, others, index, single_task_adapters, train, sft_adapter, reward_model)
    singles = [PlannedRung(single_task_rung(config, t), Path("tasks") / t.name / "lora", t) for t in others] \
        if multi_task(config) else []
    for name in planned_methods(config):
        spec = METHODS[name]
        if spec.after_single_task_loras:
            plan, singles = plan + singles, []
        plan.extend(PlannedRung(rung, Path("rungs") / rung.name) for rung in spec.rungs(context))
    return plan + singles


def rung_named(config: Config, task: Task, train: list[Example], name: str) -> Rung:
    """Rung `name` of the plan `config` makes, built as the run built it (to restore it from its saved files)."""
    plan = [planned.rung for planned in build_plan(config, task, train)]
    for rung in plan:
        if rung.name == name:
            return rung
    raise TunewiseError(f"no rung {name!r} in this config's plan; it has {', '.join(r.name for r in plan)}")


def prompting_rungs(config: Config, task: Task, train: list[Example], index: RagIndex | None = None) -> list[Rung]:
    """The prompting rungs in config order; few_shot is one rung per demo selection and k (a k-sweep each), rag
    one per retriever (sharing `index`)."""
    base = BaseModelCache(config.model.name, eval_dtype(config))
    nearest = NearestDemos(train, TextEncoder(config.model.encoder, batch_size=config.eval.batch_size * 4))
    plan: list[Rung] = []
    index = index or RagIndex(config, train)
    for style in config.rungs:
        if style == "rag":
            plan.extend(RagRung(base, task, config, mode, index) for mode in config.rag.retrievers)
        elif style == "few_shot":
            for selection in config.prompt.demo_selection:
                plan.extend(PromptRung(base, task, config, "few_shot", k, selection, nearest)
                            for k in config.prompt.few_shot_k)
        else:
            plan.append(PromptRung(base, task, config, style))
    return plan


def method_rungs(name: str, config: Config, task: Task, others: list[TaskData] | None = None,
                 index: RagIndex | None = None) -> list[Rung]:
    """The rung(s) one registered method stands for (`tunewise tune` trains them outside a run)."""
    return METHODS[name].rungs(PlanContext(config, task, others or [], index))
