"""Where tunewise keeps what outlives a run: converted models, retrieval caches, the run registry.

Its own module, free of torch, so quick commands (`tunewise runs ls`) need not load the model stack.
"""
from __future__ import annotations

import os
from pathlib import Path


def tunewise_home() -> Path:
    """The folder for tunewise's caches: $TUNEWISE_HOME, else ~/.cache/tunewise."""
    return Path(os.environ.get("TUNEWISE_HOME") or Path.home() / ".cache" / "tunewise").expanduser()
