"""Resolving model names (with errors people can act on) and loading local directories and the cache layout."""
from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import save_file

from tunewise.errors import ModelError
from tunewise.models.load import (
    cached_model_dir,
    list_models,
    load_causal_lm,
    load_tokenizer,
    tunewise_home,
)
from tunewise.models.resolve import resolve_encoder, resolve_model


def test_missing_path_names_the_choices(tmp_path):
    with pytest.raises(ModelError, match="smollm2"):
        resolve_model(str(tmp_path / "nowhere"))


def test_missing_gguf_file_is_reported_before_transformers_sees_it(tmp_path):
    with pytest.raises(ModelError, match="no such GGUF file"):
        resolve_model(str(tmp_path / "model.gguf"))


def test_pickle_only_directory_is_refused_with_how_to_convert(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "llama"}))
    (tmp_path / "pytorch_model.bin").write_bytes(b"not loaded")
    with pytest.raises(ModelError, match="pickle") as err:
        resolve_model(str(tmp_path))
    assert "pytorch_model.bin" in str(err.value) and "safe_serialization" in str(err.value)


def test_remote_code_directory_is_refused(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"auto_map": {"AutoModel": "modeling_x.XModel"}}))
    save_file({"w": torch.zeros(1)}, tmp_path / "model.safetensors")
    with pytest.raises(ModelError, match="remote code"):
        resolve_model(str(tmp_path))
    with pytest.raises(ModelError, match="remote code"):
        resolve_encoder(str(tmp_path))


def test_directory_without_config_or_weights(tmp_path):
    with pytest.raises(ModelError, match="config.json"):
        resolve_model(str(tmp_path))
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ModelError, match="safetensors"):
        resolve_model(str(tmp_path))


def test_saved_directory_loads_with_identical_logits(tiny_llama, tmp_path):
    model, tokenizer = tiny_llama
    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    spec = resolve_model(str(tmp_path))
    assert spec.kind == "hf_dir" and cached_model_dir(spec) == tmp_path.resolve()
    loaded, loaded_tokenizer = load_causal_lm(str(tmp_path))
    assert not loaded.training
    ids = torch.tensor([[1, 5, 9, 12]])
    with torch.no_grad():
        assert torch.equal(loaded(input_ids=ids).logits, model(input_ids=ids).logits)
    assert loaded_tokenizer.pad_token == "<|im_end|>"
    assert load_tokenizer(str(tmp_path)).encode("billing") == tokenizer.encode("billing")


def test_gguf_cache_dir_is_keyed_by_content(tmp_path, monkeypatch):
    monkeypatch.setenv("TUNEWISE_HOME", str(tmp_path / "home"))
    assert tunewise_home() == tmp_path / "home"
    first = tmp_path / "m.gguf"
    first.write_bytes(b"GGUF" + b"\0" * 100)
    spec = resolve_model(str(first))
    assert spec.kind == "gguf" and spec.file == first.resolve()
    before = cached_model_dir(spec)
    assert before.parent == tmp_path / "home" / "models" and before.name.startswith("m-")
    first.write_bytes(b"GGUF" + b"\1" * 100)
    assert cached_model_dir(spec) != before


def test_bundled_models_are_listed():
    rows = {row["name"]: row for row in list_models()}
    assert set(rows) == {"smollm2", "minilm"}
    assert rows["smollm2"]["ok"] and rows["smollm2"]["path"].endswith(".gguf")
    assert rows["minilm"]["ok"] and isinstance(rows["smollm2"]["cached"], bool)


def test_broken_gguf_is_a_model_error_and_leaves_no_cache(tmp_path, monkeypatch):
    from tunewise.models.load import ensure_converted

    monkeypatch.setenv("TUNEWISE_HOME", str(tmp_path / "home"))
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"not a gguf file at all")
    with pytest.raises(ModelError, match="broken.gguf"):
        ensure_converted(resolve_model(str(broken)))
    assert list((tmp_path / "home" / "models").iterdir()) == []
