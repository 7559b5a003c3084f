"""Pick the cheapest rung that is as good as the best one, and say why in plain words.

"As good as" means the paired test against the best rung on the same test items (report.json's `significance`:
McNemar for 0/1 scores, else the paired bootstrap) finds no difference at `eval.alpha`. Without per-item scores
(no paired tests) it falls back to overlapping confidence intervals, a weaker test that calls more rungs tied.
"Cheapest" is the lowest total cost at `decision.expected_predictions` (ladder/cost.py: training once + that many
predictions, priced when the config gives prices); the reason says at which volumes another tied rung would be
cheaper. A fine-tuned rung still improving when training stopped (training.undertrained) is named as such: its score
is a lower bound, never evidence that fine-tuning does not help.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from tunewise.evaluate.significance import p_value
from tunewise.ladder.cost import (
    CostLine,
    cheapest_envelope,
    cost_line,
    seconds_per_prediction,
)
from tunewise.ladder.result import RungResult
from tunewise.report.units import size_text
from tunewise.sections import DecisionConfig


@dataclass
class Recommendation:
    rung: str
    best_rung: str
    tied_with_best: list[str]
    reason: str
    next_steps: list[str] = field(default_factory=list)
    cost: dict | None = None  # report.json's recommendation.cost (cost_section)


def _interval(result: RungResult, metric: str) -> tuple[float, float, float]:
    m = result.metrics[metric]
    return m["value"], m["ci_low"], m["ci_high"]


def _fmt(result: RungResult, metric: str) -> str:
    v, lo, hi = _interval(result, metric)
    return f"{metric} {v:.3f} (95% CI {lo:.3f}–{hi:.3f})"


def recommend(results: list[RungResult], metric: str, significance: dict | None = None,
              alpha: float = 0.05, decision: DecisionConfig | None = None) -> Recommendation:
    """The cheapest rung as good as the best one (see the module docstring), with the reason and what to try next.

    `significance`: every rung against the best by paired tests ({"best", "rows": [{"rung", "p_mcnemar",
    "p_bootstrap", ...}]}), or None to compare confidence intervals. `decision`: the volume and prices the cost is
    weighed at (the config's `decision` section; its defaults when None).
    """
    decision = decision or DecisionConfig()
    best = max(results, key=lambda r: _interval(r, metric)[0])
    p_values = _p_values(significance, best) if significance else None
    if p_values is not None:
        tied = [r for r in results if r is best or p_values.get(r.name, 0.0) >= alpha]
    else:
        _, best_lo, best_hi = _interval(best, metric)
        tied = [r for r in results if _interval(r, metric)[2] >= best_lo and _interval(r, metric)[1] <= best_hi]
    lines = {r.name: cost_line(r, decision) for r in results}
    # Equal lines: fewer bytes on disk first (min keeps the first of equals).
    envelope = cheapest_envelope([lines[r.name] for r in sorted(tied, key=lambda r: r.cost.get("disk_bytes", 0))])
    volume = decision.expected_predictions
    pick_name = [line for start, line in envelope if start <= volume][-1].rung
    pick = next(r for r in tied if r.name == pick_name)
    others = [r for r in results if r not in tied]
    cheaper = cheaper_outside_tie(pick, others, lines, metric)
    by_name = {r.name: r for r in results}
    reason = " ".join([
        _tie_words(pick, best, metric, p_values, alpha),
        *_outside_words(pick, best, others, metric, p_values, alpha),
        _volume_words(pick, tied, envelope, lines, by_name, decision),
        _storage_words(pick),
        *_trade_words(cheaper),
        *_tied_words(pick, tied, p_values),
        *_undertrained_words(results),
    ])
    return Recommendation(pick.name, best.name, [r.name for r in tied], reason, _next_steps(pick, results),
                          cost_section(lines, envelope, decision, cheaper))


def _p_values(significance: dict, best: RungResult) -> dict[str, float] | None:
    """Rung -> p-value of its paired test against the best rung; None when the tests were against another rung."""
    if significance.get("best") != best.name:
        return None
    return {row["rung"]: p_value(row) for row in significance["rows"]}


def cost_section(lines: dict[str, CostLine], envelope: list[tuple[float, CostLine]], decision: DecisionConfig,
                 cheaper: Trade | None = None) -> dict:
    """report.json's recommendation.cost: the volume, the unit, every scored rung's cost line and total there, and
    the volumes at which the cheapest of the tied rungs changes."""
    volume = decision.expected_predictions
    return {
        "expected_predictions": volume,
        "unit": "seconds" if decision.cpu_hour_cost is None else "priced",
        "cpu_hour_cost": decision.cpu_hour_cost,
        "storage_gb_cost": decision.storage_gb_cost,
        "per_rung": {name: {"fixed": _sig(line.fixed), "per_prediction": _sig(line.per_prediction),
                            "total": _sig(line.at(volume))} for name, line in lines.items()},
        "flip_volumes": [{"volume": _sig(start), "from": before.rung, "to": line.rung}
                         for (_, before), (start, line) in zip(envelope, envelope[1:])],
        "cheaper_outside_tie": None if cheaper is None else {
            "rung": cheaper.rung.name, "side": cheaper.side, "volume": _sig(cheaper.volume),
            "points_lower": round(cheaper.points_lower, 1)},
    }


@dataclass
class Trade:
    """A rung outside the tie that would cost less than the pick on one side of a volume, at a lower score."""

    rung: RungResult
    side: str  # "below": cheaper for fewer predictions than `volume`; "above": for more
    volume: float  # where its cost line crosses the pick's (0: cheaper at every volume)
    points_lower: float  # how far its score is below the pick's, in points (metric x 100)


def cheaper_outside_tie(pick: RungResult, others: list[RungResult], lines: dict[str, CostLine],
                        metric: str) -> Trade | None:
    """The best-scoring rung outside the tie that costs less than the pick at some volume (the trade a reader
    weighs: the pick's score against a cheaper rung at low, or high, volumes), or None when none ever does."""
    mine = lines[pick.name]
    for rung in sorted(others, key=lambda r: -_interval(r, metric)[0]):
        line = lines[rung.name]
        gap = (_interval(pick, metric)[0] - _interval(rung, metric)[0]) * 100
        if line.fixed <= mine.fixed and line.per_prediction <= mine.per_prediction:
            return Trade(rung, "above", 0.0, gap)  # cheaper at every volume
        if line.fixed < mine.fixed and line.per_prediction > mine.per_prediction:
            return Trade(rung, "below", (mine.fixed - line.fixed) / (line.per_prediction - mine.per_prediction), gap)
        if line.fixed > mine.fixed and line.per_prediction < mine.per_prediction:
            return Trade(rung, "above", (line.fixed - mine.fixed) / (mine.per_prediction - line.per_prediction), gap)
    return None


def _trade_words(trade: Trade | None) -> list[str]:
    """'Below ~6,600 predictions few_shot_nearest_k3 would cost less (...), at 9.3 points lower accuracy.'"""
    if trade is None:
        return []
    rung = trade.rung
    what = f"{rung.name} ({_setup_words(rung)} + {seconds_text(seconds_per_prediction(rung))} per prediction)"
    if trade.volume <= 0:
        where = f"At any volume {what} would cost less"
    else:
        where = f"{trade.side.capitalize()} {volume_text(trade.volume)} predictions {what} would cost less"
    return [f"{where}, but it scores {trade.points_lower:.1f} points lower and is outside the tie."]


# ---------------------------------------------------------------- the reason, sentence by sentence


def _tie_words(pick: RungResult, best: RungResult, metric: str, p_values: dict | None, alpha: float) -> str:
    if pick is best:
        return f"{pick.name} scores best: {_fmt(pick, metric)}."
    if p_values is not None:
        return (f"{pick.name} ({_fmt(pick, metric)}) is statistically as good as the best rung, {best.name} "
                f"({_fmt(best, metric)}): the paired test on the same test items finds no significant difference "
                f"(p = {p_values[pick.name]:.3g} ≥ {alpha:g}), and {pick.name} costs less at the expected volume.")
    return (f"{pick.name} ({_fmt(pick, metric)}) is statistically as good as the best rung, {best.name} "
            f"({_fmt(best, metric)}): their confidence intervals overlap, and {pick.name} costs less at the "
            "expected volume.")


def _outside_words(pick: RungResult, best: RungResult, others: list[RungResult], metric: str,
                   p_values: dict | None, alpha: float) -> list[str]:
    """The best rung outside the tie, and why it is outside."""
    if not others:
        return []
    runner = max(others, key=lambda r: _interval(r, metric)[0])
    gap = _interval(pick, metric)[0] - _interval(runner, metric)[0]
    why = (f"the paired test against {best.name} gives p = {p_values[runner.name]:.3g} < {alpha:g}"
           if p_values is not None else f"its interval does not reach {best.name}'s")
    return [f"The best rung outside that tie is {runner.name} ({_fmt(runner, metric)}), {gap * 100:.1f} points "
            f"below {pick.name}; {why}."]


def _volume_words(pick: RungResult, tied: list[RungResult], envelope: list[tuple[float, CostLine]],
                  lines: dict[str, CostLine], by_name: dict[str, RungResult], decision: DecisionConfig) -> str:
    """'At 100,000 predictions X costs least (...)', then the volumes at which another tied rung would."""
    volume = decision.expected_predictions
    among = " of the rungs tied with the best" if len(tied) > 1 else ""
    if len(tied) == 1:
        return f"At {volume:,} predictions {pick.name} costs {_line_words(pick, lines[pick.name], volume, decision)}."
    words = (f"At {volume:,} predictions {pick.name} costs least{among} "
             f"({_line_words(pick, lines[pick.name], volume, decision)}).")
    if len(envelope) == 1:
        return words + (" It stays the cheapest of them at any volume." if len(tied) > 1 else "")
    segments = []
    for n, (start, line) in enumerate(envelope):
        rung = by_name[line.rung]
        what = f"{line.rung} ({_setup_words(rung)} + {seconds_text(seconds_per_prediction(rung))} per prediction)"
        if n == 0:
            segments.append(f"below {volume_text(envelope[1][0])} predictions {what}")
        elif n == len(envelope) - 1:
            segments.append(f"above {volume_text(start)} {what}")
        else:
            segments.append(f"from {volume_text(start)} to {volume_text(envelope[n + 1][0])} {what}")
    return words + " The cheapest of the tied rungs changes with the volume: " + ", ".join(segments) + "."


def _line_words(rung: RungResult, line: CostLine, volume: int, decision: DecisionConfig) -> str:
    """'4.2 s training + 0.004 s per prediction = 404 s' (priced: '... = 0.11 at 1 per machine-hour')."""
    words = f"{_setup_words(rung)} + {seconds_text(seconds_per_prediction(rung))} per prediction"
    if decision.cpu_hour_cost is None:
        return f"{words} = {seconds_text(line.at(volume))}"
    storage = " and storage" if decision.storage_gb_cost is not None else ""
    return f"{words} = {line.at(volume):,.4g} at {decision.cpu_hour_cost:g} per machine-hour{storage}"


def _setup_words(rung: RungResult) -> str:
    """A rung's one-time cost in words: training for fine-tuned rungs, setup (demos, an index) for the others."""
    fit_s = rung.cost["fit_wall_s"]
    if fit_s < 0.05:
        return "no training"
    return f"{seconds_text(fit_s)} {'training' if rung.kind == 'fine-tuning' else 'setup'}"


def _storage_words(pick: RungResult) -> str:
    if pick.kind != "fine-tuning":
        return "It needs nothing stored beyond the base model."
    c = pick.cost
    return (f"It keeps {size_text(c['disk_bytes'])} on disk beyond the base model "
            f"({c['trainable_params']:,} trainable parameters).")


def _tied_words(pick: RungResult, tied: list[RungResult], p_values: dict | None) -> list[str]:
    if len(tied) < 2:
        return []
    rest = ", ".join(r.name for r in tied if r is not pick)
    return [f"Also {'not significantly different from' if p_values is not None else 'within'} the best rung: {rest}."]


def _undertrained_words(results: list[RungResult]) -> list[str]:
    names = [r.name for r in undertrained(results)]
    if not names:
        return []
    return [f"Still improving when training stopped (undertrained): {', '.join(names)}; "
            f"{'its score is' if len(names) == 1 else 'their scores are'} a lower bound, not a verdict on "
            "fine-tuning."]


# ---------------------------------------------------------------- next steps


def _next_steps(pick: RungResult, results: list[RungResult]) -> list[str]:
    steps = []
    short = undertrained(results)
    if pick.kind != "fine-tuning":
        tuned = [r for r in results if r.kind == "fine-tuning"]
        use = f"Use the prompt of this rung as it is{' (with its index)' if pick.kind == 'retrieval' else ''}"
        if tuned and not short:
            use += "; fine-tuning did not buy a significant gain on this test set"
        steps += [use + ".", ship_words(pick)]
        steps.append("If you need a higher score, add training data and rerun: a larger test set also narrows the intervals.")
    else:
        steps.append(ship_words(pick))
        t = pick.training or {}
        if "undertrained" not in t and t.get("best_step") is not None and t.get("best_step") == t.get("steps"):
            # Runs from before training.undertrained: the best step being the last one is the same sign.
            steps.append("Validation loss was still falling at the last step: more epochs may gain a little more.")
        elif not t.get("undertrained") and t.get("best_step") is not None:
            steps.append(f"Validation loss was lowest at step {t['best_step']} of {t['steps']}: more epochs will "
                         "not help; more (or cleaner) data might.")
    steps += [more_training_words(r) for r in short]
    return steps


# What `tunewise export` puts in the package, by the folder the rung saved (RungResult.artifact).
PACKAGED = {
    None: "a prompt package: the base model's name, the instruction, the demonstrations it shows",
    "index": "a prompt package with its retrieval index",
    "classifier": "its classifier (safetensors + JSON) and the frozen model's name",
    "model": "the whole fine-tuned model (--format gguf: for llama.cpp)",
    "adapter": "its adapter files and the base model's name (--format merged folds a LoRA, IA3 or freeze rung into "
               "the base; --format gguf: for llama.cpp)",
}


def ship_words(pick: RungResult) -> str:
    """How to ship the pick: the export command, what the folder holds, and the commands that use it."""
    folder = f"<run folder>/exports/{pick.name}-package"
    holds = PACKAGED.get(pick.artifact, f"its files (rungs/{pick.name}/{pick.artifact}/)")
    return (f"Ship it: `tunewise export <run folder> --rung {pick.name}` writes {folder} ({holds}); "
            f"`tunewise predict {folder} DATA` predicts a file offline and `tunewise serve {folder}` answers POST "
            "/v1/classify (classification) or /v1/predict, as the rung was scored.")


def undertrained(results: list[RungResult]) -> list[RungResult]:
    """The fine-tuned rungs whose validation loss was still improving when training stopped."""
    return [r for r in results if r.kind == "fine-tuning" and (r.training or {}).get("undertrained", False)]


def more_training_words(result: RungResult) -> str:
    """'lora was still improving when it stopped after 1 epoch (372 s); another epoch would cost about 372 s: rerun
    with train.max_epochs: 2' — the setting to raise depends on what stopped it (training.stop_reason)."""
    t = result.training or {}
    fit_s, epochs, stop = result.cost["fit_wall_s"], t.get("epochs_done") or 0.0, t.get("stop_reason")
    per_epoch = fit_s / epochs if epochs > 0 else None
    if stop == "max_steps":
        how = f"rerun with a larger train.max_steps (it stopped at step {t.get('steps')})"
    elif stop == "time_budget":
        minutes = math.ceil((fit_s + (per_epoch or fit_s)) / 60)
        how = f"rerun with train.max_minutes: {minutes}"
    else:
        more = math.ceil(epochs + 1 - 1e-6)
        how = f"rerun with train.max_epochs: {more} (or train.epochs: {more} where the config sets epochs)"
    done = f"{round(epochs, 2):g} epoch{'' if round(epochs, 2) == 1 else 's'}"
    cost = (f"another epoch would cost about {seconds_text(per_epoch)}" if per_epoch is not None
            else "more training would cost more time")
    return f"{result.name} was still improving when it stopped after {done} ({seconds_text(fit_s)}); {cost}: {how}."


# ---------------------------------------------------------------- numbers in words


def seconds_text(s: float) -> str:
    """0.004 s, 4.12 s, 372 s, 27,400 s (7.6 h)."""
    if s < 0.01:
        return f"{s:.2g} s"
    if s < 100:
        return f"{s:.3g} s"
    hours = f" ({s / 3600:.1f} h)" if s >= 3600 else ""
    return f"{s:,.0f} s{hours}"


def volume_text(v: float) -> str:
    """A flip volume to two significant digits: ~310, ~12,000 (~0.35 below ten)."""
    if v < 10:
        return f"~{v:.2g}"
    return f"~{float(f'{v:.2g}'):,.0f}"


def _sig(x: float) -> float:
    """Six significant digits: what report.json keeps of a cost."""
    return float(f"{x:.6g}")
