"""`--format merged`: the adapter folded into its base (PEFT `merge_and_unload`), checked against the adapter model
on a few prompts, saved in Hugging Face layout with the tokenizer and read back exactly.
"""
from __future__ import annotations

from pathlib import Path

import torch

from tunewise.config import load_config
from tunewise.export.adapter import save_adapter
from tunewise.export.source import ExportError
from tunewise.methods.artifacts import adapter_kind, load_adapted
from tunewise.models.adapted import peft_type
from tunewise.models.chat_template import prompt_ids
from tunewise.models.load import load_causal_lm

MERGEABLE = ("LORA", "IA3")  # PEFT types whose weights fold into the base (prompt learning adds tokens instead)
CHECK_PROMPTS = ("Hello!", "My order arrived broken, what can I do?", "Summarise this in one word: sunny.")
LOGIT_TOLERANCE = 1e-3  # fp32 merge against fp32 adapter: only summation order differs
DTYPES = {"bf16": torch.bfloat16, "fp32": torch.float32}


def save_merged(run_dir: Path, source: Path, out: Path, dtype: str) -> None:
    """Merge the adapter into its base (logits checked), save, check the saved files reload exactly."""
    if adapter_kind(source) is None:  # already a whole model (full fine-tuning)
        save_adapter(source, out)
        return
    merged, tokenizer = merged_model(run_dir, source)
    merged = merged.to(DTYPES[dtype])
    merged.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)  # with its chat template
    reloaded, _ = load_causal_lm(str(out), dtype=merged.dtype)
    for name, tensor in merged.state_dict().items():
        if not torch.equal(tensor, reloaded.state_dict()[name]):
            raise ExportError(f"{out}: {name} reads back different from what was written; nothing was kept")


def merged_model(run_dir: Path, source: Path):
    """(the rung's model with its adapter folded in, fp32, checked against the adapter model; its tokenizer)."""
    base = load_config(run_dir / "config.yaml").model.name
    kind = adapter_kind(source)
    if kind is None:  # already a whole model (full fine-tuning)
        return load_causal_lm(str(source), dtype=torch.float32)
    if kind == "freeze":  # the trained layers put back into the base: a whole model, nothing to fold
        model, tokenizer, _ = load_adapted(source, base, torch.float32)
        return model, tokenizer
    method = peft_type(source) if kind == "peft" else kind
    if method not in MERGEABLE:
        raise ExportError(f"{source}: a {method} adapter does not fold into the base weights; export it with "
                          "--format adapter (merging works for LoRA-family and IA3 adapters)")
    adapted, tokenizer, _ = load_adapted(source, base, torch.float32)
    prompts = check_prompts(tokenizer)
    expected = logits(adapted, prompts)
    merged = adapted.merge_and_unload()
    gap = max(float((a - b).abs().max()) for a, b in zip(expected, logits(merged, prompts)))
    if gap > LOGIT_TOLERANCE:
        raise ExportError(f"merging {source} changed the logits by up to {gap:.2e} (tolerance {LOGIT_TOLERANCE:g}); "
                          "nothing was kept")
    return merged, tokenizer


def check_prompts(tokenizer) -> list[list[int]]:
    """CHECK_PROMPTS as token ids, each a user message through the tokenizer's chat template."""
    return [prompt_ids(tokenizer, [{"role": "user", "content": text}]) for text in CHECK_PROMPTS]


@torch.inference_mode()
def logits(model, prompts: list[list[int]]) -> list[torch.Tensor]:
    """The model's fp32 logits on each prompt: one (T, vocab) tensor per prompt."""
    return [model(input_ids=torch.tensor([ids])).logits[0].float() for ids in prompts]
