"""Fuzzing the data loaders: random and malformed JSONL and CSV (bad UTF-8, huge lines, nested garbage, wrong
types, byte-order marks, CRLF) either load or come back as tunewise's own problems, each with the file and a line
number, never an unhandled exception and never a hang."""
from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tunewise.data.load import load_file
from tunewise.errors import DataError
from tunewise.sections import DataConfig

FILE_LEVEL = {"not_found", "empty", "unknown_format", "no_format"}  # problems about the file, not a line

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
field_names = st.sampled_from(["text", "label", "messages", "prompt", "completion", "instruction", "input",
                               "output", "id", "role", "content", "x"])
records = st.dictionaries(field_names, json_values | st.text(max_size=30), max_size=5)
chat = st.builds(lambda turns: {"messages": turns}, st.lists(
    st.dictionaries(st.sampled_from(["role", "content", "name"]),
                    st.sampled_from(["user", "assistant", "system", "tool"]) | st.text(max_size=10) | json_values,
                    max_size=3), max_size=4))
jsonl_lines = st.one_of(
    records.map(json.dumps).map(str.encode),
    chat.map(json.dumps).map(str.encode),
    json_values.map(json.dumps).map(str.encode),  # arrays, numbers, null: not objects
    st.binary(max_size=40),  # garbage, often not UTF-8
    st.text(max_size=40).map(str.encode),
    st.just(b'{"text": "' + b"a" * 200_000 + b'", "label": "x"}'),  # a huge line
    st.just(b'{"text": "caf\xe9", "label": "x"}'),  # Latin-1, not UTF-8
)


def assemble(lines: list[bytes], bom: bool, crlf: bool) -> bytes:
    body = (b"\r\n" if crlf else b"\n").join(lines)
    return (b"\xef\xbb\xbf" if bom else b"") + body


def check(raw: bytes, suffix: str) -> None:
    """Load the bytes as a data file: it loads, or every problem names the file and (for a line) its number."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"data{suffix}"
        path.write_bytes(raw)
        loaded = load_file(path, DataConfig(path=path))
        n_lines = max(raw.count(b"\n"), len(raw.splitlines())) + 1  # CSV also breaks lines at a lone \r
        for problem in loaded.errors + loaded.warnings:
            assert problem.file == str(path)
            assert problem.code and problem.message
            if problem.line is None:
                assert problem.code in FILE_LEVEL, problem
            else:
                assert 1 <= problem.line <= n_lines, problem
        if loaded.errors:
            assert str(path) in str(DataError(loaded.errors))  # what the user sees lists them with the file


@settings(max_examples=200, deadline=5000, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(jsonl_lines, max_size=8), st.booleans(), st.booleans())
def test_any_jsonl_loads_or_reports_its_lines(lines, bom, crlf):
    check(assemble(lines, bom, crlf), ".jsonl")


csv_cells = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=15) | st.sampled_from(
    ['"', '""', ",", "\n", "\r", '"unclosed', "a,b", "label"])
csv_rows = st.lists(csv_cells, min_size=0, max_size=4).map(lambda cells: ",".join(cells).encode())


@settings(max_examples=200, deadline=5000, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from([b"text,label", b"label,text", b"text", b"", b'"text","label"']),
       st.lists(csv_rows | st.binary(max_size=30), max_size=8), st.booleans(), st.booleans())
def test_any_csv_loads_or_reports_its_lines(header, rows, bom, crlf):
    check(assemble([header, *rows], bom, crlf), ".csv")
