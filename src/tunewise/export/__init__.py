"""`tunewise export`: put a finished run's rung to work outside tunewise, as its adapter, merged weights or GGUF
files; `export()` is the entry point, each format lives in its own module.

- `adapter` (adapter.py): the rung's adapter folder as saved (PEFT layout), with a model card (README.md, card.py).
- `merged` (merged.py): the adapter merged into the base weights (PEFT `merge_and_unload`), saved with the
  tokenizer and its chat template in Hugging Face layout (safetensors). Checked before it is kept: the merged
  model's logits equal the adapter model's on a few prompts, and the saved files reload to exactly the merged weights.
- `gguf` (gguf_check.py, writer in gguf.py): the merged model as GGUF files (f16 and q8_0) with tokenizer and chat
  template metadata, each read back with transformers and compared with the merged model (logits, greedy answers);
  gguf_check.json keeps the numbers.

Which rung and folder (source.py): `--rung`, or the recommended one; it must be fine-tuned. Nothing is written
over: the output folder must not exist (or be empty), and a failed check removes what it wrote.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from tunewise.export.adapter import save_adapter
from tunewise.export.card import model_card
from tunewise.export.gguf import OUTTYPES
from tunewise.export.gguf_check import save_gguf
from tunewise.export.merged import save_merged
from tunewise.export.source import ExportError, rung_entry, saved_folder
from tunewise.report.files import load_report

FORMATS = ("adapter", "merged", "gguf")

__all__ = ["FORMATS", "ExportError", "export", "model_card"]


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
    entry = rung_entry(report, rung or report["recommendation"]["rung"])
    source = saved_folder(run_dir, entry)
    try:
        if fmt == "adapter":
            save_adapter(source, out)
        elif fmt == "merged":
            save_merged(run_dir, source, out, dtype)
        else:
            save_gguf(run_dir, source, out, gguf_types or list(OUTTYPES), f"{report['run_id']} {entry['name']}")
        (out / "README.md").write_text(model_card(report, entry, fmt), encoding="utf-8")
    except BaseException:
        shutil.rmtree(out, ignore_errors=True)
        raise
    return out
