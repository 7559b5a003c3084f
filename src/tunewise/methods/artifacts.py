"""A saved artifact as a user points at one to evaluate, serve or export: a base model (bundled name, Hugging Face
folder, GGUF file, merged export) or a folder holding an adapter (PEFT, tunewise's bottleneck adapters, or a
classification head) for a base.
"""
from __future__ import annotations

from pathlib import Path

import torch

from tunewise.errors import ModelError
from tunewise.methods import bottleneck, freeze
from tunewise.methods.alignment import SFT_FOLDER, load_aligned
from tunewise.methods.classifier import HEAD_CONFIG
from tunewise.models.adapted import (
    PEFT_CONFIG,
    attach_peft_adapter,
    peft_base,
)
from tunewise.models.load import load_causal_lm


def adapter_kind(path: Path) -> str | None:
    """'peft', 'bottleneck', 'freeze' or 'head' for a folder of adapter files; None for anything else (a model)."""
    if not path.is_dir():
        return None
    if (path / HEAD_CONFIG).is_file():
        return "head"
    if (path / bottleneck.CONFIG_FILE).is_file():
        return "bottleneck"
    if (path / freeze.CONFIG_FILE).is_file():
        return "freeze"
    if (path / PEFT_CONFIG).is_file():
        return "peft"
    return None


def load_adapted(target: str | Path, base: str | None = None, dtype: torch.dtype = torch.float32):
    """(model in eval mode, tokenizer, what was loaded in words) for a model or an adapter folder."""
    path = Path(target).expanduser()
    kind = adapter_kind(path)
    if kind is None:
        model, tokenizer = load_causal_lm(str(target), dtype=dtype)
        return model, tokenizer, f"model {target}"
    if kind == "head":
        raise ModelError(f"{path}: a classification head (it predicts labels, not text); benchmarks and perplexity "
                         "need a language model: give a base model, a LoRA-style adapter folder or a merged model")
    base = base or peft_base(path) if kind == "peft" else base
    if not base:
        raise ModelError(f"{path}: a {kind} adapter does not name its base model; pass --base MODEL")
    model, tokenizer = load_causal_lm(base, dtype=dtype)
    if kind == "bottleneck":
        model = bottleneck.restore(model, tokenizer, path, base).to(dtype)
    elif kind == "freeze":
        model = freeze.restore(model, tokenizer, path, base).to(dtype)
    elif (path / SFT_FOLDER).is_dir():  # an alignment rung's LoRA: on top of the SFT LoRA saved beside it
        model = load_aligned(model, tokenizer, path, base).to(dtype)
    else:
        model = attach_peft_adapter(model, tokenizer, path, base).to(dtype)  # adapter weights too, as the ladder scores
    return model.eval(), tokenizer, f"{kind} adapter {path} on {base}"
