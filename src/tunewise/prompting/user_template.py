"""The user's own prompt template (`prompt.template`, Jinja2): it renders the user message of the `template` rung.

Variables: `input` (the example's user message), `instruction` (the task instruction), `labels` (the label list, or
none). The template is checked before any compute: syntax (with its line), that it uses `input`, and that it renders
for the training examples without an undefined variable. It runs in Jinja2's sandbox.
"""
from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from jinja2 import StrictUndefined, Template, TemplateSyntaxError, UndefinedError, meta
from jinja2.sandbox import SandboxedEnvironment, SecurityError

from tunewise.errors import ConfigError, Problem
from tunewise.prompting.templates import user_text
from tunewise.records import Example, Message
from tunewise.task import Task

FIELD = "prompt.template"
VARIABLES = ("input", "instruction", "labels")
_ENV = SandboxedEnvironment(undefined=StrictUndefined, keep_trailing_newline=False, autoescape=False)


def template_problems(
    text: str, source: str, examples: Sequence[Example] = (), task: Task | None = None
) -> list[Problem]:
    """Everything wrong with the template (empty when it is fine); `source` is the config file it came from."""
    try:
        parsed = _ENV.parse(text)
    except TemplateSyntaxError as err:
        message = f"line {err.lineno or 1} of the template: {err.message or err}"
        return [Problem(source, None, FIELD, "template_syntax", message)]
    used = meta.find_undeclared_variables(parsed)
    problems = []
    unknown = sorted(used - set(VARIABLES))
    if unknown:
        problems.append(Problem(source, None, FIELD, "template_variable",
                                f"unknown variable(s) {', '.join(unknown)}; a template can use {', '.join(VARIABLES)}"))
    if "input" not in used:
        problems.append(Problem(source, None, FIELD, "template_input",
                                "the template never uses {{ input }}, so every prompt would be the same"))
    if problems or task is None:
        return problems
    template = _ENV.from_string(text)
    for example in examples:
        try:
            rendered = template.render(_variables(example, task))
        except (UndefinedError, SecurityError, TypeError, ValueError) as err:
            return [Problem(source, None, FIELD, "template_render",
                            f"rendering it for example {example.id} ({example.file}:{example.line}) failed: {err}")]
        if not rendered.strip():
            return [Problem(source, None, FIELD, "template_empty",
                            f"it renders to an empty message for example {example.id}")]
    return []


def check_template(text: str, source: str, examples: Sequence[Example], task: Task) -> None:
    """Raise ConfigError listing the template's problems."""
    problems = template_problems(text, source, examples, task)
    if problems:
        raise ConfigError(problems)


def template_messages(text: str, example: Example, task: Task) -> list[Message]:
    """The conversation of the `template` rung: the rendered user message after any system message of the data.

    The instruction is the system message unless the template places it itself (then the model's default applies).
    """
    template, places_instruction = _compiled(text)
    user = template.render(_variables(example, task))
    system = [m for m in example.messages[:1] if m["role"] == "system"]
    if not system and task.instruction and not places_instruction:
        system = [{"role": "system", "content": task.instruction}]
    return [*system, {"role": "user", "content": user}]


@lru_cache(maxsize=8)
def _compiled(text: str) -> tuple[Template, bool]:
    """(the template, whether it uses {{ instruction }}), parsed once per text rather than once per example."""
    return _ENV.from_string(text), "instruction" in meta.find_undeclared_variables(_ENV.parse(text))


def _variables(example: Example, task: Task) -> dict:
    return {"input": user_text(example), "instruction": task.instruction or "", "labels": task.labels}
