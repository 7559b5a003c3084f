"""The run configuration: one YAML file plus `--set a.b=value` overrides, validated as a whole.

The root `Config` is the shared sections (tunewise.sections), the tune section (here) and one section per
registered method (tunewise.methods: each method module owns its section). Every field carries a one-line
description (shown by `tunewise config show --doc`); every default is written once. Validation collects all
problems and reports them together with their paths.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    create_model,
    field_validator,
    model_validator,
)

from tunewise.errors import ConfigError, Problem
from tunewise.methods import METHODS, SECTIONS
from tunewise.methods.lora import LoraConfig
from tunewise.sections import (
    DATA_FILES,
    DataConfig,
    DecisionConfig,
    EvalConfig,
    ForgettingConfig,
    ModelConfig,
    PromptConfig,
    RagConfig,
    RungName,
    Section,
    TaskConfig,
    TrainConfig,
    resolve_file_fields,
)

# ---------------------------------------------------------------- tune (`tunewise tune`, tunewise/tune.py)


class SearchSpec(Section):
    """Where one parameter is searched: a list of choices (YAML: a plain list), or a range {low, high, log}."""

    choices: list[int | float] | None = Field(None, min_length=1, description="the values tried, in any order")
    low: float | None = Field(None, description="range: the smallest value")
    high: float | None = Field(None, description="range: the largest value")
    log: bool = Field(False, description="range: sample on a log scale (rates and ranks that span decades)")

    @model_validator(mode="before")
    @classmethod
    def _list_is_choices(cls, data: Any) -> Any:
        return {"choices": data} if isinstance(data, list) else data

    @model_validator(mode="after")
    def _choices_or_range(self) -> SearchSpec:
        problems = []
        if self.choices is not None and (self.low is not None or self.high is not None):
            problems.append("give either a list of choices or {low, high, log}, not both")
        elif self.choices is None and (self.low is None or self.high is None):
            problems.append("a range needs both low and high (or give a list of choices)")
        elif self.choices is None and self.low >= self.high:
            problems.append(f"low ({self.low:g}) must be below high ({self.high:g})")
        if self.log and self.choices is not None:
            problems.append("log applies to a range, not to a list of choices")
        elif self.log and self.low is not None and self.low <= 0:
            problems.append(f"log needs low > 0 (got {self.low:g}): a log scale has no zero")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def __repr__(self) -> str:  # as YAML spells it (docs/config.md shows defaults with repr)
        if self.choices is not None:
            return repr(self.choices)
        return f"{{low: {self.low:g}, high: {self.high:g}, log: {str(self.log).lower()}}}"


def _fits(section: type[BaseModel], name: str, spec: SearchSpec | None) -> SearchSpec | None:
    """`spec` with every value checked, and converted, as the field `name` of `section` takes it (lora.r: ints)."""
    if spec is None:
        return None
    target, problems, checked = section(), [], {}
    values = {"choices": spec.choices} if spec.choices is not None else {"low": [spec.low], "high": [spec.high]}
    for key, items in values.items():
        converted = []
        for value in items:
            try:
                setattr(target, name, value)  # validate_assignment: the field's own type and bounds
                converted.append(getattr(target, name))
            except ValidationError as err:
                problems.append(f"{key} {value!r}: {err.errors()[0]['msg']}")
        checked[key] = converted if key == "choices" else converted[0] if converted else None
    if problems:
        raise ValueError("; ".join(problems))
    return spec.model_copy(update=checked)


SEARCHABLE = {"train": ("lr", "epochs", "weight_decay"), "lora": ("r", "alpha", "dropout")}


def _not_searchable(value: Any) -> Any:
    known = ", ".join(f"{section}.{name}" for section, names in SEARCHABLE.items() for name in names)
    raise ValueError(f"not a searchable parameter; searchable: {known}")


class _SpaceSection(Section):
    # Unknown names are kept as extras only to fail one by one, each with the list of searchable ones (pydantic's
    # own extra_forbidden message would not say what is allowed).
    model_config = ConfigDict(extra="allow", validate_assignment=True)
    __pydantic_extra__: dict[str, Annotated[Any, AfterValidator(_not_searchable)]] = Field(init=False)


class TrainSearch(_SpaceSection):
    lr: SearchSpec | None = Field(
        default_factory=lambda: SearchSpec(low=1e-5, high=1e-3, log=True),
        description="train.lr: a list of choices or {low, high, log}; null: not searched (train.lr is used)",
    )
    epochs: SearchSpec | None = Field(
        None, description="train.epochs, likewise (not with train.max_steps, which overrides epochs)"
    )
    weight_decay: SearchSpec | None = Field(None, description="train.weight_decay, likewise")

    @field_validator("lr", "epochs", "weight_decay")
    @classmethod
    def _values_fit(cls, spec: SearchSpec | None, info: ValidationInfo) -> SearchSpec | None:
        return _fits(TrainConfig, info.field_name, spec)


class LoraSearch(_SpaceSection):
    r: SearchSpec | None = Field(
        default_factory=lambda: SearchSpec(choices=[8, 16, 32]),
        description="lora.r: a list of choices or {low, high, log} (whole numbers); null: not searched",
    )
    alpha: SearchSpec | None = Field(None, description="lora.alpha, likewise")
    dropout: SearchSpec | None = Field(None, description="lora.dropout, likewise")

    @field_validator("r", "alpha", "dropout")
    @classmethod
    def _values_fit(cls, spec: SearchSpec | None, info: ValidationInfo) -> SearchSpec | None:
        return _fits(LoraConfig, info.field_name, spec)


class SearchSpace(_SpaceSection):
    train: TrainSearch = Field(default_factory=TrainSearch, description="training parameters searched")
    lora: LoraSearch = Field(default_factory=LoraSearch, description="LoRA parameters searched")

    def searched(self) -> dict[str, SearchSpec]:
        """{'train.lr': spec, ...} for every parameter searched, in SEARCHABLE order."""
        return {f"{section}.{name}": spec for section, names in SEARCHABLE.items() for name in names
                if (spec := getattr(getattr(self, section), name)) is not None}


class TuneConfig(Section):
    method: Literal["lora", "lora_attention", "rslora", "dora"] = Field(
        "lora", description="the LoRA-family method every trial trains, exactly as its ladder rung does"
    )
    objective: Literal["val_loss"] = Field(
        "val_loss",
        description="what a trial is scored by, minimised: its best validation loss (the test split stays untouched "
        "for the ladder's final comparison; choosing settings by it would leak the test set into them)",
    )
    space: SearchSpace = Field(
        default_factory=SearchSpace, description="the parameters searched and where (see docs/tune.md)"
    )
    prune_startup_trials: int = Field(
        5, ge=0, description="trials that finish before any is pruned (the median needs a few trials to compare with)"
    )
    prune_warmup_steps: int = Field(
        0, ge=0, description="optimizer steps every trial trains before it can be pruned (early losses say little)"
    )



# Fine-tuning methods, in the order a plan runs them (roughly cheapest first): the registry's (tunewise.methods).
MethodName = Literal[tuple(METHODS)]
ALL_METHODS: list[str] = list(METHODS)
# The demo's plan: LoRA next to the prompting rungs (LoRA trains in about 6 minutes on 2 cores); `plan: thorough` runs them all.
DEFAULT_METHODS = ["lora"]
METHOD_SUMMARIES = {name: spec.summary for name, spec in METHODS.items()}
OPT_IN_METHODS = [name for name, spec in METHODS.items() if not spec.thorough]  # named in `methods:` only


class _SharedConfig(Section):
    """A whole tunewise run: the shared sections (`Config` adds one section per registered method)."""

    _source: str = PrivateAttr("<config>")  # the YAML file it was read from, for error messages

    task: TaskConfig = Field(default_factory=TaskConfig, description="what is predicted and how it is scored")
    data: DataConfig = Field(description="where the examples are and how they are split")
    model: ModelConfig = Field(default_factory=ModelConfig, description="which models are used")
    rungs: list[RungName] = Field(
        ["zero_shot", "few_shot"], description="the prompting rungs of the ladder (fine-tuning: `methods`)"
    )
    methods: list[MethodName] = Field(
        DEFAULT_METHODS, description="the fine-tuning methods of the ladder, each one rung (`tunewise methods` lists them)"
    )
    plan: Literal["default", "thorough"] = Field(
        "default", description="thorough: every fine-tuning method but the opt-in ones (grpo; those that cannot run "
        "here show as skipped)"
    )
    prompt: PromptConfig = Field(default_factory=PromptConfig, description="prompting rungs")
    rag: RagConfig = Field(default_factory=RagConfig, description="retrieval-augmented rungs (rag, rag_lora)")
    train: TrainConfig = Field(default_factory=TrainConfig, description="training loop (every fine-tuning rung)")
    eval: EvalConfig = Field(default_factory=EvalConfig, description="scoring and confidence intervals")
    decision: DecisionConfig = Field(
        default_factory=DecisionConfig, description="how the recommendation weighs training against prediction cost"
    )
    forgetting: ForgettingConfig = Field(
        default_factory=ForgettingConfig, description="general-knowledge check of every fine-tuned rung against the base"
    )
    tune: TuneConfig = Field(
        default_factory=TuneConfig, description="hyperparameter search of one method (`tunewise tune`, docs/tune.md)"
    )
    output_dir: Path = Field(Path("runs"), description="runs are written to <output_dir>/<run id>/")
    seed: int = Field(0, description="global seed, recorded with the run")

    @property
    def source(self) -> str:
        """The file this config was read from ('<config>' when built in code)."""
        return self._source

    def __eq__(self, other: object) -> bool:
        """Equal settings make equal configs, wherever each was read from."""
        return isinstance(other, Config) and self.model_dump() == other.model_dump()

    @model_validator(mode="after")
    def _template_given(self) -> Config:
        if "template" in self.rungs and not self.prompt.template:
            raise ValueError("the template rung needs prompt.template (a Jinja2 template that uses {{ input }})")
        return self

    @field_validator("tune")
    @classmethod
    def _searched_epochs_matter(cls, tune: TuneConfig, info: ValidationInfo) -> TuneConfig:
        train = info.data.get("train")  # None: the train section has problems of its own, reported instead
        if train is not None and train.max_steps is not None and tune.space.train.epochs is not None:
            raise ValueError(f"space.train.epochs: train.max_steps ({train.max_steps}) overrides epochs, so every "
                             "trial would take the same steps; set train.max_steps to null or stop searching epochs")
        return tune


Config = create_model(
    "Config",
    __base__=_SharedConfig,
    __doc__="A whole tunewise run: the shared sections, then one section per registered method.",
    __validators__={name: check for spec in SECTIONS for name, check in spec.checks.items()},
    **{spec.key: (spec.model, Field(default_factory=spec.model, description=spec.description)) for spec in SECTIONS},
)


# ---------------------------------------------------------------- loading


def parse_override(text: str) -> tuple[list[str], Any]:
    """'train.lr=1e-4' -> (['train', 'lr'], 1e-4); the value is parsed as YAML."""
    if "=" not in text:
        raise ConfigError([Problem("--set", None, text, "bad_override", "expected KEY=VALUE, e.g. train.lr=1e-4")])
    key, value = text.split("=", 1)
    return key.strip().split("."), yaml.safe_load(value)


def apply_overrides(raw: dict, overrides: list[str]) -> dict:
    """Set each dotted key in a copy of the raw YAML mapping."""
    raw = _deep_copy(raw)
    for text in overrides:
        keys, value = parse_override(text)
        node = raw
        for key in keys[:-1]:
            node = node.setdefault(key, {})
            if not isinstance(node, dict):
                raise ConfigError([Problem("--set", None, text, "bad_override", f"'{key}' is not a section")])
        node[keys[-1]] = value
    return raw


def flat_differences(a: dict, b: dict, prefix: str = "") -> dict[str, tuple]:
    """{dotted field: (a's value, b's value)} for every leaf that differs between two config dumps."""
    out = {}
    for key in sorted(a.keys() | b.keys()):
        x, y = a.get(key), b.get(key)
        if isinstance(x, dict) and isinstance(y, dict):
            out |= flat_differences(x, y, f"{prefix}{key}.")
        elif x != y:
            out[f"{prefix}{key}"] = (x, y)
    return out


def _deep_copy(raw: dict) -> dict:
    return {k: _deep_copy(v) if isinstance(v, dict) else v for k, v in raw.items()}


def resolve_paths(raw: dict, base: Path) -> dict:
    """Data paths in a YAML file are relative to the YAML file's folder."""
    resolve_file_fields(raw.get("data"), DATA_FILES, base)
    resolve_file_fields(raw.get("rag"), ("documents",), base)
    resolve_file_fields(raw.get("forgetting"), ("benchmark",), base)
    resolve_file_fields(raw.get("task"), ("judge",), base)
    for spec in SECTIONS:
        if spec.resolve_paths is not None:
            spec.resolve_paths(raw.get(spec.key), base)
    return raw


def config_from_dict(raw: dict, source: str = "<config>") -> Config:
    """Validate a raw mapping; every problem is reported at once with its dotted path."""
    try:
        config = Config.model_validate(raw)
        config._source = source
        return config
    except ValidationError as err:
        problems = [
            Problem(source, None, ".".join(str(p) for p in e["loc"]) or "-", e["type"], e["msg"]) for e in err.errors()
        ]
        raise ConfigError(problems) from None


def load_config(path: Path | str, overrides: list[str] | None = None) -> Config:
    """Read a tunewise.yaml, apply `--set` overrides and validate."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError([Problem(str(path), None, None, "not_found", "config file does not exist")])
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as err:
        line = getattr(getattr(err, "problem_mark", None), "line", None)
        raise ConfigError(
            [Problem(str(path), None if line is None else line + 1, None, "bad_yaml", str(err).splitlines()[0])]
        ) from None
    if not isinstance(raw, dict):
        raise ConfigError([Problem(str(path), 1, None, "bad_yaml", "expected a mapping of sections at the top level")])
    # Absolute: the resolved config is saved in the run folder, and a path relative to the working folder would
    # be read relative to the run folder when `tunewise run --resume` loads it back.
    raw = resolve_paths(apply_overrides(raw, overrides or []), path.parent.resolve())
    return config_from_dict(raw, str(path))


def config_to_yaml(config: Config) -> str:
    """The resolved config as YAML; loading it back gives the same Config."""
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)


@dataclass(frozen=True)
class FieldDoc:
    """One config field as documented: dotted name, type in words, default (repr; empty when required), description."""

    name: str
    kind: str
    default: str
    description: str


def field_docs(model: type[BaseModel] = Config, prefix: str = "") -> list[FieldDoc]:
    """Every field of `model` and its sections, depth first, for `config show --doc` and docs/config.md."""
    rows = []
    for name, info in model.model_fields.items():
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            rows.extend(field_docs(annotation, f"{prefix}{name}."))
            continue
        item = _list_item_model(annotation)
        if item is not None:  # a list of sections: its own line, then each item's fields as name[].field
            rows.append(FieldDoc(prefix + name, f"list of {item.__name__}",
                                 repr(info.get_default(call_default_factory=True)), info.description or ""))
            rows.extend(field_docs(item, f"{prefix}{name}[]."))
            continue
        default = "" if info.is_required() else repr(info.get_default(call_default_factory=True))
        rows.append(FieldDoc(prefix + name, type_words(annotation), default, info.description or ""))
    return rows


def describe_fields(model: type[BaseModel] = Config, prefix: str = "") -> list[tuple[str, str, str]]:
    """(dotted name, default, description) for every field, for `config show --doc`."""
    return [(f.name, f.default, f.description) for f in field_docs(model, prefix)]


def type_words(annotation) -> str:
    """A field's type as a reader wants it: `a | b` for choices, `X or null` for optional ones."""
    origin, args = getattr(annotation, "__origin__", None), getattr(annotation, "__args__", ())
    if origin is Literal:
        return " | ".join(repr(a) if isinstance(a, str) else str(a) for a in args)
    if args and type(None) in args and origin is not list and origin is not dict:  # X | None
        rest = [a for a in args if a is not type(None)]
        return " or ".join(type_words(a) for a in rest) + " or null"
    if origin in (list, dict):
        return f"{origin.__name__} of {', '.join(type_words(a) for a in args)}"
    if args:  # another union
        return " or ".join(type_words(a) for a in args)
    return getattr(annotation, "__name__", str(annotation))


def _list_item_model(annotation) -> type[BaseModel] | None:
    """The section class of a `list[Section]` annotation, else None."""
    args = getattr(annotation, "__args__", ())
    if getattr(annotation, "__origin__", None) is list and len(args) == 1:
        item = args[0]
        if isinstance(item, type) and issubclass(item, BaseModel):
            return item
    return None
