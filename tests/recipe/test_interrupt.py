"""Ctrl-C outside training, through the real CLI on the tiny llama: the run ends with one line naming what it kept
and the resume command (no traceback), writes a partial report of the finished rungs, and `--resume` finishes it."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from conftest import save_tiny_model, write_tiny_run_config

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}


def write_config(folder: Path, model_dir: Path) -> Path:
    """zero_shot, then the features rung; one example per forward pass, so embedding its 1,400 training examples
    takes a few seconds: time to interrupt it."""
    return write_tiny_run_config(folder, model_dir, "{}", examples=2000, methods="[features]",
                                 eval="{bootstrap_samples: 100, max_test_examples: 24, batch_size: 1}")


def as_from_a_terminal() -> None:
    """The child starts with Ctrl-C's default action, as from a terminal. A suite started in the background
    (`make test &`) runs with SIGINT ignored, every child inherits that, and Python then never raises
    KeyboardInterrupt: the run would finish instead of stopping."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def interrupt_when(config: Path, line: str) -> tuple[int, str]:
    """Run `tunewise run config`, send SIGINT when stderr shows a line starting with `line`: (exit code, stderr)."""
    proc = subprocess.Popen([sys.executable, "-m", "tunewise.cli", "run", str(config)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, env=ENV, preexec_fn=as_from_a_terminal)
    seen = []
    for text in proc.stderr:
        seen.append(text)
        if text.startswith(line):
            proc.send_signal(signal.SIGINT)
            break
    else:
        raise AssertionError(f"the run ended before {line!r}:\n{''.join(seen)[-3000:]}")
    rest = proc.stderr.read()
    proc.wait(timeout=120)
    return proc.returncode, "".join(seen) + rest


def test_ctrl_c_during_a_rung_keeps_the_finished_ones_in_a_partial_report_and_resumes(tmp_path, tiny_tokenizer):
    model_dir = save_tiny_model(tmp_path / "tiny-model", tiny_tokenizer)
    code, err = interrupt_when(write_config(tmp_path, model_dir), "[tunewise] rung features: fit")
    [run_dir] = (tmp_path / "runs").iterdir()

    assert code == 130, err[-3000:]
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last == (f"tunewise: interrupted during rung features; kept 1 finished rung (zero_shot) and a partial "
                    f"report in {run_dir / 'report.md'}; resume with: tunewise run --resume {run_dir}")
    report = json.loads((run_dir / "report.json").read_text())
    assert report["partial"] == {"interrupted": "rung features", "signal": "SIGINT", "finished": ["zero_shot"],
                                 "not_finished": ["features"], "resume": f"tunewise run --resume {run_dir}"}
    assert [r["name"] for r in report["rungs"]] == ["zero_shot"]
    assert report["recommendation"]["reason"].startswith("Among the finished rungs only (zero_shot)")
    markdown = (run_dir / "report.md").read_text()
    assert markdown.startswith(f"# tunewise report — run {run_dir.name} (partial)\n\n> **Partial report.**")
    assert "Partial report." in (run_dir / "report.html").read_text()
    assert not (run_dir / "rungs" / "features" / "result.json").exists()

    resumed = subprocess.run([sys.executable, "-m", "tunewise.cli", "run", "--resume", str(run_dir)],
                             capture_output=True, text=True, env=ENV, timeout=300, check=False)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "zero_shot: finished before the run stopped; kept" in resumed.stderr
    full = json.loads((run_dir / "report.json").read_text())
    assert "partial" not in full and [r["name"] for r in full["rungs"]] == ["zero_shot", "features"]
    assert full["rungs"][0] == report["rungs"][0]  # the kept rung, as it was
    assert "(partial)" not in (run_dir / "report.md").read_text()
