"""Trainable weights to and from a safetensors file, written atomically.

Used to keep the best checkpoint during training: only parameters with requires_grad are stored.
"""
from __future__ import annotations

import os
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from tunewise.errors import TrainingError


def save_trainable(model: nn.Module, path: Path) -> None:
    """Write the trainable parameters to `path` (temp file + rename, so a crash never leaves half a file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {name: p.detach().cpu().contiguous().clone() for name, p in model.named_parameters() if p.requires_grad}
    tmp = path.with_name(path.name + ".tmp")
    save_file(tensors, str(tmp))
    os.replace(tmp, path)


def load_trainable(model: nn.Module, path: Path) -> None:
    """Copy the weights saved by `save_trainable` back into the model's trainable parameters, in place."""
    saved = load_file(str(path))
    params = {name: p for name, p in model.named_parameters() if p.requires_grad}
    if saved.keys() != params.keys():
        missing, extra = sorted(params.keys() - saved.keys()), sorted(saved.keys() - params.keys())
        raise TrainingError(
            f"{path} does not match the model's trainable parameters (missing {missing[:3]}, unexpected {extra[:3]})"
        )
    with torch.no_grad():
        for name, p in params.items():
            p.copy_(saved[name])
