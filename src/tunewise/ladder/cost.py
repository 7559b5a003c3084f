"""What a rung costs: wall time, peak resident memory, parameters and bytes on disk.

Peak RSS is sampled by a background thread while a stage runs, so each rung gets its own peak even though
the process's lifetime maximum only ever grows.
"""
from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psutil


@dataclass
class Measured:
    """Wall time and peak RSS of one stage (fit or predict)."""

    wall_s: float = 0.0
    peak_rss_bytes: int = 0


class measure:
    """Context manager: `with measure() as m: ...` fills `m.wall_s` and `m.peak_rss_bytes`."""

    def __init__(self, interval_s: float = 0.05):
        self.result = Measured()
        self._interval = interval_s
        self._process = psutil.Process(os.getpid())
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.result.peak_rss_bytes = max(self.result.peak_rss_bytes, self._process.memory_info().rss)
            self._stop.wait(self._interval)

    def __enter__(self) -> Measured:
        self._start = time.perf_counter()
        self._thread.start()
        return self.result

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.result.peak_rss_bytes = max(self.result.peak_rss_bytes, self._process.memory_info().rss)
        self.result.wall_s = time.perf_counter() - self._start


def bytes_on_disk(path: Path | None) -> int:
    """Total size of the files under a path (0 when there is none)."""
    if path is None or not path.exists():
        return 0
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())

