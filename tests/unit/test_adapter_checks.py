"""Adapters are checked before they are applied: NaN/Inf values and shapes named by tensor, an adapter trained on
another base refused (tunewise records the base's fingerprint), pickle-only adapters refused with how to convert;
and no source file unpickles or runs remote code."""
from __future__ import annotations

import json
import re
from pathlib import Path

import peft
import pytest
import torch
from conftest import build_tiny_llama
from safetensors.torch import load_file, save_file

from tunewise.errors import ModelError
from tunewise.methods.artifacts import load_adapted
from tunewise.models.adapted import BASE_RECORD, PEFT_WEIGHTS, write_base_record

SRC = Path(__file__).resolve().parents[2] / "src" / "tunewise"


@pytest.fixture
def adapter_dir(tiny_llama, tiny_model_dir, tmp_path):
    model, tokenizer = tiny_llama
    lora = peft.get_peft_model(model, peft.LoraConfig(r=4, target_modules=["q_proj", "v_proj"],
                                                      init_lora_weights=False))
    path = tmp_path / "adapter"
    lora.save_pretrained(path)
    write_base_record(path, lora, tokenizer)
    return path


def rewrite(path: Path, change) -> str:
    """Apply `change(tensors)` to the adapter's weights file; returns the name of the tensor changed."""
    tensors = load_file(str(path / PEFT_WEIGHTS))
    name = sorted(tensors)[0]
    tensors[name] = change(tensors[name])
    save_file(tensors, str(path / PEFT_WEIGHTS))
    return name


def test_a_good_adapter_loads_on_its_base(adapter_dir, tiny_model_dir):
    model, _, loaded = load_adapted(adapter_dir, str(tiny_model_dir))
    assert loaded.startswith("peft adapter") and isinstance(model, peft.PeftModel)


def test_nan_values_are_named_by_tensor(adapter_dir, tiny_model_dir):
    def poison(t):
        t = t.clone()
        t.view(-1)[0] = float("nan")
        return t

    name = rewrite(adapter_dir, poison)
    with pytest.raises(ModelError, match=f"tensor {re.escape(name)} holds NaN or infinite values"):
        load_adapted(adapter_dir, str(tiny_model_dir))


def test_a_shape_that_does_not_fit_the_base_is_named(adapter_dir, tiny_model_dir):
    name = rewrite(adapter_dir, lambda t: torch.zeros(t.shape[0] + 1, t.shape[1]))
    with pytest.raises(ModelError, match="does not fit the base model") as err:
        load_adapted(adapter_dir, str(tiny_model_dir))
    # PEFT names the tensor with its adapter name inserted: ...q_proj.lora_A.default.weight
    assert name.replace(".weight", ".default.weight") in str(err.value) and "torch.Size([5, 64])" in str(err.value)


def test_an_adapter_trained_on_another_base_is_refused(adapter_dir, tiny_tokenizer, tmp_path):
    other = build_tiny_llama(len(tiny_tokenizer))
    other.config.intermediate_size = 96  # same attention shapes, so only the fingerprint can tell
    other = type(other)(other.config)
    other_dir = tmp_path / "other-base"
    other.save_pretrained(other_dir)
    tiny_tokenizer.save_pretrained(other_dir)
    with pytest.raises(ModelError, match=f"trained on another base model \\(its config differ.*{BASE_RECORD}"):
        load_adapted(adapter_dir, str(other_dir))


def test_a_pickle_only_adapter_is_refused_with_how_to_convert(tmp_path, tiny_model_dir):
    path = tmp_path / "pickled"
    path.mkdir()
    (path / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA"}))
    (path / "adapter_model.bin").write_bytes(b"\x80\x04not really")
    with pytest.raises(ModelError, match="adapter_model.bin.*safe_serialization=True"):
        load_adapted(path, str(tiny_model_dir))


def test_no_source_file_unpickles_or_trusts_remote_code():
    for path in SRC.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for call in re.findall(r"torch\.load\([^)]*\)", text):
            assert "weights_only=True" in call, f"{path}: {call}"
        assert not re.search(r"trust_remote_code\s*=\s*True", text), path
        assert "pickle.load" not in text, path
