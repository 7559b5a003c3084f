"""Recommendation: the cheapest rung as good as the best one (paired test, else overlapping CIs); cheapest at the
default volume, decision.expected_predictions (100,000): training once + that many predictions (the cost model's own
tests: test_recommend_cost.py)."""
from tunewise.ladder.recommend import recommend
from tunewise.ladder.result import RungResult


def _rung(name, kind, value, lo, hi, fit_s=0.0, disk=0, per_example=0.001):
    cost = {"fit_wall_s": fit_s, "predict_wall_s": per_example * 100, "predict_s_per_example": per_example,
            "peak_rss_bytes": 1, "trainable_params": 0, "total_params": 10, "disk_bytes": disk}
    return RungResult(name, kind, "", {"accuracy": {"value": value, "ci_low": lo, "ci_high": hi}}, cost)


def test_clear_winner_is_recommended_with_the_gap():
    results = [_rung("zero_shot", "prompting", 0.30, 0.25, 0.35),
               _rung("lora", "fine-tuning", 0.90, 0.86, 0.94, fit_s=300, disk=10_000_000)]
    rec = recommend(results, "accuracy")
    assert rec.rung == "lora" and rec.best_rung == "lora"
    assert "60.0 points" in rec.reason and "zero_shot" in rec.reason


def test_cheaper_rung_wins_when_intervals_overlap():
    results = [_rung("zero_shot", "prompting", 0.80, 0.75, 0.85, per_example=0.001),
               _rung("few_shot_balanced_k3", "prompting", 0.82, 0.77, 0.87, per_example=0.002),
               _rung("lora", "fine-tuning", 0.84, 0.80, 0.88, fit_s=300, disk=10_000_000)]
    rec = recommend(results, "accuracy")  # 100 s, 200 s, 300 s + 100 s
    assert rec.rung == "zero_shot"
    assert rec.best_rung == "lora"
    assert set(rec.tied_with_best) == {"zero_shot", "few_shot_balanced_k3", "lora"}
    assert "no training" in rec.reason


def test_next_steps_read_the_training_curve():
    still_falling = _rung("lora", "fine-tuning", 0.9, 0.86, 0.94, fit_s=300, disk=1)
    still_falling.training = {"steps": 100, "best_step": 100}
    assert any("still falling" in s for s in recommend([still_falling], "accuracy").next_steps)
    bottomed = _rung("lora", "fine-tuning", 0.9, 0.86, 0.94, fit_s=300, disk=1)
    bottomed.training = {"steps": 100, "best_step": 40}
    assert any("lowest at step 40 of 100" in s for s in recommend([bottomed], "accuracy").next_steps)


def _significance(best, **p_values):
    rows = [{"rung": name, "p_mcnemar": p, "p_bootstrap": 1.0} for name, p in p_values.items()]
    return {"best": best, "rows": rows}


def test_the_paired_test_decides_what_is_as_good_as_the_best():
    """Overlapping intervals, but the paired test separates zero_shot from lora: only few_shot stays tied."""
    results = [_rung("zero_shot", "prompting", 0.80, 0.75, 0.85, per_example=0.001),
               _rung("few_shot_balanced_k3", "prompting", 0.82, 0.77, 0.87, per_example=0.002),
               _rung("lora", "fine-tuning", 0.84, 0.80, 0.88, fit_s=300, disk=10_000_000)]
    rec = recommend(results, "accuracy", _significance("lora", zero_shot=0.01, few_shot_balanced_k3=0.3))
    assert rec.rung == "few_shot_balanced_k3" and set(rec.tied_with_best) == {"few_shot_balanced_k3", "lora"}
    assert "p = 0.3" in rec.reason and "p = 0.01 < 0.05" in rec.reason
    # A stricter level ties zero_shot too, and the cheapest of the three wins.
    assert recommend(results, "accuracy", _significance("lora", zero_shot=0.01, few_shot_balanced_k3=0.3),
                     alpha=0.005).rung == "zero_shot"
    # Significant everywhere: the best rung itself.
    assert recommend(results, "accuracy", _significance("lora", zero_shot=0.001, few_shot_balanced_k3=0.02)).rung == "lora"
