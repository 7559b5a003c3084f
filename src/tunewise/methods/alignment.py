"""Preference alignment on the ladder: `sft` (LoRA on the chosen replies, the baseline) and DPO, IPO, ORPO, SimPO
and KTO, each a fresh LoRA trained by the preference recipe (train/preference.py) and scored like every rung.

DPO, IPO, KTO and SimPO start from the SFT model: the `sft` rung's LoRA merged into the base in memory, then a
fresh LoRA (dropout 0, so the policy equals the reference at step 0 and DPO's first loss is log 2). The reference
of DPO/IPO/KTO is that SFT model: the policy with its adapter disabled, its log-probs computed once. ORPO is
reference-free and adds its own SFT term, so it starts from the base. KTO trains on single replies: each pair
becomes a desirable and an undesirable one (or KTO's own unpaired data is used as it is).

Saved: the fresh LoRA in PEFT's layout (adapter/), and the SFT LoRA it was trained on top of (adapter/sft/); loading
merges the second into the base, then attaches the first.
"""
from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import Field

from tunewise.evaluate.preference import preference_scores
from tunewise.methods import lora
from tunewise.methods.spec import MethodSpec, PlanContext, SectionSpec
from tunewise.methods.tuned import Method, TunedRung, peft_load, peft_save, quiet_peft
from tunewise.models.chat_template import answer_ids, prompt_ids
from tunewise.models.load import count_parameters, dtype_for, load_causal_lm
from tunewise.prompting.templates import zero_shot_messages
from tunewise.records import Example, FitInfo, Prediction
from tunewise.sections import Section
from tunewise.train.loop import training_summary
from tunewise.train.preference import EncodedPreference, Objective, train_preference

if TYPE_CHECKING:
    from tunewise.config import Config
    from tunewise.task import Task

SFT_FOLDER = "sft"  # inside an aligned rung's adapter folder: the SFT LoRA the aligned LoRA sits on


class AlignmentConfig(Section):
    """The preference rungs' settings (methods/alignment.py, reward.py, rl.py)."""

    lr: float = Field(5e-5, gt=0, description="peak learning rate of the DPO/IPO/ORPO/SimPO/KTO LoRA (the run's "
                      "train section sets the rest: batch size, epochs or max_steps, schedule, patience)")
    max_steps: int | None = Field(None, ge=1, description="optimizer steps of the preference rungs and the reward "
                                  "model (a step runs both replies of each pair); empty: train.max_steps")
    beta: float = Field(0.1, gt=0, description="DPO/IPO/KTO: how far the policy may move from the reference (small: "
                        "far); IPO's target margin is 1 / (2 beta)")
    sft_weight: float = Field(0.0, ge=0, description="DPO/IPO: add this x the chosen reply's mean token NLL to the "
                              "loss, against DPO lowering the chosen replies' likelihood too (try 0.2-1)")
    simpo_beta: float = Field(2.0, gt=0, description="SimPO: scale of the length-normalised log-prob margin")
    simpo_gamma: float = Field(0.5, ge=0, description="SimPO: target margin, in units of simpo_beta (SimPO's "
                               "gamma / beta)")
    orpo_lambda: float = Field(0.1, ge=0, description="ORPO: weight of the odds-ratio term next to the chosen "
                               "reply's NLL")
    kto_desirable_weight: float = Field(1.0, gt=0, description="KTO: weight of desirable replies' loss")
    kto_undesirable_weight: float = Field(1.0, gt=0, description="KTO: weight of undesirable replies' loss (raise "
                                          "it when undesirable replies are rarer)")
    reward_lr: float = Field(1e-4, gt=0, description="the reward model's LoRA and head")
    best_of: int = Field(4, ge=1, description="the reward_model rung answers with the best of this many sampled "
                         "replies of the sft model (each sample costs one more generation pass)")
    best_of_temperature: float = Field(0.8, gt=0, description="sampling temperature of those replies (and of "
                                       "GRPO's samples)")
    rl_lr: float = Field(5e-5, gt=0, description="GRPO: peak learning rate of its LoRA")
    rl_steps: int = Field(20, ge=1, description="GRPO: optimizer steps (each generates rl_group x "
                          "rl_prompts_per_step completions: the slow part on a CPU)")
    rl_group: int = Field(4, ge=2, description="GRPO: completions per prompt whose rewards are compared")
    rl_prompts_per_step: int = Field(2, ge=1, description="GRPO: prompts per optimizer step")
    rl_kl: float = Field(0.04, ge=0, description="GRPO: weight of the KL penalty to the reference (the SFT model); "
                         "0 skips the reference pass")


def objective(config: Config, name: str) -> Objective:
    """The preference objective `name` with the config's settings."""
    ac = config.alignment
    beta = ac.simpo_beta if name == "simpo" else ac.beta
    return Objective(name, beta, sft_weight=ac.sft_weight, simpo_gamma=ac.simpo_gamma, orpo_lambda=ac.orpo_lambda,
                     kto_desirable_weight=ac.kto_desirable_weight, kto_undesirable_weight=ac.kto_undesirable_weight)


def preference_train_config(config: Config, lr: float):
    """The train section as the preference rungs use it: their own rate, and alignment.max_steps when set."""
    steps = config.alignment.max_steps or config.train.max_steps
    return config.train.model_copy(update={"lr": lr, "max_steps": steps})


def preference_skip(task: Task, train: list[Example], needs_pairs: bool) -> str | None:
    """Why an alignment rung cannot run on this data, or None."""
    if task.type != "preference":
        return "needs preference data (prompt + chosen + rejected pairs, or KTO's prompt + completion + label)"
    if needs_pairs and train and not any(e.rejected is not None for e in train):
        return "needs chosen/rejected pairs; this data has single labelled completions (KTO's format): use kto"
    return None


def encode_preferences(tokenizer, examples: list[Example], instruction: str | None, max_length: int,
                       single_replies: bool) -> list[EncodedPreference]:
    """Each example's prompt (the zero-shot conversation every rung is scored on) and reply ids, cut to max_length
    (the prompt from the left). `single_replies` (KTO): a pair becomes a desirable and an undesirable item."""
    items = []
    for e in examples:
        prompt = prompt_ids(tokenizer, zero_shot_messages(e, instruction))
        reply = answer_ids(tokenizer, e.answer)
        if e.rejected is not None:
            chosen, rejected = reply, answer_ids(tokenizer, e.rejected)
        else:  # KTO's single reply: desirable or not
            chosen, rejected = (reply, None) if e.desirable else (None, reply)
        room = max(len(r) for r in (chosen, rejected) if r is not None)
        cut = [r[: max(max_length - 1, 1)] if r is not None else None for r in (chosen, rejected)]
        prompt = prompt[-max(max_length - room, 1):]
        if single_replies and e.rejected is not None:
            items += [EncodedPreference(prompt, cut[0], None), EncodedPreference(prompt, None, cut[1])]
        else:
            items.append(EncodedPreference(prompt, *cut))
    return items


class _Scored:
    """What the sft and aligned rungs add after predicting: preference accuracy, chosen drift, KL on their own
    answers (preference tasks only)."""

    task: Task
    config: Config

    def alignment_scores(self, test: list[Example], predictions: list[Prediction]) -> dict | None:
        if self.task.type != "preference":
            return None
        tok, ev = self.tokenizer, self.config.eval
        encoded = encode_preferences(tok, test, self.task.instruction, self.config.data.max_length, False)
        paired = [e.rejected is not None for e in test]
        return preference_scores(
            self.model, [item.prompt for item in encoded],
            [item.chosen if p else None for item, p in zip(encoded, paired)],
            [item.rejected if p else None for item, p in zip(encoded, paired)],
            [answer_ids(tok, p.output) if p.output.strip() else [] for p in predictions],
            ev.batch_size, "fp32", ev.bootstrap_samples, ev.confidence, ev.seed,
        ) | {"reference": self.reference}


class SftRung(_Scored, TunedRung):
    """LoRA on the chosen replies (KTO data: on the desirable completions): what every alignment rung is compared
    with, and what DPO/IPO/KTO/SimPO start from."""

    reference = "the base model"

    def _training_data(self, train, val):
        keep = lambda examples: [e for e in examples if e.desirable is not False]
        return self._encode(keep(train)), self._encode(keep(val))


class AlignedRung(_Scored, TunedRung):
    """One preference objective on a fresh LoRA over the SFT model (ORPO: over the base)."""

    def __init__(self, task: Task, config: Config, name: str, sft_adapter: Callable[[], Path | None] | None,
                 train: list[Example]):
        self.objective = objective(config, name)
        self.lora_config = config.lora.model_copy(update={"dropout": 0.0})
        method = Method(name, _description(name, self.objective, self.lora_config), apply=self._apply_lora,
                        save=peft_save, load=load_aligned, lr=config.alignment.lr)
        super().__init__(task, config, method)
        self.skip_reason = preference_skip(task, train, self.objective.needs_pairs)
        self.sft_adapter = sft_adapter if name != "orpo" else None
        self.started_from: Path | None = None  # the SFT LoRA this rung trained on top of (None: the base)

    @property
    def reference(self) -> str:
        return "the SFT model" if self.started_from is not None else "the base model"

    def _apply_lora(self, model, tokenizer):
        return lora.apply(model, self.lora_config)

    def fit(self, train, val, workdir) -> FitInfo:
        self._load_policy()
        single = self.objective.name == "kto"
        max_length, instruction = self.config.data.max_length, self.task.instruction
        items = encode_preferences(self.tokenizer, train, instruction, max_length, single)
        val_items = encode_preferences(self.tokenizer, val, instruction, max_length, single)
        result = train_preference(self.model, items, val_items, preference_train_config(self.config, self.method.lr),
                                  self.objective, workdir, self.tokenizer.pad_token_id)
        return FitInfo(artifact_dir=self._save_with_sft(workdir), training=training_summary(result))

    def _load_policy(self) -> None:
        """The base in the training dtype, the sft rung's LoRA merged in (when it ran), a fresh LoRA on top."""
        model, self.tokenizer = load_causal_lm(self.config.model.name, dtype=dtype_for(self.config.train.precision))
        self.base_params = count_parameters(model)[1]
        start = self.sft_adapter() if self.sft_adapter is not None else None
        self.started_from = start if start is not None and start.is_dir() else None
        if self.started_from is not None:
            model = merged_sft(model, self.tokenizer, self.started_from, self.config.model.name)
        self.model = self.method.apply(model, self.tokenizer)

    def _save_with_sft(self, workdir: Path) -> Path:
        """The new LoRA (adapter/) and, beside it, the SFT LoRA it was trained on top of (adapter/sft/)."""
        directory = self._save(workdir)
        if self.started_from is not None:
            shutil.copytree(self.started_from, directory / SFT_FOLDER, dirs_exist_ok=True)
        return directory

    def notes(self) -> list[str]:
        start = "the sft rung's LoRA merged into the base" if self.started_from is not None else "the base model"
        return [f"{self.objective.name} trained a fresh LoRA on {start}"]


def merged_sft(model, tokenizer, adapter: Path, base: str):
    """The base with the SFT LoRA merged into its weights (in memory): the model alignment starts from."""
    with quiet_peft():
        return peft_load(model, tokenizer, adapter, base).merge_and_unload()


def load_aligned(model, tokenizer, directory: Path, base: str):
    """What an aligned rung saved, on a fresh base: its SFT LoRA merged in (when it had one), its own LoRA on top."""
    if (directory / SFT_FOLDER).is_dir():
        model = merged_sft(model, tokenizer, directory / SFT_FOLDER, base)
    return peft_load(model, tokenizer, directory, base)


def _description(name: str, objective: Objective, lc) -> str:
    what = {"dpo": "DPO (sigmoid)", "ipo": "IPO", "orpo": "ORPO", "simpo": "SimPO", "kto": "KTO"}.get(name, name)
    start = "on the base" if name == "orpo" else "on the SFT model"
    return f"{what} beta={objective.beta:g}, LoRA r={lc.r} {start}"


def _aligned(name: str) -> Callable[[PlanContext], list]:
    return lambda plan: [AlignedRung(plan.task, plan.config, name, plan.sft_adapter, plan.train)]


def _sft(plan: PlanContext) -> list:
    rung = SftRung(plan.task, plan.config, lora.lora_method(plan.config, "sft"))
    rung.skip_reason = preference_skip(plan.task, plan.train, needs_pairs=False)
    return [rung]


SECTION = SectionSpec("alignment", AlignmentConfig, "preference alignment rungs (dpo, ipo, orpo, simpo, kto, "
                      "reward_model); sft is their baseline")
METHODS = [
    MethodSpec("sft", "LoRA on the chosen replies of preference data: the baseline of the alignment rungs", _sft,
               one_process=True),
    MethodSpec("dpo", "DPO on a fresh LoRA over the SFT model; reference = the SFT model", _aligned("dpo"),
               one_process=True, after_sft=True),
    MethodSpec("ipo", "IPO (DPO's squared-margin variant) over the SFT model", _aligned("ipo"),
               one_process=True, after_sft=True),
    MethodSpec("orpo", "ORPO: SFT + odds-ratio preference term from the base, no reference", _aligned("orpo"),
               one_process=True),
    MethodSpec("simpo", "SimPO: length-normalised margin over the SFT model, no reference", _aligned("simpo"),
               one_process=True, after_sft=True),
    MethodSpec("kto", "KTO on single desirable/undesirable replies over the SFT model", _aligned("kto"),
               one_process=True, after_sft=True),
]
