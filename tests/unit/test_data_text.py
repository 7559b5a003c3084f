"""Domain text for continued pretraining: folders and JSONL load; every problem names its file, line and field.

Also checks the bundled example's domain/ folder: exactly what generate_domain.py writes, and of a sane size.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import example_script

from tunewise.data.text import load_domain_text, read_domain_text
from tunewise.errors import DataError

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "support_tickets"


def write_jsonl(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def problems_of(path: Path) -> list:
    with pytest.raises(DataError) as err:
        load_domain_text(path)
    return err.value.problems


# ---------------------------------------------------------------- loading


def test_folder_is_read_recursively_in_path_order(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "2.md").write_text("# second\nin b", encoding="utf-8")
    (tmp_path / "a.txt").write_text("first", encoding="utf-8")
    (tmp_path / "c.MD").write_bytes("\ufeffthird, with a BOM".encode())
    (tmp_path / "notes.json").write_text("{not text}", encoding="utf-8")  # other suffixes are ignored
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "x.md").write_text("hidden", encoding="utf-8")
    (tmp_path / "blank.txt").write_text("  \n", encoding="utf-8")  # whitespace only: nothing to learn

    assert load_domain_text(tmp_path) == ["first", "# second\nin b", "third, with a BOM"]


def test_jsonl_gives_one_document_per_line_and_skips_blank_lines(tmp_path):
    path = write_jsonl(tmp_path / "docs.jsonl", [json.dumps({"text": "one", "id": 1}), "", "  ",
                                                   json.dumps({"text": "two\nlines"})])
    assert load_domain_text(path) == ["one", "two\nlines"]


# ---------------------------------------------------------------- problems, one kind at a time
# Each case writes its input and returns (path to load, file the problem names, line, field).


def _missing(tmp_path):
    return tmp_path / "nowhere", tmp_path / "nowhere", None, None


def _empty_folder(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "data.csv").write_text("a,b\n", encoding="utf-8")
    return tmp_path / "docs", tmp_path / "docs", None, None


def _jsonl_case(tmp_path, lines: list[str], line: int | None, field: str | None):
    path = write_jsonl(tmp_path / "d.jsonl", lines)
    return path, path, line, field


def _latin1_line(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_bytes(b'{"text": "fine"}\n{"text": "caf\xe9"}\n')
    return path, path, 2, None


def _latin1_file(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "good.md").write_text("fine", encoding="utf-8")
    (tmp_path / "docs" / "old.txt").write_bytes(b"line one\ncaf\xe9\n")
    return tmp_path / "docs", tmp_path / "docs" / "old.txt", 2, None


def _single_text_file(tmp_path):
    path = tmp_path / "notes.md"
    path.write_text("a single document", encoding="utf-8")
    return path, path, None, None


OK = json.dumps({"text": "fine"})
CASES = [
    pytest.param("not_found", _missing, id="missing-path"),
    pytest.param("no_documents", _empty_folder, id="folder-without-text-files"),
    pytest.param("no_documents", lambda t: _jsonl_case(t, [""], None, None), id="empty-jsonl"),
    pytest.param("bad_json", lambda t: _jsonl_case(t, [OK, '{"text": "cut'], 2, None), id="bad-json"),
    pytest.param("not_an_object", lambda t: _jsonl_case(t, ['"a string"'], 1, None), id="not-an-object"),
    pytest.param("missing_field", lambda t: _jsonl_case(t, [json.dumps({"body": "x"})], 1, "text"), id="no-text"),
    pytest.param("wrong_type", lambda t: _jsonl_case(t, [OK, json.dumps({"text": 42})], 2, "text"), id="number"),
    pytest.param("empty_text", lambda t: _jsonl_case(t, [json.dumps({"text": " \n "})], 1, "text"), id="empty"),
    pytest.param("bad_encoding", _latin1_line, id="latin1-jsonl-line"),
    pytest.param("bad_encoding", _latin1_file, id="latin1-file-in-folder"),
    pytest.param("unknown_format", _single_text_file, id="a-single-md-file"),
]


@pytest.mark.parametrize(("code", "make"), CASES)
def test_each_problem_names_its_file_line_and_field(tmp_path, code, make):
    load, file, line, field = make(tmp_path)
    problems = problems_of(load)
    assert [p.code for p in problems] == [code]
    problem = problems[0]
    assert (problem.file, problem.line, problem.field) == (str(file), line, field)
    assert "expected" in problem.message
    assert str(problem).startswith(f"{file}:{line}: " if line else f"{file}: ")


def test_wrong_type_says_what_was_expected_and_what_was_found(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", [json.dumps({"text": 42})])
    (problem,) = problems_of(path)
    assert "expected a string, got number" in problem.message


# ---------------------------------------------------------------- every problem at once


def test_every_problem_of_a_jsonl_file_is_reported_together(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", [
        json.dumps({"text": "good"}),
        "{broken",
        json.dumps({"title": "no text"}),
        json.dumps({"text": None}),
        json.dumps({"text": ""}),
        json.dumps({"text": "also good"}),
    ])
    with pytest.raises(DataError) as err:
        load_domain_text(path)
    found = [(p.line, p.field, p.code) for p in err.value.problems]
    assert found == [(2, None, "bad_json"), (3, "text", "missing_field"), (4, "text", "wrong_type"),
                     (5, "text", "empty_text")]
    message = str(err.value)
    assert message.startswith("4 domain text problem(s):")
    assert all(f"{path}:{line}:" in message for line in (2, 3, 4, 5))


def test_every_bad_file_of_a_folder_is_reported_and_the_good_ones_still_read(tmp_path):
    for name in ("a.md", "c.txt"):
        (tmp_path / name).write_bytes(b"\xff\xfe not utf-8")
    (tmp_path / "b.md").write_text("fine", encoding="utf-8")
    texts, problems = read_domain_text(tmp_path)
    assert texts == ["fine"]
    assert [(Path(p.file).name, p.code) for p in problems] == [("a.md", "bad_encoding"), ("c.txt", "bad_encoding")]


# ---------------------------------------------------------------- the bundled example


@pytest.fixture(scope="module")
def domain_generator():
    with example_script(EXAMPLE / "generate_domain.py") as module:
        yield module


def test_bundled_domain_text_is_what_the_generator_writes(domain_generator, tmp_path):
    assert domain_generator.main(["--out", str(tmp_path)]) == 0
    written = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    committed = {p.name: p.read_bytes() for p in (EXAMPLE / "domain").iterdir()}
    assert written == committed, "examples/support_tickets/domain is stale: run generate_domain.py"


def test_bundled_domain_text_loads_and_is_small(domain_generator):
    texts = load_domain_text(EXAMPLE / "domain")
    words = [len(t.split()) for t in texts]
    assert 20 <= len(texts) <= 40
    assert 150 <= min(words) and max(words) <= 400, words
    assert sum(len(t.encode("utf-8")) for t in texts) < 200 * 1024
    assert "{" not in "".join(texts), "an unfilled slot"
    covered = {a.topic for a in domain_generator.ARTICLES}
    ticket_labels = set(domain_generator.TICKETS.COUNTS)
    assert ticket_labels <= covered, ticket_labels - covered
