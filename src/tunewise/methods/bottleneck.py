"""Houlsby bottleneck adapters: a small residual MLP after the attention and/or MLP sublayer of every block.

Each adapter computes out + up(act(down(out))) on the sublayer's output (hidden -> size -> hidden). The adapters
are child modules of their decoder layer, in a ModuleDict named `bottleneck` (parameter names such as
`model.layers.0.bottleneck.mlp.up.weight`), and run from forward hooks on `self_attn` and `mlp`, so the model keeps
its own class and forward (loss, KV-cache scoring and generate work unchanged). The up-projection starts at zero:
the adapted model starts identical to the base. Adapter weights are fp32 whatever the base's dtype.

Saved as `adapter_model.safetensors` (adapter weights only) + `bottleneck_config.json`, named like PEFT's files.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import torch
from pydantic import Field, ValidationError
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

from tunewise.errors import ModelError
from tunewise.methods.spec import MethodSpec, PlanContext, SectionSpec
from tunewise.methods.tuned import Method, TunedRung
from tunewise.models.adapted import check_adapter
from tunewise.sections import Section

CENTRE_LR = 1e-3  # the learning-rate check's centre (new small layers that start at zero)


class BottleneckConfig(Section):
    size: int = Field(64, ge=1, description="bottleneck width of each adapter (down-projection size)")
    nonlinearity: Literal["relu", "gelu", "silu"] = Field("relu", description="activation between the projections")
    placement: list[Literal["attention", "mlp"]] = Field(
        ["attention", "mlp"], description="after which sublayers of every block an adapter is inserted (Houlsby: both)"
    )
    lr: float | None = Field(
        None, gt=0,
        description="learning rate for the adapters; empty: "
        f"the learning-rate check around {CENTRE_LR:g} (new small layers that start at zero)",
    )


ADAPTERS = "bottleneck"  # the ModuleDict each decoder layer holds its adapters in
CONFIG_FILE = "bottleneck_config.json"
WEIGHTS_FILE = "adapter_model.safetensors"
SUBLAYERS = {"attention": "self_attn", "mlp": "mlp"}  # placement -> the decoder layer's child it follows
ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "silu": nn.SiLU}


class BottleneckAdapter(nn.Module):
    """x + up(act(down(x))) with the up-projection at zero, so it starts as the identity."""

    def __init__(self, hidden: int, size: int, nonlinearity: str, device: torch.device | None = None):
        super().__init__()
        self.down = nn.Linear(hidden, size, device=device, dtype=torch.float32)
        self.act = ACTIVATIONS[nonlinearity]()
        self.up = nn.Linear(size, hidden, device=device, dtype=torch.float32)
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)

    def forward(self, hidden: Tensor) -> Tensor:
        """(B, T, C) -> (B, T, C), in the dtype of `hidden`."""
        # Under autocast the projections run in its dtype anyway; otherwise compute in the adapter's fp32.
        x = hidden if torch.is_autocast_enabled(hidden.device.type) else hidden.to(self.down.weight.dtype)
        return hidden + self.up(self.act(self.down(x))).to(hidden.dtype)

    def adapt_output(self, module: nn.Module, args: tuple, output: Tensor | tuple) -> Tensor | tuple:
        """Forward hook: adapt the sublayer's output (its first element when it returns a tuple, as attention does)."""
        if isinstance(output, tuple):
            return (self(output[0]), *output[1:])
        return self(output)


def apply(model: nn.Module, cfg: BottleneckConfig) -> nn.Module:
    """Freeze `model` and add an adapter after each placed sublayer of every decoder layer; returns the model."""
    layers = decoder_layers(model)
    if any(hasattr(layer, ADAPTERS) for layer in layers):
        raise ModelError(f"{type(model).__name__} already has bottleneck adapters; apply them to a fresh base model")
    if not cfg.placement:
        raise ModelError("bottleneck.placement is empty; expected 'attention', 'mlp' or both")
    hidden = _hidden_size(model)
    model.requires_grad_(False)
    for layer in layers:
        device = next(layer.parameters()).device
        adapters = nn.ModuleDict()
        for place in dict.fromkeys(cfg.placement):  # each placement once, in the order given
            adapters[place] = BottleneckAdapter(hidden, cfg.size, cfg.nonlinearity, device)
            getattr(layer, SUBLAYERS[place]).register_forward_hook(adapters[place].adapt_output)
        layer.add_module(ADAPTERS, adapters)
    model.bottleneck_config = cfg  # what `save` writes next to the weights
    return model


def decoder_layers(model: nn.Module) -> list[nn.Module]:
    """The model's transformer blocks: modules with both a `self_attn` and an `mlp` child."""
    layers = [
        m for m in model.modules()
        if isinstance(getattr(m, "self_attn", None), nn.Module) and isinstance(getattr(m, "mlp", None), nn.Module)
    ]
    if not layers:
        raise ModelError(
            f"{type(model).__name__} has no decoder layers with `self_attn` and `mlp` children; bottleneck "
            f"adapters support llama-style models (model.model.layers[i].self_attn / .mlp)"
        )
    return layers


def adapter_parameters(model: nn.Module) -> dict[str, nn.Parameter]:
    """The adapters' parameters by their names in the model (empty when none were applied)."""
    return {name: p for name, p in model.named_parameters() if f".{ADAPTERS}." in f".{name}"}


def save(model: nn.Module, directory: Path) -> Path:
    """Write the adapter weights (safetensors) and their config (json) to `directory`; returns it."""
    cfg = getattr(model, "bottleneck_config", None)
    params = adapter_parameters(model)
    if cfg is None or not params:
        raise ModelError(f"{type(model).__name__} has no bottleneck adapters to save; call bottleneck.apply first")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tensors = {name: p.detach().cpu().contiguous() for name, p in params.items()}
    save_file(tensors, str(directory / WEIGHTS_FILE), metadata={"format": "pt"})
    adapters = sum(isinstance(m, BottleneckAdapter) for m in model.modules())
    saved = cfg.model_dump() | {"adapters": adapters, "hidden_size": _hidden_size(model)}
    (directory / CONFIG_FILE).write_text(json.dumps(saved, indent=2) + "\n", encoding="utf-8")
    return directory


def load(model: nn.Module, directory: Path) -> nn.Module:
    """Apply the adapters saved by `save` in `directory` to a base `model` and load their weights."""
    directory = Path(directory)
    model = apply(model, _read_config(directory / CONFIG_FILE))
    saved = _read_weights(directory / WEIGHTS_FILE)
    params = adapter_parameters(model)
    missing, unexpected = sorted(params.keys() - saved.keys()), sorted(saved.keys() - params.keys())
    wrong_shape = sorted(n for n in params.keys() & saved.keys() if saved[n].shape != params[n].shape)
    if missing or unexpected or wrong_shape:
        raise ModelError(
            f"{directory / WEIGHTS_FILE} does not match the adapters of {type(model).__name__}: "
            f"missing {missing[:3]}, unexpected {unexpected[:3]}, wrong shape {wrong_shape[:3]}; "
            f"was it saved from another base model?"
        )
    with torch.no_grad():
        for name, p in params.items():
            p.copy_(saved[name])
    return model


def restore(model: nn.Module, tokenizer, directory: Path, base: str) -> nn.Module:
    """`load`, after checking the weights (no NaN) and that they were trained on this base."""
    check_adapter(Path(directory), model, tokenizer)
    return load(model, directory)


def _read_config(path: Path) -> BottleneckConfig:
    """The BottleneckConfig in a saved bottleneck_config.json (its count fields are checked by the weights)."""
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
        return BottleneckConfig(**{name: saved[name] for name in BottleneckConfig.model_fields})
    except FileNotFoundError:
        raise ModelError(f"{path} not found; expected a folder written by bottleneck.save") from None
    except KeyError as e:
        raise ModelError(f"{path} lacks the field {e}; expected a file written by bottleneck.save") from None
    except (json.JSONDecodeError, TypeError, ValidationError) as e:
        raise ModelError(f"{path} is not a valid bottleneck adapter config: {e}") from None


def _read_weights(path: Path) -> dict[str, Tensor]:
    if not path.is_file():
        raise ModelError(f"{path} not found; expected a folder written by bottleneck.save")
    try:
        return load_file(str(path))
    except SafetensorError as e:
        raise ModelError(f"{path} is not a readable safetensors file: {e}") from None


def _hidden_size(model: nn.Module) -> int:
    hidden = getattr(getattr(model, "config", None), "hidden_size", None)
    if not isinstance(hidden, int):
        raise ModelError(f"{type(model).__name__} has no config.hidden_size; cannot size bottleneck adapters")
    return hidden


def _rung(plan: PlanContext) -> TunedRung:
    bc = plan.config.bottleneck
    method = Method("bottleneck", f"bottleneck adapters (width {bc.size}, {bc.nonlinearity}) after "
                    f"{' and '.join(bc.placement)}", lambda model, tokenizer: apply(model, bc),
                    lambda model, tokenizer, directory: save(model, directory), restore, lr=bc.lr,
                    centre_lr=CENTRE_LR)
    return TunedRung(plan.task, plan.config, method)


SECTION = SectionSpec("bottleneck", BottleneckConfig, "bottleneck adapter rung")
METHODS = [MethodSpec("bottleneck", "Houlsby bottleneck adapters after attention and MLP (tunewise's own module)",
                      lambda plan: [_rung(plan)])]
