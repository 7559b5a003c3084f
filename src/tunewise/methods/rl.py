"""On-policy RL from feedback: GRPO through TRL's GRPOTrainer (the well-kept implementation; tunewise does not carry
its own), optimising a fresh LoRA over the SFT model against the task's judge, or the run's reward model when there
is no judge. KL to the reference (the SFT model: the policy with its adapter disabled) is penalised by
alignment.rl_kl and reported.

Why GRPO and not PPO: TRL removed PPO in 1.x. GRPO needs no value model (it compares the rewards of a group of
completions of the same prompt), so it fits a CPU: a small group, short completions. It is still the slowest rung
(every step generates group x prompts completions with model.generate): opt-in, never in the default plan.
Needs the `rl` extra (TRL and datasets): `pip install tunewise[rl]`.
"""
from __future__ import annotations

import importlib.util
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from tunewise.methods.alignment import AlignedRung
from tunewise.methods.reward import load_reward_model, score_replies
from tunewise.methods.spec import MethodSpec, PlanContext
from tunewise.models.chat_template import answer_ids, prompt_ids, with_system
from tunewise.prompting.templates import zero_shot_messages
from tunewise.records import Example, FitInfo
from tunewise.train.loop import TrainResult, training_summary

if TYPE_CHECKING:
    from tunewise.config import Config
    from tunewise.task import Task


def rl_skip(task: Task, has_reward_model: bool) -> str | None:
    """Why the GRPO rung cannot run here, or None."""
    if importlib.util.find_spec("trl") is None or importlib.util.find_spec("datasets") is None:
        return "needs TRL and datasets: pip install 'tunewise[rl]'"
    if task.type not in ("preference", "generation"):
        return "optimises generated answers: needs a preference or generation task"
    if task.judge is None and not has_reward_model:
        return "needs a reward: set task.judge, or plan the reward_model rung (preference data)"
    return None


class GrpoRung(AlignedRung):
    """GRPO (TRL) on a fresh LoRA over the SFT model, rewarded by the judge or the run's reward model."""

    def __init__(self, task: Task, config: Config, sft_adapter: Callable[[], Path | None] | None,
                 reward_model: Callable[[], Path | None] | None, train: list[Example], has_reward_model: bool):
        super().__init__(task, config, "grpo", sft_adapter, train)  # the aligned rungs' start, saving and scoring
        ac = config.alignment
        reward = "the judge" if task.judge is not None else "the run's reward model"
        self.description = self.method.description = (
            f"GRPO (TRL) from {reward}: groups of {ac.rl_group}, {ac.rl_steps} steps, KL weight {ac.rl_kl:g}, LoRA "
            f"r={self.lora_config.r} on the SFT model")
        self.skip_reason = rl_skip(task, has_reward_model)
        self.reward_model = reward_model

    def fit(self, train, val, workdir) -> FitInfo:
        self._load_policy()
        started = time.perf_counter()
        log = self._train_grpo(train, workdir)
        result = _train_result(log, time.perf_counter() - started, self.config.alignment.rl_lr)
        return FitInfo(artifact_dir=self._save_with_sft(workdir), training=training_summary(result))

    def _train_grpo(self, train: list[Example], workdir: Path) -> list[dict]:
        """TRL's GRPOTrainer on the training prompts; returns its per-step log (reward, KL, loss)."""
        from datasets import Dataset
        from trl import GRPOConfig, GRPOTrainer

        ac, cfg = self.config.alignment, self.config.train
        prompts = [with_system(zero_shot_messages(e, self.task.instruction)) for e in train]
        args = GRPOConfig(
            output_dir=str(workdir / "trl"), num_generations=ac.rl_group,
            per_device_train_batch_size=ac.rl_group * ac.rl_prompts_per_step, max_steps=ac.rl_steps,
            max_completion_length=self.config.eval.max_new_tokens, learning_rate=ac.rl_lr, beta=ac.rl_kl,
            temperature=ac.best_of_temperature, logging_steps=1, save_strategy="no", report_to="none",
            seed=cfg.seed, use_cpu=not torch.cuda.is_available(), bf16=cfg.precision == "bf16",
            gradient_checkpointing=False, disable_dropout=True, warmup_steps=int(cfg.warmup_ratio * ac.rl_steps),
            lr_scheduler_type="cosine" if cfg.schedule == "cosine" else "linear",
        )
        trainer = GRPOTrainer(model=self.model, reward_funcs=self._reward_function(), args=args,
                              train_dataset=Dataset.from_list([{"prompt": p} for p in prompts]),
                              processing_class=self.tokenizer)
        trainer.train()
        self.model = trainer.model
        return [entry for entry in trainer.state.log_history if "reward" in entry]

    def _reward_function(self):
        """TRL's reward function: the judge's score of each completion (or the reward model's)."""
        judge = self.task.judge
        if judge is not None:
            def judged(prompts, completions, **_):
                return [judge.score(_last_user(p), c[-1]["content"] if isinstance(c, list) else c, "a GRPO sample")
                        for p, c in zip(prompts, completions)]
            return judged
        model, tokenizer = load_reward_model(self.reward_model(), self.config)

        def rewarded(prompts, completions, **_):
            ids = [prompt_ids(tokenizer, p) for p in prompts]
            texts = [c[-1]["content"] if isinstance(c, list) else c for c in completions]
            return score_replies(model, ids, [answer_ids(tokenizer, t) for t in texts], tokenizer.pad_token_id,
                                 self.config.eval.batch_size).tolist()
        return rewarded

    def notes(self) -> list[str]:
        start = "the sft rung's LoRA merged into the base" if self.started_from is not None else "the base model"
        return [f"grpo (TRL GRPOTrainer) trained a fresh LoRA on {start}"]


def _last_user(prompt) -> str:
    return next(m["content"] for m in reversed(prompt) if m["role"] == "user") if isinstance(prompt, list) else prompt


def _train_result(log: list[dict], wall_s: float, lr: float) -> TrainResult:
    """TRL's log as tunewise's TrainResult: one train event per step with its mean reward and KL."""
    events = [{"event": "train", "step": int(e.get("step", i + 1)), "epoch": e.get("epoch"), "loss": e.get("loss"),
               "val_loss": None, "lr": e.get("learning_rate"), "grad_norm": e.get("grad_norm"),
               "reward": e.get("reward"), "kl": e.get("kl"), "elapsed_s": None}
              for i, e in enumerate(log)]
    return TrainResult(steps=len(events), epochs_done=float(events[-1]["epoch"] or 0) if events else 0.0,
                       best_step=None, best_val_loss=None,
                       final_train_loss=float(events[-1]["loss"] or 0) if events else float("nan"), real_tokens=0,
                       padded_tokens=0, wall_s=wall_s, tokens_per_s=0.0, lr=lr, stop_reason="max_steps", log=events)


def _grpo(plan: PlanContext) -> list:
    has_reward_model = "reward_model" in (plan.config.methods or [])
    return [GrpoRung(plan.task, plan.config, plan.sft_adapter, plan.reward_model, plan.train, has_reward_model)]


SECTION = None  # its settings live in the alignment section (rl_*)
METHODS = [
    MethodSpec("grpo", "GRPO (TRL) from the judge or the reward model, over the SFT model; slow, opt-in",
               _grpo, one_process=True, after_sft=True, thorough=False),
]
