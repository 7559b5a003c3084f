"""Full fine-tuning: every weight trains (fp32 master weights under bf16 autocast).

The stored result is a whole model (safetensors, in the dtype it predicts with): next to an adapter of a few MB
its size is the reason adapters exist, and the report's storage column shows the ratio.
"""
from __future__ import annotations

from pathlib import Path

from pydantic import Field
from torch import nn

from tunewise.methods.spec import MethodSpec, PlanContext, SectionSpec
from tunewise.methods.tuned import Method, TunedRung
from tunewise.sections import Section

CENTRE_LR = 2e-5  # the learning-rate check's centre (all weights move: 10x below LoRA's)


class FullConfig(Section):
    lr: float | None = Field(
        None, gt=0,
        description="learning rate for full fine-tuning; empty: "
        f"the learning-rate check around {CENTRE_LR:g} (all weights move: 10x below LoRA's)",
    )



def apply(model: nn.Module) -> nn.Module:
    """Make every parameter trainable (tied input/output embeddings stay one shared tensor)."""
    for param in model.parameters():
        param.requires_grad_(True)
    return model


def save(model: nn.Module, tokenizer, directory: Path) -> Path:
    """The whole model and its tokenizer, loadable with `from_pretrained(directory)`; safetensors only."""
    directory = Path(directory)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def _rung(plan: PlanContext) -> TunedRung:
    method = Method("full", "full fine-tuning of every weight", lambda model, tokenizer: apply(model), save,
                    lr=plan.config.full.lr, centre_lr=CENTRE_LR, full_precision_base=True)
    return TunedRung(plan.task, plan.config, method)


SECTION = SectionSpec("full", FullConfig, "full fine-tuning rung")
METHODS = [MethodSpec("full", "full fine-tuning of every weight (stores a whole model)", lambda plan: [_rung(plan)])]
