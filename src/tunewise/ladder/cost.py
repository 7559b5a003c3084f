"""What a rung costs: wall time, peak resident memory, parameters and bytes on disk; per prediction; and the cost
model the recommendation uses (training once + volume x per prediction, optionally priced).

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

from tunewise.ladder.result import RungResult
from tunewise.records import Prediction
from tunewise.sections import DecisionConfig


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



# ---------------------------------------------------------------- prediction cost (per test example)


def prediction_cost(measured: Measured, predictions: list[Prediction], batch_size: int) -> dict:
    """The predict stage's cost per example: seconds per example, examples per second at `batch_size`, the mean
    prompt tokens of the predictions that counted them (None when none did) and the stage's own peak memory."""
    n = len(predictions)
    counted = [p.prompt_tokens for p in predictions if p.prompt_tokens is not None]
    return {
        "predict_s_per_example": round(measured.wall_s / n, 6) if n else None,
        "predict_examples_per_s": round(n / measured.wall_s, 2) if n and measured.wall_s > 0 else None,
        "predict_batch_size": batch_size,
        "prompt_tokens_per_example": round(sum(counted) / len(counted), 1) if counted else None,
        "predict_peak_rss_bytes": measured.peak_rss_bytes,
    }


# ---------------------------------------------------------------- the cost model: training once, then per prediction


@dataclass(frozen=True)
class CostLine:
    """A rung's total cost as a function of the prediction volume: fixed + volume x per_prediction, in seconds
    (unpriced) or in the price's currency (decision.cpu_hour_cost set)."""

    rung: str
    fixed: float  # training (or a prompting rung's setup) once, plus storage when priced
    per_prediction: float

    def at(self, volume: float) -> float:
        return self.fixed + volume * self.per_prediction


def seconds_per_prediction(result: RungResult) -> float:
    """Predict seconds per test example; results saved before it was recorded divide the test-set time by the
    number of items scored."""
    c = result.cost
    if c.get("predict_s_per_example") is not None:
        return c["predict_s_per_example"]
    n = len(result.item_scores or result.predictions or [])
    return c["predict_wall_s"] / n if n else c["predict_wall_s"]


def cost_line(result: RungResult, decision: DecisionConfig) -> CostLine:
    """The rung's cost line: fit seconds (every kind: a prompting rung's fit is its one-time setup) + seconds per
    prediction, both priced at decision.cpu_hour_cost when it is set, plus the stored bytes at storage_gb_cost."""
    fixed, per = result.cost["fit_wall_s"], seconds_per_prediction(result)
    if decision.cpu_hour_cost is None:
        return CostLine(result.name, fixed, per)
    hourly = decision.cpu_hour_cost / 3600
    storage = (result.cost.get("disk_bytes", 0) / 1e9 * decision.storage_gb_cost
               if decision.storage_gb_cost is not None else 0.0)
    return CostLine(result.name, fixed * hourly + storage, per * hourly)


def cheapest_envelope(lines: list[CostLine]) -> list[tuple[float, CostLine]]:
    """The lower envelope of the lines over volumes >= 0: [(volume from which it is cheapest, line)], the first at 0.

    From the cheapest line at volume 0, the next one is the line with a smaller per-prediction cost that crosses it
    first; lines cheaper per prediction can only take over, never give back.
    """
    current = min(lines, key=lambda line: (line.fixed, line.per_prediction))
    envelope, volume = [(0.0, current)], 0.0
    while True:
        crossings = [((line.fixed - current.fixed) / (current.per_prediction - line.per_prediction), line)
                     for line in lines if line.per_prediction < current.per_prediction]
        crossings = [(max(v, volume), line) for v, line in crossings]
        if not crossings:
            return envelope
        volume, current = min(crossings, key=lambda c: (c[0], c[1].per_prediction))
        envelope.append((volume, current))
