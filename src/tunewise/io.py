"""Atomic file writes: every artifact is written to a temporary file and renamed into place.

A crash mid-write leaves the previous file (or none), never a half-written one.
"""
from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from tunewise.distributed import is_main
from tunewise.errors import write_failure


def write_text(path: Path, text: str) -> None:
    """Write text atomically (temp file in the same folder, then rename); only the main process writes."""
    if not is_main():
        return
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    except OSError as err:
        raise write_failure(path, err) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException as err:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(err, OSError):
            raise write_failure(path, err) from None
        raise


def write_json(path: Path, data) -> None:
    """Write JSON (indented, UTF-8) atomically."""
    write_text(path, json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def write_jsonl(path: Path, rows: Iterable[dict]) -> None:
    """Write one JSON object per line atomically."""
    write_text(path, "".join(json.dumps(r, ensure_ascii=False, default=str) + "\n" for r in rows))
