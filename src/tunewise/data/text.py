"""Documents and raw domain text: a JSONL file with a `text` field per line, or a folder of .txt/.md files.

Every problem (file, line, field) is found before any compute and raised together as one DataError.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from tunewise.data.formats import Where, record_id, type_name
from tunewise.data.load import LoadedFile, _jsonl_records
from tunewise.errors import DataError, Problem
from tunewise.records import Example, user_turns

TEXT_SUFFIXES = (".txt", ".md")  # files of a folder that are one document each
JSONL_SUFFIX = ".jsonl"  # files of a folder with one document per line (a `text` field)
TEXT_FIELD = "text"  # the field of a JSONL record that holds one document
ID_FIELD = "id"  # the optional field of a JSONL record that names its document
TITLE = "domain text problem(s)"
DOCUMENTS_TITLE = "document problem(s)"
EXPECTED = "expected a JSONL file with a `text` field per line or a folder of .txt/.md/.jsonl files"


@dataclass(frozen=True)
class Document:
    """One document of a knowledge source (or of domain text): a stable id, its text and where it came from."""

    id: str  # folder: relative path without suffix ("billing/refunds"); JSONL: the `id` field, else "<stem>:<line>"
    text: str
    source: str  # the file; "<file>:<line>" for a JSONL record


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
    # Continued pretraining never looks at ids, so a bad or repeated id is no problem here.
    documents, problems = _read(Path(path), ids_matter=False)
    return [document.text for document in documents], problems


def load_documents(path: Path | str) -> list[Document]:
    """The documents of a folder or JSONL file (read as `load_domain_text` does); raises DataError on any problem.

    Ids must be unique: a folder's `a.md` and `a.txt` both have the id `a`, and so do two JSONL records
    with the same `id` field.
    """
    documents, problems = read_documents(Path(path))
    if problems:
        raise DataError(problems, title=DOCUMENTS_TITLE)
    return documents


def read_documents(path: Path) -> tuple[list[Document], list[Problem]]:
    """(documents, problems) without raising; of documents with the same id only the first is kept."""
    documents, problems = _read(Path(path), ids_matter=True)
    unique, repeated = _unique_ids(documents)
    return unique, problems + repeated


def documents_from_examples(examples: Iterable[Example]) -> list[Document]:
    """The training set as a knowledge source: one document per example, its user turn(s) then its answer."""
    documents = []
    for example in examples:
        documents.append(Document(example.id, f"{user_turns(example)}\n{example.answer}",
                                  f"{example.file}:{example.line}"))
    return documents


def _read(path: Path, ids_matter: bool) -> tuple[list[Document], list[Problem]]:
    """Every document of a folder or JSONL file, and every problem found on the way."""
    if path.is_dir():
        documents, problems = _folder_documents(path, ids_matter)
    elif not path.exists():
        message = f"the domain text path does not exist; {EXPECTED}"
        documents, problems = [], [Problem(str(path), None, None, "not_found", message)]
    elif path.suffix.lower() in TEXT_SUFFIXES:
        message = f"{EXPECTED}; to use this file, put it in a folder and give the folder"
        documents, problems = [], [Problem(str(path), None, None, "unknown_format", message)]
    else:
        documents, problems = _jsonl_documents(path, ids_matter)
    if not documents and not problems:
        problems.append(Problem(str(path), None, None, "no_documents", "no text found; expected at least one document"))
    return documents, problems


def _unique_ids(documents: list[Document]) -> tuple[list[Document], list[Problem]]:
    """The documents whose id was not seen before, and one `duplicate_id` problem per repeat."""
    first: dict[str, Document] = {}
    problems = []
    for document in documents:
        if document.id in first:
            problems.append(_duplicate_id(document, first[document.id]))
        else:
            first[document.id] = document
    return list(first.values()), problems


def _duplicate_id(document: Document, first: Document) -> Problem:
    """The problem of a document whose id an earlier document already has."""
    file, _, line = document.source.rpartition(":")
    if file and line.isdigit():  # a JSONL record: "<file>:<line>"
        message = f"the id '{document.id}' is also used at {first.source}; expected a unique id per document"
        return Problem(file, int(line), ID_FIELD, "duplicate_id", message)
    message = (
        f"the id '{document.id}' (the path without its suffix) is also the id of {first.source}; "
        "expected one file per name: rename or merge one of them"
    )
    return Problem(document.source, None, None, "duplicate_id", message)


# ---------------------------------------------------------------- folder


def text_files(folder: Path) -> list[Path]:
    """The .txt/.md/.jsonl files under `folder`, recursively, sorted by relative path; hidden ones skipped."""
    found = []
    for path in folder.rglob("*"):
        relative = path.relative_to(folder)
        hidden = any(part.startswith(".") for part in relative.parts)
        if path.is_file() and path.suffix.lower() in (*TEXT_SUFFIXES, JSONL_SUFFIX) and not hidden:
            found.append(relative)
    return [folder / relative for relative in sorted(found, key=lambda p: p.as_posix())]


def _folder_documents(folder: Path, ids_matter: bool) -> tuple[list[Document], list[Problem]]:
    files = text_files(folder)
    if not files:
        kinds = "/".join((*TEXT_SUFFIXES, JSONL_SUFFIX))
        message = f"the folder holds no {kinds} files (searched recursively); expected at least one"
        return [], [Problem(str(folder), None, None, "no_documents", message)]
    documents: list[Document] = []
    problems: list[Problem] = []
    for path in files:
        if path.suffix.lower() == JSONL_SUFFIX:
            # Lines without their own id are named by the file's path in the folder: 'faq/billing:3'.
            found, found_problems = _jsonl_documents(path, ids_matter, path.relative_to(folder).with_suffix(""))
            documents += found
            problems += found_problems
            continue
        raw = path.read_bytes()
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as err:
            line = raw[: err.start].count(b"\n") + 1
            message = f"expected UTF-8 text; byte {err.start + 1} is not (save the file as UTF-8)"
            problems.append(Problem(str(path), line, None, "bad_encoding", message))
            continue
        if text.strip():
            document_id = path.relative_to(folder).with_suffix("").as_posix()
            documents.append(Document(document_id, text, str(path)))
    return documents, problems


# ---------------------------------------------------------------- JSONL


def _jsonl_documents(path: Path, ids_matter: bool, name: Path | None = None) -> tuple[list[Document], list[Problem]]:
    """Lines are read by the examples' JSONL reader, so its problems (and their wording) are the same here.

    A line without an `id` is '<name>:<line>' (name: the file's stem, or its path inside a folder of documents).
    """
    loaded = LoadedFile(str(path))
    records = _jsonl_records(path.read_bytes(), loaded)  # bad_encoding, bad_json, not_an_object go to loaded.errors
    documents: list[Document] = []
    for line, record in records:
        where = Where(str(path), line)
        text = _record_text(record, where, loaded.errors)
        document_id = record_id(record, ID_FIELD, where, loaded.errors if ids_matter else [])
        if name is not None and ID_FIELD not in record:
            document_id = f"{name.as_posix()}:{line}"
        if text is not None:
            documents.append(Document(document_id, text, f"{path}:{line}"))
    return documents, loaded.errors


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
