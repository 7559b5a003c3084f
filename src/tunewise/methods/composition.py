"""Adapter composition: the single-task LoRA adapters of a multi-task run combined into one adapter, no training.

PEFT's `add_weighted_adapter` does the combining. With "cat" (the default) the combined adapter stacks the sources'
low-rank factors, so its weight update is exactly sum_i w_i * scale_i * B_i A_i at rank sum_i r_i; "svd" cuts that
sum back to the largest source rank, and "linear" adds the A and B factors separately (cross terms: approximate).
"""
from __future__ import annotations

import warnings
from pathlib import Path

from peft import PeftModel, get_peft_model_state_dict
from torch import nn

from tunewise.models.adapted import attach_peft_adapter

COMBINED = "default"  # the combined adapter's name: PEFT saves the "default" adapter at the folder's top level


def compose(model: nn.Module, tokenizer, adapters: dict[str, Path], weights: dict[str, float],
            combination_type: str) -> PeftModel:
    """The base `model` with one LoRA adapter: the weighted combination of the adapters in `adapters` (task name ->
    PEFT adapter folder), each weighted by `weights[task]`; the source adapters are loaded, combined and removed.

    PEFT creates the combined adapter in the base layers' dtype: give an fp32 base for an exact sum.
    """
    sources = []
    with warnings.catch_warnings():
        # PEFT 0.21 asks transformers 5 for `is_gradient_checkpointing`, which warns on every call; harmless.
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        for task, folder in adapters.items():
            name = f"task_{task}"  # never COMBINED, and free of PEFT's "lora_" parameter prefix
            # checked first: safetensors, finite weights, trained on this base
            model = attach_peft_adapter(model, tokenizer, folder, "the run's base model", name)
            sources.append(name)
        # svd: the reduced SVD gives the same leading factors as the full one, without the square U and V.
        model.add_weighted_adapter(sources, [weights[task] for task in adapters], COMBINED,
                                   combination_type=combination_type, svd_full_matrices=False)
    model.set_adapter(COMBINED)
    for name in sources:
        model.delete_adapter(name)
    return model.eval()


def adapter_parameters(model: PeftModel) -> int:
    """Parameters of the combined adapter (what its adapter_model.safetensors holds)."""
    return sum(t.numel() for t in get_peft_model_state_dict(model, adapter_name=COMBINED).values())


def rank(model: PeftModel) -> int:
    """The combined adapter's LoRA rank (cat: the sum of the sources' ranks)."""
    return model.peft_config[COMBINED].r
