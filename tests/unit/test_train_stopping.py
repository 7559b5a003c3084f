"""The stopping rule's arithmetic and the learning-rate rules, without a model: planned steps (epochs or the cap),
the default validation interval, 'still falling', which rates the check tries, and which rate a rung is given."""
import math

import pytest

from tunewise.config import config_from_dict
from tunewise.methods.tuned import LORA_LR, fixed_rate
from tunewise.sections import TrainConfig
from tunewise.train.batching import Encoded
from tunewise.train.loop import eval_interval, planned_steps, still_falling
from tunewise.train.probe import check_rates, extrapolate_fit


def test_planned_steps_run_to_the_cap_when_epochs_is_empty():
    # 1,050 examples in batches of 8: 132 batches per epoch (the bundled demo)
    assert planned_steps(1050, TrainConfig()) == 264  # max_epochs 2.0
    assert planned_steps(1050, TrainConfig(max_epochs=1.5)) == 198
    assert planned_steps(1050, TrainConfig(epochs=1, max_epochs=5)) == 132  # a set epochs ignores the cap
    assert planned_steps(1050, TrainConfig(epochs=1, max_steps=7)) == 7  # max_steps overrides both
    assert planned_steps(1050, TrainConfig(grad_accum=2)) == 132


def test_default_eval_interval_gives_four_evaluations_per_epoch():
    assert eval_interval(1050, TrainConfig()) == 33  # ceil(132 / 4)
    assert eval_interval(1050, TrainConfig(grad_accum=2)) == 17  # 66 steps per epoch
    assert eval_interval(20, TrainConfig()) == 1  # 3 steps per epoch: every step
    assert eval_interval(1050, TrainConfig(eval_every=50)) == 50


def _evals(*losses):
    return [{"event": "train", "val_loss": None}] + [{"event": "eval", "val_loss": v} for v in losses]


def test_still_falling_needs_the_last_loss_min_improvement_below_the_best_before_it():
    assert still_falling(_evals(0.233, 0.2, 0.168), 0.01)
    assert not still_falling(_evals(0.233, 0.168, 0.1675), 0.01)  # a 0.3% wobble is not still falling
    assert not still_falling(_evals(0.2, 0.1, 0.15), 0.01)  # went back up
    assert still_falling(_evals(0.2), 0.01)  # cut after one evaluation: nothing shows it had levelled off
    assert not still_falling([], 0.01)
    assert still_falling(_evals(0.2, 0.1999), 0.0)


def test_rates_checked_around_the_centre():
    assert check_rates(2e-4, TrainConfig()) == pytest.approx([1e-4, 2e-4, 4e-4])
    assert check_rates(1.0, TrainConfig(lr_check_factors=[4, 1, 0.25, 1])) == [0.25, 1.0, 4.0]


def test_which_rate_a_rung_is_given():
    assert fixed_rate(None, None, None) is None  # LoRA family, nothing given: the check
    assert fixed_rate(None, None, 2e-5) is None  # full fine-tuning, nothing given: the check
    assert fixed_rate(3e-4, None, None) == 3e-4  # train.lr is the LoRA family's rate
    assert fixed_rate(3e-4, None, 2e-5) == 2e-5  # ... not full fine-tuning's: that keeps its own centre
    assert fixed_rate(None, 1e-5, 2e-5) == 1e-5 == fixed_rate(3e-4, 1e-5, 2e-5)  # its own field wins
    assert LORA_LR == 2e-4


def test_method_rate_fields_are_empty_by_default_and_survive_a_dump():
    config = config_from_dict({"data": {"path": "x.jsonl"}})
    assert config.train.lr is None and config.full.lr is None and config.classifier.encoder_lr is None
    again = config_from_dict(config.model_dump(mode="json"))
    assert again.full.lr is None  # a saved config.yaml still means "check it", not the old default


def test_estimate_runs_to_the_cap_and_counts_the_validation_passes():
    train = [Encoded(list(range(10)), list(range(10)))] * 16  # 2 steps per epoch at batch 8
    val = [Encoded(list(range(10)), list(range(10)))] * 4
    cfg = TrainConfig(max_epochs=3.0)  # 6 steps, validated every step (ceil(2 / 4) = 1)
    assert extrapolate_fit(100.0, train, val, cfg) == pytest.approx((6 * 8 * 10 + 6 * 40 / 2) / 100)
    assert extrapolate_fit(100.0, train, [], TrainConfig(epochs=1)) == pytest.approx(2 * 8 * 10 / 100)
    assert math.isfinite(extrapolate_fit(1.0, train, val, TrainConfig(max_steps=1)))
