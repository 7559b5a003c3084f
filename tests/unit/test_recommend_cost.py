"""The cost model behind the recommendation (training once + volume x prediction, optionally priced), the volume at
which the cheapest tied rung changes, undertrained fine-tuned rungs (never a verdict on fine-tuning), and how the
report's tables show prediction cost; all on constructed rung results, no model."""
from __future__ import annotations

import re

import pytest

from tunewise.config import config_from_dict
from tunewise.errors import ConfigError
from tunewise.ladder.cost import CostLine, cheapest_envelope
from tunewise.ladder.recommend import recommend
from tunewise.ladder.result import RungResult
from tunewise.report.html import html_report
from tunewise.report.render import markdown, terminal_table
from tunewise.sections import DecisionConfig

TIED = {"value": 0.95, "ci_low": 0.92, "ci_high": 0.98}  # every rung below overlaps: all tied with the best


def _rung(name, kind, fit_s, per_example, value=0.95, disk=0, training=None) -> RungResult:
    cost = {"fit_wall_s": fit_s, "predict_wall_s": per_example * 200, "predict_s_per_example": per_example,
            "predict_examples_per_s": 1 / per_example, "predict_batch_size": 8, "prompt_tokens_per_example": None,
            "predict_peak_rss_bytes": 3_000_000, "peak_rss_bytes": 4_000_000, "trainable_params": 0,
            "total_params": 10, "disk_bytes": disk}
    metrics = {"accuracy": {**TIED, "value": value}}
    return RungResult(name, kind, f"{name} in words", metrics, cost, training)


def _pair():
    """A prompt (10 s setup, 0.25 s per prediction) and a fine-tuned rung (60 s, 0.125 s): equal at 400 predictions."""
    return [_rung("few_shot_nearest_k3", "prompting", 10.0, 0.25, value=0.96),
            _rung("encoder_features", "fine-tuning", 60.0, 0.125, value=0.95, disk=2_000_000)]


def test_the_recommendation_flips_at_the_computed_volume():
    results = _pair()
    below = recommend(results, "accuracy", decision=DecisionConfig(expected_predictions=399))
    above = recommend(results, "accuracy", decision=DecisionConfig(expected_predictions=401))
    assert below.rung == "few_shot_nearest_k3" and above.rung == "encoder_features"
    for rec in (below, above):
        assert rec.cost["flip_volumes"] == [{"volume": 400.0, "from": "few_shot_nearest_k3", "to": "encoder_features"}]
        assert "below ~400 predictions few_shot_nearest_k3 (10 s setup + 0.25 s per prediction)" in rec.reason
        assert "above ~400 encoder_features (60 s training + 0.125 s per prediction)" in rec.reason
    assert "At 401 predictions encoder_features costs least" in above.reason
    assert above.cost["per_rung"]["encoder_features"] == {"fixed": 60.0, "per_prediction": 0.125, "total": 110.125}
    assert above.cost["unit"] == "seconds" and above.cost["expected_predictions"] == 401


def test_the_default_volume_prices_the_users_case():
    """The report that started issue 20: the nearest-demo prompt 64x dearer per prediction than frozen features."""
    results = [_rung("few_shot_nearest_k3", "prompting", 10.0, 219 / 800, value=0.971),
               _rung("encoder_features", "fine-tuning", 4.0, 3.4 / 800, value=0.966, disk=20_000)]
    rec = recommend(results, "accuracy")
    assert rec.rung == "encoder_features" and rec.best_rung == "few_shot_nearest_k3"
    assert "At 100,000 predictions encoder_features costs least" in rec.reason
    assert "It stays the cheapest of them at any volume" in rec.reason  # cheaper to set up and to run
    assert rec.cost["flip_volumes"] == []


def test_the_envelope_finds_every_change_of_the_cheapest_line():
    lines = [CostLine("free", 0.0, 1.0), CostLine("middle", 10.0, 0.5), CostLine("trained", 100.0, 0.1),
             CostLine("never", 50.0, 0.9)]  # never the cheapest anywhere
    envelope = cheapest_envelope(lines)
    assert [(round(v, 6), line.rung) for v, line in envelope] == [(0.0, "free"), (20.0, "middle"), (225.0, "trained")]


def test_prices_turn_seconds_into_money_and_storage_counts():
    twins = [_rung("lora", "fine-tuning", 100.0, 0.01, disk=10_000_000_000),
             _rung("ia3", "fine-tuning", 100.0, 0.01, value=0.94, disk=1_000_000)]
    unpriced = recommend(twins, "accuracy")
    assert unpriced.cost["per_rung"]["lora"]["total"] == unpriced.cost["per_rung"]["ia3"]["total"] == 1100.0
    priced = recommend(twins, "accuracy", decision=DecisionConfig(cpu_hour_cost=3.6, storage_gb_cost=0.5))
    # 3.6 per hour is 0.001 per second: 100 s + 100,000 x 0.01 s = 1,100 s -> 1.1, plus 10 GB x 0.5 for lora.
    assert priced.cost["unit"] == "priced"
    assert priced.cost["per_rung"]["ia3"]["total"] == pytest.approx(1.1 + 0.0005)
    assert priced.cost["per_rung"]["lora"]["total"] == pytest.approx(1.1 + 5.0)
    assert priced.rung == "ia3" and "per machine-hour and storage" in priced.reason


def test_storage_price_needs_a_time_price():
    raw = {"data": {"path": "d.jsonl"}, "decision": {"storage_gb_cost": 0.1}}
    with pytest.raises(ConfigError, match="storage_gb_cost needs cpu_hour_cost"):
        config_from_dict(raw)
    assert config_from_dict({"data": {"path": "d.jsonl"}}).decision.expected_predictions == 100_000


def _undertrained_lora(value=0.65):
    training = {"undertrained": True, "stop_reason": "epochs", "epochs_done": 1.0, "steps": 100, "best_step": 100}
    return _rung("lora", "fine-tuning", 372.0, 0.02, value=value, disk=5_000_000, training=training)


def _report(results, rec) -> dict:
    """The report dictionary the views read, from constructed results (report.build's shape, the parts used)."""
    return {
        "run_id": "test", "run_dir": "runs/test", "config": {"seed": 0, "eval": {"batch_size": 8}},
        "task": {"type": "classification"}, "primary_metric": "accuracy",
        "data": {"scored_test_examples": 200},
        "rungs": [r.as_report() for r in results],
        "recommendation": {"rung": rec.rung, "best_rung": rec.best_rung, "tied_with_best": rec.tied_with_best,
                           "reason": rec.reason, "next_steps": rec.next_steps, "cost": rec.cost},
    }


def test_an_undertrained_rung_is_no_verdict_on_fine_tuning():
    """A prompt wins by a clear margin over a LoRA that was still improving: the next steps name what more
    training would cost instead of concluding that fine-tuning did not help."""
    zero = _rung("zero_shot", "prompting", 0.0, 0.01, value=0.95)
    lora = _undertrained_lora()
    lora.metrics = {"accuracy": {"value": 0.65, "ci_low": 0.60, "ci_high": 0.70}}
    rec = recommend([zero, lora], "accuracy")
    assert rec.rung == "zero_shot"
    steps = " ".join(rec.next_steps)
    assert "fine-tuning did not" not in steps
    assert ("lora was still improving when it stopped after 1 epoch (372 s); another epoch would cost about 372 s: "
            "rerun with train.max_epochs: 2") in steps
    assert "undertrained" in rec.reason and "not a verdict on fine-tuning" in rec.reason
    # Trained to a stop, the same LoRA is evidence: then the sentence is said.
    lora.training = {**lora.training, "undertrained": False, "stop_reason": "patience", "best_step": 60}
    assert "fine-tuning did not buy a significant gain" in " ".join(recommend([zero, lora], "accuracy").next_steps)
    # No fine-tuned rung at all: nothing to say about fine-tuning.
    assert "fine-tuning did not" not in " ".join(recommend([zero], "accuracy").next_steps)


def test_more_training_names_the_setting_that_stopped_it():
    lora = _undertrained_lora()
    lora.training = {**lora.training, "stop_reason": "time_budget", "epochs_done": 0.5}
    (step,) = [s for s in recommend([lora], "accuracy").next_steps if "still improving" in s]
    assert "after 0.5 epochs (372 s); another epoch would cost about 744 s: rerun with train.max_minutes: 19" in step
    lora.training = {**lora.training, "stop_reason": "max_steps"}
    (step,) = [s for s in recommend([lora], "accuracy").next_steps if "still improving" in s]
    assert "rerun with a larger train.max_steps (it stopped at step 100)" in step


def test_tables_show_prediction_cost_and_mark_undertrained_rungs():
    results = [_rung("zero_shot", "prompting", 0.0, 0.0125), _undertrained_lora(value=0.95)]
    results[0].cost["prompt_tokens_per_example"] = 41.5
    rec = recommend(results, "accuracy")
    report = _report(results, rec)
    report["data"]["candidate_labels"] = {"per_example": 20, "proposed_by": "nearest training examples",
                                          "gold_among_candidates": 0.93}
    table, md = terminal_table(report), markdown(report)
    for view in (table, md):
        assert "s/example" in view and "prompt tok" in view and "predict RSS" in view
        assert "total s at 100,000" in view
        assert "lora ‡" in view and "‡ undertrained (lora)" in view
        assert "Scored on candidate labels only: 20 per test example" in view and "93.0%" in view
        assert "fine-tuning did not" not in view
    row = next(line for line in table.splitlines() if line.startswith("zero_shot"))
    assert "0.0125" in row and "42" in row and "3.0 MB" in row and "1,250" in row  # 100,000 x 0.0125 s
    assert "another epoch would cost about 372 s" in md


def test_the_page_draws_prediction_cost_and_marks_undertrained_rungs():
    results = [_rung("zero_shot", "prompting", 0.0, 0.0125), _rung("few_shot_random_k3", "prompting", 0.0, 2.0),
               _undertrained_lora(value=0.95)]
    report = _report(results, recommend(results, "accuracy"))
    report |= {"created": "today", "environment": {"tunewise": "test"}}
    report["config"]["model"] = {"name": "tiny"}
    page = html_report(report)
    charts = re.findall(r'<svg\b.*?aria-label="([^"]+)".*?</svg>', page, flags=re.DOTALL)
    assert charts == ["accuracy against training cost", "accuracy against storage cost",
                      "accuracy against prediction cost"]
    prediction = re.search(r'<svg\b[^>]*aria-label="accuracy against prediction cost".*?</svg>', page, re.DOTALL)[0]
    assert "prediction wall seconds per example" in prediction and "log scale" in prediction  # 0.0125 to 2 s: two decades
    assert ">lora ‡</text>" in prediction and "‡ undertrained: still improving when training stopped" in prediction
    assert "<td>lora ‡</td>" in page and "<th>s/example</th>" in page and "<th>total s at 100,000</th>" in page
    assert '<p class="note">‡ undertrained (lora)' in page


def test_a_cheaper_rung_outside_the_tie_is_named_with_its_volume_and_its_lower_score():
    """The bundled demo's shape: LoRA alone at the top, a prompt 9 points lower that costs less until the training
    pays for itself (200 s / (0.15 - 0.05) s = 2,000 predictions)."""
    lora = _rung("lora", "fine-tuning", 200.0, 0.05, value=0.97, disk=10_000_000)
    lora.metrics["accuracy"] |= {"ci_low": 0.95, "ci_high": 0.99}
    prompt = _rung("few_shot_nearest_k3", "prompting", 0.0, 0.15, value=0.88)
    prompt.metrics["accuracy"] |= {"ci_low": 0.84, "ci_high": 0.92}
    rec = recommend([prompt, lora], "accuracy")
    assert rec.rung == "lora" and rec.tied_with_best == ["lora"]
    assert rec.cost["cheaper_outside_tie"] == {"rung": "few_shot_nearest_k3", "side": "below", "volume": 2000.0,
                                               "points_lower": 9.0}
    assert ("Below ~2,000 predictions few_shot_nearest_k3 (no training + 0.15 s per prediction) would cost less, "
            "but it scores 9.0 points lower") in rec.reason
    cheap = _rung("few_shot_nearest_k3", "prompting", 0.0, 0.01, value=0.88)  # cheaper at any volume
    cheap.metrics["accuracy"] |= {"ci_low": 0.84, "ci_high": 0.92}
    assert "At any volume few_shot_nearest_k3" in recommend([cheap, lora], "accuracy").reason


@pytest.mark.parametrize(("name", "kind", "artifact", "holds"), [
    ("lora", "fine-tuning", "adapter", "its adapter files"),
    ("full", "fine-tuning", "model", "the whole fine-tuned model"),
    ("encoder_features", "fine-tuning", "classifier", "its classifier (safetensors + JSON)"),
    ("rag_dense", "retrieval", "index", "a prompt package with its retrieval index"),
    ("few_shot_balanced_k3", "prompting", None, "the demonstrations it shows"),
])
def test_the_next_step_exports_every_kind_and_names_what_the_folder_holds(name, kind, artifact, holds):
    pick = _rung(name, kind, 5.0, 0.001, value=0.97, disk=200_000 if artifact else 0)
    pick.artifact = artifact
    steps = recommend([pick], "accuracy").next_steps
    ship = next(s for s in steps if s.startswith("Ship it"))
    assert f"tunewise export <run folder> --rung {name}" in ship and holds in ship
    assert f"tunewise serve <run folder>/exports/{name}-package" in ship and "/v1/classify" in ship