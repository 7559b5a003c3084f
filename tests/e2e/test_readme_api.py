"""The README's Python API example runs as written (the bundled SmolLM2, zero-shot on 20 tickets)."""
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def readme_api_example() -> str:
    section = (REPO / "README.md").read_text(encoding="utf-8").split("## Python API", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


@pytest.mark.e2e
def test_readme_python_api_example_runs_as_written(tmp_path, monkeypatch, capsys):
    (tmp_path / "examples").symlink_to(REPO / "examples")  # the example's relative path, runs/ under tmp_path
    monkeypatch.chdir(tmp_path)
    exec(compile(readme_api_example(), "README.md", "exec"), {})
    printed = capsys.readouterr().out.split()
    reports = list((tmp_path / "runs").glob("*/report.json"))
    assert len(reports) == 1
    assert printed[-2] == "zero_shot"  # the recommendation: the only rung
    assert 0.0 <= float(printed[-1]) <= 1.0
