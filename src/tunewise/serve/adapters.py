"""One base model in memory and the adapters on it, each under a name a request's `model` field picks.

Adapters come from the command line (run folders, adapter folders, NAME=FOLDER) or, while serving, from the
admin route, which loads only `<adapter dir>/<name>` for the configured adapter folders. Names are checked (letters,
digits, `._-`, no path separators, no `..`) and every adapter is checked before it is attached (safetensors only, no
NaN, trained on this base). All adapters share one PEFT method (PEFT holds one kind of tuner per model): LoRA-family
or IA3; prompt-learning and bottleneck adapters are not served (their rungs say so at start).
"""
from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
from peft import PeftModel

from tunewise.config import load_config
from tunewise.errors import ModelError, TunewiseError
from tunewise.export.package import is_export, read_manifest
from tunewise.methods.alignment import SFT_FOLDER
from tunewise.methods.artifacts import adapter_kind
from tunewise.models.adapted import (
    attach_peft_adapter,
    peft_base,
    peft_type,
)
from tunewise.models.load import load_causal_lm
from tunewise.standalone import is_run_dir, run_models

BASE = "base"  # the `model` name that answers with the base model alone
SERVABLE = ("LORA", "IA3")  # PEFT methods that leave the input alone, so their requests batch with a KV cache
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
PEFT_BASE = "__base__"  # PEFT's name for "no adapter" in a mixed batch


class ServeError(TunewiseError):
    """The server cannot start, or an adapter cannot be loaded, as asked."""


class AdapterNotFound(ServeError):
    """No adapter of that name is loaded, or none is in the adapter folders."""


@dataclass(frozen=True)
class AdapterSource:
    """An adapter to serve: its name and folder, and where it was named (for errors)."""

    name: str
    path: Path
    origin: str


def name_problem(name: str) -> str | None:
    """Why `name` cannot be an adapter name, or None when it can."""
    if name == BASE:
        return f"'{BASE}' is the base model's name"
    if ".." in name or "/" in name or "\\" in name:
        return "no path separators or '..' in adapter names"
    if not NAME.fullmatch(name):
        return "expected 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"
    return None


@dataclass
class Sources:
    """What the command line asks to serve: the base the first run folder or export names, the adapters (chat
    routes) and the exports (/v1/predict and /v1/classify)."""

    base: str | None
    adapters: list[AdapterSource]
    exports: list[AdapterSource]


def resolve_sources(sources: list[str], log: Callable[[str], None]) -> Sources:
    """Every source on the command line sorted into adapters and exports, every problem reported at once.

    A run folder gives each fine-tuned rung that holds a servable adapter, named after the rung (lora[task] ->
    lora-task for a multi-task run's single-task LoRAs); an adapter folder is named after itself (after its rung for
    runs/<id>/rungs/<rung>/adapter); an export folder (`tunewise export`) is named after its rung, and its adapter
    also answers the chat routes when it is LoRA-family or IA3; NAME=FOLDER names one explicitly.
    """
    found: list[AdapterSource] = []
    exports: list[AdapterSource] = []
    problems: list[str] = []
    base = None
    for source in sources:
        name, sep, where = source.partition("=")
        path = Path(where if sep else source).expanduser()
        if is_export(path):
            manifest = read_manifest(path)
            name = name if sep else _safe_name(manifest.rung)
            problem = name_problem(name)
            if problem:
                problems.append(f"{source}: {problem}")
                continue
            base = base or manifest.base_model
            exports.append(AdapterSource(name, path, source))
            adapter = _export_adapter(path, manifest.artifact)
            if adapter is not None:
                found.append(AdapterSource(name, adapter, source))
        elif sep:
            problem = name_problem(name) or _adapter_problem(path)
            if problem:
                problems.append(f"{source}: {problem}")
            else:
                found.append(AdapterSource(name, path, source))
        elif is_run_dir(path):
            base = base or load_config(path / "config.yaml").model.name
            found += _run_adapters(path, log)
        elif adapter_kind(path) is not None:
            problem = _adapter_problem(path)
            if problem:
                problems.append(f"{source}: {problem}")
            else:
                folder = path.resolve()
                found.append(AdapterSource(_safe_name(folder.parent.name if folder.name == "adapter" else folder.name),
                                           path, source))
        else:
            problems.append(f"{source}: not a run folder (runs/<id>) or an adapter folder (adapter_config.json)")
    problems += _duplicate_names(found) + _duplicate_names(exports)
    if problems:
        raise ServeError("cannot serve:\n  " + "\n  ".join(problems))
    return Sources(base, found, exports)


def _export_adapter(folder: Path, artifact: str | None) -> Path | None:
    """The export's adapter folder when the chat routes can serve it (LoRA-family or IA3), else None."""
    if artifact is None:
        return None
    path = folder / artifact
    return path if adapter_kind(path) == "peft" and _adapter_problem(path) is None else None


def _run_adapters(run_dir: Path, log: Callable[[str], None]) -> list[AdapterSource]:
    """The run's fine-tuned rungs, then a multi-task run's single-task LoRAs (tasks/<task>/lora, as lora-<task>)."""
    adapters = []
    rungs = [(rung, where) for rung, where, _ in run_models(run_dir)[1:]]  # [0] is the base model
    rungs += [(f"lora[{folder.parent.parent.name}]", str(folder))
              for folder in sorted(run_dir.glob("tasks/*/lora/adapter")) if folder.is_dir()]
    for rung, where in rungs:
        problem = _adapter_problem(Path(where))
        if problem:
            log(f"[tunewise] {run_dir}: rung {rung} not served: {problem}")
        else:
            adapters.append(AdapterSource(_safe_name(rung), Path(where), f"{run_dir} rung {rung}"))
    return adapters


def _safe_name(name: str) -> str:
    """A rung or folder name as an adapter name: lora[tickets] -> lora-tickets."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).replace("..", "-").strip("-.") or "adapter"


def _adapter_problem(path: Path) -> str | None:
    kind = adapter_kind(path)
    if kind != "peft":
        what = {None: "not an adapter folder (no adapter_config.json)",
                "head": "a classification head (it predicts labels, not text)"}.get(kind, f"a {kind} adapter")
        return f"{what}; the server takes LoRA-family or IA3 adapters (PEFT)"
    if (path / SFT_FOLDER).is_dir():
        return ("an alignment rung's LoRA, trained on top of the SFT LoRA beside it (adapter/sft): serve its merged "
                "export (tunewise export RUN --rung NAME --format merged) or its package (tunewise export RUN --rung "
                "NAME)")
    method = peft_type(path)
    if method not in SERVABLE:
        return (f"a {method} adapter; the server takes LoRA-family or IA3 adapters (prompt-learning adapters change "
                "the input, so they neither batch with others nor share a cache); evaluate it with tunewise eval")
    return None


def _duplicate_names(found: list[AdapterSource]) -> list[str]:
    problems = []
    for name in sorted({a.name for a in found}):
        same = [a.origin for a in found if a.name == name]
        if len(same) > 1:
            problems.append(f"adapter name '{name}' comes from {' and '.join(same)}; name them: NAME=ADAPTER_FOLDER")
    return problems


class AdapterPool:
    """The base model and its named adapters. Take `lock` around anything that uses or changes the model."""

    def __init__(self, base: str, adapter_dirs: list[Path], dtype: torch.dtype = torch.bfloat16,
                 log: Callable[[str], None] = print):
        self.base_name, self.dtype = base, dtype
        self.adapter_dirs = [Path(d).expanduser().resolve() for d in adapter_dirs]
        self.log = log
        self.model, self.tokenizer = load_causal_lm(base, dtype=dtype)
        if torch.cuda.is_available():
            self.model.to("cuda")
        self.paths: dict[str, Path] = {}
        self.method: str | None = None  # the PEFT method every adapter here shares
        self.lock = threading.RLock()

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def names(self) -> list[str]:
        """Every name a request may use: the base's, then the adapters' in load order."""
        return [BASE, *self.paths]

    def add(self, name: str, path: Path) -> None:
        """Attach the adapter in `path` as `name` (checked: name, folder, method, tensors, base)."""
        problem = name_problem(name) or _adapter_problem(path)
        if problem:
            raise ServeError(f"{path}: {problem}")
        if name in self.paths:
            raise ServeError(f"adapter '{name}' is already loaded (from {self.paths[name]}); unload it first")
        method = peft_type(path)
        with self.lock:
            if self.method and method != self.method:
                raise ServeError(f"{path}: a {method} adapter, but the adapters served here are {self.method}; PEFT "
                                 "holds one method per model: serve it from another process")
            try:
                self.model = attach_peft_adapter(self.model, self.tokenizer, path, self.base_name, name)
            except ModelError as err:
                raise ServeError(str(err)) from None
            self.model.to(self.dtype).eval()  # the adapter's weights too (PEFT keeps them fp32), as the ladder scores
            self.paths[name], self.method = path, method

    def add_from_dirs(self, name: str) -> Path:
        """Load `<adapter dir>/<name>` from the first configured adapter folder that has it; returns its path."""
        problem = name_problem(name)
        if problem:
            raise ServeError(f"adapter name {name!r}: {problem}")
        if not self.adapter_dirs:
            raise ServeError("no adapter folders configured: start the server with --adapter-dir DIR to load "
                             "adapters by name")
        for root in self.adapter_dirs:
            path = (root / name).resolve()
            if path.parent == root and adapter_kind(path) is not None:  # a symlink out of the folder does not count
                self.add(name, path)
                return path
        raise AdapterNotFound(f"no adapter folder '{name}' in {', '.join(map(str, self.adapter_dirs))}")

    def remove(self, name: str) -> Path:
        """Detach adapter `name`; returns the folder it came from."""
        with self.lock:
            if name not in self.paths:
                raise AdapterNotFound(f"adapter '{name}' is not loaded")
            path = self.paths.pop(name)
            if self.paths:
                self.model.delete_adapter(name)
            else:  # PEFT cannot hold zero adapters: back to the plain base model
                self.model = self.model.unload().eval()
                self.method = None
            return path

    @property
    def mixes(self) -> bool:
        """Whether one batch may hold rows for different adapters: PEFT routes each row of a batch through its own
        LoRA (forward's adapter_names); not for IA3 (it scales the shared weights) nor DoRA (PEFT refuses)."""
        if not isinstance(self.model, PeftModel):
            return True
        return self.method == "LORA" and not any(getattr(c, "use_dora", False) for c in self.model.peft_config.values())

    @contextlib.contextmanager
    def active(self, names: list[str]) -> Iterator[tuple[torch.nn.Module, dict]]:
        """(the model, forward keyword arguments) that answer row i of a batch as names[i] (the base or an adapter),
        for the duration of the block; holds the lock."""
        with self.lock:
            missing = sorted({n for n in names if n != BASE and n not in self.paths})
            if missing:
                raise AdapterNotFound(f"adapter {', '.join(map(repr, missing))} is not loaded")
            if not isinstance(self.model, PeftModel):
                yield self.model, {}
            elif len(set(names)) > 1:
                if not self.mixes:  # an IA3 adapter was loaded after the batch was taken
                    raise ServeError("an adapter loaded while this batch waited cannot share a batch with others "
                                     "(IA3, DoRA); send the request again")
                yield self.model, {"adapter_names": [PEFT_BASE if n == BASE else n for n in names]}
            elif names[0] == BASE:
                with self.model.disable_adapter():
                    yield self.model, {}
            else:
                self.model.set_adapter(names[0])
                yield self.model, {}


def base_of(settings_base: str | None, run_base: str | None, adapters: list[AdapterSource]) -> str:
    """The base model to load: --base, else the first run's model, else the first adapter's recorded base."""
    base = settings_base or run_base or next((peft_base(a.path) for a in adapters if peft_base(a.path)), None)
    if not base:
        raise ServeError("no base model: pass --base MODEL (a bundled name, a Hugging Face folder or a GGUF file)")
    return base
