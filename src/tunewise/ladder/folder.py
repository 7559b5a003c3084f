"""The run folder: its name, and the checks that let `tunewise run --resume` continue it (same data, same config
but for the fields that cannot change what a finished rung computed).
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import json
from pathlib import Path

from tunewise.config import Config, config_to_yaml, flat_differences, load_config
from tunewise.errors import ConfigError, Problem, TunewiseError
from tunewise.io import write_text


def new_run_dir(config: Config) -> Path:
    """runs/<UTC time>-<config hash>; never an existing folder (nothing the user had is overwritten)."""
    digest = hashlib.sha256(config_to_yaml(config).encode()).hexdigest()[:6]
    stamp = _dt.datetime.now(_dt.UTC).strftime("%Y%m%d-%H%M%S")
    base = Path(config.output_dir) / f"{stamp}-{digest}"
    path, n = base, 1
    while path.exists():
        path, n = Path(f"{base}-{n}"), n + 1
    return path


def check_same_data(run_dir: Path, summary: dict) -> None:
    """A resumed run must see the data it started with: the same files (hashes), split and counts."""
    path = run_dir / "data.json"
    if not path.is_file():
        raise TunewiseError(f"{path}: missing; is {run_dir} a tunewise run folder?")
    saved = json.loads(path.read_text(encoding="utf-8"))
    now = json.loads(json.dumps(summary, default=str))
    differs = sorted(k for k in saved.keys() | now.keys() if saved.get(k) != now.get(k))
    if differs:
        raise TunewiseError(f"{run_dir}: the data changed since the run started ({', '.join(differs)} differ in "
                            "data.json); resuming needs the same files, so start a new run instead")


# Fields a resumed run may change with --allow-changes: they change how often training logs, saves, validates
# and when it stops early, or how many examples a forward pass takes, never what a finished rung computed.
SAFE_ON_RESUME = ("train.log_every", "train.checkpoint_every", "train.eval_every", "train.patience",
                  "train.min_improvement", "train.max_minutes",
                  "train.max_val_examples", "eval.batch_size")


def resume_config(run_dir: Path, config_path: Path | None = None, overrides: list[str] | None = None,
                  allow: list[str] | None = None) -> Config:
    """The config to resume `run_dir` with: its saved config.yaml, or the one given (a YAML and/or --set
    overrides), refused with every differing field named unless each is in `allow` (and safe to change)."""
    saved_path = Path(run_dir) / "config.yaml"
    if not saved_path.is_file():
        raise TunewiseError(f"{saved_path}: missing; is {run_dir} a tunewise run folder?")
    saved = load_config(saved_path)
    if config_path is None and not overrides:
        return saved
    requested = load_config(config_path or saved_path, overrides)
    differs = flat_differences(saved.model_dump(mode="json"), requested.model_dump(mode="json"))
    allow = allow or []
    source = str(config_path) if config_path else "--set"
    problems = [Problem(source, None, field, "unsafe_change",
                        f"{field} cannot change when resuming: finished rungs were computed with it; allowed: "
                        f"{', '.join(SAFE_ON_RESUME)}") for field in allow if field not in SAFE_ON_RESUME]
    problems += [Problem(source, None, field, "changed_on_resume",
                         f"was {a!r} when the run started, now {b!r}; resume with the same value"
                         + (f" or pass --allow-changes {field}" if field in SAFE_ON_RESUME else ""))
                 for field, (a, b) in differs.items() if field not in allow]
    if problems:
        raise ConfigError(problems, title="the config differs from the run being resumed")
    if differs:
        n = len(list(Path(run_dir).glob("config.before-resume-*.yaml"))) + 1
        write_text(Path(run_dir) / f"config.before-resume-{n}.yaml", saved_path.read_text(encoding="utf-8"))
        write_text(saved_path, config_to_yaml(requested))
    return requested
