"""`--format gguf`: the merged model written as one GGUF file per type (by export.gguf), each read back with
transformers and compared with the merged model (logits, greedy answers); gguf_check.json keeps the numbers.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM

from tunewise.export.gguf import write_gguf
from tunewise.export.merged import check_prompts, logits, merged_model
from tunewise.export.source import ExportError
from tunewise.models.load import from_local

# A GGUF file read back may differ from the model by this share of its largest logit: f16 rounding, or q8_0's
# 8-bit blocks (SmolLM2's merged demo LoRA: f16 1e-4 of 34, q8_0 1.2 of 34, greedy answers equal on all prompts).
GGUF_TOLERANCE = {"f16": 0.01, "q8_0": 0.1}


def save_gguf(run_dir: Path, source: Path, out: Path, types: list[str], name: str) -> None:
    """One GGUF file per type, each read back with transformers and compared with the merged model."""
    model, tokenizer = merged_model(run_dir, source)
    out.mkdir(parents=True, exist_ok=True)
    prompts = check_prompts(tokenizer)
    expected = logits(model, prompts)
    greedy = [_greedy(model, p) for p in prompts]
    checks = {}
    for outtype in types:
        path = write_gguf(model, tokenizer, out / f"model-{outtype}.gguf", outtype, name)
        back = from_local(AutoModelForCausalLM, out, gguf_file=path.name, dtype=torch.float32).eval()
        scale = max(float(e.abs().max()) for e in expected)
        gap = max(float((e - b).abs().max()) for e, b in zip(expected, logits(back, prompts)))
        same = sum(_greedy(back, p) == g for p, g in zip(prompts, greedy))
        checks[outtype] = {"max_logit_difference": gap, "largest_logit": scale, "greedy_equal": same,
                           "prompts": len(prompts), "bytes": path.stat().st_size}
        limit = GGUF_TOLERANCE[outtype]
        if gap > limit * scale or same < len(prompts) - (outtype != "f16"):
            raise ExportError(f"{path}: read back, it differs from the model (logits by up to {gap:.3g}, over "
                              f"{limit:.0%} of the largest {scale:.3g}; greedy answers equal on {same} of "
                              f"{len(prompts)} prompts); nothing was kept")
    (out / "gguf_check.json").write_text(json.dumps(checks, indent=2) + "\n", encoding="utf-8")


@torch.inference_mode()
def _greedy(model, prompt: list[int], new_tokens: int = 12) -> list[int]:
    ids = torch.tensor([prompt])
    return model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=new_tokens,
                          do_sample=False)[0, len(prompt):].tolist()
