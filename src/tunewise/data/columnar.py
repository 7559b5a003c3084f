"""Reading Parquet, Arrow and Feather files, and folders written by `datasets`' save_to_disk, with pyarrow.

Each row becomes the dict a JSONL line gives (nulls None, structs dicts, lists lists), numbered from 1 in file order.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from tunewise.errors import Problem

if TYPE_CHECKING:
    import pyarrow

COLUMNAR_SUFFIXES = (".parquet", ".arrow", ".feather")
ARROW_FILE_MAGIC = b"ARROW1"  # opens the Arrow IPC file format; the stream format (save_to_disk's shards) has none
SAVED_DATASET_FILES = "a data file (.jsonl, .csv, .tsv, .parquet, .arrow, .feather) or a folder written by the " \
                      "datasets library's save_to_disk"


@dataclass
class Rows:
    """What a columnar source gave: (row number, record) pairs, its problems, and the sha256 of its data bytes."""

    records: list[tuple[int, dict]] = field(default_factory=list)
    errors: list[Problem] = field(default_factory=list)
    sha256: str | None = None


def is_columnar(path: Path) -> bool:
    """A Parquet, Arrow or Feather file by extension, or a folder (read as one saved by `save_to_disk`)."""
    return path.is_dir() or path.suffix.lower() in COLUMNAR_SUFFIXES


def read_columnar(path: Path) -> Rows:
    """Every row of a columnar file, or of a save_to_disk folder's shards in state.json's order (rows numbered on
    across shards, so row N is the data set's index N-1); problems name `path` itself."""
    rows = Rows()
    pa = _pyarrow(path, rows)
    if pa is None:
        return rows
    shards = _saved_dataset_shards(path, rows) if path.is_dir() else [path]
    names = _class_label_names(path) if path.is_dir() else {}
    digest = hashlib.sha256()
    for shard in shards:
        raw = shard.read_bytes()
        digest.update(raw)
        table = _table(pa, raw, shard, str(path), rows)
        if table is None:
            continue
        number = len(rows.records)
        for batch in table.to_batches():
            records = [_with_class_names(record, names) for record in batch.to_pylist()]
            rows.records.extend(enumerate(records, start=number + 1))
            number += batch.num_rows
    rows.sha256 = digest.hexdigest() if shards else None
    return rows


def _pyarrow(path: Path, rows: Rows) -> ModuleType | None:
    """The pyarrow module, or None with a `missing_dependency` problem (only these formats need it)."""
    try:
        import pyarrow
        import pyarrow.feather  # noqa: F401  (submodules pyarrow does not import itself)
        import pyarrow.ipc  # noqa: F401
        import pyarrow.parquet  # noqa: F401
    except ImportError:
        message = "reading Parquet/Arrow data needs pyarrow: pip install 'pyarrow>=17' (or convert the data to JSONL)"
        rows.errors.append(Problem(str(path), None, None, "missing_dependency", message))
        return None
    return pyarrow


def _table(pa: ModuleType, raw: bytes, file: Path, where: str, rows: Rows) -> pyarrow.Table | None:
    """The file's pyarrow Table with JSON-shaped columns, or None after recording why it cannot be read."""
    kind = "Parquet" if file.suffix.lower() == ".parquet" else "Arrow"
    try:
        if kind == "Parquet":
            table = pa.parquet.read_table(pa.BufferReader(raw))
        elif file.suffix.lower() == ".feather":
            table = pa.feather.read_table(pa.BufferReader(raw))  # Feather v1 too; v2 is the Arrow IPC file format
        elif raw.startswith(ARROW_FILE_MAGIC):
            table = pa.ipc.open_file(pa.py_buffer(raw)).read_all()
        else:
            table = pa.ipc.open_stream(pa.py_buffer(raw)).read_all()
    except pa.ArrowException as err:
        shard = f" ({file.name})" if str(file) != where else ""
        message = f"expected a well-formed {kind} file{shard}: {err}"
        rows.errors.append(Problem(where, None, None, f"bad_{kind.lower()}", message))
        return None
    return _json_columns(pa, table, where, rows)


def _json_columns(pa: ModuleType, table: pyarrow.Table, where: str, rows: Rows) -> pyarrow.Table | None:
    """The table with timestamp/date/time columns as text, or None after a problem for every column whose type has
    no JSON value (binary, decimal, duration, map, ...; nested anywhere)."""
    bad = [(f.name, f.type, _json_less_part(pa.types, f.type)) for f in table.schema]
    for name, whole, part in bad:
        if part is None:
            continue
        inside = f" (it holds {part})" if part != whole else ""
        message = (f"column '{name}' has the Arrow type {whole}{inside}, which has no JSON value; expected text, "
                   "numbers, booleans, lists or structs: cast the column (to string, say) or drop it before saving")
        problem = Problem(where, None, name, "unsupported_type", message)
        if problem not in rows.errors:  # shards of one data set share their columns: say it once
            rows.errors.append(problem)
    if any(part is not None for _, _, part in bad):
        return None
    for index, column in enumerate(table.schema):
        if _is_time(pa.types, column.type):
            # e.g. "2024-01-02 03:04:05.000000" (a "Z" or offset when the timestamp has a zone); JSON has no dates
            table = table.set_column(index, column.name, table.column(index).cast(pa.string()))
    return table


def _json_less_part(types: ModuleType, arrow_type: pyarrow.DataType) -> pyarrow.DataType | None:
    """The first part of a column's type that JSON has no value for, or None. A top-level timestamp, date or time is
    fine (it is turned into text); nested in a list or struct it is not."""
    if _is_time(types, arrow_type):
        return None
    return _nested_json_less_part(types, arrow_type)


def _nested_json_less_part(types: ModuleType, arrow_type: pyarrow.DataType) -> pyarrow.DataType | None:
    """The first part of the type that is not null, boolean, number, text, list, struct or a dictionary of those."""
    plain = (types.is_null, types.is_boolean, types.is_integer, types.is_floating, types.is_string,
             types.is_large_string, types.is_string_view)
    if any(check(arrow_type) for check in plain):
        return None
    if types.is_dictionary(arrow_type):  # categorical columns (pandas' category): read as their values
        return _nested_json_less_part(types, arrow_type.value_type)
    lists = (types.is_list, types.is_large_list, types.is_fixed_size_list, types.is_list_view,
             types.is_large_list_view)
    if any(check(arrow_type) for check in lists):
        return _nested_json_less_part(types, arrow_type.value_type)
    if types.is_struct(arrow_type):
        parts = (_nested_json_less_part(types, arrow_type.field(i).type) for i in range(arrow_type.num_fields))
        return next((part for part in parts if part is not None), None)
    return arrow_type


def _is_time(types: ModuleType, arrow_type: pyarrow.DataType) -> bool:
    """A timestamp, date or time (durations and intervals are not: their text would not say what they measure)."""
    return types.is_timestamp(arrow_type) or types.is_date(arrow_type) or types.is_time(arrow_type)


# ---------------------------------------------------------------- save_to_disk folders


def _saved_dataset_shards(folder: Path, rows: Rows) -> list[Path]:
    """The .arrow shards that state.json lists, in its order; [] with a problem for a folder that is not one
    `Dataset.save_to_disk` wrote (a DatasetDict's folder included: it holds one such folder per split)."""
    where = str(folder)
    if (folder / "dataset_dict.json").is_file():
        splits = _split_names(folder)
        message = (f"this folder holds a DatasetDict with the splits {', '.join(splits) or '(none)'}; expected one "
                   f"split's folder: set data.path (or data.train/val/test) to {folder / (splits or ['train'])[0]}")
        rows.errors.append(Problem(where, None, None, "dataset_dict", message))
        return []
    state = folder / "state.json"
    if not state.is_file():
        message = f"data path is a folder without state.json; expected {SAVED_DATASET_FILES}"
        rows.errors.append(Problem(where, None, None, "not_found", message))
        return []
    names = _shard_names(state)
    if names is None:
        message = "expected state.json as save_to_disk writes it, with \"_data_files\": [{\"filename\": ...}, ...]"
        rows.errors.append(Problem(str(state), None, "_data_files", "bad_dataset_folder", message))
        return []
    missing = [name for name in names if not (folder / name).is_file()]
    if missing:
        message = f"state.json lists data files that are not in the folder: {', '.join(missing)}"
        rows.errors.append(Problem(where, None, None, "bad_dataset_folder", message))
        return []
    return [folder / name for name in names]


def _shard_names(state: Path) -> list[str] | None:
    """The file names in state.json's `_data_files`, or None when it does not hold them."""
    try:
        entries = json.loads(state.read_text(encoding="utf-8"))["_data_files"]
        names = [entry["filename"] for entry in entries]
    except (ValueError, KeyError, TypeError):
        return None
    if not all(isinstance(name, str) and name and Path(name).name == name for name in names):
        return None  # a bare file name in this folder, never a path that leads out of it
    return names


def _class_label_names(folder: Path) -> dict[str, list[str]]:
    """{column: class names} for the ClassLabel columns dataset_info.json declares (datasets stores their values as
    integers); {} when it declares none or cannot be read."""
    try:
        features = json.loads((folder / "dataset_info.json").read_text(encoding="utf-8"))["features"]
        return {column: list(spec["names"]) for column, spec in features.items()
                if isinstance(spec, dict) and spec.get("_type") == "ClassLabel" and spec.get("names")}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def _with_class_names(record: dict, names: dict[str, list[str]]) -> dict:
    """The record with each ClassLabel column's integer replaced by its class name (-1, datasets' "no label": None)."""
    for column, classes in names.items():
        value = record.get(column)
        if isinstance(value, int) and not isinstance(value, bool):
            record[column] = classes[value] if 0 <= value < len(classes) else None
    return record


def _split_names(folder: Path) -> list[str]:
    """The splits dataset_dict.json names, else the subfolders that hold a state.json."""
    try:
        splits = json.loads((folder / "dataset_dict.json").read_text(encoding="utf-8"))["splits"]
        if isinstance(splits, list) and all(isinstance(s, str) for s in splits):
            return splits
    except (ValueError, KeyError, TypeError):
        pass
    return sorted(p.name for p in folder.iterdir() if (p / "state.json").is_file())
