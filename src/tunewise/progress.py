"""Progress with rate and ETA for anything that takes more than a few seconds.

On a terminal: rich progress bars (conversion spinner, training with loss and tokens/s, evaluation, generation).
Elsewhere (CI, logs, pipes): plain lines on stderr, at most one every `every_s` seconds and always a last one, so
logs stay readable. TUNEWISE_PROGRESS=bars|lines overrides the choice. The CLI switches the libraries' own bars off
(transformers' "Loading weights", "Writing model shards": hundreds of characters per model load in a log); tunewise
says the same in one line.
"""
from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from tunewise.distributed import is_main

PROGRESS_ENV = "TUNEWISE_PROGRESS"


def use_bars() -> bool:
    """Whether progress shows as bars: TUNEWISE_PROGRESS if set, else on an interactive terminal outside CI."""
    choice = os.environ.get(PROGRESS_ENV, "").strip().lower()
    if choice in ("bars", "lines"):
        return choice == "bars"
    return sys.stderr.isatty() and not os.environ.get("CI") and os.environ.get("TERM") != "dumb"


def note(message: str) -> None:
    """One `[tunewise] message` line on stderr, from the main process only."""
    if is_main():
        print(f"[tunewise] {message}", file=sys.stderr, flush=True)


def _bar(what: str, total: int, unit: str, status: bool = False):
    """(rich Progress, task id) for one bar: description, bar, done/total unit, rate, ETA (and a status text)."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeRemainingColumn,
    )

    # markup off: "[tunewise]" and rung names such as lora[size] are text, not rich styles
    columns = [TextColumn("[tunewise] {task.description}", markup=False), BarColumn(), MofNCompleteColumn(), TextColumn(unit),
               TaskProgressColumn(), TextColumn("ETA"), TimeRemainingColumn()]
    if status:
        columns.append(TextColumn("{task.fields[status]}", markup=False))
    bar = Progress(*columns, console=Console(file=sys.stderr), redirect_stderr=True, redirect_stdout=True)
    return bar, bar.add_task(what, total=total, status="")


def progress_printer(what: str, total: int, unit: str = "examples", every_s: float = 10.0) -> Callable[[int], None]:
    """A callback `report(done)` that shows `what: done/total (rate, ETA)`: a bar on a terminal, else a line at
    most every `every_s` seconds (and always at the end)."""
    if is_main() and use_bars():
        bar, task = _bar(what, total, unit)

        def advance(done: int) -> None:
            if not bar.live.is_started:
                bar.start()
            bar.update(task, completed=done)
            if done >= total:
                bar.stop()

        return advance
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


def step_progress(total_steps: int, first_step: int = 0) -> Callable[..., None] | None:
    """For training on a terminal: a callback `show(step, status=None)` driving a bar with the last loss and
    tokens/s as its status; None elsewhere (the loop prints its plain lines instead)."""
    if not (is_main() and use_bars()):
        return None
    bar, task = _bar("train", total_steps, "steps", status=True)
    bar.update(task, completed=first_step)
    bar.start()

    def show(step: int, status: str | None = None) -> None:
        bar.update(task, completed=step, **({"status": status} if status is not None else {}))
        if step >= total_steps:
            bar.stop()

    show.stop = bar.stop  # for a loop that ends early (early stopping, interruption)
    return show


@contextmanager
def closing_bar(show: Callable[..., None] | None) -> Iterator[None]:
    """Stop a step_progress bar however the block ends (early stop, interruption, error); nothing for None."""
    try:
        yield
    finally:
        if show is not None:
            show.stop()


@contextmanager
def spinner(what: str) -> Iterator[None]:
    """`what` with a spinner and the elapsed time on a terminal, for work without steps (model conversion); plain
    start and end lines elsewhere."""
    started = time.perf_counter()
    if not (is_main() and use_bars()):
        print(f"[tunewise] {what} ...", file=sys.stderr, flush=True)
        yield
        print(f"[tunewise] {what}: done in {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
        return
    from rich.console import Console

    with Console(file=sys.stderr).status(f"[tunewise] {what}"):
        yield
    print(f"[tunewise] {what}: done in {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
