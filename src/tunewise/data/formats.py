"""The record formats tunewise reads (chat, Alpaca, prompt/completion, text/label, preference pairs, KTO's unpaired
completions) and their checks.

Each record is turned into an `Example`, or into the list of every problem that stopped it.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tunewise.errors import Problem
from tunewise.records import Example, Message
from tunewise.sections import DataConfig

# Detection tries them in this order: the preference formats first, as their records also carry a prompt.
FORMATS = ("preference", "kto", "chat", "alpaca", "prompt_completion", "classification")
# chat needs nested lists: JSONL, Parquet or Arrow, not CSV (a preference pair in CSV has a prompt column and reply
# strings)
CSV_FORMATS = ("preference", "kto", "alpaca", "prompt_completion", "classification")
PREFERENCE_FORMATS = ("preference", "kto")
ROLES = ("system", "user", "assistant")


@dataclass(frozen=True)
class Where:
    """The place of one record, for ids and problems."""

    file: str
    line: int

    def problem(self, field: str | None, code: str, message: str) -> Problem:
        return Problem(self.file, self.line, field, code, message)


@dataclass
class Converted:
    """One record's outcome: an example, or nothing; the problems (errors and warnings) found on the way."""

    example: Example | None
    errors: list[Problem]
    warnings: list[Problem]


def required_fields(fmt: str, cfg: DataConfig) -> tuple[str, ...]:
    """The fields a record of this format must have."""
    return {
        "preference": ("chosen", "rejected"),  # and a prompt: `prompt` (text) or `messages` (a conversation)
        "kto": ("prompt", "completion", "label"),
        "chat": ("messages",),
        "alpaca": ("instruction", "output"),
        "prompt_completion": ("prompt", "completion"),
        "classification": (cfg.text_field, cfg.label_field),
    }[fmt]


def consumed_fields(fmt: str, cfg: DataConfig) -> tuple[str, ...]:
    """Every field the format reads; the rest of a record goes to `Example.meta`."""
    optional = {"alpaca": ("input",), "preference": ("prompt", "messages")}.get(fmt, ())
    return (*required_fields(fmt, cfg), *optional, cfg.id_field)


def answer_field(fmt: str, cfg: DataConfig) -> str:
    """The field that holds the answer (the label, for classification), for problem messages."""
    return {"chat": "messages", "alpaca": "output", "prompt_completion": "completion", "preference": "chosen",
            "kto": "completion"}.get(fmt, cfg.label_field)


def detect_format(fields: Iterable[str], cfg: DataConfig) -> str | None:
    """The first format whose required fields are all present, in the order of FORMATS; None when none fits."""
    present = set(fields)
    for fmt in FORMATS:
        if set(required_fields(fmt, cfg)) <= present:
            return fmt
    return None


def formats_help(cfg: DataConfig) -> str:
    """A one-line list of the formats and their fields, for `unknown_format` messages."""
    parts = [f"{fmt} ({', '.join(required_fields(fmt, cfg))})" for fmt in FORMATS]
    return "expected the fields of one of: " + "; ".join(parts)


def type_name(value: Any) -> str:
    """The JSON name of a value's type, as users know it."""
    if value is None:
        return "null"
    names = {bool: "boolean", int: "number", float: "number", str: "string", list: "list", dict: "object"}
    return names.get(type(value), type(value).__name__)


def to_example(record: Mapping[str, Any], fmt: str, cfg: DataConfig, where: Where) -> Converted:
    """Check one record of a known format and normalise it to an Example."""
    errors: list[Problem] = []
    warnings: list[Problem] = []
    for name in required_fields(fmt, cfg):
        if name not in record:
            errors.append(where.problem(name, "missing_field", f"a {fmt} record needs the field '{name}'"))
    if errors:
        return Converted(None, errors, warnings)

    example_id = _example_id(record, cfg, where, errors)
    rejected = desirable = None
    if fmt == "preference":
        messages = _preference_prompt(record, where, errors)
        answer, rejected = _reply(record, "chosen", where, errors), _reply(record, "rejected", where, errors)
        label = None
        if not errors and answer.strip() == rejected.strip():
            errors.append(where.problem("rejected", "same_replies", "expected a rejected reply that differs from the "
                                        "chosen one; an identical pair teaches nothing"))
    elif fmt == "kto":
        prompt = _text(record, "prompt", where, errors)
        answer = _text(record, "completion", where, errors)
        desirable = _flag(record, "label", where, errors)
        messages, label = ({"role": "user", "content": prompt},), None
    elif fmt == "chat":
        messages, answer = _chat_turns(record["messages"], where, errors, warnings)
        label = None
    elif fmt == "alpaca":
        instruction = _text(record, "instruction", where, errors)
        extra = _text(record, "input", where, errors, required=False)
        answer = _text(record, "output", where, errors)
        content = f"{instruction}\n\n{extra}" if extra and extra.strip() else instruction
        messages, label = ({"role": "user", "content": content},), None
    elif fmt == "prompt_completion":
        prompt = _text(record, "prompt", where, errors)
        answer = _text(record, "completion", where, errors)
        messages, label = ({"role": "user", "content": prompt},), None
    else:
        text = _text(record, cfg.text_field, where, errors)
        answer = label = _label(record, cfg.label_field, where, errors)
        messages = ({"role": "user", "content": text},)
    if errors:
        return Converted(None, errors, warnings)

    meta = {k: v for k, v in record.items() if k not in consumed_fields(fmt, cfg)}
    example = Example(example_id, messages, answer, label, where.file, where.line, meta, rejected, desirable)
    return Converted(example, errors, warnings)


def _preference_prompt(record: Mapping[str, Any], where: Where, errors: list[Problem]) -> tuple[Message, ...]:
    """A pair's conversation before the replies: `messages` (ending with a user turn) or `prompt` text."""
    if "messages" in record:
        messages = record["messages"]
        if not isinstance(messages, list) or not messages:
            got = type_name(messages) if not isinstance(messages, list) else "an empty list"
            errors.append(where.problem("messages", "wrong_type", f"expected a list of turns ending with a user "
                                        f"turn, got {got}"))
            return ()
        turns = tuple(_turn(m, i, where, errors) for i, m in enumerate(messages))
        if not errors and turns[-1]["role"] != "user":
            errors.append(where.problem(f"messages[{len(turns) - 1}]", "bad_turn_order",
                                        f"expected the conversation to end with a user turn (the replies answer it), "
                                        f"got {turns[-1]['role']}"))
        return turns
    if "prompt" not in record:
        errors.append(where.problem("prompt", "missing_field", "a preference record needs the field 'prompt' (text) or "
                                    "'messages' (a conversation ending with a user turn)"))
        return ()
    return ({"role": "user", "content": _text(record, "prompt", where, errors)},)


def _reply(record: Mapping[str, Any], name: str, where: Where, errors: list[Problem]) -> str:
    """A preference reply: a string, an assistant message, or a list whose only turn is the assistant's (the
    conversational layout TRL uses)."""
    value = record[name]
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
        name = f"{name}[0]"
    if isinstance(value, dict):
        if value.get("role") != "assistant" or not isinstance(value.get("content"), str):
            errors.append(where.problem(name, "wrong_type", "expected an assistant message "
                                        "{\"role\": \"assistant\", \"content\": ...}"))
            return ""
        value = value["content"]
    if not isinstance(value, str):
        errors.append(where.problem(name, "wrong_type", f"expected a string or an assistant message, got "
                                    f"{type_name(value)}"))
        return ""
    if not value.strip():
        errors.append(where.problem(name, "empty_text", "expected non-empty text"))
    return value.strip()


def _flag(record: Mapping[str, Any], name: str, where: Where, errors: list[Problem]) -> bool:
    """A yes/no field: true or false (JSON), or the text true/false (CSV)."""
    value = record[name]
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    if not isinstance(value, bool):
        errors.append(where.problem(name, "wrong_type", f"expected true or false (whether the completion is a "
                                    f"desirable reply), got {type_name(value)}"))
        return False
    return value


def _example_id(record: Mapping[str, Any], cfg: DataConfig, where: Where, errors: list[Problem]) -> str:
    """The user's id (numbers allowed) or '<file stem>:<line>'."""
    return record_id(record, cfg.id_field, where, errors)


def record_id(record: Mapping[str, Any], field: str, where: Where, errors: list[Problem]) -> str:
    """The record's `field` as an id (a non-empty string or a whole number), else '<file stem>:<line>'."""
    default = f"{Path(where.file).stem}:{where.line}"
    if field not in record:
        return default
    value = record[field]
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        errors.append(where.problem(field, "wrong_type", f"expected a string or whole number, got {type_name(value)}"))
        return default
    if isinstance(value, str) and not value.strip():
        errors.append(where.problem(field, "empty_text", "expected a non-empty id"))
        return default
    return str(value)


def _text(
    record: Mapping[str, Any], name: str, where: Where, errors: list[Problem], required: bool = True
) -> str:
    """A string field; an optional one may be missing or empty."""
    value = record.get(name, "")
    if not required and value is None:
        return ""
    if not isinstance(value, str):
        errors.append(where.problem(name, "wrong_type", f"expected a string, got {type_name(value)}"))
        return ""
    if required and not value.strip():
        errors.append(where.problem(name, "empty_text", "expected non-empty text"))
    return value


def _label(record: Mapping[str, Any], name: str, where: Where, errors: list[Problem]) -> str:
    """A class label; whole numbers (0/1 data sets) are accepted and kept as their text."""
    value = record[name]
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return _text(record, name, where, errors)


def _chat_turns(
    messages: Any, where: Where, errors: list[Problem], warnings: list[Problem]
) -> tuple[tuple[Message, ...], str]:
    """(conversation before the last assistant turn, that turn's content)."""
    if not isinstance(messages, list):
        errors.append(where.problem("messages", "wrong_type", f"expected a list of turns, got {type_name(messages)}"))
        return (), ""
    turns = [_turn(m, i, where, errors) for i, m in enumerate(messages)]
    if errors:
        return (), ""
    last = max((i for i, t in enumerate(turns) if t["role"] == "assistant"), default=None)
    if last is None:
        errors.append(
            where.problem("messages", "no_assistant_turn", "expected an assistant turn: its content is the answer")
        )
        return (), ""
    if last == 0 or turns[last - 1]["role"] != "user":
        got = turns[last - 1]["role"] if last else "nothing"
        errors.append(
            where.problem(
                f"messages[{last}]", "bad_turn_order", f"expected a user turn right before the answer, got {got}"
            )
        )
    if last < len(turns) - 1:
        # Turns after the answer cannot be trained or scored; say so instead of silently losing them.
        warnings.append(
            where.problem(
                f"messages[{last + 1}]",
                "ignored_turns",
                f"{len(turns) - last - 1} turn(s) after the answer are ignored",
            )
        )
    return tuple(turns[:last]), turns[last]["content"]


def _turn(message: Any, index: int, where: Where, errors: list[Problem]) -> Message:
    """One checked chat turn as {role, content}; problems are appended to `errors`."""
    field = f"messages[{index}]"
    if not isinstance(message, dict):
        expected = f"expected an object with role and content, got {type_name(message)}"
        errors.append(where.problem(field, "wrong_type", expected))
        return {"role": "", "content": ""}
    role, content = message.get("role"), message.get("content")
    for name, value in (("role", role), ("content", content)):
        if name not in message:
            errors.append(where.problem(f"{field}.{name}", "missing_field", f"a chat turn needs the field '{name}'"))
        elif not isinstance(value, str):
            errors.append(where.problem(f"{field}.{name}", "wrong_type", f"expected a string, got {type_name(value)}"))
    if not isinstance(role, str) or not isinstance(content, str):
        return {"role": "", "content": ""}
    if role not in ROLES:
        expected = f"expected one of {', '.join(ROLES)}, got '{role}'"
        errors.append(where.problem(f"{field}.role", "unknown_role", expected))
    if not content.strip():
        errors.append(where.problem(f"{field}.content", "empty_text", "expected non-empty text"))
    return {"role": role, "content": content}
