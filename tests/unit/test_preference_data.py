"""Preference data: pairs (prompt or messages + chosen + rejected, replies as strings or assistant messages) and KTO's
unpaired completions load to Examples, are checked with file:line:field problems all at once, and make a preference
task; the user's judge loads from its file or says what is wrong."""
from __future__ import annotations

import csv
import json

import pytest

from tunewise.data import load_file
from tunewise.errors import ConfigError
from tunewise.judge import JudgeError, load_judge
from tunewise.sections import DataConfig, TaskConfig
from tunewise.task import resolve_task


def write_jsonl(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def test_pairs_load_from_text_messages_and_assistant_turns(tmp_path):
    records = [
        {"id": "a", "prompt": "Where is my order?", "chosen": "It ships today.", "rejected": "No idea."},
        {"id": "b", "messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"},
                                 {"role": "user", "content": "Refund?"}],
         "chosen": [{"role": "assistant", "content": " Done, refunded. "}],
         "rejected": {"role": "assistant", "content": "Ask someone else."}, "topic": "refund"},
    ]
    loaded = load_file(write_jsonl(tmp_path / "p.jsonl", records), DataConfig(path=tmp_path / "p.jsonl"))
    assert loaded.errors == [] and loaded.format == "preference"
    a, b = loaded.examples
    assert (a.messages, a.answer, a.rejected, a.desirable) == (
        ({"role": "user", "content": "Where is my order?"},), "It ships today.", "No idea.", None)
    assert [m["role"] for m in b.messages] == ["user", "assistant", "user"]
    assert (b.answer, b.rejected, b.meta) == ("Done, refunded.", "Ask someone else.", {"topic": "refund"})


def test_unpaired_completions_load_as_kto_data_from_jsonl_and_csv(tmp_path):
    records = [{"prompt": "Where is my order?", "completion": "It ships today.", "label": True},
               {"prompt": "Where is my order?", "completion": "No idea.", "label": False}]
    cfg = DataConfig(path=tmp_path / "k.jsonl")
    loaded = load_file(write_jsonl(tmp_path / "k.jsonl", records), cfg)
    assert loaded.errors == [] and loaded.format == "kto"
    assert [(e.answer, e.desirable, e.rejected) for e in loaded.examples] == [
        ("It ships today.", True, None), ("No idea.", False, None)]
    with (tmp_path / "k.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["prompt", "completion", "label"])
        writer.writerows([[r["prompt"], r["completion"], str(r["label"]).lower()] for r in records])
    from_csv = load_file(tmp_path / "k.csv", cfg)
    assert from_csv.errors == [] and [e.desirable for e in from_csv.examples] == [True, False]


def test_every_problem_is_named_by_line_and_field(tmp_path):
    records = [
        {"prompt": "ok", "chosen": "yes", "rejected": "no"},
        {"prompt": "p", "chosen": "", "rejected": 3},  # line 2: two problems
        {"chosen": "yes", "rejected": "no"},  # line 3: no prompt
        {"prompt": "p", "chosen": "same", "rejected": "same"},  # line 4: a pair that teaches nothing
        {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}],
         "chosen": "x", "rejected": "y"},  # line 5: the conversation must end with the user
        {"prompt": "p", "chosen": {"role": "user", "content": "x"}, "rejected": "y"},  # line 6: not the assistant's
    ]
    loaded = load_file(write_jsonl(tmp_path / "p.jsonl", records), DataConfig(path=tmp_path / "p.jsonl"))
    found = {(p.line, p.field, p.code) for p in loaded.errors}
    assert found == {(2, "chosen", "empty_text"), (2, "rejected", "wrong_type"), (3, "prompt", "missing_field"),
                     (4, "rejected", "same_replies"), (5, "messages[1]", "bad_turn_order"),
                     (6, "chosen", "wrong_type")}
    kto = [{"prompt": "p", "completion": "c", "label": "maybe"}]
    bad = load_file(write_jsonl(tmp_path / "k.jsonl", kto), DataConfig(path=tmp_path / "k.jsonl"))
    assert [(p.line, p.field, p.code) for p in bad.errors] == [(1, "label", "wrong_type")]


def test_preference_data_makes_a_preference_task_scored_by_the_judge(tmp_path):
    (tmp_path / "judge.py").write_text("def short(prompt, completion):\n    return 10 - len(completion.split())\n")
    task = resolve_task(TaskConfig(judge=f"{tmp_path}/judge.py:short", judge_threshold=5), [], "preference")
    assert (task.type, task.metric) == ("preference", "judge_pass")
    assert task.judge.score("p", "one two") == 8.0 and task.judge.passes(8.0) and not task.judge.passes(4.0)
    assert resolve_task(TaskConfig(), [], "kto").metric == "rougeL"  # no judge: the chosen reply is the reference
    with pytest.raises(ConfigError, match="set task.judge"):
        resolve_task(TaskConfig(metric="judge_pass"), [], "preference")


def test_a_broken_judge_is_named_before_any_compute(tmp_path):
    (tmp_path / "judge.py").write_text("def nothing(prompt):\n    return 'yes'\nimport not_a_module_anywhere\n")
    with pytest.raises(ConfigError, match="No module named 'not_a_module_anywhere'"):
        load_judge(f"{tmp_path}/judge.py:nothing", 0.5)
    (tmp_path / "ok.py").write_text("def words(prompt):\n    return 'yes'\n")
    with pytest.raises(ConfigError, match="has no function 'missing'"):
        load_judge(f"{tmp_path}/ok.py:missing", 0.5)
    with pytest.raises(ConfigError, match="expected 'path/to/judge.py:function'"):
        load_judge("judge.py", 0.5)
    judge = load_judge(f"{tmp_path}/ok.py:words", 0.5)
    with pytest.raises(JudgeError, match="raised TypeError.*on test example 7"):
        judge.score("p", "c", "test example 7")  # called with (prompt, completion): one argument too many
    (tmp_path / "text.py").write_text("def text(prompt, completion):\n    return 'yes'\n")
    with pytest.raises(JudgeError, match="returned 'yes'"):
        load_judge(f"{tmp_path}/text.py:text", 0.5).score("p", "c")
