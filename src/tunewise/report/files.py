"""A run folder's report files: report.json read back, and every view of it written (md, html, k-sweep chart)."""
from __future__ import annotations

import json
from pathlib import Path

from tunewise.errors import TunewiseError
from tunewise.io import write_json, write_text
from tunewise.report.html import html_report
from tunewise.report.render import k_sweep_svg, markdown


def load_report(run_dir: Path | str) -> dict:
    """report.json of a finished run."""
    path = Path(run_dir) / "report.json"
    if not path.is_file():
        raise TunewiseError(f"{path}: no report.json here; is {run_dir} a finished tunewise run folder?")
    return json.loads(path.read_text(encoding="utf-8"))


def write_report(run_dir: Path, report: dict) -> None:
    """report.json, report.md, report.html and (with few-shot rungs) k_sweep.svg of a full or partial report."""
    write_json(run_dir / "report.json", report)
    chart = k_sweep_svg(report)
    if chart:
        write_text(run_dir / "k_sweep.svg", chart)
    write_text(run_dir / "report.md", markdown(report))
    write_text(run_dir / "report.html", html_report(report, run_dir))


def write_html_report(run_dir: Path | str) -> Path:
    """(Re)write runs/<id>/report.html from the folder's report.json; returns the file's path."""
    run_dir = Path(run_dir)
    path = run_dir / "report.html"
    write_text(path, html_report(load_report(run_dir), run_dir))
    return path
