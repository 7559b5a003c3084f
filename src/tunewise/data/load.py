"""Reading one data file (JSONL; CSV/TSV in UTF-8, BOM tolerated; Parquet/Arrow/Feather) or a `save_to_disk` folder
into Examples plus every problem found.

Line numbers are physical lines (JSONL), the line a row starts on (CSV/TSV, the header is line 1), or the row
number counted from 1 (Parquet/Arrow/Feather and folders, see data/columnar.py).
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from tunewise.data.columnar import is_columnar, read_columnar
from tunewise.data.formats import (
    CSV_FORMATS,
    Where,
    answer_field,
    detect_format,
    formats_help,
    required_fields,
    to_example,
    type_name,
)
from tunewise.errors import Problem
from tunewise.records import Example
from tunewise.sections import DataConfig


@dataclass
class LoadedFile:
    """What one file gave: its examples, its problems, the format used and the hash of its bytes."""

    path: str
    examples: list[Example] = field(default_factory=list)
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    format: str | None = None
    sha256: str | None = None


CSV_DELIMITERS = ",;|\t"  # the ones sniffed from a .csv header line; comma when it shows none of them


def is_csv(path: Path) -> bool:
    """CSV or TSV by extension (Parquet, Arrow, Feather and folders are columnar; anything else is read as JSONL)."""
    return path.suffix.lower() in (".csv", ".tsv")


def load_file(path: Path | str, cfg: DataConfig, fmt: str | None = None, answers_optional: bool = False) -> LoadedFile:
    """Read and check every record of one file; `fmt` None means detect it from the first fitting record.

    `answers_optional`: inputs to predict on, in format `fmt`; a record without its answer (label, output,
    completion, final assistant turn) gives an example whose answer is "" and label None.
    """
    path = Path(path)
    loaded = LoadedFile(str(path))
    if not path.exists():
        loaded.errors.append(Problem(str(path), None, None, "not_found", "data file does not exist"))
        return loaded
    records = _records(path, loaded)
    loaded.format = fmt or _detected_format(records, cfg, loaded)
    if loaded.format is None:
        return loaded
    if is_csv(path) and loaded.format not in CSV_FORMATS:
        loaded.errors.append(Problem(str(path), 1, None, "unknown_format",
                                     f"CSV holds {', '.join(CSV_FORMATS)}; chat data needs JSONL, Parquet or Arrow"))
        return loaded
    header_line = 1 if is_csv(path) else None  # a columnar file's columns have no line
    if (is_csv(path) or is_columnar(path)) and not _has_columns(records, cfg, loaded, header_line, answers_optional):
        return loaded
    for line, record in records:
        unanswered = answers_optional and not has_answer(record, loaded.format, cfg)
        if unanswered:
            record = with_placeholder_answer(record, loaded.format, cfg)
        converted = to_example(record, loaded.format, cfg, Where(str(path), line))
        if unanswered and converted.example is not None:
            converted.example = replace(converted.example, answer="", label=None)
        loaded.errors.extend(converted.errors)
        loaded.warnings.extend(converted.warnings)
        if converted.example is not None:
            loaded.examples.append(converted.example)
    return loaded


def _records(path: Path, loaded: LoadedFile) -> list[tuple[int, dict]]:
    """(line, record) for every readable record of the file or folder, by its kind; sets `loaded.sha256`."""
    if is_columnar(path):
        rows = read_columnar(path)
        loaded.errors.extend(rows.errors)
        loaded.sha256 = rows.sha256
        return rows.records
    raw = path.read_bytes()
    loaded.sha256 = hashlib.sha256(raw).hexdigest()
    return _csv_records(raw, loaded, path.suffix.lower() == ".tsv") if is_csv(path) else _jsonl_records(raw, loaded)


PLACEHOLDER = "?"  # stands in for a missing answer while a record to predict on is checked; never kept


def has_answer(record: dict, fmt: str, cfg: DataConfig) -> bool:
    """Whether a record holds its answer: the format's answer field, not empty, or a chat ending with an assistant
    turn."""
    if fmt == "chat":
        messages = record.get("messages")
        return not (isinstance(messages, list) and messages and isinstance(messages[-1], dict)
                    and messages[-1].get("role") != "assistant")
    return record.get(answer_field(fmt, cfg)) not in (None, "")  # an empty CSV cell or null: no answer


def with_placeholder_answer(record: dict, fmt: str, cfg: DataConfig) -> dict:
    """The record with PLACEHOLDER as its answer, so the format's checks see a whole record."""
    if fmt == "chat":
        return {**record, "messages": [*record["messages"], {"role": "assistant", "content": PLACEHOLDER}]}
    return {**record, answer_field(fmt, cfg): PLACEHOLDER}


def _detected_format(records: list[tuple[int, dict]], cfg: DataConfig, loaded: LoadedFile) -> str | None:
    """The format of the first record that fits one; an `unknown_format` problem when none does."""
    for _, record in records:
        fmt = detect_format(record, cfg)
        if fmt is not None:
            return fmt
    if records:
        line, record = records[0]
        found = ", ".join(sorted(record)) or "no fields"
        loaded.errors.append(
            Problem(loaded.path, line, None, "unknown_format", f"{formats_help(cfg)}; got {found}")
        )
    return None


# ---------------------------------------------------------------- JSONL


def _jsonl_records(raw: bytes, loaded: LoadedFile) -> list[tuple[int, dict]]:
    """(line, object) for every parseable object line; problems for the other non-blank lines."""
    records = []
    for number, chunk in enumerate(raw.split(b"\n"), start=1):
        try:
            text = chunk.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError as err:
            loaded.errors.append(
                Problem(loaded.path, number, None, "bad_encoding", f"expected UTF-8 text; byte {err.start + 1} is not")
            )
            continue
        if not text.strip():
            continue  # blank lines (and the final newline) carry nothing
        value = _json_value(text, number, loaded)
        if value is None:
            continue
        if not isinstance(value, dict):
            loaded.errors.append(
                Problem(loaded.path, number, None, "not_an_object", f"expected a JSON object, got {type_name(value)}")
            )
            continue
        records.append((number, value))
    return records


def _json_value(text: str, number: int, loaded: LoadedFile) -> Any:
    """The parsed line, or None after recording a `bad_json` problem (a JSON null line is not an object either)."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        message = f"expected one JSON object per line: {err.msg} (column {err.colno})"
        if text.lstrip().startswith("["):
            message += "; this looks like a JSON array, write one object per line (JSONL)"
        loaded.errors.append(Problem(loaded.path, number, None, "bad_json", message))
        return None
    if value is None:
        loaded.errors.append(Problem(loaded.path, number, None, "not_an_object", "expected a JSON object, got null"))
    return value


# ---------------------------------------------------------------- CSV


def _csv_records(raw: bytes, loaded: LoadedFile, tsv: bool = False) -> list[tuple[int, dict]]:
    """(start line, row as dict) for every row; reading stops at the first broken line (quotes may be off after it).
    Fields are tab-separated in TSV; in CSV by the delimiter the header line uses (see `csv_delimiter`)."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        loaded.errors.append(Problem(loaded.path, line, None, "bad_encoding", "expected UTF-8 text"))
        return []
    delimiter = "\t" if tsv else csv_delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    records: list[tuple[int, dict]] = []
    header: list[str] | None = None
    start = 1
    try:
        for row in reader:
            line, start = start, reader.line_num + 1
            if not row:
                continue
            if header is None:
                header = _csv_header(row, loaded)
                if header is None:
                    return []
                continue
            if len(row) != len(header):
                expected = f"expected {len(header)} columns as in the header, got {len(row)}"
                if delimiter != ",":
                    expected += f" (fields separated by {_delimiter_name(delimiter)})"
                loaded.errors.append(Problem(loaded.path, line, None, "bad_csv", expected))
                continue
            records.append((line, dict(zip(header, row))))
    except csv.Error as err:
        loaded.errors.append(Problem(loaded.path, start, None, "bad_csv", f"expected well-formed CSV: {err}"))
    return records


def csv_delimiter(text: str) -> str:
    """The delimiter of a CSV text: the one of `CSV_DELIMITERS` that csv.Sniffer finds in its header line (the first
    non-blank one), else a comma. The header alone is sniffed, as quoted fields further on may span lines; when it
    holds several candidates the sniffer prefers comma, then tab, then semicolon."""
    header = next((line for line in io.StringIO(text) if line.strip()), "")  # lazily: the file may be large
    try:
        return csv.Sniffer().sniff(header, delimiters=CSV_DELIMITERS).delimiter
    except csv.Error:  # one column, or none of the candidates
        return ","


def _delimiter_name(delimiter: str) -> str:
    """How a problem message names a delimiter."""
    return {"\t": "tabs", ";": "semicolons", "|": "'|'"}.get(delimiter, f"'{delimiter}'")


def _csv_header(row: list[str], loaded: LoadedFile) -> list[str] | None:
    """The column names, or None (with a problem) when they are empty or repeated."""
    names = [name.strip() for name in row]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if "" in names or repeated:
        what = f"repeated: {', '.join(repeated)}" if repeated else "an empty column name"
        expected = f"expected distinct column names in the header, got {what}"
        loaded.errors.append(Problem(loaded.path, 1, None, "bad_csv", expected))
        return None
    return names


def _has_columns(records: list[tuple[int, dict]], cfg: DataConfig, loaded: LoadedFile, header_line: int | None,
                 answers_optional: bool = False) -> bool:
    """A missing column of a CSV or columnar file is one problem (at the header line, if any), not one per row (the
    answer's column may be missing from inputs to predict on)."""
    if not records:
        return True
    optional = {answer_field(loaded.format, cfg)} if answers_optional else set()
    missing = [name for name in required_fields(loaded.format, cfg)
               if name not in records[0][1] and name not in optional]
    kind = "CSV" if header_line is not None else "table"
    for name in missing:
        message = f"a {loaded.format} {kind} needs the column '{name}'"
        loaded.errors.append(Problem(loaded.path, header_line, name, "missing_field", message))
    return not missing
