"""`tunewise export`: put a finished run's rung to work outside tunewise, as its adapter or as merged weights.

- `adapter`: the rung's adapter folder as saved (PEFT layout), with a model card (README.md) from the report.
- `merged`: the adapter merged into the base weights (PEFT `merge_and_unload`), saved with the tokenizer and its
  chat template in Hugging Face layout (safetensors). Checked before it is kept: the merged model's logits equal
  the adapter model's on a few prompts, and the saved files reload to exactly the merged weights.
- `gguf`: the merged model as GGUF files (f16 and q8_0) with tokenizer and chat template metadata, each read back
  with transformers and compared with the merged model (logits, greedy answers); gguf_check.json keeps the numbers.

Nothing is written over: the output folder must not exist (or be empty), and a failed check removes what it wrote.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM

from tunewise.api import load_report
from tunewise.config import load_config
from tunewise.errors import TunewiseError
from tunewise.gguf_export import OUTTYPES, write_gguf
from tunewise.models.adapted import BASE_RECORD, adapter_kind, load_adapted, peft_type
from tunewise.models.chat_template import prompt_ids
from tunewise.models.load import from_local, load_causal_lm

FORMATS = ("adapter", "merged", "gguf")
MERGEABLE = ("LORA", "IA3")  # PEFT types whose weights fold into the base (prompt learning adds tokens instead)
CHECK_PROMPTS = ("Hello!", "My order arrived broken, what can I do?", "Summarise this in one word: sunny.")
LOGIT_TOLERANCE = 1e-3  # fp32 merge against fp32 adapter: only summation order differs
# A GGUF file read back may differ from the model by this share of its largest logit: f16 rounding, or q8_0's
# 8-bit blocks (SmolLM2's merged demo LoRA: f16 1e-4 of 34, q8_0 1.2 of 34, greedy answers equal on all prompts).
GGUF_TOLERANCE = {"f16": 0.01, "q8_0": 0.1}


class ExportError(TunewiseError):
    """An export could not be made or did not pass its check."""


def export(run_dir: Path | str, fmt: str, out: Path | str, rung: str | None = None,
           dtype: str = "bf16", gguf_types: list[str] | None = None) -> Path:
    """Write the run's `rung` (default: the recommended one) to `out` as `fmt`; returns `out`."""
    run_dir, out = Path(run_dir), Path(out)
    if fmt not in FORMATS:
        raise ExportError(f"--format {fmt}: expected one of {', '.join(FORMATS)}")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ExportError(f"{out}: already exists and is not empty; tunewise export never overwrites, give a new "
                          "--out folder")
    report = load_report(run_dir)
    entry = _rung_entry(report, rung or report["recommendation"]["rung"])
    source = _artifact(run_dir, entry)
    try:
        if fmt == "adapter":
            shutil.copytree(source, out, dirs_exist_ok=True)
        elif fmt == "merged":
            _merged(run_dir, source, out, dtype)
        else:
            _gguf(run_dir, source, out, gguf_types or list(OUTTYPES), f"{report['run_id']} {entry['name']}")
        (out / "README.md").write_text(model_card(report, entry, fmt), encoding="utf-8")
    except BaseException:
        shutil.rmtree(out, ignore_errors=True)
        raise
    return out


def _rung_entry(report: dict, name: str) -> dict:
    rungs = {r["name"]: r for r in report["rungs"]}
    exportable = [n for n, r in rungs.items() if r["kind"] == "fine-tuning" and not r.get("skipped")]
    if name not in rungs:
        raise ExportError(f"--rung {name}: no such rung in {report['run_id']}; fine-tuned rungs: "
                          f"{', '.join(exportable) or 'none'}")
    if name not in exportable:
        what = "was skipped" if rungs[name].get("skipped") else f"is a {rungs[name]['kind']} rung (nothing trained)"
        raise ExportError(f"--rung {name}: {what}; export takes a fine-tuned rung: {', '.join(exportable) or 'none'}"
                          + (". The report recommends it: its prompt is in report.json's rung entry."
                             if name == report["recommendation"]["rung"] and not rungs[name].get("skipped") else ""))
    return rungs[name]


def _artifact(run_dir: Path, entry: dict) -> Path:
    """The rung's saved folder: adapter/ (adapters) or model/ (full fine-tuning, encoder classifiers)."""
    for folder in ("adapter", "model"):
        path = run_dir / "rungs" / entry["name"] / folder
        if path.is_dir():
            return path
    raise ExportError(f"{run_dir / 'rungs' / entry['name']}: no adapter/ or model/ folder to export")


def _merged_model(run_dir: Path, source: Path):
    """(the rung's model with its adapter folded in, fp32, checked against the adapter model; its tokenizer)."""
    base = load_config(run_dir / "config.yaml").model.name
    kind = adapter_kind(source)
    if kind is None:  # already a whole model (full fine-tuning)
        return load_causal_lm(str(source), dtype=torch.float32)
    method = peft_type(source) if kind == "peft" else kind
    if method not in MERGEABLE:
        raise ExportError(f"{source}: a {method} adapter does not fold into the base weights; export it with "
                          "--format adapter (merging works for LoRA-family and IA3 adapters)")
    adapted, tokenizer, _ = load_adapted(source, base, torch.float32)
    prompts = _check_prompts(tokenizer)
    expected = _logits(adapted, prompts)
    merged = adapted.merge_and_unload()
    gap = max(float((a - b).abs().max()) for a, b in zip(expected, _logits(merged, prompts)))
    if gap > LOGIT_TOLERANCE:
        raise ExportError(f"merging {source} changed the logits by up to {gap:.2e} (tolerance {LOGIT_TOLERANCE:g}); "
                          "nothing was kept")
    return merged, tokenizer


def _check_prompts(tokenizer) -> list[list[int]]:
    return [prompt_ids(tokenizer, [{"role": "user", "content": text}]) for text in CHECK_PROMPTS]


def _merged(run_dir: Path, source: Path, out: Path, dtype: str) -> None:
    """Merge the adapter into its base (logits checked), save, check the saved files reload exactly."""
    if adapter_kind(source) is None:  # already a whole model (full fine-tuning)
        shutil.copytree(source, out, dirs_exist_ok=True)
        return
    merged, tokenizer = _merged_model(run_dir, source)
    merged = merged.to({"bf16": torch.bfloat16, "fp32": torch.float32}[dtype])
    merged.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)  # with its chat template
    reloaded, _ = load_causal_lm(str(out), dtype=merged.dtype)
    for name, tensor in merged.state_dict().items():
        if not torch.equal(tensor, reloaded.state_dict()[name]):
            raise ExportError(f"{out}: {name} reads back different from what was written; nothing was kept")


def _gguf(run_dir: Path, source: Path, out: Path, types: list[str], name: str) -> None:
    """One GGUF file per type, each read back with transformers and compared with the merged model."""
    model, tokenizer = _merged_model(run_dir, source)
    out.mkdir(parents=True, exist_ok=True)
    prompts = _check_prompts(tokenizer)
    expected = _logits(model, prompts)
    greedy = [_greedy(model, p) for p in prompts]
    checks = {}
    for outtype in types:
        path = write_gguf(model, tokenizer, out / f"model-{outtype}.gguf", outtype, name)
        back = from_local(AutoModelForCausalLM, out, gguf_file=path.name, dtype=torch.float32).eval()
        scale = max(float(e.abs().max()) for e in expected)
        gap = max(float((e - b).abs().max()) for e, b in zip(expected, _logits(back, prompts)))
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


@torch.inference_mode()
def _logits(model, prompts: list[list[int]]) -> list[torch.Tensor]:
    return [model(input_ids=torch.tensor([ids])).logits[0].float() for ids in prompts]


def model_card(report: dict, entry: dict, fmt: str) -> str:
    """README.md for the exported folder: what it was trained for, how well it does, how to load it."""
    task, data, metric = report["task"], report["data"], report["primary_metric"]
    lines = [f"# {entry['name']} from tunewise run {report['run_id']}", "",
             f"{entry['description']}. Exported as `{fmt}`.", "",
             "## Task", "", f"- type: {task['type']}; primary metric: {metric}",
             f"- instruction (system message): {task['instruction'] or '(none)'}"]
    if task.get("labels"):
        lines.append(f"- labels: {', '.join(task['labels'])}")
    splits = (data.get("counts") or {}).get("splits") or {}
    if splits:
        lines.append(f"- data: {', '.join(f'{n} {k}' for k, n in splits.items())} examples")
    lines += ["", "## Scores on the held-out test set (95% bootstrap CI)", "", "| metric | value |", "|---|---|"]
    lines += [f"| {name} | {m['value']:.3f} [{m['ci_low']:.3f}, {m['ci_high']:.3f}] |"
              for name, m in entry["metrics"].items()]
    base = report["config"]["model"]["name"]
    lines += ["", "## Load it", "", ("With tunewise: `tunewise eval THIS_FOLDER --benchmark general_knowledge`"
              ". With transformers:"), "", "```python"]
    if fmt == "adapter":
        lines += ["from peft import PeftModel", "from transformers import AutoModelForCausalLM, AutoTokenizer",
                  f"BASE = {base!r}  # the base it was trained on ('smollm2': the folder `tunewise models` prints)",
                  "base = AutoModelForCausalLM.from_pretrained(BASE)",
                  "model = PeftModel.from_pretrained(base, 'THIS_FOLDER')",
                  "tokenizer = AutoTokenizer.from_pretrained(BASE)"]
    elif fmt == "merged":
        lines += ["from transformers import AutoModelForCausalLM, AutoTokenizer",
                  "model = AutoModelForCausalLM.from_pretrained('THIS_FOLDER')",
                  "tokenizer = AutoTokenizer.from_pretrained('THIS_FOLDER')"]
    else:
        lines += ["from transformers import AutoModelForCausalLM, AutoTokenizer",
                  "model = AutoModelForCausalLM.from_pretrained('THIS_FOLDER', gguf_file='model-f16.gguf')",
                  "tokenizer = AutoTokenizer.from_pretrained('THIS_FOLDER', gguf_file='model-f16.gguf')",
                  "# llama.cpp: llama-cli -m THIS_FOLDER/model-q8_0.gguf (the chat template is in the file)"]
    lines += ["```", "", ("Prompt it as tunewise scored it: the instruction as the system message, the input as the "
              "user message, through the tokenizer's chat template."), ""]
    if fmt == "adapter":
        lines += [(f"`{BASE_RECORD}` records hashes of the base's config and tokenizer; tunewise refuses to load the "
                  "adapter on another base."), ""]
    return "\n".join(lines)
