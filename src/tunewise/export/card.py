"""The README.md model card written into every exported folder: what the rung was trained for, its test scores
with confidence intervals, and how to load the folder in transformers, PEFT or llama.cpp.
"""
from __future__ import annotations

from tunewise.models.adapted import BASE_RECORD


def model_card(report: dict, entry: dict, fmt: str, artifact: str | None = None) -> str:
    """README.md for the exported folder: what it was trained for, how well it does, how to use it; `artifact`:
    where the rung's files are in the folder (None: it has none, a prompt style)."""
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
    lines += ["", *_with_tunewise(report["task"]["type"], base)]
    if fmt == "package":
        return "\n".join(lines + _package_contents(entry, artifact))
    lines += ["## Load it elsewhere", "", ("Benchmarks: `tunewise eval THIS_FOLDER --benchmark general_knowledge`. "
              "With transformers:"), "", "```python"]
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


def _with_tunewise(task_type: str, base: str) -> list[str]:
    """How to answer with the folder as the rung was scored: offline predictions, or the server."""
    route = "/v1/classify (label + probabilities) and /v1/predict" if task_type == "classification" else "/v1/predict"
    return ["## Use it with tunewise", "",
            f"It answers as the rung was scored (instruction, labels, decoding: `config.yaml`), on base model `{base}`.",
            "", "```sh", "tunewise predict THIS_FOLDER inputs.jsonl --out predictions.jsonl   # a file in the run's "
            "data format (answers optional)", f"tunewise serve THIS_FOLDER   # POST {route}", "```", ""]


def _package_contents(entry: dict, artifact: str | None) -> list[str]:
    """What a package holds besides the manifest (tunewise_export.json) and the run's config (config.yaml)."""
    lines = ["## What is in the folder", "", "- `tunewise_export.json`: which rung of which run, where its files are",
             "- `config.yaml`: the run's whole config (prompt, retrieval and decoding settings)"]
    if artifact:
        lines.append(f"- `{artifact}/`: the files rung {entry['name']} saved (safetensors and JSON; an `adapter/` "
                     "opens in PEFT, a `model/` in transformers)")
    else:
        lines.append(f"- no weights: {entry['name']} prompts the base model unchanged")
    lines += ["- `train.jsonl` (when present): the training examples it draws demonstrations or candidate labels "
              "from", ""]
    return lines
