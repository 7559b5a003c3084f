"""Inputs to predict on (`tunewise predict`): records of the run's format whose answer may be missing; the answer
is kept where given, and every other problem is still named by line and field."""
from __future__ import annotations

import json

from tunewise.data.load import load_file
from tunewise.sections import DataConfig


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_each_format_reads_inputs_without_answers(tmp_path):
    cfg = DataConfig(path=tmp_path / "unused.jsonl")
    cases = {
        "chat": [{"messages": [{"role": "user", "content": "hi"}]},
                 {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}],
        "alpaca": [{"instruction": "Add", "input": "2 2"}, {"instruction": "Add", "output": "4"}],
        "prompt_completion": [{"prompt": "a big thing"}, {"prompt": "a tiny thing", "completion": "little"}],
        "classification": [{"text": "red 4"}, {"text": "cat 5", "label": "animal"}],
    }
    for fmt, rows in cases.items():
        loaded = load_file(_write(tmp_path / f"{fmt}.jsonl", rows), cfg, fmt, answers_optional=True)
        assert not loaded.errors, (fmt, loaded.errors)
        first, second = loaded.examples
        assert first.answer == "" and first.label is None and first.messages[-1]["role"] == "user"
        assert second.answer != ""  # a given answer is kept (the reference)


def test_other_problems_are_still_named_and_answers_stay_required_without_the_flag(tmp_path):
    cfg = DataConfig(path=tmp_path / "unused.jsonl")
    path = _write(tmp_path / "bad.jsonl", [{"text": "red"}, {"text": ""}, {"label": "colour"}])
    errors = load_file(path, cfg, "classification", answers_optional=True).errors
    assert [(e.line, e.field) for e in errors] == [(2, "text"), (3, "text")]
    strict = load_file(path, cfg, "classification").errors
    assert (1, "label") in [(e.line, e.field) for e in strict]
