"""PEFT adapter folders: checked, fingerprinted against their base, attached to it (methods/artifacts.py loads any
saved artifact, bottleneck adapters and heads included).

Adapters load from safetensors only; an adapter folder names its base model, which `base` overrides. Before an
adapter is applied its tensors are checked (no NaN or infinite values), and when tunewise saved it, the base is
checked against the fingerprint of the base it was trained on (BASE_RECORD: hashes of the base's config and
tokenizer); shapes that do not fit the base are reported by tensor name.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch
from peft import PeftModel
from safetensors import SafetensorError
from safetensors.torch import load_file

from tunewise.errors import ModelError
from tunewise.models.resolve import refuse_pickle

PEFT_CONFIG, PEFT_WEIGHTS = "adapter_config.json", "adapter_model.safetensors"
PICKLED_ADAPTERS = ("adapter_model.bin", "*.pt", "*.pth", "*.ckpt")
BASE_RECORD = "tunewise_base.json"  # written next to an adapter: the fingerprint of the base it was trained on
# Config keys that say where or how a base was stored, not what it is (a QLoRA adapter trained on the 4-bit base
# applies to the same base in bf16: quantization_config).
_VOLATILE = {"_name_or_path", "name_or_path", "torch_dtype", "dtype", "transformers_version", "_commit_hash",
             "use_cache", "_attn_implementation", "_attn_implementation_autoset", "quantization_config"}


def base_fingerprint(model, tokenizer) -> dict[str, str]:
    """{config, tokenizer}: sha256 of the base model's architecture config and of its tokenizer's vocabulary."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    config = {k: v for k, v in base.config.to_dict().items() if k not in _VOLATILE}
    vocab = sorted(tokenizer.get_vocab().items())
    return {"config": _sha(config), "tokenizer": _sha([vocab, tokenizer.all_special_tokens])}


def _sha(value) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


def write_base_record(directory: Path, model, tokenizer) -> None:
    """Record which base an adapter in `directory` was trained on."""
    (Path(directory) / BASE_RECORD).write_text(json.dumps(base_fingerprint(model, tokenizer), indent=2) + "\n",
                                                encoding="utf-8")


def check_adapter(directory: Path, model, tokenizer, weights: str = PEFT_WEIGHTS) -> None:
    """Refuse an adapter whose tensors (`weights` in `directory`) hold NaN or infinite values, or that was trained on
    another base."""
    path = directory / weights
    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError) as err:
        raise ModelError(f"{path}: not a readable safetensors file ({err})") from None
    for name, tensor in tensors.items():
        if tensor.is_floating_point() and not torch.isfinite(tensor).all():
            raise ModelError(f"{path}: tensor {name} holds NaN or infinite values; the adapter is broken (was its "
                             "training diverging?)")
    record = directory / BASE_RECORD
    if record.is_file():
        saved = json.loads(record.read_text(encoding="utf-8"))
        now = base_fingerprint(model, tokenizer)
        differs = [k for k in ("config", "tokenizer") if saved.get(k) != now[k]]
        if differs:
            raise ModelError(f"{directory}: trained on another base model (its {' and '.join(differs)} differ from "
                             f"this base's, see {BASE_RECORD}); load it on the base it was trained on")


def attach_peft_adapter(model, tokenizer, path: Path, base: str, name: str = "default") -> PeftModel:
    """`model` with the PEFT adapter in `path` added as `name` (a PeftModel already holding others keeps them), after
    check_adapter; `base` names the base model in errors."""
    require_safetensors(path)
    check_adapter(path, model, tokenizer)
    try:
        if isinstance(model, PeftModel):
            model.load_adapter(str(path), adapter_name=name)
            return model
        return PeftModel.from_pretrained(model, str(path), adapter_name=name)
    except RuntimeError as err:  # transformers: "size mismatch for <tensor>: copying a param with shape ..."
        detail = next((line.strip() for line in str(err).splitlines() if "size mismatch" in line), str(err))
        raise ModelError(f"{path}: does not fit the base model {base}: {detail}") from None


def require_safetensors(path: Path) -> None:
    """Refuse an adapter folder whose weights are not in adapter_model.safetensors (pickled files never load)."""
    if (path / PEFT_WEIGHTS).is_file():
        return
    refuse_pickle(path, PICKLED_ADAPTERS, "adapter weights",
                  "PeftModel.from_pretrained(base, dir).save_pretrained(dir, safe_serialization=True)")
    raise ModelError(f"{path}: no {PEFT_WEIGHTS}; tunewise loads adapter weights from safetensors only")


def peft_base(path: Path) -> str | None:
    """The base model a PEFT adapter folder names (adapter_config.json's base_model_name_or_path)."""
    return _peft_config(path).get("base_model_name_or_path")


def peft_type(path: Path) -> str | None:
    """A PEFT adapter folder's method: LORA, IA3, PROMPT_TUNING, ..."""
    return _peft_config(path).get("peft_type")


def _peft_config(path: Path) -> dict:
    try:
        return json.loads((path / PEFT_CONFIG).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise ModelError(f"{path / PEFT_CONFIG}: not readable JSON ({err})") from None
