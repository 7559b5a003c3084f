"""Warmup then cosine / linear / constant learning-rate multipliers."""
import pytest

from tunewise.train.schedule import lr_lambda


@pytest.mark.parametrize("kind", ["cosine", "linear", "constant"])
def test_warmup_rises_to_peak(kind):
    values = [lr_lambda(s, total_steps=100, warmup_steps=10, kind=kind) for s in range(11)]
    assert 0 < values[0] < values[5] < values[9] < 1
    assert values == sorted(values)
    assert values[10] == 1.0  # warmup end: the peak


@pytest.mark.parametrize("kind,mid,end", [("cosine", 0.5, 0.0), ("linear", 0.5, 0.0), ("constant", 1.0, 1.0)])
def test_midpoint_and_end(kind, mid, end):
    # 10 warmup steps, 100 decay steps: the midpoint of the decay is step 60.
    assert lr_lambda(60, total_steps=110, warmup_steps=10, kind=kind) == pytest.approx(mid)
    assert lr_lambda(110, total_steps=110, warmup_steps=10, kind=kind) == pytest.approx(end, abs=1e-12)


def test_cosine_stays_above_linear_in_first_half():
    assert lr_lambda(30, 110, 10, "cosine") > lr_lambda(30, 110, 10, "linear")


def test_no_warmup_starts_at_peak():
    assert lr_lambda(0, total_steps=50, warmup_steps=0, kind="cosine") == 1.0


def test_unknown_kind_is_rejected():
    with pytest.raises(ValueError, match="unknown schedule"):
        lr_lambda(20, 100, 10, "exponential")
