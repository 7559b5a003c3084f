"""A llama-architecture model written as one GGUF file (f16 or q8_0) for llama.cpp-style runtimes, with the
tokenizer (byte-level BPE: tokens, types, merges, special ids) and chat template in its metadata.

Tensor names and the query/key row order follow llama.cpp's llama layout (its rotary embedding pairs dimensions
differently from transformers', so q and k rows are permuted on the way out; transformers undoes it on load).
Norms stay f32, as llama.cpp keeps them.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from tunewise.errors import TunewiseError

OUTTYPES = ("f16", "q8_0")
_FILE_TYPE = {"f16": 1, "q8_0": 7}  # llama.cpp's LLAMA_FTYPE_MOSTLY_F16 / _Q8_0
_LAYER_NAMES = {
    "input_layernorm": "attn_norm", "post_attention_layernorm": "ffn_norm",
    "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output", "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
}


def write_gguf(model, tokenizer, path: Path, outtype: str = "f16", name: str = "tunewise export") -> Path:
    """Write `model` (a transformers llama) and `tokenizer` to the GGUF file `path`."""
    import gguf

    cfg = model.config
    if cfg.model_type != "llama":
        raise TunewiseError(f"GGUF export writes llama-architecture models; this one is {cfg.model_type!r}")
    if outtype not in OUTTYPES:
        raise TunewiseError(f"GGUF type {outtype!r}: expected one of {', '.join(OUTTYPES)}")
    writer = gguf.GGUFWriter(str(path), "llama")
    _model_metadata(writer, cfg, name, outtype)
    _tokenizer_metadata(writer, tokenizer, cfg.vocab_size)
    for tensor_name, tensor in _tensors(model, cfg):
        _add_tensor(writer, tensor_name, tensor, outtype, gguf)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def _model_metadata(writer, cfg, name: str, outtype: str) -> None:
    head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
    writer.add_name(name)
    writer.add_context_length(cfg.max_position_embeddings)
    writer.add_embedding_length(cfg.hidden_size)
    writer.add_block_count(cfg.num_hidden_layers)
    writer.add_feed_forward_length(cfg.intermediate_size)
    writer.add_head_count(cfg.num_attention_heads)
    writer.add_head_count_kv(cfg.num_key_value_heads)
    writer.add_rope_freq_base(float(_rope_theta(cfg)))
    writer.add_layer_norm_rms_eps(float(cfg.rms_norm_eps))
    writer.add_rope_dimension_count(head_dim)
    writer.add_vocab_size(cfg.vocab_size)
    writer.add_file_type(_FILE_TYPE[outtype])


def _rope_theta(cfg) -> float:
    theta = getattr(cfg, "rope_theta", None)
    if theta is None:  # transformers 5 keeps it in rope_parameters
        theta = (getattr(cfg, "rope_parameters", None) or {}).get("rope_theta", 10000.0)
    return theta


def _tokenizer_metadata(writer, tokenizer, vocab_size: int) -> None:
    """Byte-level BPE as llama.cpp's 'gpt2' tokenizer model: every token by id, its type, the merges."""
    state = json.loads(tokenizer.backend_tokenizer.to_str())
    if state["model"]["type"] != "BPE":
        raise TunewiseError(f"GGUF export writes byte-level BPE tokenizers; this one is {state['model']['type']}")
    by_id = {i: t for t, i in tokenizer.get_vocab().items()}
    special = set(tokenizer.all_special_ids) | {a["id"] for a in state.get("added_tokens", []) if a.get("special")}
    tokens, types = [], []
    for i in range(vocab_size):
        tokens.append(by_id.get(i, f"[PAD{i}]"))
        types.append(3 if i in special else 5 if i not in by_id else 1)  # control, unused, normal
    merges = [m if isinstance(m, str) else " ".join(m) for m in state["model"]["merges"]]
    pre = state.get("pre_tokenizer") or {}
    digits = "Digits" in json.dumps(pre)  # SmolLM2 splits digits one by one before the byte-level split
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("smollm" if digits else "gpt2")
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_merges(merges)
    for setter, token_id in (("add_bos_token_id", tokenizer.bos_token_id), ("add_eos_token_id", tokenizer.eos_token_id),
                             ("add_unk_token_id", tokenizer.unk_token_id),
                             ("add_pad_token_id", tokenizer.pad_token_id)):
        if token_id is not None:
            getattr(writer, setter)(token_id)
    writer.add_add_bos_token(False)
    if tokenizer.chat_template:
        writer.add_chat_template(tokenizer.chat_template)


def _tensors(model, cfg):
    """(GGUF name, float32 numpy array) for every weight, q and k rows in llama.cpp's order."""
    state = {k: v.detach().float().cpu() for k, v in model.state_dict().items()}
    yield "token_embd.weight", state["model.embed_tokens.weight"].numpy()
    yield "output_norm.weight", state["model.norm.weight"].numpy()
    if not cfg.tie_word_embeddings:
        yield "output.weight", state["lm_head.weight"].numpy()
    for layer in range(cfg.num_hidden_layers):
        for hf, short in _LAYER_NAMES.items():
            tensor = state[f"model.layers.{layer}.{hf}.weight"]
            if short == "attn_q":
                tensor = _permute(tensor, cfg.num_attention_heads)
            elif short == "attn_k":
                tensor = _permute(tensor, cfg.num_key_value_heads)
            yield f"blk.{layer}.{short}.weight", tensor.numpy()


def _permute(weight: torch.Tensor, heads: int) -> torch.Tensor:
    """Rows of each head from transformers' half-split rotary order to llama.cpp's interleaved order."""
    rows = weight.shape[0]
    return weight.reshape(heads, 2, rows // heads // 2, *weight.shape[1:]).swapaxes(1, 2).reshape(weight.shape)


def _add_tensor(writer, name: str, array: np.ndarray, outtype: str, gguf) -> None:
    if array.ndim == 1:  # norms: f32, as llama.cpp keeps them
        writer.add_tensor(name, array.astype(np.float32))
    elif outtype == "f16":
        writer.add_tensor(name, array.astype(np.float16))
    else:
        qtype = gguf.GGMLQuantizationType.Q8_0
        writer.add_tensor(name, gguf.quants.quantize(array.astype(np.float32), qtype), raw_dtype=qtype)
