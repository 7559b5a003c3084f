"""The run registry: every run's status, hashes, metrics and costs in one SQLite file, for `tunewise runs`.

The file is $TUNEWISE_REGISTRY, else registry.sqlite under $TUNEWISE_HOME (default ~/.cache/tunewise).
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import shutil
import sqlite3
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from tunewise.distributed import is_main
from tunewise.errors import TunewiseError
from tunewise.home import tunewise_home
from tunewise.report.units import count_text, size_text

SCHEMA_VERSION = 1  # PRAGMA user_version of the file; a newer file is refused, never rewritten
STATUSES = ("running", "finished", "failed", "interrupted")
# Two runs finishing at once queue for the write lock; a registry write waits this long before giving up.
BUSY_TIMEOUT_S = 30.0
COST_FIELDS = ("fit_wall_s", "predict_wall_s", "trainable_params", "total_params", "disk_bytes", "peak_rss_bytes")
# A `tunewise tune` study is recorded as a run (its folder <output_dir>/tune-<study>/) whose rungs are its trials,
# each with the values it tried (`params`); a trial without a result says why in place of a metric.
UNSCORED_TRIALS = {"pruned trial": "pruned", "failed trial": "failed"}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,         -- the run folder's name
    folder TEXT NOT NULL,        -- its absolute path
    created TEXT NOT NULL,       -- UTC, ISO 8601
    updated TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('running', 'finished', 'failed', 'interrupted')),
    config_hash TEXT,            -- sha256 of config.yaml as saved
    data_hash TEXT,              -- sha256 of the input files' sorted sha256s (data.json)
    model TEXT,
    task_type TEXT,
    primary_metric TEXT,
    recommended_rung TEXT,
    recommended_value REAL,      -- the recommended rung's primary metric
    rungs TEXT NOT NULL,         -- JSON: [{name, kind, skipped, metrics, cost}] in ladder order
    error TEXT                   -- failed / interrupted: what stopped it
)
"""
_COLUMNS = ("id", "folder", "created", "updated", "status", "config_hash", "data_hash", "model", "task_type",
            "primary_metric", "recommended_rung", "recommended_value", "rungs", "error")


class RegistryError(TunewiseError):
    """The registry file could not be opened, read or written."""


class RunLookupError(TunewiseError):
    """No recorded run, or more than one, matches the ID given."""


@dataclass
class RunRecord:
    """One row of the registry."""

    id: str
    folder: Path
    created: str
    updated: str
    status: str
    config_hash: str | None = None
    data_hash: str | None = None
    model: str | None = None
    task_type: str | None = None
    primary_metric: str | None = None
    recommended_rung: str | None = None
    recommended_value: float | None = None
    rungs: list[dict] = field(default_factory=list)  # per rung: name, kind, skipped, metrics, cost (COST_FIELDS)
    error: str | None = None


def registry_path() -> Path:
    """Where the registry lives: $TUNEWISE_REGISTRY, else registry.sqlite under $TUNEWISE_HOME."""
    return Path(os.environ.get("TUNEWISE_REGISTRY") or tunewise_home() / "registry.sqlite").expanduser()


# ---------------------------------------------------------------------- the file


@contextmanager
def _connection(path: Path) -> Iterator[sqlite3.Connection]:
    """The registry at `path`, made with the current schema if new; sqlite and OS errors become RegistryError."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: transactions are the explicit BEGIN IMMEDIATE below, so a writer takes the write
        # lock before reading and waits for another writer instead of failing on a lock upgrade.
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        try:
            conn.row_factory = sqlite3.Row
            _ensure_schema(conn, path)
            yield conn
        finally:
            conn.close()
    except (sqlite3.Error, OSError) as err:
        raise _registry_error(path, err) from None


def _registry_error(path: Path, err: BaseException) -> RegistryError:
    if type(err) is sqlite3.DatabaseError:  # "file is not a database", "disk image is malformed"
        return RegistryError(f"{path}: not a readable run registry ({err}); move it aside (a new one is made on the "
                             "next run) and register existing runs again with `tunewise runs add runs/*`")
    return RegistryError(f"{path}: the run registry could not be opened or written ({err}); make the folder "
                         "writable or set TUNEWISE_REGISTRY to a writable file")


def _ensure_schema(conn: sqlite3.Connection, path: Path) -> None:
    """Create the table in a new file; refuse a file written by a newer tunewise."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version == SCHEMA_VERSION:
        return
    if version > SCHEMA_VERSION:
        raise RegistryError(f"{path}: written by a newer tunewise (registry schema {version}, this one reads "
                            f"{SCHEMA_VERSION}); upgrade tunewise or set TUNEWISE_REGISTRY to another file")
    # WAL lets `tunewise runs ls` read while a run writes; the mode is stored in the file, so it is set once.
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute(_SCHEMA)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _record_from_row(row: sqlite3.Row) -> RunRecord:
    values = dict(row)
    values["folder"] = Path(values["folder"])
    values["rungs"] = json.loads(values["rungs"])
    return RunRecord(**values)


# ---------------------------------------------------------------------- writing


def record_run(run_dir: Path, status: str, report: dict | None = None, error: str | None = None,
               path: Path | None = None) -> RunRecord:
    """Insert or update the row of `run_dir` (keyed by its name) from its files and `report`; the stored row."""
    if status not in STATUSES:
        raise ValueError(f"status {status!r}: expected one of {', '.join(STATUSES)}")
    path = path or registry_path()
    run_dir = Path(run_dir).resolve()
    now = _now()
    values = {"id": run_dir.name, "folder": str(run_dir), "created": _created(run_dir) or now, "updated": now,
              "status": status, **run_fields(run_dir, report), "error": error}
    columns = ", ".join(_COLUMNS)
    updates = ", ".join(f"{c} = excluded.{c}" for c in _COLUMNS if c not in ("id", "created"))
    with _connection(path) as conn:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(f"INSERT INTO runs ({columns}) VALUES ({', '.join('?' * len(_COLUMNS))}) "
                     f"ON CONFLICT(id) DO UPDATE SET {updates}", [values[c] for c in _COLUMNS])
        conn.execute("COMMIT")
        return _record_from_row(conn.execute("SELECT * FROM runs WHERE id = ?", (run_dir.name,)).fetchone())


def run_fields(run_dir: Path, report: dict | None) -> dict:
    """The columns a run folder's files give: hashes and model from config.yaml and data.json, results from the
    report (rungs as JSON, recommendation) when there is one."""
    config_file, data = run_dir / "config.yaml", _json_file(run_dir / "data.json")
    config = yaml.safe_load(config_file.read_text(encoding="utf-8")) if config_file.is_file() else None
    report = report or {}
    if not config:
        config = report.get("config") or {}
    data = data or report.get("data") or {}
    task = report.get("task") or data.get("task") or {}
    rungs = [_rung_summary(r) for r in report.get("rungs", [])]
    metric = report.get("primary_metric") or task.get("metric")
    recommended = (report.get("recommendation") or {}).get("rung")
    value = next((r["metrics"].get(metric, {}).get("value") for r in rungs if r["name"] == recommended), None)
    return {
        "config_hash": hashlib.sha256(config_file.read_bytes()).hexdigest() if config_file.is_file() else None,
        "data_hash": data_hash(data),
        "model": (config.get("model") or {}).get("name"),
        "task_type": task.get("type"),
        "primary_metric": metric,
        "recommended_rung": recommended,
        "recommended_value": value,
        "rungs": json.dumps(rungs),
    }


def data_hash(data_summary: dict) -> str | None:
    """sha256 over the sorted sha256s of every input file in data.json (other tasks' too): the same bytes give the
    same hash wherever the files are; None without file hashes."""
    hashes = list((data_summary.get("file_hashes") or {}).values())
    for task in (data_summary.get("multitask") or {}).get("tasks", []):
        hashes += list((task.get("file_hashes") or {}).values())
    return hashlib.sha256("\n".join(sorted(hashes)).encode()).hexdigest() if hashes else None


def _rung_summary(rung: dict) -> dict:
    """What the registry keeps of a report.json rung: its metrics (with CIs) and costs."""
    cost = rung.get("cost") or {}
    return {"name": rung["name"], "kind": rung.get("kind"), "skipped": rung.get("skipped"),
            "metrics": rung.get("metrics") or {}, "cost": {k: cost[k] for k in COST_FIELDS if k in cost},
            **({"params": rung["params"]} if rung.get("params") else {})}


def _json_file(path: Path) -> dict | None:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def _created(run_dir: Path) -> str | None:
    """The UTC time in a run folder's name (runs/<YYYYmmdd-HHMMSS>-<hash>), if it has one."""
    try:
        stamp = _dt.datetime.strptime(run_dir.name[:15], "%Y%m%d-%H%M%S").replace(tzinfo=_dt.UTC)
    except ValueError:
        return None
    return stamp.isoformat(timespec="seconds")


def add_run(run_dir: Path, path: Path | None = None) -> RunRecord:
    """Register a finished run made before the registry existed (or recorded elsewhere), from its report.json; one
    whose report is partial (the run was interrupted) is recorded as interrupted."""
    run_dir = Path(run_dir).resolve()
    report = _json_file(run_dir / "report.json")
    if report is None:
        raise RegistryError(f"{run_dir / 'report.json'}: missing; only finished runs can be added (an unfinished "
                            f"run is recorded when resumed: tunewise run --resume {run_dir})")
    known = _find_exact(run_dir.name, path or registry_path())
    if known is not None and known.folder != run_dir and known.folder.is_dir():
        raise RegistryError(f"{run_dir.name}: already recorded for {known.folder}; remove that row first "
                            f"(tunewise runs rm {run_dir.name})")
    return record_run(run_dir, "interrupted" if report.get("partial") else "finished", report, path=path)


class RunRecorder:
    """Keeps one run's row up to date while `api.run` runs it. Only the main process records, and a registry that
    cannot be written costs one warning line, never the run."""

    def __init__(self, log):
        self.log = log
        self.run_dir: Path | None = None
        self.working = True

    def started(self, run_dir: Path) -> None:
        """The run folder exists (new, or resumed): the row says `running`."""
        self.run_dir = Path(run_dir)
        self._record("running")

    def progress(self, report: dict) -> None:
        """Still running, with the results so far (a tune study after each trial)."""
        if self.run_dir is not None:
            self._record("running", report)

    def ended(self, status: str, report: dict | None = None, error: BaseException | None = None) -> None:
        """The run finished (with its report), failed or was interrupted; nothing to record before its folder."""
        if self.run_dir is not None:
            self._record(status, report, _one_line(error) if error is not None else None)

    def _record(self, status: str, report: dict | None = None, error: str | None = None) -> None:
        if not self.working or not is_main():
            return
        try:
            record_run(self.run_dir, status, report, error)
        except (RegistryError, OSError, ValueError, yaml.YAMLError) as err:  # ValueError: data.json is not JSON
            self.working = False
            self.log(f"[tunewise] warning: the run goes on without being recorded in the run registry: {err}")


def _one_line(error: BaseException) -> str:
    text = f"{type(error).__name__}: {error}".splitlines()[0]
    return text if len(text) <= 500 else text[:497] + "..."


# ---------------------------------------------------------------------- reading


def list_runs(status: str | None = None, path: Path | None = None) -> list[RunRecord]:
    """Every recorded run (with `status` only, when given), newest first; none when the registry does not exist."""
    path = path or registry_path()
    if not path.exists():
        return []
    where, args = ("WHERE status = ?", (status,)) if status else ("", ())
    with _connection(path) as conn:
        rows = conn.execute(f"SELECT * FROM runs {where} ORDER BY created DESC, id DESC", args).fetchall()
    return [_record_from_row(r) for r in rows]


def find_run(ref: str, path: Path | None = None) -> RunRecord:
    """The run that `ref` names: a run id, a unique prefix of one, or a run folder; RunLookupError otherwise,
    listing the candidates."""
    path = path or registry_path()
    records = list_runs(path=path)
    if Path(ref).is_dir():  # a folder: tab completion gives runs/<id>/
        folder = Path(ref).resolve()
        found = [r for r in records if r.folder == folder] or [r for r in records if r.id == folder.name]
    else:
        found = [r for r in records if r.id == ref] or [r for r in records if r.id.startswith(ref)]
    if len(found) == 1:
        return found[0]
    if found:
        raise RunLookupError(f"{ref}: matches {len(found)} recorded runs; give more of the id:\n"
                             + "\n".join(f"  {r.id}  {r.status:11s} {r.folder}" for r in found))
    if not records:
        raise RunLookupError(f"{ref}: no runs are recorded in {path} (tunewise runs add RUN_DIR registers older runs)")
    newest = "\n".join(f"  {r.id}  {r.status:11s} {r.folder}" for r in records[:10])
    more = f"\n  ... and {len(records) - 10} more (tunewise runs ls)" if len(records) > 10 else ""
    raise RunLookupError(f"{ref}: no recorded run has this id or id prefix; recorded runs, newest first:\n"
                         f"{newest}{more}")


def _find_exact(run_id: str, path: Path) -> RunRecord | None:
    return next((r for r in list_runs(path=path) if r.id == run_id), None)


# ---------------------------------------------------------------------- removing


def looks_like_run_folder(folder: Path) -> bool:
    """Whether `folder` holds a tunewise run (config.yaml and data.json or report.json), so deleting it is safe."""
    folder = Path(folder)
    return (folder / "config.yaml").is_file() and ((folder / "data.json").is_file()
                                                   or (folder / "report.json").is_file())


def folder_bytes(folder: Path) -> int:
    """Bytes of every file under `folder` (links not followed)."""
    return sum(p.lstat().st_size for p in Path(folder).rglob("*") if p.is_file() and not p.is_symlink())


def remove_run(record: RunRecord, path: Path | None = None) -> bool:
    """Delete the run's folder (only when it looks like a run folder) and then its row; whether a folder was
    deleted. The row goes last, so a failed deletion can be tried again."""
    deleted = record.folder.is_dir() and looks_like_run_folder(record.folder)
    if deleted:
        shutil.rmtree(record.folder)
    with _connection(path or registry_path()) as conn:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("DELETE FROM runs WHERE id = ?", (record.id,))
        conn.execute("COMMIT")
    return deleted


# ---------------------------------------------------------------------- views


def runs_table(records: list[RunRecord], path: Path, limit: int | None = None, status: str | None = None) -> str:
    """`tunewise runs ls`: one line per run, newest first (the first `limit`), or where the registry is when empty."""
    if not records:
        which = f"{status} runs" if status else "runs"
        return (f"no {which} recorded in {path}\n(tunewise run records every run; tunewise runs add RUN_DIR "
                "registers runs made before)")
    shown = records[:limit] if limit else records
    rows = [["id", "created", "status", "task", "recommended", "folder"]]
    rows += [[r.id, _when(r.created), r.status, r.task_type or "-", _recommended(r), str(r.folder)] for r in shown]
    lines = _aligned(rows)
    if len(shown) < len(records):
        lines.append(f"({len(records) - len(shown)} older not shown; --limit 0 shows all)")
    return "\n".join(lines)


def run_details(record: RunRecord) -> str:
    """`tunewise runs show`: everything recorded about one run, its rungs as a table."""
    r = record
    exists = "exists" if r.folder.is_dir() else "missing: deleted or moved"
    fields = [("run", r.id), ("folder", f"{r.folder} ({exists})"), ("status", r.status),
              ("created", _when(r.created)), ("updated", _when(r.updated)), ("model", r.model or "-"),
              ("task", f"{r.task_type or '-'}, primary metric {r.primary_metric or '-'}"),
              ("config", f"sha256 {r.config_hash or '-'} (of config.yaml)"),
              ("data", f"sha256 {r.data_hash or '-'} (of the input files' sha256s)"),
              ("recommended", _recommended(r))]
    if r.error:
        fields.append(("error", r.error))
    lines = [f"{name:12s} {value}" for name, value in fields]
    if not r.rungs:
        return "\n".join([*lines, "", "no rungs recorded (the run has no report.json yet)"])
    metric = r.primary_metric
    rows = [["rung", f"{metric} [CI]", "train s", "predict s", "trainable", "disk", "peak RSS"]]
    for rung in r.rungs:
        c = rung["cost"]
        rows.append([_marked(rung["name"], r), _metric(rung, metric), _seconds(c.get("fit_wall_s")),
                     _seconds(c.get("predict_wall_s")), count_text(c.get("trainable_params")),
                     size_text(c.get("disk_bytes")), size_text(c.get("peak_rss_bytes"))])
    params = [f"  {rung['name']}: " + ", ".join(f"{k}={v:g}" for k, v in rung["params"].items())
              for rung in r.rungs if rung.get("params")]
    params = ["", "values tried (tune trials):", *params] if params else []
    return "\n".join([*lines, "", *_aligned(rows, rule=True, right=range(2, 7)), *params, "", "* recommended rung"])


def comparison_table(records: list[RunRecord]) -> str:
    """`tunewise runs compare`: one row per rung name across the runs, one column group per run (primary metric
    [CI], train s, disk); '-' where a run has no such rung, '*' on each run's recommended rung."""
    names = list(dict.fromkeys(rung["name"] for r in records for rung in r.rungs))
    header = ["", *[cell for i, r in enumerate(records) for cell in (f"{_letter(i)}: {r.id}", "", "")]]
    columns = ["rung", *[c for r in records for c in (f"{r.primary_metric or 'metric'} [CI]", "train s", "disk")]]
    rows = [header, columns]
    for name in names:
        row = [name]
        for r in records:
            rung = next((x for x in r.rungs if x["name"] == name), None)
            if rung is None:
                row += ["-", "-", "-"]
                continue
            c = rung["cost"]
            mark = "* " if name == r.recommended_rung else "  "  # the values line up, marked or not
            row += [mark + _metric(rung, r.primary_metric), _seconds(c.get("fit_wall_s")), size_text(c.get("disk_bytes"))]
        rows.append(row)
    legend = ["", "* the run's recommended rung"]
    legend += [f"{_letter(i)}: {r.status}, {r.model or '-'}, {r.task_type or '-'}, config {_short(r.config_hash)}, "
               f"data {_short(r.data_hash)}, {r.folder}" for i, r in enumerate(records)]
    if not names:
        return "\n".join(["no rungs recorded in these runs (none has a report.json yet)", *legend[2:]])
    return "\n".join([*_aligned(rows, rule=True, header_rows=2, right=_numeric_columns(len(records))), *legend])


def _numeric_columns(runs: int) -> set[int]:
    """The train s and disk columns, right-aligned so their digits line up."""
    return {1 + 3 * i + j for i in range(runs) for j in (1, 2)}


def _aligned(rows: list[list[str]], rule: bool = False, header_rows: int = 1, right: Collection[int] = ()) -> list[str]:
    """Rows as fixed-width lines (two spaces between columns), with a rule under the header when `rule`."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.rjust(w) if i in right and n >= header_rows else cell.ljust(w)
                       for i, (cell, w) in enumerate(zip(row, widths))).rstrip() for n, row in enumerate(rows)]
    if rule:
        lines.insert(header_rows, "  ".join("-" * w for w in widths))
    return lines


def _letter(i: int) -> str:
    return chr(ord("A") + i) if i < 26 else f"#{i + 1}"


def _marked(name: str, record: RunRecord) -> str:
    return name + (" *" if name == record.recommended_rung else "")


def _metric(rung: dict, metric: str | None) -> str:
    if rung.get("skipped"):
        return UNSCORED_TRIALS.get(rung.get("kind"), "skipped")
    m = rung["metrics"].get(metric) if metric else None
    if m is not None and "ci_low" not in m:  # one number, no interval (a tune trial's validation loss)
        return f"{m['value']:.3f}"
    return "-" if m is None else f"{m['value']:.3f} [{m['ci_low']:.3f}, {m['ci_high']:.3f}]"


def _recommended(r: RunRecord) -> str:
    if r.recommended_rung is None:
        return "-"
    value = "-" if r.recommended_value is None else f"{r.recommended_value:.3f}"
    return f"{r.recommended_rung} ({r.primary_metric} {value})"


def _when(iso: str) -> str:
    """UTC ISO time as 'YYYY-mm-dd HH:MM:SS UTC'."""
    return iso.replace("T", " ").replace("+00:00", " UTC")


def _short(digest: str | None) -> str:
    return digest[:8] if digest else "-"


def _seconds(s: float | None) -> str:
    return "-" if s is None else f"{s:.1f}"
