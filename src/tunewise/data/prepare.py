"""The data entry points: check every file (never raises on bad data) or prepare the split for a run.

prepare = validate -> label (classification) -> split -> dedup (data.dedup) -> resolve the task from train -> leakage
report; `check_data` adds the near-duplicate and label-noise reports (hygiene.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tunewise.data.hygiene import (
    DedupReport,
    dedup_split,
    find_label_noise,
    find_near_duplicates,
    near_duplicate_pairs,
)
from tunewise.data.leakage import LeakageReport, find_leakage
from tunewise.data.split import Split, own_split, split_examples
from tunewise.data.validate import (
    CountTokens,
    DataReport,
    problem_dict,
    source_files,
    validate_sources,
)
from tunewise.errors import DataError, Problem
from tunewise.records import Example
from tunewise.sections import DataConfig, TaskConfig
from tunewise.task import Task, example_label, resolve_task, resolve_type


@dataclass
class PreparedData:
    """Everything a run needs from the data: the split, the task, the report, leakage, dedup and the input hashes."""

    split: Split
    task: Task
    report: DataReport
    leakage: LeakageReport
    file_hashes: dict[str, str]  # input file -> sha256 of its bytes
    dedup: DedupReport | None = None  # data.dedup on: what was dropped from train/val before training

    def summary(self) -> dict[str, Any]:
        """JSON-able record of the data side of a run (saved as data.json); `dedup` only when data.dedup is on,
        so that runs without it keep the data.json they had (a resume compares it)."""
        summary = {
            "format": self.report.format,
            "task": self.task.to_dict(),
            "counts": {"files": self.report.files, "labels": self.report.labels, "splits": self.report.splits},
            "overlong": {"count": self.report.overlong, "policy": self.report.overlong_policy},
            "leakage": self.leakage.to_dict(),
            "file_hashes": dict(self.file_hashes),
            "split_ids": self.split.ids(),
            "warnings": [problem_dict(p) for p in self.report.warnings],
        }
        if self.dedup is not None:
            summary["dedup"] = self.dedup.to_dict()
        return summary


def check_data(cfg: DataConfig, task: TaskConfig, count_tokens: CountTokens | None = None) -> DataReport:
    """Every problem in every input file, plus split counts, leakage, near-duplicates and (classification) label
    noise when there are no errors."""
    return _prepared(cfg, task, count_tokens, hygiene=True)[0]


def check_file(
    path: Path | str, cfg: DataConfig, task: TaskConfig, count_tokens: CountTokens | None = None
) -> DataReport:
    """`check_data` for one file (split as `cfg.split` says), for `tunewise data check some.jsonl`."""
    single = cfg.model_copy(update={"path": Path(path), "train": None, "val": None, "test": None})
    return check_data(single, task, count_tokens)


def prepare_data(cfg: DataConfig, task: TaskConfig, count_tokens: CountTokens | None = None) -> PreparedData:
    """The split, task and reports for a run; raises DataError listing every error found."""
    report, prepared = _prepared(cfg, task, count_tokens, hygiene=False)
    if prepared is None:
        raise DataError(report.errors)
    return prepared


def _prepared(
    cfg: DataConfig, task_cfg: TaskConfig, count_tokens: CountTokens | None, hygiene: bool
) -> tuple[DataReport, PreparedData | None]:
    """(report, prepared data or None when the report has errors); `hygiene`: also find near-duplicates and label
    noise for the report (data check), which a run skips: they change nothing it trains on."""
    checked = validate_sources(cfg, task_cfg, count_tokens)
    report = checked.report
    if report.errors:
        return report, None
    first_file = str(next(iter(source_files(cfg).values())))
    stratify = resolve_type(task_cfg, report.format) == "classification"
    split = _split(checked.examples, cfg, stratify)
    if hygiene or cfg.dedup:  # compared once, for both
        pairs = near_duplicate_pairs(split.as_dict(), cfg.near_duplicate_threshold)
        if hygiene:
            report.near_duplicates = find_near_duplicates(split.as_dict(), cfg.near_duplicate_threshold, pairs)
        if cfg.dedup:
            split, report.dedup = dedup_split(split, cfg.near_duplicate_threshold, pairs)
    report.splits = split.counts()
    errors, warnings = split_problems(split, first_file)
    report.errors += errors
    report.warnings += warnings
    if report.errors:
        return report, None

    task = resolve_task(task_cfg, split.train, report.format)
    if task.labels is not None:
        report.warnings += unseen_label_problems(split, task.labels, first_file)
    if hygiene and task.type == "classification":
        report.label_noise = find_label_noise(split.train, cfg.label_noise_threshold, cfg.split.seed)
    leakage = find_leakage(split.as_dict())  # after dedup: the leaks the rungs will see
    report.leakage = leakage
    if leakage.leaked:
        report.warnings.append(
            Problem(
                first_file,
                None,
                None,
                "leakage",
                f"val/test prompts repeated from earlier splits: {leakage.normalised} (exact: {leakage.exact})",
            )
        )
    return report, PreparedData(split, task, report, leakage, checked.file_hashes, report.dedup)


def _split(examples: dict[str, list[Example]], cfg: DataConfig, stratify: bool) -> Split:
    if "all" in examples:
        return split_examples(examples["all"], cfg.split, stratify)
    return own_split(examples["train"], examples.get("val"), examples["test"], cfg.split, stratify)


def split_problems(split: Split, file: str) -> tuple[list[Problem], list[Problem]]:
    """(errors, warnings): no training or test examples is an error, no validation examples a warning."""
    errors, warnings = [], []
    for name, found in split.as_dict().items():
        if found:
            continue
        problem = Problem(file, None, None, "too_few_examples", f"the split left no {name} examples; add examples")
        (warnings if name == "val" else errors).append(problem)
    return errors, warnings


def unseen_label_problems(split: Split, labels: list[str], file: str) -> list[Problem]:
    """A warning when val/test hold labels outside the label set: no rung can predict them."""
    known = set(labels)
    unseen = sorted({example_label(e) for e in split.val + split.test} - known)
    if not unseen:
        return []
    return [
        Problem(
            file,
            None,
            "label",
            "label_not_in_train",
            f"val/test labels that training never shows, so no rung can predict them: {', '.join(unseen)}",
        )
    ]
