"""Each input format (JSONL, and CSV where supported) normalises to the same Examples."""
from __future__ import annotations

import csv
import json

import pytest

from tunewise.data import detect_format, load_file
from tunewise.records import Example
from tunewise.sections import DataConfig

ROWS = [("What is 2+2?", "4"), ("Capital of France?", "Paris"), ("Colour of the sky?", "blue")]


def write_jsonl(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def write_csv(path, header, rows):
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def essence(examples: list[Example]):
    return [(e.id, e.messages, e.answer, e.label) for e in examples]


def records_for(fmt: str):
    for i, (question, answer) in enumerate(ROWS):
        if fmt == "chat":
            turns = [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]
            yield {"id": f"q{i}", "messages": turns}
        elif fmt == "alpaca":
            yield {"id": f"q{i}", "instruction": question, "input": "", "output": answer}
        else:
            yield {"id": f"q{i}", "prompt": question, "completion": answer}


@pytest.mark.parametrize("fmt", ["chat", "alpaca", "prompt_completion"])
def test_every_generation_format_loads_to_the_same_examples(tmp_path, fmt):
    cfg = DataConfig(path=tmp_path / "x.jsonl")
    loaded = load_file(write_jsonl(tmp_path / f"{fmt}.jsonl", records_for(fmt)), cfg)
    assert loaded.errors == [] and loaded.format == fmt
    expected = [(f"q{i}", ({"role": "user", "content": q},), a, None) for i, (q, a) in enumerate(ROWS)]
    assert essence(loaded.examples) == expected


@pytest.mark.parametrize("fmt", ["alpaca", "prompt_completion"])
def test_csv_loads_like_jsonl(tmp_path, fmt):
    cfg = DataConfig(path=tmp_path / "x.jsonl")
    records = list(records_for(fmt))
    header = list(records[0])
    from_csv = load_file(write_csv(tmp_path / "d.csv", header, [[r[h] for h in header] for r in records]), cfg)
    from_jsonl = load_file(write_jsonl(tmp_path / "d.jsonl", records), cfg)
    assert from_csv.errors == [] and from_csv.format == fmt
    assert essence(from_csv.examples) == essence(from_jsonl.examples)


def test_classification_jsonl_and_csv_with_custom_columns(tmp_path):
    cfg = DataConfig(path=tmp_path / "x.jsonl", text_field="body", label_field="tag")
    rows = [("great phone", "pos", "en"), ("awful battery", "neg", "en")]
    records = [{"body": b, "tag": t, "lang": lang} for b, t, lang in rows]
    from_jsonl = load_file(write_jsonl(tmp_path / "c.jsonl", records), cfg)
    from_csv = load_file(write_csv(tmp_path / "c.csv", ["body", "tag", "lang"], rows), cfg)
    for loaded in (from_jsonl, from_csv):
        assert loaded.format == "classification" and loaded.errors == []
        first = loaded.examples[0]
        assert first.messages == ({"role": "user", "content": "great phone"},)
        assert first.answer == first.label == "pos"
        assert first.meta == {"lang": "en"}  # extra fields are kept
    # no id column: ids are "<file stem>:<line>"; CSV line 2 is the first row after the header
    assert [e.id for e in from_jsonl.examples] == ["c:1", "c:2"]
    assert [e.id for e in from_csv.examples] == ["c:2", "c:3"]


def test_alpaca_input_is_appended_after_a_blank_line(tmp_path):
    cfg = DataConfig(path=tmp_path / "x.jsonl")
    record = {"instruction": "Translate", "input": "hola", "output": "hello"}
    loaded = load_file(write_jsonl(tmp_path / "a.jsonl", [record]), cfg)
    assert loaded.examples[0].messages == ({"role": "user", "content": "Translate\n\nhola"},)


def test_chat_answer_is_the_last_assistant_turn(tmp_path):
    cfg = DataConfig(path=tmp_path / "x.jsonl")
    turns = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello"},
        {"role": "user", "content": "Bye?"},
        {"role": "assistant", "content": "Bye"},
    ]
    example = load_file(write_jsonl(tmp_path / "c.jsonl", [{"messages": turns}]), cfg).examples[0]
    assert example.answer == "Bye"
    assert example.messages == tuple(turns[:4])


def test_bom_and_blank_lines_are_tolerated(tmp_path):
    cfg = DataConfig(path=tmp_path / "x.jsonl")
    path = tmp_path / "b.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"prompt": "a", "completion": "b"}\n\n   \n{"prompt": "c", "completion": "d"}\n')
    loaded = load_file(path, cfg)
    assert loaded.errors == []
    assert [(e.id, e.line) for e in loaded.examples] == [("b:1", 1), ("b:4", 4)]


def test_integer_labels_become_text(tmp_path):
    cfg = DataConfig(path=tmp_path / "x.jsonl")
    loaded = load_file(write_jsonl(tmp_path / "i.jsonl", [{"text": "t", "label": 1}]), cfg)
    assert loaded.examples[0].label == "1"


def test_format_detection_order_and_unknown():
    cfg = DataConfig(path="x.jsonl")
    assert detect_format({"messages": [], "prompt": "p", "completion": "c"}, cfg) == "chat"
    assert detect_format({"instruction": "i", "output": "o"}, cfg) == "alpaca"
    assert detect_format({"text": "t", "label": "l"}, cfg) == "classification"
    assert detect_format({"text": "t"}, cfg) is None


def test_declared_format_overrides_detection(tmp_path):
    cfg = DataConfig(path=tmp_path / "x.jsonl", format="prompt_completion")
    loaded = load_file(write_jsonl(tmp_path / "d.jsonl", [{"text": "t", "label": "l"}]), cfg, "prompt_completion")
    assert {p.code for p in loaded.errors} == {"missing_field"}
    assert {p.field for p in loaded.errors} == {"prompt", "completion"}
