"""Trainable-only safetensors checkpoints: round trip, atomic write, mismatch error."""
import pytest
import torch
from safetensors.torch import load_file
from torch import nn

from tunewise.errors import TrainingError
from tunewise.train.checkpoint import load_trainable, save_trainable


def _model(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(4, 8), nn.LayerNorm(8), nn.Linear(8, 2))
    model[0].requires_grad_(False)
    return model


def test_round_trip_restores_trainable_and_leaves_frozen(tmp_path):
    path = tmp_path / "ckpt" / "best.safetensors"
    source, target = _model(0), _model(1)
    frozen_before = target[0].weight.clone()
    save_trainable(source, path)
    assert set(load_file(str(path))) == {"1.weight", "1.bias", "2.weight", "2.bias"}
    assert list(path.parent.iterdir()) == [path]  # no temp file left behind
    load_trainable(target, path)
    for name, p in source.named_parameters():
        if p.requires_grad:
            assert torch.equal(p, dict(target.named_parameters())[name])
    assert torch.equal(target[0].weight, frozen_before)


def test_overwrite_replaces_the_file(tmp_path):
    path = tmp_path / "best.safetensors"
    save_trainable(_model(0), path)
    save_trainable(_model(2), path)
    target = _model(5)
    load_trainable(target, path)
    assert torch.equal(target[2].weight, _model(2)[2].weight)


def test_mismatched_checkpoint_is_an_error(tmp_path):
    path = tmp_path / "best.safetensors"
    save_trainable(_model(0), path)
    other = _model(0)
    other[2].requires_grad_(False)
    with pytest.raises(TrainingError, match="does not match"):
        load_trainable(other, path)
