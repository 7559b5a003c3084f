"""IA3 through PEFT: learned vectors that rescale the keys, values and feed-forward activations.

The smallest adapter here (tens of thousands of parameters on SmolLM2-135M): cheap to train and store, usually
below LoRA on quality. Saved in PEFT's layout, so plain PEFT loads it.
"""
from __future__ import annotations

from peft import IA3Config as PeftIA3Config
from peft import PeftModel, get_peft_model
from pydantic import Field
from torch import nn

from tunewise.methods.spec import MethodSpec, PlanContext, SectionSpec
from tunewise.methods.tuned import Method, TunedRung, peft_save, quiet_peft
from tunewise.sections import Section

CENTRE_LR = 3e-3  # the learning-rate check's centre (a few scaling vectors move: well above LoRA's)


class IA3Config(Section):
    target_modules: list[str] = Field(
        ["k_proj", "v_proj", "down_proj"], description="modules whose activations IA3 rescales"
    )
    feedforward_modules: list[str] = Field(
        ["down_proj"], description="the subset of target_modules that are feed-forward (scaled on their input)"
    )
    lr: float | None = Field(
        None, gt=0,
        description="learning rate for the IA3 scaling vectors; empty: "
        f"the learning-rate check around {CENTRE_LR:g} (a few scaling vectors move: well above LoRA's)",
    )



def apply(model: nn.Module, cfg: IA3Config) -> PeftModel:
    peft_cfg = PeftIA3Config(
        target_modules=list(cfg.target_modules),
        feedforward_modules=list(cfg.feedforward_modules),
        task_type="CAUSAL_LM",
    )
    with quiet_peft():
        return get_peft_model(model, peft_cfg)


def _rung(plan: PlanContext) -> TunedRung:
    ic = plan.config.ia3
    method = Method("ia3", f"IA3 scaling vectors on {','.join(ic.target_modules)}",
                    lambda model, tokenizer: apply(model, ic), peft_save, lr=ic.lr,
                    centre_lr=CENTRE_LR)
    return TunedRung(plan.task, plan.config, method)


SECTION = SectionSpec("ia3", IA3Config, "IA3 rung")
METHODS = [MethodSpec("ia3", "learned scaling of keys, values and MLP activations (PEFT)", lambda plan: [_rung(plan)])]
