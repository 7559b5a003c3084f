"""Parquet, Arrow/Feather files, `save_to_disk` folders and CSV/TSV dialects load like JSONL, with the same problems.

Every file is written for real in tmp_path (pyarrow; `datasets` for the folders); rows are numbered from 1.
"""
from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import json
import sys

import pyarrow as pa
import pyarrow.feather
import pyarrow.ipc
import pyarrow.parquet as pq
import pytest

from tunewise.data import load_file
from tunewise.sections import DataConfig

CFG = DataConfig(path="x.jsonl")
QUESTIONS = [("What is 2+2?", "4"), ("Capital of France?", "Paris"), ("Colour of the sky?", "blue")]


def records_for(fmt: str) -> list[dict]:
    """Three records of `fmt`, with an extra field and one null in an optional field (alpaca's input)."""
    records = []
    for i, (question, answer) in enumerate(QUESTIONS):
        if fmt == "chat":
            turns = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": question},
                     {"role": "assistant", "content": answer}]
            records.append({"messages": turns, "source": f"s{i}"})
        elif fmt == "alpaca":
            records.append({"instruction": question, "input": None if i else "context", "output": answer})
        elif fmt == "prompt_completion":
            records.append({"id": i * 10, "prompt": question, "completion": answer, "score": i / 2})
        else:
            records.append({"text": question, "label": ["math", "geo", "sky"][i], "tags": [f"t{i}", "x"]})
    return records


def write_jsonl(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def write_columnar(path, table: pa.Table, kind: str):
    """`table` as a file of one kind: parquet, arrow (IPC file format), arrow_stream or feather."""
    if kind == "parquet":
        pq.write_table(table, path)
    elif kind == "feather":
        pyarrow.feather.write_feather(table, path)
    else:
        new = pa.ipc.new_file if kind == "arrow" else pa.ipc.new_stream
        with pa.OSFile(str(path), "wb") as sink, new(sink, table.schema) as writer:
            writer.write_table(table)
    return path


SUFFIX = {"parquet": ".parquet", "arrow": ".arrow", "arrow_stream": ".arrow", "feather": ".feather"}


def write_rows(tmp_path, records, kind="parquet", name="d"):
    return write_columnar(tmp_path / f"{name}{SUFFIX[kind]}", pa.Table.from_pylist(records), kind)


def everything(examples):
    return [(e.id, e.messages, e.answer, e.label, e.line, e.meta, e.rejected, e.desirable) for e in examples]


def problems(loaded):
    return [str(p) for p in loaded.errors]


@pytest.mark.parametrize("kind", ["parquet", "arrow", "arrow_stream", "feather"])
@pytest.mark.parametrize("fmt", ["chat", "alpaca", "prompt_completion", "classification"])
def test_columnar_files_load_like_jsonl(tmp_path, kind, fmt):
    records = records_for(fmt)
    from_jsonl = load_file(write_jsonl(tmp_path / "d.jsonl", records), CFG)
    path = write_rows(tmp_path, records, kind)
    loaded = load_file(path, CFG)
    assert loaded.errors == [] and loaded.warnings == [] and loaded.format == fmt
    assert len(loaded.examples) == 3
    assert everything(loaded.examples) == everything(from_jsonl.examples)  # ids "d:<row>" when there is no id
    assert loaded.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_messages_column_of_structs_comes_through_as_turns(tmp_path):
    loaded = load_file(write_rows(tmp_path, records_for("chat")), CFG)
    schema = pq.read_schema(tmp_path / "d.parquet")
    assert str(schema.field("messages").type) == "list<element: struct<role: string, content: string>>"
    first = loaded.examples[0]
    assert first.messages == ({"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is 2+2?"})
    assert first.answer == "4" and first.meta == {"source": "s0"} and first.id == "d:1"


def test_bad_rows_are_all_reported_with_file_row_and_field(tmp_path):
    records = records_for("chat") + records_for("chat")
    records[1]["messages"][1]["role"] = "robot"
    records[3]["messages"] = records[3]["messages"][:2]  # no assistant turn
    records[4]["messages"][2]["content"] = " "
    path = write_rows(tmp_path, records)
    loaded = load_file(path, CFG)
    assert problems(loaded) == [
        f"{path}:2: messages[1].role: unknown_role: expected one of system, user, assistant, got 'robot'",
        f"{path}:4: messages: no_assistant_turn: expected an assistant turn: its content is the answer",
        f"{path}:5: messages[2].content: empty_text: expected non-empty text",
    ]
    assert [e.line for e in loaded.examples] == [1, 3, 6]


def test_a_null_in_a_required_column_is_reported_like_a_json_null(tmp_path):
    records = records_for("prompt_completion")
    records[1]["completion"] = None
    records[2]["prompt"] = None
    path = write_rows(tmp_path, records, "arrow")
    assert problems(load_file(path, CFG)) == [
        f"{path}:2: completion: wrong_type: expected a string, got null",
        f"{path}:3: prompt: wrong_type: expected a string, got null",
    ]
    # the same nulls in JSONL give the same problems, at the same numbers
    from_jsonl = load_file(write_jsonl(tmp_path / "d.jsonl", records), CFG)
    assert [p.replace(".jsonl", ".arrow") for p in problems(from_jsonl)] == problems(load_file(path, CFG))


def test_a_missing_column_is_one_problem_not_one_per_row(tmp_path):
    path = write_rows(tmp_path, [{"prompt": q} for q, _ in QUESTIONS])
    loaded = load_file(path, CFG, fmt="prompt_completion")
    assert problems(loaded) == [
        f"{path}: completion: missing_field: a prompt_completion table needs the column 'completion'"
    ]
    # inputs to predict on may lack the answer's column, or hold nulls in it
    inputs = load_file(path, CFG, fmt="prompt_completion", answers_optional=True)
    assert inputs.errors == [] and [e.answer for e in inputs.examples] == ["", "", ""]
    nulls = write_rows(tmp_path, [{"prompt": q, "completion": None} for q, _ in QUESTIONS], name="n")
    assert [e.answer for e in load_file(nulls, CFG, "prompt_completion", answers_optional=True).examples] == [""] * 3


def test_columns_json_has_no_value_for_are_reported_by_name_and_type(tmp_path):
    table = pa.table({
        "prompt": ["a", "b"],
        "completion": ["c", "d"],
        "blob": pa.array([b"\x00", b"\x01"], pa.binary()),
        "price": pa.array([decimal.Decimal("1.50"), None], pa.decimal128(5, 2)),
        "image": pa.array([{"bytes": b"\x89PNG", "path": "a.png"}, None]),  # datasets' Image feature
    })
    path = write_columnar(tmp_path / "t.parquet", table, "parquet")
    loaded = load_file(path, CFG)
    assert loaded.examples == []
    assert [(p.field, p.code) for p in loaded.errors] == [
        ("blob", "unsupported_type"), ("price", "unsupported_type"), ("image", "unsupported_type")
    ]
    assert "column 'blob' has the Arrow type binary, which has no JSON value" in loaded.errors[0].message
    assert "decimal128(5, 2)" in loaded.errors[1].message
    assert "struct<bytes: binary, path: string> (it holds binary)" in loaded.errors[2].message
    assert "cast the column (to string, say) or drop it" in loaded.errors[0].message


def test_times_become_text_and_categorical_columns_their_values(tmp_path):
    table = pa.table({
        "text": ["great phone", "awful battery"],
        "label": pa.array(["pos", "neg"]).dictionary_encode(),  # pandas' category dtype is written like this
        "created": pa.array([dt.datetime(2024, 1, 2, 3, 4, 5), None], pa.timestamp("us")),
        "day": pa.array([dt.date(2024, 1, 2), dt.date(2024, 1, 3)]),
    })
    loaded = load_file(write_columnar(tmp_path / "c.feather", table, "feather"), CFG)
    assert loaded.errors == [] and loaded.format == "classification"
    assert [e.label for e in loaded.examples] == ["pos", "neg"]
    assert loaded.examples[0].meta == {"created": "2024-01-02 03:04:05.000000", "day": "2024-01-02"}
    assert loaded.examples[1].meta == {"created": None, "day": "2024-01-03"}
    json.dumps([e.meta for e in loaded.examples])  # metadata stays JSON-able for predictions and reports


def test_a_broken_file_and_a_missing_pyarrow_are_problems_not_tracebacks(tmp_path, monkeypatch):
    broken = tmp_path / "b.parquet"
    broken.write_bytes(b"not parquet at all")
    (loaded_problem,) = load_file(broken, CFG).errors
    assert (loaded_problem.file, loaded_problem.code) == (str(broken), "bad_parquet")
    assert loaded_problem.message.startswith("expected a well-formed Parquet file: ")

    path = write_rows(tmp_path, records_for("prompt_completion"))
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # what `import pyarrow` meets where it is not installed
    assert problems(load_file(path, CFG)) == [
        f"{path}: -: missing_dependency: reading Parquet/Arrow data needs pyarrow: pip install 'pyarrow>=17' "
        "(or convert the data to JSONL)"
    ]


# ---------------------------------------------------------------- save_to_disk folders


@pytest.fixture(scope="module")
def datasets_lib():
    datasets = pytest.importorskip("datasets")
    datasets.disable_progress_bars()
    return datasets


def test_a_save_to_disk_folder_loads_its_shards_in_state_json_order(tmp_path, datasets_lib):
    records = records_for("prompt_completion") + [{"id": 99, "prompt": "p", "completion": "", "score": 0.0}]
    folder = tmp_path / "tickets"
    datasets_lib.Dataset.from_list(records).save_to_disk(str(folder), num_shards=2)
    shards = sorted(folder.glob("data-*.arrow"))
    assert len(shards) == 2

    loaded = load_file(folder, CFG)
    from_jsonl = load_file(write_jsonl(tmp_path / "tickets.jsonl", records), CFG)
    assert loaded.format == "prompt_completion"
    assert everything(loaded.examples) == everything(from_jsonl.examples)
    # rows are numbered on across shards: the bad one is the data set's 4th row, in the second shard
    assert problems(loaded) == [f"{folder}:4: completion: empty_text: expected non-empty text"]
    assert loaded.sha256 == hashlib.sha256(b"".join(s.read_bytes() for s in shards)).hexdigest()

    # the order is state.json's, not the file names'
    state = json.loads((folder / "state.json").read_text())
    state["_data_files"].reverse()
    (folder / "state.json").write_text(json.dumps(state))
    reordered = load_file(folder, CFG)
    assert [e.id for e in reordered.examples] == ["20", "0", "10"]
    assert [e.line for e in reordered.examples] == [1, 3, 4]  # row 2 is the bad one, now first in line


def test_class_label_columns_of_a_saved_dataset_load_as_their_names(tmp_path, datasets_lib):
    features = datasets_lib.Features({"text": datasets_lib.Value("string"),
                                      "label": datasets_lib.ClassLabel(names=["billing", "shipping"])})
    rows = {"text": ["charged twice", "parcel late", "where is it"], "label": [0, 1, 1]}
    folder = tmp_path / "labelled"
    datasets_lib.Dataset.from_dict(rows, features=features).save_to_disk(str(folder))
    loaded = load_file(folder, CFG)
    assert loaded.errors == [] and loaded.format == "classification"
    assert [e.label for e in loaded.examples] == ["billing", "shipping", "shipping"]  # datasets stores 0, 1, 1


def test_a_dataset_dict_folder_asks_for_one_split(tmp_path, datasets_lib):
    split = datasets_lib.Dataset.from_list(records_for("classification"))
    folder = tmp_path / "dd"
    datasets_lib.DatasetDict({"train": split, "test": split}).save_to_disk(str(folder))
    (problem,) = load_file(folder, CFG).errors
    assert (problem.file, problem.line, problem.code) == (str(folder), None, "dataset_dict")
    assert "holds a DatasetDict with the splits train, test" in problem.message
    assert f"set data.path (or data.train/val/test) to {folder / 'train'}" in problem.message
    train = load_file(folder / "train", CFG)
    assert train.errors == [] and [e.id for e in train.examples] == ["train:1", "train:2", "train:3"]


def test_a_folder_that_is_no_saved_dataset_says_what_is_expected(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    (problem,) = load_file(tmp_path, CFG).errors
    assert (problem.code, problem.line) == ("not_found", None)
    assert "folder without state.json" in problem.message and "save_to_disk" in problem.message
    (tmp_path / "state.json").write_text('{"_data_files": [{"filename": "data-00000-of-00001.arrow"}]}')
    (problem,) = load_file(tmp_path, CFG).errors
    assert problem.code == "bad_dataset_folder" and "data-00000-of-00001.arrow" in problem.message
    (tmp_path / "state.json").write_text('{"_data_files": [{"filename": "../escape.arrow"}]}')
    (problem,) = load_file(tmp_path, CFG).errors
    assert (problem.field, problem.code) == ("_data_files", "bad_dataset_folder")


# ---------------------------------------------------------------- CSV/TSV dialects


@pytest.mark.parametrize(("suffix", "delimiter", "name"),
                         [(".tsv", "\t", "tabs"), (".csv", ";", "semicolons"), (".csv", "|", "'|'"),
                          (".csv", "\t", "tabs")])
def test_csv_dialects_keep_quoted_newlines_and_line_numbers(tmp_path, suffix, delimiter, name):
    d = delimiter
    text = (f"prompt{d}completion\n"
            f"\"first\nquestion, with{d}delimiters\"{d}a\n"  # one row on lines 2-3
            f"second{d}\"\"\n"  # line 4: empty completion
            f"third{d}c{d}extra\n"  # line 5: a column too many
            f"fourth, still one field{d}d\n")
    path = tmp_path / f"d{suffix}"
    path.write_text(text, encoding="utf-8")
    loaded = load_file(path, CFG)
    assert problems(loaded) == [
        f"{path}:5: -: bad_csv: expected 2 columns as in the header, got 3 (fields separated by {name})",
        f"{path}:4: completion: empty_text: expected non-empty text",
    ]
    assert [(e.line, e.messages[0]["content"], e.answer) for e in loaded.examples] == [
        (2, f"first\nquestion, with{d}delimiters", "a"), (6, "fourth, still one field", "d")
    ]


def test_a_comma_csv_with_other_delimiters_inside_fields_stays_comma_separated(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text('text,label\n"a; b | c",x\nd;e,y\n', encoding="utf-8")
    loaded = load_file(path, CFG)
    assert loaded.errors == []
    assert [(e.messages[0]["content"], e.label) for e in loaded.examples] == [("a; b | c", "x"), ("d;e", "y")]


def test_chat_data_in_csv_points_at_the_formats_that_hold_it(tmp_path):
    path = tmp_path / "c.tsv"
    path.write_text("messages\tx\n[]\t1\n", encoding="utf-8")
    (problem,) = load_file(path, CFG).errors
    assert problem.code == "unknown_format" and problem.message.endswith("chat data needs JSONL, Parquet or Arrow")
