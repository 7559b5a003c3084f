"""`tunewise run` writing to a file (a log, CI) gives plain lines: no library progress bars, no carriage returns."""
from __future__ import annotations

import os
import subprocess
import sys

from conftest import write_tiny_run_config


def test_run_logged_to_a_file_has_one_plain_line_per_event(tiny_model_dir, tmp_path):
    config = write_tiny_run_config(tmp_path, tiny_model_dir, "{lr: 5.0e-3, max_steps: 4, batch_size: 8, eval_every: 2, "
                                   "patience: null, precision: fp32, log_every: 2}", forgetting_items=4)
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_DISABLE_PROGRESS_BARS", "TUNEWISE_PROGRESS")}
    env |= {"HF_HUB_OFFLINE": "1", "TUNEWISE_HOME": str(tmp_path / "home")}
    log = tmp_path / "run.log"
    with open(log, "w", encoding="utf-8") as out:
        done = subprocess.run([sys.executable, "-m", "tunewise.cli", "run", str(config), "--set", "methods=[lora]"],
                              stdout=out, stderr=out, env=env, timeout=300, check=False)
    text = log.read_text(encoding="utf-8")
    assert done.returncode == 0, text
    assert "\r" not in text and "\x1b[" not in text  # no bars redrawn in place, no terminal colours
    assert "Loading weights" not in text and "Writing model shards" not in text  # transformers' bars are off
    loads = [line for line in text.splitlines() if line.startswith(f"[tunewise] loaded {tiny_model_dir}")]
    assert len(loads) >= 2  # zero_shot's base model and the LoRA rung's, one line each
    assert "report: " in text
