"""The user's judge: their own function that scores a generated answer, `task.judge: path/to/judge.py:function`.

It is called as function(prompt, completion) and returns true/false or a number; it runs the user's code in this
process (documented as such). Every rung's answers are scored by it the same way (judge_pass, judge_score), and the
RL rung uses it as its reward.
"""
from __future__ import annotations

import importlib.util
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tunewise.errors import ConfigError, Problem, TunewiseError


class JudgeError(TunewiseError):
    """The judge failed on an answer, or returned something that is not a score."""


@dataclass(frozen=True)
class Judge:
    """A loaded judge and how its scores become pass/fail."""

    spec: str  # "path/to/judge.py:function", as configured (path made absolute)
    function: Callable[[str, str], object]
    threshold: float  # a number passes at >= threshold; true/false pass as they are

    def score(self, prompt: str, completion: str, where: str = "") -> float:
        """The judge's score of one answer: its number, or 1.0/0.0 for true/false."""
        try:
            value = self.function(prompt, completion)
        except Exception as err:  # the user's code: say whose error it is and on what
            raise JudgeError(f"the judge {self.spec} raised {type(err).__name__}: {err} on {where or 'an answer'}; "
                             "fix the judge (it is called as function(prompt, completion))") from err
        if isinstance(value, bool):
            return float(value)
        if isinstance(value, (int, float)) and math.isfinite(value):
            return float(value)
        raise JudgeError(f"the judge {self.spec} returned {value!r} for {where or 'an answer'}; expected true/false "
                         "or a finite number")

    def passes(self, score: float) -> bool:
        """Whether a score (from `score`) passes: true, or a number at or above the threshold."""
        return score >= self.threshold


def load_judge(spec: str | None, threshold: float, source: str = "task.judge") -> Judge | None:
    """The judge `spec` names ('path.py:function'), imported from its file; None when none is configured.

    Every problem (no colon, missing file, import error, missing or non-callable function) is reported before any
    compute starts, naming the field.
    """
    if spec is None:
        return None
    path_text, _, name = spec.rpartition(":")
    problems = []
    if not path_text or not name:
        problems.append(f"expected 'path/to/judge.py:function', got {spec!r}")
    elif not Path(path_text).is_file():
        problems.append(f"the judge file {path_text} does not exist")
    else:
        function = _import_function(Path(path_text), name, problems)
        if function is not None:
            return Judge(spec, function, threshold)
    raise ConfigError([Problem(source, None, "task.judge", "bad_judge", message) for message in problems])


def _import_function(path: Path, name: str, problems: list[str]) -> Callable | None:
    """The function `name` of the Python file at `path` (imported under a private module name)."""
    module_name = f"tunewise_judge_{abs(hash(str(path.resolve())))}"
    module_spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(module_spec)
    try:
        module_spec.loader.exec_module(module)
    except Exception as err:
        problems.append(f"importing {path} raised {type(err).__name__}: {err}")
        return None
    function = getattr(module, name, None)
    if not callable(function):
        problems.append(f"{path} has no function {name!r}" + ("" if function is None else " (it is not callable)"))
        return None
    return function
