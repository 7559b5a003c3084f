"""Checks over a whole data set: every file, duplicate ids, labels, lengths and size, all problems at once.

Problems are errors (the run cannot start) or warnings (it can, but the user should know); nothing here raises.
"""
from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tunewise.data.formats import answer_field
from tunewise.data.hygiene import DedupReport, LabelNoiseReport, NearDuplicateReport
from tunewise.data.leakage import LeakageReport
from tunewise.data.load import load_file
from tunewise.errors import Problem
from tunewise.records import Example
from tunewise.sections import DataConfig, TaskConfig
from tunewise.task import default_instruction, example_label, resolve_type, with_labels

CountTokens = Callable[[Example, str | None], int]  # (example, system instruction) -> prompt + answer tokens
MANY_LABELS = 20  # more distinct answers than this (and than half the examples) looks like generation


@dataclass
class DataReport:
    """Everything `tunewise data check` says: problems, counts, format, lengths, leakage, hygiene."""

    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    format: str | None = None
    files: dict[str, int] = field(default_factory=dict)  # examples per input file (after dropping overlong ones)
    labels: dict[str, int] = field(default_factory=dict)  # examples per label (classification tasks)
    splits: dict[str, int] = field(default_factory=dict)  # examples per split; empty while there are errors
    overlong: int = 0  # examples longer than data.max_length (0 when no token counter was given)
    overlong_policy: str = "truncate"
    leakage: LeakageReport | None = None
    near_duplicates: NearDuplicateReport | None = None  # `data check` only (a run finds them when data.dedup is on)
    dedup: DedupReport | None = None  # data.dedup on: what was dropped before training
    label_noise: LabelNoiseReport | None = None  # `data check` on classification data only

    @property
    def ok(self) -> bool:
        """True when nothing stops a run."""
        return not self.errors

    def describe(self) -> str:
        """A few lines for the terminal: format, counts, lengths, leakage, hygiene sections and the verdict."""
        lines = [f"format: {self.format or 'unknown'}"]
        lines += [f"file: {path}: {count} examples" for path, count in self.files.items()]
        if self.labels:
            lines.append("labels: " + ", ".join(f"{label} {count}" for label, count in self.labels.items()))
        if self.splits:
            lines.append("split: " + ", ".join(f"{name} {count}" for name, count in self.splits.items()))
        if self.overlong:
            lines.append(f"overlong: {self.overlong} example(s), policy {self.overlong_policy}")
        if self.leakage is not None:
            lines.append(f"leakage: {self.leakage.leaked} val/test prompt(s) repeated from earlier splits")
        for section in (self.near_duplicates, self.dedup, self.label_noise):
            if section is not None:
                lines += section.lines()
        verdict = "ok" if self.ok else "not usable until the errors are fixed"
        lines.append(f"{len(self.errors)} error(s), {len(self.warnings)} warning(s): {verdict}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-able data."""
        return {
            "ok": self.ok,
            "errors": [problem_dict(p) for p in self.errors],
            "warnings": [problem_dict(p) for p in self.warnings],
            "format": self.format,
            "files": dict(self.files),
            "labels": dict(self.labels),
            "splits": dict(self.splits),
            "overlong": {"count": self.overlong, "policy": self.overlong_policy},
            "leakage": self.leakage.to_dict() if self.leakage else None,
            "near_duplicates": self.near_duplicates.to_dict() if self.near_duplicates else None,
            "dedup": self.dedup.to_dict() if self.dedup else None,
            "label_noise": self.label_noise.to_dict() if self.label_noise else None,
        }


def problem_dict(problem: Problem) -> dict[str, Any]:
    """A Problem as JSON-able data."""
    return dataclasses.asdict(problem)


@dataclass
class CheckedData:
    """The outcome of validation: the report and the examples that passed, per role (all | train | val | test)."""

    report: DataReport
    examples: dict[str, list[Example]]
    file_hashes: dict[str, str]


def source_files(cfg: DataConfig) -> dict[str, Path]:
    """The input files by role: {'all': path} for one file, else train/test and val when given."""
    if cfg.path is not None:
        return {"all": cfg.path}
    roles = {"train": cfg.train, "val": cfg.val, "test": cfg.test}
    return {role: path for role, path in roles.items() if path is not None}


def validate_sources(cfg: DataConfig, task: TaskConfig, count_tokens: CountTokens | None = None) -> CheckedData:
    """Load and check every input file; examples are labelled when the task is classification."""
    report = DataReport(overlong_policy=cfg.overlong)
    sources = source_files(cfg)
    fmt = None if cfg.format == "auto" else cfg.format
    examples: dict[str, list[Example]] = {}
    hashes: dict[str, str] = {}
    for role, path in sources.items():
        loaded = load_file(path, cfg, fmt)
        fmt = fmt or loaded.format  # the first file that shows its format decides it for the others
        report.errors += loaded.errors
        report.warnings += loaded.warnings
        examples[role] = loaded.examples
        if loaded.sha256:
            hashes[str(path)] = loaded.sha256
    report.format = fmt
    everything = [e for role in examples for e in examples[role]]
    report.errors += duplicate_ids(everything)

    first_file = str(next(iter(sources.values())))
    if fmt is not None and resolve_type(task, fmt) == "classification":
        examples = {role: with_labels(found) for role, found in examples.items()}
        everything = [e for role in examples for e in examples[role]]
        errors, warnings = label_problems(everything, task, cfg, fmt, first_file)
        report.errors += errors
        report.warnings += warnings
        report.labels = dict(sorted(Counter(example_label(e) for e in everything).items()))

    if count_tokens is not None:
        # Count with the instruction the rungs will send, which for classification lists the labels.
        instruction = task.instruction
        if instruction is None and fmt is not None and resolve_type(task, fmt) == "classification":
            instruction = default_instruction(task.labels or sorted(report.labels))
        examples = _apply_length_policy(examples, cfg, lambda e: count_tokens(e, instruction), report)
    report.errors += size_problems(examples, cfg, sources)
    report.files = {str(sources[role]): len(found) for role, found in examples.items()}
    return CheckedData(report, examples, hashes)


def duplicate_ids(examples: list[Example]) -> list[Problem]:
    """A `duplicate_id` problem for every example whose id was already used (the split saves ids)."""
    first: dict[str, Example] = {}
    problems = []
    for example in examples:
        if example.id in first:
            seen = first[example.id]
            problems.append(
                Problem(
                    example.file,
                    example.line,
                    "id",
                    "duplicate_id",
                    f"id '{example.id}' is also used at {seen.file}:{seen.line}; expected unique ids",
                )
            )
        else:
            first[example.id] = example
    return problems


def label_problems(
    examples: list[Example], task: TaskConfig, cfg: DataConfig, fmt: str, file: str
) -> tuple[list[Problem], list[Problem]]:
    """(errors, warnings) about the label set of a classification task."""
    errors, warnings = [], []
    seen = Counter(example_label(e) for e in examples)
    if task.labels:
        allowed = set(task.labels)
        shown = ", ".join(task.labels[:MANY_LABELS]) + (", ..." if len(task.labels) > MANY_LABELS else "")
        for e in examples:
            if example_label(e) not in allowed:
                errors.append(
                    Problem(
                        e.file,
                        e.line,
                        answer_field(fmt, cfg),
                        "unknown_label",
                        f"expected one of task.labels ({shown}), got '{example_label(e)}'",
                    )
                )
        unused = [label for label in task.labels if label not in seen]
        if unused and examples:
            warnings.append(
                Problem(file, None, "task.labels", "unused_label", f"no example has the label(s): {', '.join(unused)}")
            )
    elif examples and len(seen) < 2:
        errors.append(
            Problem(
                file,
                None,
                answer_field(fmt, cfg),
                "too_few_labels",
                f"a classification task needs at least 2 labels, found {len(seen)}; set task.type: generation?",
            )
        )
    elif len(seen) > max(MANY_LABELS, len(examples) // 2):
        warnings.append(
            Problem(
                file,
                None,
                answer_field(fmt, cfg),
                "many_labels",
                f"{len(seen)} distinct labels in {len(examples)} examples; is this task.type: generation?",
            )
        )
    return errors, warnings


def _apply_length_policy(
    examples: dict[str, list[Example]], cfg: DataConfig, count_tokens: Callable[[Example], int], report: DataReport
) -> dict[str, list[Example]]:
    """Count overlong examples and error on them, drop them or keep them (truncated later), as `overlong` says."""
    kept: dict[str, list[Example]] = {}
    overlong_per_file: Counter[str] = Counter()
    for role, found in examples.items():
        kept[role] = []
        for e in found:
            tokens = count_tokens(e)
            if tokens <= cfg.max_length:
                kept[role].append(e)
                continue
            overlong_per_file[e.file] += 1
            if cfg.overlong == "error":
                report.errors.append(
                    Problem(
                        e.file,
                        e.line,
                        None,
                        "too_long",
                        f"{tokens} tokens, expected at most data.max_length={cfg.max_length}; "
                        "shorten it, raise max_length, or set data.overlong: truncate or drop",
                    )
                )
            if cfg.overlong != "drop":
                kept[role].append(e)
    report.overlong = sum(overlong_per_file.values())
    if cfg.overlong != "error":
        done = "dropped" if cfg.overlong == "drop" else "kept; their prompts will be cut from the left"
        for file, count in overlong_per_file.items():
            report.warnings.append(
                Problem(file, None, None, "too_long", f"{count} example(s) longer than {cfg.max_length} tokens {done}")
            )
    return kept


def size_problems(examples: dict[str, list[Example]], cfg: DataConfig, sources: dict[str, Path]) -> list[Problem]:
    """`too_few_examples` when the data set is smaller than data.min_examples or one of the user's files is empty."""
    problems = []
    total = sum(len(found) for found in examples.values())
    if total < cfg.min_examples:
        problems.append(
            Problem(
                str(sources.get("all", sources.get("train"))),
                None,
                None,
                "too_few_examples",
                f"{total} usable example(s), expected at least data.min_examples={cfg.min_examples}",
            )
        )
    for role in ("train", "val", "test"):
        if role in examples and not examples[role] and Path(sources[role]).exists():
            message = f"the {role} data has no usable examples"
            problems.append(Problem(str(sources[role]), None, None, "too_few_examples", message))
    return problems
