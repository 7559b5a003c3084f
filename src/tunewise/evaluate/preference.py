"""How an aligned model is scored beyond its generated answers: held-out preference accuracy, the drift of the chosen
replies' log-probs, and the KL to the model it started from on its own answers.

The reference is the same model with its adapter disabled: the SFT model for the alignment rungs, the base for
`sft`. Log-probs are summed over a reply's tokens (end-of-turn included) after its own prompt.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tunewise.evaluate.likelihood import score_pairs
from tunewise.evaluate.stats import bootstrap_mean_ci

Ids = list[int]


def preference_scores(model, prompts: Sequence[Ids], chosen: Sequence[Ids | None], rejected: Sequence[Ids | None],
                      generated: Sequence[Ids], batch_size: int, precision: str, n_resamples: int = 1000,
                      confidence: float = 0.95, seed: int = 0) -> dict:
    """{preference_accuracy, implicit_reward_accuracy, chosen_logp_drift, kl_to_reference, ...} on the test prompts,
    each with its bootstrap CI where it is a mean over items.

    preference_accuracy: pairs whose chosen reply the model finds more likely than the rejected one (absolute: when
    the two replies differ in more than what makes one better, their wording decides it as much as the preference).
    implicit_reward_accuracy: pairs where the model raised the chosen reply's log-prob more (or lowered it less) than
    the rejected one's, relative to the reference: DPO's implicit reward, (pc - rc) > (pr - rr).
    chosen_logp_drift: mean log p(chosen) now minus under the reference (negative: the chosen replies lost
    likelihood, as DPO can do). kl_to_reference: mean over test prompts of log p(y) - log p_ref(y) summed over the
    model's own greedy answer y, a one-sample estimate of KL(model || reference) per answer (and per token).
    """
    paired = [i for i, (c, r) in enumerate(zip(chosen, rejected)) if c is not None and r is not None]
    ci = dict(n_resamples=n_resamples, confidence=confidence, seed=seed)
    out: dict = {"pairs": len(paired)}
    if paired:
        pc = _logps(model, [prompts[i] for i in paired], [chosen[i] for i in paired], batch_size, precision)
        pr = _logps(model, [prompts[i] for i in paired], [rejected[i] for i in paired], batch_size, precision)
        with model.disable_adapter():
            rc = _logps(model, [prompts[i] for i in paired], [chosen[i] for i in paired], batch_size, precision)
            rr = _logps(model, [prompts[i] for i in paired], [rejected[i] for i in paired], batch_size, precision)
        out["preference_accuracy"] = _mean_ci((pc > pr).astype(float), **ci)
        out["implicit_reward_accuracy"] = _mean_ci(((pc - rc) > (pr - rr)).astype(float), **ci)
        out["chosen_logp_drift"] = _mean_ci(pc - rc, **ci)
        out["item_preference_right"] = (pc > pr).tolist()
    answered = [i for i, g in enumerate(generated) if g]
    if answered:
        own = _logps(model, [prompts[i] for i in answered], [generated[i] for i in answered], batch_size, precision)
        with model.disable_adapter():
            ref = _logps(model, [prompts[i] for i in answered], [generated[i] for i in answered], batch_size,
                         precision)
        kl = own - ref
        out["kl_to_reference"] = _mean_ci(kl, **ci)
        out["kl_per_token"] = float(kl.sum() / sum(len(generated[i]) for i in answered))
    return out


def _logps(model, prompts: Sequence[Ids], replies: Sequence[Ids], batch_size: int, precision: str) -> np.ndarray:
    return score_pairs(model, list(zip(prompts, replies)), batch_size=batch_size, precision=precision)


def _mean_ci(values: np.ndarray, n_resamples: int, confidence: float, seed: int) -> dict:
    low, high = bootstrap_mean_ci(values.tolist(), n_resamples, confidence, seed)
    return {"value": float(np.mean(values)), "ci_low": low, "ci_high": high}
