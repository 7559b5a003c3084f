"""The prompting rungs: the base model, unchanged, in each prompt style (zero-shot, prefix, few-shot, CoT, template).

Every one predicts through the same scorer as the fine-tuned rungs (predict.py); only the conversation differs.
Chain-of-thought generates, then reads the answer from its output (classification included).
"""
from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from tunewise.evaluate.predict import (
    BaseModelCache,
    generate_prompts,
    predict_conversations,
    prompt_limit,
    prompt_token_ids,
    scoring_words,
)
from tunewise.io import write_json
from tunewise.models.chat_template import prompt_ids
from tunewise.models.load import count_parameters
from tunewise.prompting.demos import (
    NearestDemos,
    Selection,
    fit_to_context,
    fixed_demos,
)
from tunewise.prompting.extract import extract_answer
from tunewise.prompting.templates import (
    cot_messages,
    few_shot_messages,
    prefix_messages,
    zero_shot_messages,
)
from tunewise.prompting.user_template import template_messages
from tunewise.records import Example, FitInfo, Message, Prediction
from tunewise.task import Task

if TYPE_CHECKING:
    from tunewise.config import Config

STYLES = ("zero_shot", "prefix", "few_shot", "cot", "template")


class UnchangedBaseRung:
    """What every rung that predicts with the base model unchanged shares (prompting and RAG rungs): nothing trains,
    so nothing resumes and the forgetting check has nothing to compare; scored on this run's task only."""

    resume = False
    base_params = None
    other_tasks = ()
    draws_on_train = False
    base: BaseModelCache
    name: str
    task: Task

    def parameters(self):
        return 0, count_parameters(self.base.get()[0])[1]

    def predict_task(self, task: Task, test: list[Example]) -> list[Prediction]:
        """Only this run's task is predicted (other_tasks is empty)."""
        raise ValueError(f"rung {self.name} predicts only its own task")

    def language_model(self) -> None:
        """The base model unchanged: the forgetting check has nothing to compare."""
        return None

    def alignment_scores(self, test: list[Example], predictions: list[Prediction]) -> None:
        """Not trained on preferences."""
        return None


class PromptRung(UnchangedBaseRung):
    """The base model with one prompt style; `few_shot` adds k demonstrations chosen by `selection`."""

    kind = "prompting"
    retrieval = None  # no retrieval

    def __init__(self, base: BaseModelCache, task: Task, config: Config, style: str = "zero_shot", k: int = 0,
                 selection: Selection = "balanced", nearest: NearestDemos | None = None):
        if style not in STYLES:
            raise ValueError(f"unknown prompt style {style!r}")
        self.base, self.task, self.config, self.style = base, task, config, style
        self.k, self.selection, self.nearest = k, selection, nearest
        self.name = f"few_shot_{selection}_k{k}" if style == "few_shot" else style
        self.description = _description(style, k, selection, task)
        self.skip_reason = None
        if style == "few_shot" and selection == "balanced" and task.type != "classification":
            self.skip_reason = "label-balanced demonstrations need labels (classification); random covers this task"
        self.demos: list[Example] = []  # fixed demos (balanced, random)
        self.summary: dict = {"style": style, **({"selection": selection, "k": k} if style == "few_shot" else {})}
        self.draws_on_train = style == "few_shot"  # its demonstrations

    # -------------------------------------------------------- fit: choose (or index) demonstrations

    def fit(self, train, val, workdir: Path) -> FitInfo:
        self.restore(train, None)
        if self.style == "few_shot" and self.selection != "nearest":
            write_json(workdir / "demos.json", [e.id for e in self.demos])
        return FitInfo()

    def restore(self, train, artifact_dir: Path | None) -> None:
        """Load the base and choose the demonstrations from `train`: the same ones whenever `train` is the same
        (seeded), so an exported prompt package shows what the rung was scored with."""
        self.base.get()  # loaded here (once per run), so the prediction cost is prediction alone
        if self.style == "few_shot" and self.selection == "nearest":
            self.nearest.fit()  # embeds the training split once for every nearest rung
        elif self.style == "few_shot":
            self.demos = fixed_demos(train, self.selection, self.config.prompt.demo_seed, self.k)

    def estimate_fit(self, train, val, workdir: Path) -> float:
        """Seconds to fit: embedding the training split for nearest demos; choosing fixed demos takes none."""
        started = time.perf_counter()
        self.fit(train, val, workdir)
        return time.perf_counter() - started if self.selection == "nearest" and self.style == "few_shot" else 0.0

    # -------------------------------------------------------- predict

    def predict(self, test: list[Example]) -> list[Prediction]:
        model, tokenizer = self.base.get()
        conversations, demo_ids = self.conversations(test, model, tokenizer)
        ids = [e.id for e in test]
        if self.style == "cot":
            predictions = self._reason(model, tokenizer, conversations, ids)
        else:
            predictions = predict_conversations(model, tokenizer, conversations, self.task, self.config, ids, self.name)
        if demo_ids is not None:
            predictions = [replace(p, details={**(p.details or {}), "demos": used})
                           for p, used in zip(predictions, demo_ids)]
        return predictions

    def conversations(self, test: list[Example], model, tokenizer) -> tuple[list[list[Message]], list | None]:
        """(one conversation per test example, the demo ids each shows or None); few-shot prompts are fitted to
        the context by dropping demonstrations from the end, and the counts go into `summary`."""
        instruction = self.task.instruction
        if self.style == "zero_shot":
            return [zero_shot_messages(e, instruction) for e in test], None
        if self.style == "prefix":
            return [prefix_messages(e, instruction) for e in test], None
        if self.style == "cot":
            return [cot_messages(e, instruction, self.config.prompt.cot_instruction) for e in test], None
        if self.style == "template":
            return [template_messages(self.config.prompt.template, e, self.task) for e in test], None
        return self._few_shot(test, model, tokenizer)

    def _few_shot(self, test, model, tokenizer):
        if self.selection == "nearest":
            # Most similar first in priority (dropped last), but shown last: next to the input it resembles.
            chosen = self.nearest.for_examples(test, self.k)
        else:
            chosen = [self.demos] * len(test)
        limit = prompt_limit(model, self.config.eval.max_new_tokens)
        conversations, demo_ids, shortened, dropped = [], [], 0, 0
        for example, demos in zip(test, chosen):
            def build(kept: list[Example], example=example) -> list[Message]:
                shown = kept[::-1] if self.selection == "nearest" else kept
                return few_shot_messages(example, shown, self.task.instruction)

            messages, n_dropped = fit_to_context(build, demos, lambda m: len(prompt_ids(tokenizer, m)), limit)
            conversations.append(messages)
            demo_ids.append([d.id for d in demos[: len(demos) - n_dropped]])
            shortened += n_dropped > 0
            dropped += n_dropped
        self.summary.update(shortened_prompts=shortened, dropped_demos=dropped)
        return conversations, demo_ids

    def _reason(self, model, tokenizer, conversations, ids) -> list[Prediction]:
        """Chain of thought: generate, then extract the answer (always a label for classification)."""
        max_new_tokens = self.config.prompt.cot_max_new_tokens
        prompts = prompt_token_ids(model, tokenizer, conversations, max_new_tokens)
        texts = generate_prompts(model, tokenizer, prompts, self.config, max_new_tokens, self.name)
        predictions, missing = [], 0
        for i, text, prompt in zip(ids, texts, prompts):
            answer = extract_answer(text, self.task.labels)
            missing += answer is None
            predictions.append(Prediction(id=i, output=answer or "", details={"reasoning": text},
                                          prompt_tokens=len(prompt)))
        self.summary["answers_not_found"] = missing
        return predictions

    def notes(self) -> list[str]:
        """What the reader should know about this rung's prompts."""
        out = []
        if self.summary.get("shortened_prompts"):
            out.append(f"{self.summary['shortened_prompts']} prompt(s) did not fit the context with all {self.k} "
                       f"demonstrations: {self.summary['dropped_demos']} demonstration(s) dropped from the end")
        if self.summary.get("answers_not_found"):
            out.append(f"no answer could be read from {self.summary['answers_not_found']} output(s) (counted wrong)")
        return out


def _description(style: str, k: int, selection: str, task: Task) -> str:
    if style == "few_shot":
        how = {"balanced": "seeded, label-balanced", "random": "seeded random",
               "nearest": "nearest to the input by embedding"}[selection]
        text = f"base model, {k} demonstration(s) from train ({how})"
    else:
        text = {
            "zero_shot": "base model, instruction prompt",
            "prefix": "base model, instruction written before the input (no system instruction)",
            "cot": "base model, chain-of-thought then an 'Answer:' line",
            "template": "base model, your prompt.template",
        }[style]
    return text + ("" if style == "cot" else scoring_words(task))

