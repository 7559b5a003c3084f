"""Pick the cheapest rung that is as good as the best one, and say why in plain words.

"As good as" means the paired test against the best rung on the same test items (report.json's `significance`:
McNemar for 0/1 scores, else the paired bootstrap) finds no difference at `eval.alpha`. Without per-item scores
(no paired tests) it falls back to overlapping confidence intervals, a weaker test that calls more rungs tied.
"Cheapest" orders by training time, then bytes on disk beyond the base model, then prediction time.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from tunewise.evaluate.significance import p_value
from tunewise.ladder.result import RungResult


@dataclass
class Recommendation:
    rung: str
    best_rung: str
    tied_with_best: list[str]
    reason: str
    next_steps: list[str] = field(default_factory=list)


def cost_key(result: RungResult) -> tuple[float, int, float]:
    """Training seconds, then storage bytes, then prediction seconds."""
    c = result.cost
    return (c["fit_wall_s"] if result.kind != "prompting" else 0.0, c["disk_bytes"], c["predict_wall_s"])


def _interval(result: RungResult, metric: str) -> tuple[float, float, float]:
    m = result.metrics[metric]
    return m["value"], m["ci_low"], m["ci_high"]


def _fmt(result: RungResult, metric: str) -> str:
    v, lo, hi = _interval(result, metric)
    return f"{metric} {v:.3f} (95% CI {lo:.3f}–{hi:.3f})"


def recommend(results: list[RungResult], metric: str, significance: dict | None = None,
              alpha: float = 0.05) -> Recommendation:
    """The cheapest rung as good as the best one (see the module docstring), with the reason and what to try next.

    `significance`: every rung against the best by paired tests ({"best", "rows": [{"rung", "p_mcnemar",
    "p_bootstrap", ...}]}), or None to compare confidence intervals.
    """
    best = max(results, key=lambda r: _interval(r, metric)[0])
    p_values = _p_values(significance, best) if significance else None
    if p_values is not None:
        tied = [r for r in results if r is best or p_values.get(r.name, 0.0) >= alpha]
    else:
        _, best_lo, best_hi = _interval(best, metric)
        tied = [r for r in results if _interval(r, metric)[2] >= best_lo and _interval(r, metric)[1] <= best_hi]
    pick = min(tied, key=cost_key)
    others = [r for r in results if r not in tied]
    reason = _reason(pick, best, tied, others, metric, p_values, alpha)
    return Recommendation(pick.name, best.name, [r.name for r in tied], reason, _next_steps(pick, best, results))


def _p_values(significance: dict, best: RungResult) -> dict[str, float] | None:
    """Rung -> p-value of its paired test against the best rung; None when the tests were against another rung."""
    if significance.get("best") != best.name:
        return None
    return {row["rung"]: p_value(row) for row in significance["rows"]}


def _reason(pick: RungResult, best: RungResult, tied, others, metric: str, p_values: dict | None,
            alpha: float) -> str:
    parts = []
    if pick is best:
        parts.append(f"{pick.name} scores best: {_fmt(pick, metric)}.")
    elif p_values is not None:
        parts.append(
            f"{pick.name} ({_fmt(pick, metric)}) is statistically as good as the best rung, {best.name} "
            f"({_fmt(best, metric)}): the paired test on the same test items finds no significant difference "
            f"(p = {p_values[pick.name]:.3g} ≥ {alpha:g}), and {pick.name} is cheaper."
        )
    else:
        parts.append(
            f"{pick.name} ({_fmt(pick, metric)}) is statistically as good as the best rung, {best.name} "
            f"({_fmt(best, metric)}): their confidence intervals overlap, and {pick.name} is cheaper."
        )
    if others:
        runner = max(others, key=lambda r: _interval(r, metric)[0])
        gap = _interval(pick, metric)[0] - _interval(runner, metric)[0]
        why = (f"the paired test against {best.name} gives p = {p_values[runner.name]:.3g} < {alpha:g}"
               if p_values is not None else f"its interval does not reach {best.name}'s")
        parts.append(
            f"The best rung outside that tie is {runner.name} ({_fmt(runner, metric)}), {gap * 100:.1f} points "
            f"below {pick.name}; {why}."
        )
    if pick.kind == "prompting":
        parts.append("It needs no training and nothing stored beyond the base model.")
    else:
        c = pick.cost
        parts.append(
            f"It costs {c['fit_wall_s']:.0f} s of training on this machine, {c['trainable_params']:,} trainable "
            f"parameters and {c['disk_bytes'] / 1e6:.1f} MB on disk beyond the base model."
        )
    if len(tied) > 1:
        rest = ", ".join(r.name for r in tied if r is not pick)
        parts.append(f"Also {'not significantly different from' if p_values is not None else 'within'} the best "
                     f"rung: {rest}.")
    return " ".join(parts)


def _next_steps(pick: RungResult, best: RungResult, results: list[RungResult]) -> list[str]:
    steps = []
    if pick.kind == "prompting":
        steps.append("Use the prompt of this rung as it is; fine-tuning did not buy a significant gain on this test set.")
        steps.append("If you need a higher score, add training data and rerun: a larger test set also narrows the intervals.")
    else:
        steps.append(f"Ship the {pick.name} adapter (rungs/{pick.name}/adapter) on the base model.")
        t = pick.training or {}
        if t.get("best_step") is not None and t.get("best_step") == t.get("steps"):
            steps.append("Validation loss was still falling at the last step: more epochs may gain a little more.")
        elif t.get("best_step") is not None:
            steps.append(f"Validation loss was lowest at step {t['best_step']} of {t['steps']}: more epochs will "
                         "not help; more (or cleaner) data might.")
    return steps
