"""A language model as a user points at one to evaluate: a base model (bundled name, Hugging Face folder, GGUF
file, merged export) or a folder holding an adapter (PEFT or tunewise's bottleneck adapters) for a base.

Adapters load from safetensors only; an adapter folder names its base model, which `base` overrides.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch
from peft import PeftModel

from tunewise.errors import ModelError
from tunewise.methods import bottleneck
from tunewise.methods.head import HEAD_CONFIG
from tunewise.models.load import load_causal_lm

PEFT_CONFIG, PEFT_WEIGHTS = "adapter_config.json", "adapter_model.safetensors"


def adapter_kind(path: Path) -> str | None:
    """'peft', 'bottleneck' or 'head' for a folder of adapter files; None for anything else (a model)."""
    if not path.is_dir():
        return None
    if (path / HEAD_CONFIG).is_file():
        return "head"
    if (path / bottleneck.CONFIG_FILE).is_file():
        return "bottleneck"
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
    base = base or _peft_base(path) if kind == "peft" else base
    if not base:
        raise ModelError(f"{path}: a {kind} adapter does not name its base model; pass --base MODEL")
    model, tokenizer = load_causal_lm(base, dtype=dtype)
    if kind == "bottleneck":
        model = bottleneck.load(model, path).to(dtype)
    else:
        if not (path / PEFT_WEIGHTS).is_file():
            raise ModelError(f"{path}: no {PEFT_WEIGHTS}; tunewise loads adapter weights from safetensors only")
        model = PeftModel.from_pretrained(model, str(path)).to(dtype)  # adapter weights too, as the ladder scores
    return model.eval(), tokenizer, f"{kind} adapter {path} on {base}"


def _peft_base(path: Path) -> str | None:
    try:
        return json.loads((path / PEFT_CONFIG).read_text(encoding="utf-8")).get("base_model_name_or_path")
    except (OSError, json.JSONDecodeError) as err:
        raise ModelError(f"{path / PEFT_CONFIG}: not readable JSON ({err})") from None
