"""Every problem code names its file, line and field; problems are all reported at once."""
from __future__ import annotations

import json

import pytest

from tunewise.data import check_data, check_file, prepare_data
from tunewise.errors import DataError
from tunewise.sections import DataConfig, TaskConfig

TASK = TaskConfig()


def pc(i: int, **extra) -> dict:
    return {"prompt": f"question number {i}", "completion": f"answer {i}", **extra}


def write_lines(path, lines: list[str]):
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_jsonl(path, records):
    return write_lines(path, [json.dumps(r) for r in records])


def cfg_for(path, **kwargs) -> DataConfig:
    return DataConfig(path=path, min_examples=kwargs.pop("min_examples", 1), **kwargs)


def only(report, code):
    found = [p for p in report.errors if p.code == code]
    assert len(found) == 1, report.errors
    return found[0]


def words(example, instruction=None) -> int:
    return sum(len(m["content"].split()) for m in example.messages) + len(example.answer.split())


def test_not_found(tmp_path):
    path = tmp_path / "missing.jsonl"
    problem = only(check_data(cfg_for(path), TASK), "not_found")
    assert problem.file == str(path) and problem.line is None


def test_bad_encoding_names_the_line_and_keeps_going(tmp_path):
    path = tmp_path / "enc.jsonl"
    latin1_line = b'{"prompt": "caf\xe9", "completion": "x"}'
    path.write_bytes(b"\n".join([json.dumps(pc(1)).encode(), latin1_line, json.dumps(pc(3)).encode()]) + b"\n")
    report = check_data(cfg_for(path), TASK)
    problem = only(report, "bad_encoding")
    assert (problem.file, problem.line) == (str(path), 2)
    assert report.files[str(path)] == 2


def test_bad_encoding_in_csv(tmp_path):
    path = tmp_path / "enc.csv"
    path.write_bytes(b"text,label\nfine,a\ncaf\xe9,b\n")
    problem = only(check_data(cfg_for(path), TASK), "bad_encoding")
    assert (problem.file, problem.line) == (str(path), 3)


def test_bad_json(tmp_path):
    path = write_lines(tmp_path / "d.jsonl", [json.dumps(pc(1)), json.dumps(pc(2)), '{"prompt": "a", "completion": }'])
    problem = only(check_data(cfg_for(path), TASK), "bad_json")
    assert (problem.file, problem.line) == (str(path), 3)
    assert "expected one JSON object per line" in problem.message


def test_bad_csv_wrong_column_count(tmp_path):
    path = write_lines(tmp_path / "d.csv", ["text,label", "good,a", "too,many,cells", "fine,b"])
    report = check_data(cfg_for(path), TASK)
    problem = only(report, "bad_csv")
    assert (problem.file, problem.line) == (str(path), 3)
    assert "expected 2 columns" in problem.message
    assert report.files[str(path)] == 2


def test_bad_csv_line_counts_multiline_cells(tmp_path):
    path = write_lines(tmp_path / "d.csv", ["text,label", '"two\nlines",a', '"broken"x,b'])
    problem = only(check_data(cfg_for(path), TASK), "bad_csv")
    assert problem.line == 4  # the quoted cell spans lines 2-3


def test_not_an_object(tmp_path):
    path = write_lines(tmp_path / "d.jsonl", [json.dumps(pc(1)), "[1, 2]"])
    problem = only(check_data(cfg_for(path), TASK), "not_an_object")
    assert (problem.file, problem.line) == (str(path), 2)
    assert "got list" in problem.message


def test_unknown_format(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", [{"question": "q", "reply": "r"}])
    problem = only(check_data(cfg_for(path), TASK), "unknown_format")
    assert (problem.file, problem.line) == (str(path), 1)
    assert "question, reply" in problem.message and "prompt_completion" in problem.message


def test_chat_in_csv_is_an_unknown_format(tmp_path):
    path = write_lines(tmp_path / "d.csv", ["messages", "hello"])
    problem = only(check_data(cfg_for(path, format="chat"), TASK), "unknown_format")
    assert problem.file == str(path) and "JSONL" in problem.message


def test_missing_field(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", [pc(1), {"prompt": "no completion"}])
    problem = only(check_data(cfg_for(path), TASK), "missing_field")
    assert (problem.file, problem.line, problem.field) == (str(path), 2, "completion")


def test_missing_csv_column_is_reported_once_at_the_header(tmp_path):
    path = write_lines(tmp_path / "d.csv", ["text,other", "a,b", "c,d"])
    problem = only(check_data(cfg_for(path, format="classification"), TASK), "missing_field")
    assert (problem.file, problem.line, problem.field) == (str(path), 1, "label")


def test_wrong_type(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", [pc(1), {"prompt": ["a", "b"], "completion": "c"}])
    problem = only(check_data(cfg_for(path), TASK), "wrong_type")
    assert (problem.file, problem.line, problem.field) == (str(path), 2, "prompt")
    assert problem.message == "expected a string, got list"


def test_empty_text(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", [pc(1), {"prompt": "p", "completion": "   "}])
    problem = only(check_data(cfg_for(path), TASK), "empty_text")
    assert (problem.file, problem.line, problem.field) == (str(path), 2, "completion")


def test_unknown_role(tmp_path):
    turns = [
        {"role": "user", "content": "hi"},
        {"role": "tool", "content": "x"},
        {"role": "assistant", "content": "ok"},
    ]
    path = write_jsonl(tmp_path / "d.jsonl", [{"messages": turns}])
    problem = only(check_data(cfg_for(path), TASK), "unknown_role")
    assert (problem.file, problem.line, problem.field) == (str(path), 1, "messages[1].role")
    assert "expected one of system, user, assistant" in problem.message


def test_no_assistant_turn(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", [{"messages": [{"role": "user", "content": "hi"}]}])
    problem = only(check_data(cfg_for(path), TASK), "no_assistant_turn")
    assert (problem.file, problem.line, problem.field) == (str(path), 1, "messages")


def test_unknown_label(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", [{"text": "t1", "label": "pos"}, {"text": "t2", "label": "meh"}])
    report = check_data(cfg_for(path), TaskConfig(labels=["pos", "neg"]))
    problem = only(report, "unknown_label")
    assert (problem.file, problem.line, problem.field) == (str(path), 2, "label")
    assert "'meh'" in problem.message and "pos, neg" in problem.message


def test_unknown_label_for_chat_data_names_the_answer_field(tmp_path):
    records = [{"prompt": "t1", "completion": "pos"}, {"prompt": "t2", "completion": "nope"}]
    task = TaskConfig(type="classification", labels=["pos", "neg"])
    report = check_data(cfg_for(write_jsonl(tmp_path / "d.jsonl", records)), task)
    assert (only(report, "unknown_label").line, only(report, "unknown_label").field) == (2, "completion")


def test_duplicate_id_across_files(tmp_path):
    train = write_jsonl(tmp_path / "train.jsonl", [pc(1, id="a"), pc(2, id="b")])
    test = write_jsonl(tmp_path / "test.jsonl", [pc(3, id="c"), pc(4, id="a")])
    report = check_data(DataConfig(train=train, test=test, min_examples=1), TASK)
    problem = only(report, "duplicate_id")
    assert (problem.file, problem.line, problem.field) == (str(test), 2, "id")
    assert f"{train}:1" in problem.message


def test_too_few_examples(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", [pc(i) for i in range(3)])
    problem = only(check_data(DataConfig(path=path, min_examples=5), TASK), "too_few_examples")
    assert problem.file == str(path) and "3 usable" in problem.message and "min_examples=5" in problem.message


def test_too_long_error(tmp_path):
    long_prompt = " ".join(["word"] * 40)
    path = write_jsonl(tmp_path / "d.jsonl", [pc(1), {"prompt": long_prompt, "completion": "x"}, pc(3)])
    report = check_data(cfg_for(path, max_length=16, overlong="error"), TASK, count_tokens=words)
    problem = only(report, "too_long")
    assert (problem.file, problem.line) == (str(path), 2)
    assert "41 tokens" in problem.message and report.overlong == 1


@pytest.mark.parametrize("policy, kept", [("drop", 2), ("truncate", 3)])
def test_too_long_drop_and_truncate_warn_with_the_count(tmp_path, policy, kept):
    long_prompt = " ".join(["word"] * 40)
    path = write_jsonl(tmp_path / "d.jsonl", [pc(1), {"prompt": long_prompt, "completion": "x"}, pc(3)])
    report = check_data(cfg_for(path, max_length=16, overlong=policy), TASK, count_tokens=words)
    assert report.errors == []
    assert report.files[str(path)] == kept
    assert [w.code for w in report.warnings if w.code == "too_long"] == ["too_long"]
    assert "1 example(s)" in next(w.message for w in report.warnings if w.code == "too_long")
    assert (report.overlong, report.overlong_policy) == (1, policy)


def test_five_different_mistakes_are_reported_at_once(tmp_path):
    good = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}
    lines = [
        json.dumps({**good, "id": "x"}),
        "{not json",  # bad_json
        json.dumps("just a string"),  # not_an_object
        json.dumps({"messages": [{"role": "user", "content": 3}, {"role": "assistant", "content": "a"}]}),  # wrong_type
        json.dumps({"messages": [{"role": "robot", "content": "q"}, {"role": "assistant", "content": "a"}]}),  # role
        json.dumps({**good, "id": "x"}),  # duplicate_id
    ]
    path = write_lines(tmp_path / "five.jsonl", lines)
    report = check_data(cfg_for(path), TASK)
    found = {(p.code, p.line) for p in report.errors}
    assert found == {("bad_json", 2), ("not_an_object", 3), ("wrong_type", 4), ("unknown_role", 5), ("duplicate_id", 6)}
    with pytest.raises(DataError) as err:
        prepare_data(cfg_for(path), TASK)
    assert len(err.value.problems) == 5
    assert f"{path}:4: messages[0].content: wrong_type: expected a string, got number" in str(err.value)


def test_check_file_checks_a_file_without_a_config(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", [pc(i) for i in range(10)])
    other = DataConfig(path=tmp_path / "elsewhere.jsonl")
    report = check_file(path, other, TASK)
    assert report.ok and report.format == "prompt_completion"
    assert sum(report.splits.values()) == 10


def test_classification_task_with_one_label_is_an_error(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", [{"text": f"t{i}", "label": "same"} for i in range(5)])
    report = check_data(cfg_for(path), TASK)
    assert [p.code for p in report.errors] == ["too_few_labels"]


def test_length_check_counts_the_default_classification_instruction(tmp_path):
    """The label-listing instruction that every rung sends is part of an example's length."""
    rows = [{"text": f"a short ticket number {i}", "label": ["refund_request", "password_reset"][i % 2]} for i in range(12)]
    path = write_jsonl(tmp_path / "d.jsonl", rows)
    seen = []

    def words_with_instruction(example, instruction):
        seen.append(instruction)
        return words(example) + len((instruction or "").split())

    cfg = DataConfig(path=path, format="classification", max_length=16, overlong="error")
    report = check_data(cfg, TaskConfig(type="classification"), count_tokens=words_with_instruction)
    assert seen and all("refund_request" in s and "password_reset" in s for s in seen)
    assert report.overlong == 12  # 6 words of ticket + label, 12 of instruction
