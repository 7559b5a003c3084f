"""`--format adapter`: the rung's saved folder copied as it is (PEFT layout for adapters, Hugging Face layout for
a fully fine-tuned model), so it opens in plain PEFT / transformers.
"""
from __future__ import annotations

import shutil
from pathlib import Path


def save_adapter(source: Path, out: Path) -> None:
    """Copy the rung's saved folder `source` into `out` (empty or new)."""
    shutil.copytree(source, out, dirs_exist_ok=True)
