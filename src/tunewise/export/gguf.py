"""A llama-architecture model written as one GGUF file (f16 or q8_0) for llama.cpp-style runtimes, with the
tokenizer (byte-level BPE: tokens, types, merges, special ids, pre-tokenizer) and chat template in its metadata.

Tensor names and the query/key row order follow llama.cpp's llama layout (its rotary embedding pairs dimensions
differently from transformers', so q and k rows are permuted on the way out; transformers undoes it on load).
Norms stay f32, as llama.cpp keeps them. The tokenizer keys come from the base model's own GGUF file when there is
one (its `tokenizer.ggml.pre` names the pre-tokenizer llama.cpp knows it by; transformers' conversion of that file
loses it); otherwise they are built from the tokenizer, the pre-tokenizer name guessed from tokenizer.json.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import gguf
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
BASE_METADATA, FALLBACK = "base GGUF metadata", "fallback"  # where a file's tokenizer keys came from
# llama.cpp's names for the byte-level pre-tokenizers tokenizer.json can describe: GPT-2's split alone, or digits
# one by one before it (SmolLM2). llama.cpp refuses names it does not know ('gpt2' among them).
GPT2_PRE, DIGITS_PRE = "gpt-2", "smollm"
_TOKENIZER_PREFIX = "tokenizer.ggml."


@dataclass(frozen=True)
class GGUFVocab:
    """The tokenizer as GGUF keys (`tokenizer.ggml.*` -> typed value) and where they came from."""

    fields: dict[str, gguf.GGUFValue]
    source: str  # BASE_METADATA or FALLBACK
    detail: str  # the base file, or how the pre-tokenizer name was chosen

    @property
    def pre(self) -> str:
        """The pre-tokenizer name llama.cpp splits text with (`tokenizer.ggml.pre`)."""
        return self.fields[gguf.Keys.Tokenizer.PRE].value


def write_gguf(model, tokenizer, path: Path, outtype: str = "f16", name: str = "tunewise export",
               vocab: GGUFVocab | None = None) -> Path:
    """Write `model` (a transformers llama) and `tokenizer` to the GGUF file `path`; the tokenizer keys are
    `vocab` (see gguf_vocab), by default built from `tokenizer` alone."""
    cfg = model.config
    if cfg.model_type != "llama":
        raise TunewiseError(f"GGUF export writes llama-architecture models; this one is {cfg.model_type!r}")
    if outtype not in OUTTYPES:
        raise TunewiseError(f"GGUF type {outtype!r}: expected one of {', '.join(OUTTYPES)}")
    vocab = vocab or gguf_vocab(tokenizer, cfg.vocab_size)
    writer = gguf.GGUFWriter(str(path), "llama")
    _model_metadata(writer, cfg, name, outtype)
    for key, value in vocab.fields.items():
        writer.add_key_value(key, value.value, value.type, value.sub_type)
    if tokenizer.chat_template:  # the template tunewise trained and scored with
        writer.add_chat_template(tokenizer.chat_template)
    for tensor_name, tensor in _tensors(model, cfg):
        _add_tensor(writer, tensor_name, tensor, outtype)
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


def gguf_vocab(tokenizer, vocab_size: int, base_gguf: Path | None = None) -> GGUFVocab:
    """The tokenizer keys for a GGUF file: the base GGUF file's own when it has one for this very vocabulary,
    else built from `tokenizer` (a byte-level BPE) with a pre-tokenizer name guessed from its tokenizer.json."""
    tokens = _token_list(tokenizer, vocab_size)
    if base_gguf is None:
        return _vocab_from_tokenizer(tokenizer, tokens, "no base GGUF file")
    fields = base_tokenizer_fields(base_gguf)
    listed = fields.get(gguf.Keys.Tokenizer.LIST)
    if fields.get(gguf.Keys.Tokenizer.PRE) is None or listed is None or listed.value != tokens:
        return _vocab_from_tokenizer(tokenizer, tokens, f"{base_gguf.name} has no pre-tokenizer or other tokens")
    return GGUFVocab(fields, BASE_METADATA, base_gguf.name)


def base_tokenizer_fields(path: Path) -> dict[str, gguf.GGUFValue]:
    """Every `tokenizer.ggml.*` key of the GGUF file `path` with its value and type, as written there."""
    reader = gguf.GGUFReader(str(path))
    return {name: gguf.GGUFValue(field.contents(), field.types[0], field.types[-1] if len(field.types) > 1 else None)
            for name, field in reader.fields.items() if name.startswith(_TOKENIZER_PREFIX)}


def _token_list(tokenizer, vocab_size: int) -> list[str]:
    """Every token by id; ids the tokenizer lacks (a vocabulary padded for the embedding) get a placeholder."""
    by_id = {i: t for t, i in tokenizer.get_vocab().items()}
    return [by_id.get(i, f"[PAD{i}]") for i in range(vocab_size)]


def _vocab_from_tokenizer(tokenizer, tokens: list[str], why: str) -> GGUFVocab:
    """Byte-level BPE as llama.cpp's 'gpt2' tokenizer model: tokens, their types, merges, special ids, flags."""
    state = json.loads(tokenizer.backend_tokenizer.to_str())
    if state["model"]["type"] != "BPE":
        raise TunewiseError(f"GGUF export writes byte-level BPE tokenizers; this one is {state['model']['type']}")
    pre, how = _pre_tokenizer_name(state.get("pre_tokenizer") or {})
    keys, kind = gguf.Keys.Tokenizer, gguf.GGUFValueType
    fields = {keys.MODEL: gguf.GGUFValue("gpt2", kind.STRING), keys.PRE: gguf.GGUFValue(pre, kind.STRING),
              keys.LIST: gguf.GGUFValue(tokens, kind.ARRAY, kind.STRING),
              keys.TOKEN_TYPE: gguf.GGUFValue(_token_types(tokenizer, state, len(tokens)), kind.ARRAY, kind.INT32),
              keys.MERGES: gguf.GGUFValue([m if isinstance(m, str) else " ".join(m) for m in state["model"]["merges"]],
                                          kind.ARRAY, kind.STRING)}
    for key, token_id in ((keys.BOS_ID, tokenizer.bos_token_id), (keys.EOS_ID, tokenizer.eos_token_id),
                          (keys.UNK_ID, tokenizer.unk_token_id), (keys.PAD_ID, tokenizer.pad_token_id)):
        if token_id is not None:
            fields[key] = gguf.GGUFValue(token_id, kind.UINT32)
    adds_bos, adds_eos = _adds_bos_eos(tokenizer)
    fields[keys.ADD_BOS] = gguf.GGUFValue(adds_bos, kind.BOOL)
    fields[keys.ADD_EOS] = gguf.GGUFValue(adds_eos, kind.BOOL)
    return GGUFVocab(fields, FALLBACK, f"{why}; {how}")


def _pre_tokenizer_name(pre: dict) -> tuple[str, str]:
    """(llama.cpp's name for a tokenizer.json pre-tokenizer, how it was chosen)."""
    parts = pre.get("pretokenizers", [pre]) if pre.get("type") == "Sequence" else [pre]
    shape = [(p.get("type"), p.get("individual_digits", p.get("use_regex"))) for p in parts]
    if shape == [("ByteLevel", True)]:
        return GPT2_PRE, f"tokenizer.json splits text as GPT-2 does: {GPT2_PRE!r}"
    if shape == [("Digits", True), ("ByteLevel", True)]:
        return DIGITS_PRE, f"tokenizer.json splits digits one by one, then as GPT-2 does: {DIGITS_PRE!r}"
    return GPT2_PRE, (f"tokenizer.json's pre-tokenizer ({'+'.join(str(t) for t, _ in shape) or 'none'}) has no "
                      f"llama.cpp name tunewise knows; {GPT2_PRE!r} assumed")


def _token_types(tokenizer, state: dict, vocab_size: int) -> list[int]:
    """llama.cpp's type of every token id: special tokens are CONTROL (else `<|im_start|>` gets split), other added
    tokens USER_DEFINED, ids the tokenizer lacks UNUSED."""
    known = set(tokenizer.get_vocab().values())
    special = set(tokenizer.all_special_ids) | {a["id"] for a in state.get("added_tokens", []) if a.get("special")}
    added = {a["id"] for a in state.get("added_tokens", [])}
    kinds = gguf.TokenType
    return [int(kinds.CONTROL if i in special else kinds.USER_DEFINED if i in added
                else kinds.NORMAL if i in known else kinds.UNUSED) for i in range(vocab_size)]


def _adds_bos_eos(tokenizer) -> tuple[bool, bool]:
    """Whether the tokenizer puts bos in front of / eos after plain text, seen on a sample word."""
    plain = tokenizer.encode("a", add_special_tokens=False)
    ids = tokenizer.encode("a")
    bos, eos = tokenizer.bos_token_id, tokenizer.eos_token_id
    return (bos is not None and ids[:1] == [bos] and plain[:1] != [bos],
            eos is not None and ids[-1:] == [eos] and plain[-1:] != [eos])


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


def _add_tensor(writer, name: str, array: np.ndarray, outtype: str) -> None:
    if array.ndim == 1:  # norms: f32, as llama.cpp keeps them
        writer.add_tensor(name, array.astype(np.float32))
    elif outtype == "f16":
        writer.add_tensor(name, array.astype(np.float16))
    else:
        qtype = gguf.GGMLQuantizationType.Q8_0
        writer.add_tensor(name, gguf.quants.quantize(array.astype(np.float32), qtype), raw_dtype=qtype)
