"""Errors meant for people: each says what was wrong, where, and what was expected.

The CLI prints any TunewiseError without a traceback; anything else is a bug in tunewise.
"""
from __future__ import annotations

import signal
from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One problem found in user input, located as precisely as we can."""

    file: str
    line: int | None
    field: str | None
    code: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        field = self.field or "-"
        return f"{where}: {field}: {self.code}: {self.message}"


class TunewiseError(Exception):
    """Base class of every error tunewise raises on purpose."""


class ProblemsError(TunewiseError):
    """Several problems reported together, so the user can fix them all at once."""

    title = "problems found"

    def __init__(self, problems: list[Problem], title: str | None = None):
        self.problems = list(problems)
        self.title = title or self.title
        lines = [f"{len(self.problems)} {self.title}:"] + [f"  {p}" for p in self.problems]
        super().__init__("\n".join(lines))


class ConfigError(ProblemsError):
    """The configuration (YAML + overrides) is invalid."""

    title = "configuration problem(s)"


class DataError(ProblemsError):
    """The data set has problems; every one is listed with file:line: field: code."""

    title = "data problem(s)"


class ModelError(TunewiseError):
    """A model could not be resolved or loaded."""


class OutputError(TunewiseError):
    """A file could not be written (disk full, file size limit, read-only folder)."""


def write_failure(path, err: BaseException) -> OutputError:
    """The error for a failed write: what, where, why, and that nothing already there was changed."""
    why = getattr(err, "strerror", None) or str(err)
    return OutputError(f"{path}: could not write ({why}); free disk space or point output_dir at a writable folder. "
                       "Files already there are unchanged: tunewise writes to a temporary name and renames.")


class TrainingError(TunewiseError):
    """Training could not go on (diverged, nothing to train on, ...)."""


class RunInterrupted(TunewiseError):
    """Ctrl-C or SIGTERM stopped `tunewise run`: the message says what was kept and how to resume. `report` is the
    partial report written for the finished rungs (None when none was written)."""

    def __init__(self, message: str, signal_name: str = "SIGINT", report: dict | None = None):
        super().__init__(message)
        self.report = report
        # As a shell reports a process the signal ended: 130 for Ctrl-C, 143 for SIGTERM.
        self.exit_code = 128 + signal.Signals[signal_name].value
