"""Raw domain text for continued pretraining: a JSONL file with a `text` field per line, or a folder of .txt/.md files.

Every problem (file, line, field) is found before any compute and raised together as one DataError.
"""
from __future__ import annotations

from pathlib import Path

from tunewise.data.formats import Where, type_name
from tunewise.data.load import LoadedFile, _jsonl_records
from tunewise.errors import DataError, Problem

TEXT_SUFFIXES = (".txt", ".md")  # what a folder of documents is read for; every other file is ignored
TEXT_FIELD = "text"  # the field of a JSONL record that holds one document
TITLE = "domain text problem(s)"
EXPECTED = "expected a JSONL file with a `text` field per line or a folder of .txt/.md files"


def load_domain_text(path: Path | str) -> list[str]:
    """One string per document, in a fixed order; raises DataError listing every problem found.

    A folder is read recursively for .txt/.md files (UTF-8, sorted by relative path, hidden folders and files
    skipped, files with only whitespace skipped); each file is one document. A JSONL file gives one document
    per line from its `text` field; blank lines are skipped.
    """
    texts, problems = read_domain_text(Path(path))
    if problems:
        raise DataError(problems, title=TITLE)
    return texts


def read_domain_text(path: Path) -> tuple[list[str], list[Problem]]:
    """(documents, problems) without raising: for reports that list problems next to other checks."""
    if path.is_dir():
        texts, problems = _folder_texts(path)
    elif not path.exists():
        message = f"the domain text path does not exist; {EXPECTED}"
        texts, problems = [], [Problem(str(path), None, None, "not_found", message)]
    elif path.suffix.lower() in TEXT_SUFFIXES:
        message = f"{EXPECTED}; to use this file, put it in a folder and give the folder"
        texts, problems = [], [Problem(str(path), None, None, "unknown_format", message)]
    else:
        texts, problems = _jsonl_texts(path)
    if not texts and not problems:
        problems.append(Problem(str(path), None, None, "no_documents", "no text found; expected at least one document"))
    return texts, problems


# ---------------------------------------------------------------- folder


def text_files(folder: Path) -> list[Path]:
    """The .txt/.md files under `folder`, recursively, sorted by relative path; hidden files and folders skipped."""
    found = []
    for path in folder.rglob("*"):
        relative = path.relative_to(folder)
        hidden = any(part.startswith(".") for part in relative.parts)
        if path.is_file() and path.suffix.lower() in TEXT_SUFFIXES and not hidden:
            found.append(relative)
    return [folder / relative for relative in sorted(found, key=lambda p: p.as_posix())]


def _folder_texts(folder: Path) -> tuple[list[str], list[Problem]]:
    files = text_files(folder)
    if not files:
        message = f"the folder holds no {'/'.join(TEXT_SUFFIXES)} files (searched recursively); expected at least one"
        return [], [Problem(str(folder), None, None, "no_documents", message)]
    texts: list[str] = []
    problems: list[Problem] = []
    for path in files:
        raw = path.read_bytes()
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as err:
            line = raw[: err.start].count(b"\n") + 1
            message = f"expected UTF-8 text; byte {err.start + 1} is not (save the file as UTF-8)"
            problems.append(Problem(str(path), line, None, "bad_encoding", message))
            continue
        if text.strip():
            texts.append(text)
    return texts, problems


# ---------------------------------------------------------------- JSONL


def _jsonl_texts(path: Path) -> tuple[list[str], list[Problem]]:
    """Lines are read by the examples' JSONL reader, so its problems (and their wording) are the same here."""
    loaded = LoadedFile(str(path))
    records = _jsonl_records(path.read_bytes(), loaded)  # bad_encoding, bad_json, not_an_object go to loaded.errors
    texts: list[str] = []
    for line, record in records:
        text = _record_text(record, Where(str(path), line), loaded.errors)
        if text is not None:
            texts.append(text)
    return texts, loaded.errors


def _record_text(record: dict, where: Where, problems: list[Problem]) -> str | None:
    """The record's non-empty `text` string, or None after adding a problem."""
    if TEXT_FIELD not in record:
        found = ", ".join(sorted(record)) or "no fields"
        problems.append(
            where.problem(TEXT_FIELD, "missing_field", f"expected the field '{TEXT_FIELD}' (the document), got {found}")
        )
        return None
    value = record[TEXT_FIELD]
    if not isinstance(value, str):
        problems.append(where.problem(TEXT_FIELD, "wrong_type", f"expected a string, got {type_name(value)}"))
        return None
    if not value.strip():
        problems.append(where.problem(TEXT_FIELD, "empty_text", "expected non-empty text"))
        return None
    return value
