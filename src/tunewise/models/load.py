"""Load generative models, tokenizers and encoders; GGUF files are dequantised once into a safetensors cache.

The cache lives under $TUNEWISE_HOME (default ~/.cache/tunewise) and is keyed by the GGUF file's size and first MiB.
"""
from __future__ import annotations

import hashlib
import shutil
import tempfile
import time
from pathlib import Path

import torch
from transformers import (
    AutoModel,
    AutoModelForCausalLM,
    AutoTokenizer,
    GgufConfig,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

from tunewise.errors import ModelError
from tunewise.home import tunewise_home
from tunewise.models.resolve import (
    MINILM,
    SMOLLM2,
    ModelSpec,
    resolve_encoder,
    resolve_model,
)
from tunewise.progress import note, spinner

_HASH_BYTES = 1 << 20  # the first MiB holds the GGUF header and metadata, so it changes when the model does
_MARKER = "tunewise_converted.txt"  # written last, so a cache dir without it is incomplete


def dtype_for(precision: str) -> torch.dtype:
    """The weight dtype of a `train.precision`: bf16 weights, or fp32."""
    return torch.bfloat16 if precision == "bf16" else torch.float32


def eval_dtype(config) -> torch.dtype:
    """Every rung predicts with weights in this dtype (bf16 weights skip autocast's per-call weight casts)."""
    return dtype_for(config.train.precision)


def count_parameters(model) -> tuple[int, int]:
    """(trainable, total) parameters of a torch module; tied weights count once."""
    params = list(model.parameters())  # yields a shared (tied) tensor only once
    return sum(p.numel() for p in params if p.requires_grad), sum(p.numel() for p in params)


def from_local(auto_class, path: str | Path, **kwargs) -> PreTrainedModel:
    """`auto_class.from_pretrained(path, **kwargs)` the one way tunewise loads weights: from local files only.

    Safetensors only (a `gguf_file` is read dequantised, never kept packed), no code from the model's folder, and
    none of the `kernels` library's layers: since transformers 5.25 `from_pretrained` kernelizes by default,
    fetching layer code from the Hub, and every later `train()`/`eval()` switch re-kernelizes, which resets each
    such layer's forward (it removed the lean forwards train.fused swaps in for a training run). With
    `use_kernels=False` the model computes with its own code, the same under every transformers version.
    """
    if kwargs.get("gguf_file") is None:
        kwargs["use_safetensors"] = True
    else:
        kwargs.setdefault("quantization_config", GgufConfig(dequantize=True))
    return auto_class.from_pretrained(path, trust_remote_code=False, use_kernels=False, **kwargs)


def is_whole_model(path: Path) -> bool:
    """Whether `path` holds a whole model (a GGUF file, or a folder with config.json) rather than an adapter's files."""
    return (path.is_file() and path.suffix.lower() == ".gguf") or (path / "config.json").is_file()


def gguf_fingerprint(file: Path) -> str:
    """A short hash of a GGUF file's size and first MiB (reading the whole file would take seconds)."""
    digest = hashlib.sha256(str(file.stat().st_size).encode())
    with open(file, "rb") as handle:
        digest.update(handle.read(_HASH_BYTES))
    return digest.hexdigest()[:12]


def cached_model_dir(spec: ModelSpec) -> Path:
    """Where a model's safetensors live: the cache folder for a GGUF file, the directory itself otherwise."""
    if spec.kind == "hf_dir":
        return spec.path
    return tunewise_home() / "models" / f"{Path(spec.gguf_file).stem}-{gguf_fingerprint(spec.file)}"


def is_cached(directory: Path) -> bool:
    """True when a conversion into `directory` finished."""
    return (directory / _MARKER).is_file()


def ensure_converted(spec: ModelSpec) -> Path:
    """The safetensors directory of a model, dequantising a GGUF file into the cache the first time."""
    target = cached_model_dir(spec)
    if spec.kind == "hf_dir" or is_cached(target):
        return target
    with spinner(f"converting {spec.file} to safetensors in {target} (once, ~30 s)"):
        _convert(spec, target)
    return target


def _convert(spec: ModelSpec, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    # Write beside the target and rename, so an interrupted run never leaves a half-written cache behind.
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        save_dequantised(spec, staging)
        (staging / _MARKER).write_text(f"converted from {spec.file}\n", encoding="utf-8")
        staging.chmod(0o755)  # mkdtemp makes it private; the cache is as readable as any downloaded model
        try:
            staging.rename(target)
        except OSError:
            if not is_cached(target):  # another process finished first: its copy is as good as ours
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def save_dequantised(spec: ModelSpec, directory: Path) -> None:
    """Load a GGUF file (transformers dequantises it to float32) and save model + tokenizer as safetensors."""
    try:
        model = from_local(AutoModelForCausalLM, spec.path, gguf_file=spec.gguf_file, dtype=torch.float32)
        tokenizer = AutoTokenizer.from_pretrained(spec.path, gguf_file=spec.gguf_file)
    except (OSError, ValueError, KeyError) as err:
        raise ModelError(f"{spec.file}: could not read this GGUF file ({err}); check it is a complete llama-family GGUF") from None
    # A GGUF-loaded model refuses save_pretrained while it is still marked as quantised; its weights are plain fp32 now.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    set_pad_token(tokenizer)
    model.save_pretrained(directory, safe_serialization=True)
    tokenizer.save_pretrained(directory)


def set_pad_token(tokenizer: PreTrainedTokenizerBase) -> PreTrainedTokenizerBase:
    """Give a tokenizer without a pad token the end-of-turn token as pad (attention masks hide it anyway)."""
    if tokenizer.pad_token is None:
        from tunewise.models.chat_template import end_of_turn_id

        tokenizer.pad_token = tokenizer.convert_ids_to_tokens(end_of_turn_id(tokenizer))
    return tokenizer


def load_causal_lm(name: str, dtype: torch.dtype = torch.float32,
                   quantization_config=None) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """A generative model in eval mode and its tokenizer, converting a GGUF file to the cache first if needed.

    With a `quantization_config` (bitsandbytes, for QLoRA) the linear layers load quantised, on the GPU or the CPU,
    and `dtype` is what the rest of the model (embeddings, norms) is kept in.
    """
    directory = ensure_converted(resolve_model(name))
    started = time.perf_counter()
    try:
        model = from_local(AutoModelForCausalLM, directory, dtype=dtype, quantization_config=quantization_config)
        tokenizer = AutoTokenizer.from_pretrained(directory, trust_remote_code=False)
    except (OSError, ValueError) as err:
        raise ModelError(f"{directory}: could not load the model ({err}); if this is the tunewise cache, delete it to convert again") from None
    _loaded(name, model, started)
    return model.eval(), set_pad_token(tokenizer)


def load_tokenizer(name: str) -> PreTrainedTokenizerBase:
    """The tokenizer of a generative model without loading its weights (from the cache when converted)."""
    spec = resolve_model(name)
    directory = cached_model_dir(spec)
    try:
        if spec.kind == "gguf" and not is_cached(directory):
            tokenizer = AutoTokenizer.from_pretrained(spec.path, gguf_file=spec.gguf_file)
        else:
            tokenizer = AutoTokenizer.from_pretrained(directory, trust_remote_code=False)
    except (OSError, ValueError, KeyError) as err:
        raise ModelError(f"{spec.name}: could not load its tokenizer ({err})") from None
    return set_pad_token(tokenizer)


def load_encoder(name: str = "minilm") -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """An encoder (AutoModel, eval mode) and its tokenizer; embed with mean pooling over the attention mask."""
    directory = resolve_encoder(name)
    started = time.perf_counter()
    try:
        model = from_local(AutoModel, directory)
        tokenizer = AutoTokenizer.from_pretrained(directory, trust_remote_code=False)
    except (OSError, ValueError) as err:
        raise ModelError(f"{directory}: could not load the encoder ({err})") from None
    _loaded(name, model, started)
    return model.eval(), tokenizer


def _loaded(name: str, model: PreTrainedModel, started: float) -> None:
    """The one line a model load prints (the CLI turns the libraries' own bars off)."""
    dtype = str(model.dtype).removeprefix("torch.")
    note(f"loaded {name} ({model.num_parameters() / 1e6:.1f}M parameters, {dtype}) in "
         f"{time.perf_counter() - started:.1f} s")


def list_models() -> list[dict]:
    """The bundled models for `tunewise models`: name, kind, path, whether it resolves, whether it is cached."""
    rows = []
    try:
        spec = resolve_model(SMOLLM2)
        cache = cached_model_dir(spec)
        rows.append({"name": SMOLLM2, "kind": "generative", "path": str(spec.file), "ok": True, "error": None,
                         "cache": str(cache), "cached": is_cached(cache)})
    except ModelError as err:
        rows.append({"name": SMOLLM2, "kind": "generative", "path": None, "ok": False, "error": str(err), "cache": None, "cached": False})
    try:
        path = resolve_encoder(MINILM)
        rows.append({"name": MINILM, "kind": "encoder", "path": str(path), "ok": True, "error": None, "cache": None, "cached": True})
    except ModelError as err:
        rows.append({"name": MINILM, "kind": "encoder", "path": None, "ok": False, "error": str(err), "cache": None, "cached": False})
    return rows
