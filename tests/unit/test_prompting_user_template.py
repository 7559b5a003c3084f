"""The user's Jinja2 prompt template: rendering, and every validation error before a run."""
import pytest

from tunewise.errors import ConfigError
from tunewise.prompting.user_template import (
    check_template,
    template_messages,
    template_problems,
)
from tunewise.records import Example
from tunewise.task import Task

CLS = Task("classification", ["good", "bad"], "accuracy", "Is the review good or bad?")
GEN = Task("generation", None, "token_f1", None)
EXAMPLE = Example(id="r1", messages=({"role": "user", "content": "Loved it"},), answer="good", label="good",
                  file="data.jsonl", line=3)


def test_renders_the_user_message_with_input_labels_and_instruction():
    text = "{{ instruction }}\nOptions: {{ labels | join(', ') }}\nReview: {{ input }}"
    assert template_messages(text, EXAMPLE, CLS) == [
        {"role": "user", "content": "Is the review good or bad?\nOptions: good, bad\nReview: Loved it"}
    ]


def test_the_instruction_stays_the_system_message_unless_the_template_places_it():
    assert template_messages("Review: {{ input }}", EXAMPLE, CLS) == [
        {"role": "system", "content": "Is the review good or bad?"},
        {"role": "user", "content": "Review: Loved it"},
    ]


def _codes(problems):
    return [p.code for p in problems]


def test_syntax_error_names_the_template_line():
    problems = template_problems("Review:\n{{ input }\n", "run.yaml")
    assert _codes(problems) == ["template_syntax"]
    assert problems[0].file == "run.yaml" and problems[0].field == "prompt.template"
    assert "line 2 of the template" in problems[0].message


def test_unknown_variables_and_a_missing_input_are_reported_together():
    problems = template_problems("{{ review }} {{ lable }}", "run.yaml")
    assert _codes(problems) == ["template_variable", "template_input"]
    assert "lable, review" in problems[0].message


def test_rendering_is_tried_on_the_data_and_names_the_example():
    # `labels` is none for a generation task: joining it fails for this task only.
    text = "{{ labels | join(', ') }}: {{ input }}"
    assert template_problems(text, "run.yaml", [EXAMPLE], CLS) == []
    problems = template_problems(text, "run.yaml", [EXAMPLE], GEN)
    assert _codes(problems) == ["template_render"] and "r1 (data.jsonl:3)" in problems[0].message
    with pytest.raises(ConfigError, match="template_render"):
        check_template(text, "run.yaml", [EXAMPLE], GEN)


def test_empty_render_and_sandbox_escapes_are_errors():
    assert _codes(template_problems("{% if false %}{{ input }}{% endif %}", "run.yaml", [EXAMPLE], CLS)) == [
        "template_empty"
    ]
    escape = "{{ input.__class__.__mro__ }}"
    assert _codes(template_problems(escape, "run.yaml", [EXAMPLE], CLS)) == ["template_render"]
