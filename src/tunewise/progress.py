"""Progress lines with rate and ETA for anything that takes more than a few seconds.

Plain lines on stderr (one every `every_s` seconds at most), so logs and CI output stay readable.
"""
from __future__ import annotations

import sys
import time
from collections.abc import Callable

from tunewise.distributed import is_main


def progress_printer(what: str, total: int, unit: str = "examples", every_s: float = 10.0) -> Callable[[int], None]:
    """A callback `report(done)` that prints `what: done/total (rate, ETA)` at most every `every_s` seconds."""
    started = time.perf_counter()
    last = [started]

    def report(done: int) -> None:
        now = time.perf_counter()
        if not is_main() or (done < total and now - last[0] < every_s):  # one process reports
            return
        last[0] = now
        rate = done / max(now - started, 1e-9)
        eta = (total - done) / rate if rate > 0 else 0.0
        print(f"[tunewise] {what}: {done}/{total} {unit} ({rate:.1f}/s, ETA {clock(eta)})", file=sys.stderr, flush=True)

    return report


def clock(seconds: float) -> str:
    """Seconds as H:MM:SS."""
    minutes, seconds = divmod(int(seconds), 60)
    return f"{minutes // 60}:{minutes % 60:02d}:{seconds:02d}"
