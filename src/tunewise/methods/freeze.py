"""Head-only / last layers: train the output layer, and optionally the last N transformer blocks, nothing else.

With `trainable_layers: 0` only the output layer (the language-model head) learns, the classic "Finetuning II"
baseline; each extra block buys capacity near the output at the cost of its weights. A model whose output layer
is tied to the input embeddings (SmolLM2) gets its own copy of that matrix first, so training the head does not
move the embeddings. Trainable weights are fp32 even when the frozen rest is bf16.

Saved as `trainable.safetensors` (the trained tensors by parameter name) + `freeze_config.json`; `load` applies
the same freezing to a fresh base and copies them in.
"""
from __future__ import annotations

import json
from pathlib import Path

from pydantic import Field
from safetensors.torch import load_file
from torch import nn

from tunewise.errors import ModelError
from tunewise.methods.spec import MethodSpec, PlanContext, SectionSpec
from tunewise.methods.tuned import Method, TunedRung
from tunewise.models.adapted import check_adapter
from tunewise.sections import Section
from tunewise.train.checkpoint import load_trainable, save_trainable

CENTRE_LR = 5e-5  # the learning-rate check's centre (whole matrices move: lower than LoRA's)


class FreezeConfig(Section):
    trainable_layers: int = Field(
        2, ge=0, description="last N transformer blocks trained with the output layer; 0 = the output layer only"
    )
    lr: float | None = Field(
        None, gt=0,
        description="learning rate for the unfrozen layers; empty: "
        f"the learning-rate check around {CENTRE_LR:g} (whole matrices move: lower than LoRA's)",
    )


CONFIG_FILE = "freeze_config.json"
WEIGHTS_FILE = "trainable.safetensors"


def apply(model: nn.Module, cfg: FreezeConfig) -> nn.Module:
    """Freeze everything, then unfreeze the (untied) output layer, the last `trainable_layers` blocks and,
    when any block trains, the final norm."""
    layers = _decoder_layers(model)
    if cfg.trainable_layers > len(layers):
        raise ModelError(f"freeze.trainable_layers is {cfg.trainable_layers} but {type(model).__name__} has only "
                         f"{len(layers)} blocks")
    model.requires_grad_(False)
    head = _untie_output_layer(model)
    trainable = [head] + (list(layers[len(layers) - cfg.trainable_layers :]) if cfg.trainable_layers else [])
    if cfg.trainable_layers:
        norm = getattr(_body(model), "norm", None)
        trainable += [norm] if norm is not None else []
    for module in trainable:
        for param in module.parameters():
            param.data = param.data.float()  # AdamW on bf16 weights would lose small updates
            param.requires_grad_(True)
    model.tunewise_freeze = cfg
    return model


def save(model: nn.Module, directory: Path) -> Path:
    directory = Path(directory)
    save_trainable(model, directory / WEIGHTS_FILE)
    (directory / CONFIG_FILE).write_text(json.dumps(model.tunewise_freeze.model_dump()), encoding="utf-8")
    return directory


def load(model: nn.Module, directory: Path) -> nn.Module:
    """Apply the saved freezing to a fresh base model and load the trained weights into it."""
    path = Path(directory) / CONFIG_FILE
    if not path.is_file():
        raise ModelError(f"{path}: missing; is {directory} a saved freeze rung?")
    model = apply(model, FreezeConfig(**json.loads(path.read_text(encoding="utf-8"))))
    weights = Path(directory) / WEIGHTS_FILE
    dtypes = {k: v.dtype for k, v in load_file(str(weights)).items()}
    for name, param in model.named_parameters():
        if name in dtypes:
            param.data = param.data.to(dtypes[name])
    load_trainable(model, weights)
    return model


def restore(model: nn.Module, tokenizer, directory: Path, base: str) -> nn.Module:
    """`load`, then checked: no NaN in the weights, trained on this base (compared once the output layer is untied
    as it was in training)."""
    model = load(model, directory)
    check_adapter(Path(directory), model, tokenizer, WEIGHTS_FILE)
    return model


def _body(model: nn.Module) -> nn.Module:
    return model.get_decoder() if hasattr(model, "get_decoder") else model


def _decoder_layers(model: nn.Module) -> nn.ModuleList:
    layers = getattr(_body(model), "layers", None)
    if not isinstance(layers, nn.ModuleList):
        raise ModelError(f"{type(model).__name__}: no `layers` list of transformer blocks found to unfreeze")
    return layers


def _untie_output_layer(model: nn.Module) -> nn.Module:
    """The output layer, with its own weight if it shared the input embeddings' tensor."""
    head = model.get_output_embeddings()
    if head is None:
        raise ModelError(f"{type(model).__name__} has no output layer to train")
    if head.weight is model.get_input_embeddings().weight:
        head.weight = nn.Parameter(head.weight.detach().clone())
        model.config.tie_word_embeddings = False
        if hasattr(model.config, "get_text_config"):
            model.config.get_text_config().tie_word_embeddings = False
    return head


def _rung(plan: PlanContext) -> TunedRung:
    fc = plan.config.freeze
    what = f"output layer + last {fc.trainable_layers} block(s)" if fc.trainable_layers else "output layer only"
    method = Method("freeze", f"{what} trained, the rest frozen", lambda model, tokenizer: apply(model, fc),
                    lambda model, tokenizer, directory: save(model, directory),
                    restore, lr=fc.lr,
                    centre_lr=CENTRE_LR)
    return TunedRung(plan.task, plan.config, method)


SECTION = SectionSpec("freeze", FreezeConfig, "head-only / last-layers rung")
METHODS = [MethodSpec("freeze", "train the output layer (+ the last freeze.trainable_layers blocks), freeze the rest",
                      lambda plan: [_rung(plan)])]
