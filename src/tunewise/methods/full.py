"""Full fine-tuning: every weight trains (fp32 master weights under bf16 autocast).

The stored result is a whole model (safetensors, in the dtype it predicts with): next to an adapter of a few MB
its size is the reason adapters exist, and the report's storage column shows the ratio.
"""
from __future__ import annotations

from pathlib import Path

from torch import nn


def apply(model: nn.Module) -> nn.Module:
    """Make every parameter trainable (tied input/output embeddings stay one shared tensor)."""
    for param in model.parameters():
        param.requires_grad_(True)
    return model


def save(model: nn.Module, tokenizer, directory: Path) -> Path:
    """The whole model and its tokenizer, loadable with `from_pretrained(directory)`; safetensors only."""
    directory = Path(directory)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory
