"""The reward model rung: the decoder with a fresh LoRA and a linear head on the last token of (prompt, reply), trained
with the Bradley-Terry loss on the preference pairs (the preference recipe, train/preference.py, with its scores in
place of log-probs). It answers by best-of-n: n sampled replies of the sft model, the one it scores highest.

It also scores for the rest of the run: held-out pairwise accuracy (its own alignment block), and every alignment
rung's answers against sft's (win rate by the reward model, ladder/run.py). Saved: the LoRA in PEFT's layout
(adapter/) plus the head (adapter/reward_head.safetensors).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

from tunewise.evaluate.generate import generate
from tunewise.evaluate.likelihood import autocast
from tunewise.evaluate.predict import PRECISION, prompt_token_ids
from tunewise.evaluate.stats import bootstrap_mean_ci
from tunewise.methods import lora
from tunewise.methods.alignment import (
    encode_preferences,
    preference_skip,
    preference_train_config,
)
from tunewise.methods.spec import MethodSpec, PlanContext
from tunewise.methods.tuned import TunedRung, peft_load, quiet_peft
from tunewise.models.chat_template import answer_ids, prompt_ids
from tunewise.models.load import count_parameters, dtype_for, eval_dtype, load_causal_lm
from tunewise.prompting.templates import zero_shot_messages
from tunewise.records import Example, FitInfo, Prediction
from tunewise.sections import SamplingConfig
from tunewise.train.loop import training_summary
from tunewise.train.loss import decoder_and_head
from tunewise.train.preference import Objective, train_preference

if TYPE_CHECKING:
    from tunewise.config import Config
    from tunewise.task import Task

HEAD_FILE = "reward_head.safetensors"


class RewardModel(nn.Module):
    """A causal LM with LoRA (`decoder`) and a linear head (`head`, hidden -> 1) on the last token's hidden state."""

    def __init__(self, decoder: nn.Module, hidden_size: int):
        super().__init__()
        self.decoder = decoder
        self.head = nn.Linear(hidden_size, 1)  # fp32, trained with the LoRA
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)  # every reply scores 0 before training: the first loss is log 2

    def get_base_model(self) -> nn.Module:
        """The transformers model inside (the training loop switches its attention kernel)."""
        return self.decoder.get_base_model()


def reward_scores(model: RewardModel, prompts: Sequence[list[int]], replies: Sequence[list[int]],
                  pad_id: int) -> tuple[Tensor, Tensor]:
    """((R,) the reward model's score of each (prompt, reply) row, (R,) each reply's token count)."""
    device = next(model.parameters()).device
    rows = [list(p) + list(r) for p, r in zip(prompts, replies)]
    width = max(len(row) for row in rows)
    input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        input_ids[i, : len(row)] = torch.tensor(row)
        attention_mask[i, : len(row)] = 1
    body, _ = decoder_and_head(model.decoder)
    hidden = body(input_ids=input_ids.to(device), attention_mask=attention_mask.to(device),
                  use_cache=False).last_hidden_state  # (R, T, C)
    last = torch.tensor([len(row) - 1 for row in rows], device=device)  # each row's final token (its end of turn)
    scores = model.head(hidden[torch.arange(len(rows), device=device), last]).squeeze(-1).float()  # (R,)
    return scores, torch.tensor([len(r) for r in replies], device=device, dtype=torch.float32)


@torch.no_grad()
def score_replies(model: RewardModel, prompts: Sequence[list[int]], replies: Sequence[list[int]], pad_id: int,
                  batch_size: int) -> np.ndarray:
    """(N,) reward of each (prompt, reply), in batches (eval mode, the model's own dtype)."""
    model.eval()
    device = next(model.parameters()).device
    out = np.empty(len(prompts))
    with autocast(PRECISION, device):
        for start in range(0, len(prompts), batch_size):
            rows = slice(start, start + batch_size)
            out[rows] = reward_scores(model, prompts[rows], replies[rows], pad_id)[0].cpu().numpy()
    return out


def save_reward_model(model: RewardModel, directory: Path) -> None:
    model.decoder.save_pretrained(str(directory))
    save_file({k: v.detach().contiguous() for k, v in model.head.state_dict().items()}, str(directory / HEAD_FILE))


def load_reward_model(directory: Path, config: Config) -> tuple[RewardModel, object]:
    """(reward model, tokenizer) as a reward rung saved them, on a fresh base, in the dtype rungs predict with."""
    base, tokenizer = load_causal_lm(config.model.name, dtype=eval_dtype(config))
    with quiet_peft():
        decoder = peft_load(base, tokenizer, directory, config.model.name)
    model = RewardModel(decoder, base.config.hidden_size)
    model.head.load_state_dict(load_file(str(directory / HEAD_FILE)))
    return model.to(eval_dtype(config)).eval(), tokenizer


def win_rate(rewards: np.ndarray, baseline: np.ndarray, n_resamples: int, confidence: float, seed: int) -> dict:
    """Share of items whose reward beats the baseline's (ties count half), with its bootstrap CI."""
    wins = (rewards > baseline) + 0.5 * (rewards == baseline)
    low, high = bootstrap_mean_ci(wins.tolist(), n_resamples, confidence, seed)
    return {"value": float(wins.mean()), "ci_low": low, "ci_high": high}


def reward_win_rates(directory: Path, config: Config, task: Task, test: list[Example], baseline: list[str],
                     answers: dict[str, list[str]]) -> dict[str, dict]:
    """For each rung in `answers` (its answers to `test`, in order): the share of test prompts where the reward model
    saved in `directory` prefers its answer to `baseline`'s (sft's), with its CI."""
    model, tokenizer = load_reward_model(directory, config)
    ev, pad = config.eval, tokenizer.pad_token_id
    prompts = [prompt_ids(tokenizer, zero_shot_messages(e, task.instruction)) for e in test]
    score = lambda texts: score_replies(model, prompts, [answer_ids(tokenizer, t) for t in texts], pad, ev.batch_size)
    base = score(baseline)
    return {name: win_rate(score(texts), base, ev.bootstrap_samples, ev.confidence, ev.seed)
            for name, texts in answers.items()}


class RewardRung(TunedRung):
    """A Bradley-Terry reward model; it answers with the best of n sampled replies of the sft model."""

    reference = "the base model"

    def __init__(self, task: Task, config: Config, sft_adapter: Callable[[], Path | None] | None,
                 train: list[Example]):
        self.lora_config = config.lora.model_copy(update={"dropout": 0.0})
        n = config.alignment.best_of
        method = lora.lora_method(config, "reward_model", dropout=0.0)
        method.description = (f"Bradley-Terry reward model (LoRA r={self.lora_config.r} + linear head), answering "
                              f"with the best of {n} sampled replies of the sft model")
        method.lr = config.alignment.reward_lr
        super().__init__(task, config, method)
        self.skip_reason = preference_skip(task, train, needs_pairs=True)
        self.sft_adapter = sft_adapter
        self.policy = None

    def fit(self, train, val, workdir) -> FitInfo:
        base, self.tokenizer = load_causal_lm(self.config.model.name, dtype=dtype_for(self.config.train.precision))
        self.base_params = count_parameters(base)[1]
        self.model = RewardModel(lora.apply(base, self.lora_config), base.config.hidden_size)
        encode = lambda examples: encode_preferences(self.tokenizer, examples, self.task.instruction,
                                                     self.config.data.max_length, single_replies=False)
        cfg = preference_train_config(self.config, self.method.lr)
        result = train_preference(self.model, encode(train), encode(val), cfg, Objective("bradley_terry", beta=1.0),
                                  workdir, self.tokenizer.pad_token_id, score_rows=reward_scores)
        directory = workdir / "adapter"
        self.model.to(eval_dtype(self.config))
        save_reward_model(self.model, directory)
        return FitInfo(artifact_dir=directory, training=training_summary(result))

    def restore(self, train, artifact_dir: Path | None) -> None:
        self.model, self.tokenizer = load_reward_model(Path(artifact_dir), self.config)

    def predict(self, test: list[Example]) -> list[Prediction]:
        return self.predict_task(self.task, test)

    def predict_task(self, task: Task, test: list[Example]) -> list[Prediction]:
        """The best of alignment.best_of sampled replies of the sft model by this reward model; the alignment
        block holds the reward model's own pairwise accuracy on the test pairs."""
        ev, pad = self.config.eval, self.tokenizer.pad_token_id
        self.model.to(eval_dtype(self.config)).eval()
        policy = self._sft_policy()
        prompts = prompt_token_ids(policy, self.tokenizer, [zero_shot_messages(e, task.instruction) for e in test],
                                   ev.max_new_tokens)
        candidates, rewards = [], []
        for k in range(self.config.alignment.best_of):
            sampling = SamplingConfig(temperature=self.config.alignment.best_of_temperature, seed=ev.seed + k)
            texts = generate(policy, self.tokenizer, prompts, ev.max_new_tokens, ev.batch_size, PRECISION,
                             stop=ev.stop, sampling=sampling)
            candidates.append(texts)
            rewards.append(score_replies(self.model, prompts, [answer_ids(self.tokenizer, t) for t in texts], pad,
                                         ev.batch_size))
        best = np.argmax(np.stack(rewards), axis=0)  # (N,) the candidate with the highest reward per prompt
        return [Prediction(id=e.id, output=candidates[k][i], prompt_tokens=len(prompts[i]),
                           details={"reward": float(rewards[k][i]), "candidate": int(k)})
                for i, (e, k) in enumerate(zip(test, best))]

    def alignment_scores(self, test: list[Example], predictions: list[Prediction]) -> dict:
        """The reward model's own block: its pairwise accuracy on the test pairs."""
        return self.pairwise_accuracy(test, self.task) | {"reference": self.reference}

    def pairwise_accuracy(self, test: list[Example], task: Task) -> dict:
        """Share of test pairs whose chosen reply the reward model scores above the rejected one, with its CI."""
        pairs = [e for e in test if e.rejected is not None]
        if not pairs:
            return {"pairs": 0}
        ev, pad = self.config.eval, self.tokenizer.pad_token_id
        prompts = [prompt_ids(self.tokenizer, zero_shot_messages(e, task.instruction)) for e in pairs]
        chosen = score_replies(self.model, prompts, [answer_ids(self.tokenizer, e.answer) for e in pairs], pad,
                               ev.batch_size)
        rejected = score_replies(self.model, prompts, [answer_ids(self.tokenizer, e.rejected) for e in pairs], pad,
                                 ev.batch_size)
        right = (chosen > rejected).astype(float)
        low, high = bootstrap_mean_ci(right.tolist(), ev.bootstrap_samples, ev.confidence, ev.seed)
        return {"pairs": len(pairs), "reward_accuracy": {"value": float(right.mean()), "ci_low": low, "ci_high": high}}

    def _sft_policy(self):
        """The model the reward model picks among: the sft rung's LoRA on the base (the base when sft has not run)."""
        if self.policy is None:
            base, _ = load_causal_lm(self.config.model.name, dtype=eval_dtype(self.config))
            adapter = self.sft_adapter() if self.sft_adapter is not None else None
            if adapter is not None and adapter.is_dir():
                with quiet_peft():
                    base = peft_load(base, self.tokenizer, adapter, self.config.model.name)
            self.policy = base.eval()
        return self.policy

    def language_model(self):
        """No language model of its own to check for forgetting (it scores; the sft rung's model answers)."""
        return None

    def parameters(self):
        return count_parameters(self.model)


def _reward(plan: PlanContext) -> list:
    return [RewardRung(plan.task, plan.config, plan.sft_adapter, plan.train)]


SECTION = None  # its settings live in the alignment section (reward_lr, best_of, best_of_temperature)
METHODS = [
    MethodSpec("reward_model", "Bradley-Terry reward model (LoRA + head); answers with the best of n sft samples",
               _reward, one_process=True, after_sft=True),
]
