"""`tunewise run` writing to a file (a log, CI) gives plain lines: no library progress bars, no carriage returns."""
from __future__ import annotations

import os
import subprocess
import sys

from conftest import build_tiny_llama, write_tiny_run_config

from tunewise.export.gguf import write_gguf


def test_run_logged_to_a_file_has_one_plain_line_per_event(tiny_tokenizer, tmp_path):
    # A GGUF model, so the log also holds its conversion to the safetensors cache (transformers' own tqdm bar).
    model = tmp_path / "tiny.gguf"
    write_gguf(build_tiny_llama(len(tiny_tokenizer)), tiny_tokenizer, model, "f16")
    config = write_tiny_run_config(tmp_path, model, "{lr: 5.0e-3, max_steps: 4, batch_size: 8, eval_every: 2, "
                                   "patience: null, precision: fp32, log_every: 2}", forgetting_items=4)
    env = {k: v for k, v in os.environ.items()
           if k not in ("HF_HUB_DISABLE_PROGRESS_BARS", "TQDM_DISABLE", "TUNEWISE_PROGRESS")}
    env |= {"HF_HUB_OFFLINE": "1", "TUNEWISE_HOME": str(tmp_path / "home")}
    log = tmp_path / "run.log"
    with open(log, "w", encoding="utf-8") as out:
        done = subprocess.run([sys.executable, "-m", "tunewise.cli", "run", str(config), "--set", "methods=[lora]"],
                              stdout=out, stderr=out, env=env, timeout=300, check=False)
    text = log.read_text(encoding="utf-8")
    assert done.returncode == 0, text
    assert "\r" not in text and "\x1b[" not in text  # no bars redrawn in place, no terminal colours
    assert "[tunewise] converting" in text  # the GGUF conversion happened, and said so in its own lines
    for bar in ("Loading weights", "Writing model shards", "Converting and de-quantizing"):
        assert bar not in text  # the libraries' bars are off
    loads = [line for line in text.splitlines() if line.startswith(f"[tunewise] loaded {model}")]
    assert len(loads) >= 2  # zero_shot's base model and the LoRA rung's, one line each
    assert "report: " in text
