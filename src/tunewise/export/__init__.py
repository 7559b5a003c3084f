"""`tunewise export`: put a finished run's rung to work outside the run; `export()` is the entry point, each format
lives in its own module.

- `package` (the default; any rung that ran): the rung's saved files (adapter/, model/, classifier/, index/ ...;
  a prompt style has none) with what it needs to answer as it was scored. A prompting or RAG winner is a prompt
  package: base model reference, instruction, demonstration pool or retrieval index, decoding settings.
- `adapter` (adapter.py): the rung's saved folder as it is (PEFT layout for adapters), with a model card.
- `merged` (merged.py): the adapter merged into the base weights (PEFT `merge_and_unload`; a freeze rung's layers
  put back in), saved with the tokenizer and its chat template in Hugging Face layout (safetensors). Checked before
  it is kept: the merged model's logits equal the adapter model's on a few prompts, and the saved files reload to
  exactly the merged weights.
- `gguf` (gguf_check.py, writer in gguf.py): the merged model as GGUF files (f16 and q8_0) with tokenizer and chat
  template metadata, each read back and compared with the merged model; gguf_check.json keeps the numbers.

Every format also writes the manifest, the run's config and, when the rung draws on them, the training examples
(package.py), so `tunewise predict` and `tunewise serve` take any export. Which rung and folder (source.py):
`--rung`, or the recommended one. Nothing is written over: the output folder must not exist (or be empty), and a
failed export removes what it wrote.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from tunewise.config import Config, load_config
from tunewise.data import prepare_data
from tunewise.export.adapter import save_adapter
from tunewise.export.card import model_card
from tunewise.export.gguf import OUTTYPES
from tunewise.export.gguf_check import save_gguf
from tunewise.export.merged import save_merged
from tunewise.export.package import (
    CONFIG_FILE,
    Manifest,
    draws_on_train,
    write_package_files,
)
from tunewise.export.source import ExportError, rung_entry, saved_folder
from tunewise.ladder.plan import rung_named
from tunewise.prompting.templates import token_counter
from tunewise.records import Example
from tunewise.report.files import load_report
from tunewise.task import Task

FORMATS = ("package", "adapter", "merged", "gguf")
WEIGHT_FORMATS = ("adapter", "merged", "gguf")  # what a rung without saved weights (a prompt style, RAG) lacks
SIDE_FOLDERS = ("rag_index",)  # saved beside an adapter's weights and read when it answers (rag_lora's index)

__all__ = ["FORMATS", "ExportError", "default_out", "export", "model_card"]


def default_out(run_dir: Path, rung: str, fmt: str) -> Path:
    """Where an export goes without --out: exports/<rung>-<format> in the run folder."""
    return Path(run_dir) / "exports" / f"{rung}-{fmt}"


def export(run_dir: Path | str, fmt: str = "package", out: Path | str | None = None, rung: str | None = None,
           dtype: str = "bf16", gguf_types: list[str] | None = None) -> Path:
    """Write the run's `rung` (default: the recommended one) to `out` (default: `default_out`) as `fmt`."""
    run_dir = Path(run_dir)
    if fmt not in FORMATS:
        raise ExportError(f"--format {fmt}: expected one of {', '.join(FORMATS)}")
    report = load_report(run_dir)
    entry = rung_entry(report, rung or report["recommendation"]["rung"])
    source = saved_folder(run_dir, entry)
    if source is None and fmt in WEIGHT_FORMATS:
        raise ExportError(f"--rung {entry['name']}: a {entry['kind']} rung saves no weights, so there is no {fmt} to "
                          "write; --format package ships it (base model reference, prompt, demonstrations or index)")
    out = Path(out) if out is not None else default_out(run_dir, entry["name"], fmt)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ExportError(f"{out}: already exists and is not empty; tunewise export never overwrites, give a new "
                          "--out folder")
    config = load_config(run_dir / CONFIG_FILE)
    try:
        artifact = _write_format(fmt, run_dir, source, out, dtype, gguf_types, f"{report['run_id']} {entry['name']}")
        task = Task(**report["task"])
        train = _training_examples(run_dir, config, task, entry["name"])
        data_format = json.loads((run_dir / "data.json").read_text(encoding="utf-8"))["format"]
        manifest = Manifest(fmt, entry["name"], entry["kind"], report["run_id"], artifact, task.to_dict(),
                            config.model.name, data_format, len(train))
        write_package_files(out, manifest, (run_dir / CONFIG_FILE).read_text(encoding="utf-8"), train)
        (out / "README.md").write_text(model_card(report, entry, fmt, artifact), encoding="utf-8")
    except BaseException:
        shutil.rmtree(out, ignore_errors=True)
        raise
    return out


def _write_format(fmt: str, run_dir: Path, source: Path | None, out: Path, dtype: str, gguf_types: list[str] | None,
                  name: str) -> str | None:
    """Write the rung's files in `fmt` into `out`; returns where they are, relative to `out` (None: no files)."""
    out.mkdir(parents=True, exist_ok=True)
    if fmt == "package":
        if source is None:
            return None
        target = out / source.name
        (shutil.copytree if source.is_dir() else shutil.copy2)(source, target)
        return source.name
    if fmt == "adapter":
        save_adapter(source, out)
        return "."
    if fmt == "merged":
        save_merged(run_dir, source, out, dtype)
    else:
        types = gguf_types or list(OUTTYPES)
        save_gguf(run_dir, source, out, types, name)
    for folder in SIDE_FOLDERS:
        if (source / folder).is_dir():
            shutil.copytree(source / folder, out / folder)
    return "." if fmt == "merged" else f"model-{types[0]}.gguf"


def _training_examples(run_dir: Path, config: Config, task: Task, rung: str) -> list[Example]:
    """The run's training split when the rung draws on it (demonstrations, candidate labels), else none; checked to
    be the split the run used (same ids in data.json)."""
    if not draws_on_train(config, task, rung_named(config, task, [], rung)):
        return []
    train = prepare_data(config.data, config.task, token_counter(config.model.name)).split.train
    saved = run_dir / "data.json"
    expected = json.loads(saved.read_text(encoding="utf-8"))["split_ids"]["train"]
    if [e.id for e in train] != expected:
        raise ExportError(f"{run_dir}: the data files changed since the run (its training split differs from "
                          f"{saved}); rung {rung} answers with the training examples it was scored with, so export "
                          "it where the run's data is unchanged")
    return train
