"""Every bench/ script runs its smallest setting end to end on the tiny llama saved as a local model folder.

`make bench` runs these scripts against today's code only when someone asks for numbers; these runs make a renamed
function or a changed signature fail the suite instead (each script in a subprocess, as `make bench` starts it);
train_speed.py's, the longest, in `make test-slow`.
"""
from __future__ import annotations

import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


def run_bench(script: str, model_dir: Path, home: Path, *args: str) -> str:
    """stdout of `python bench/SCRIPT --model MODEL_DIR ARGS`; fails the test with its output unless it exits 0."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "TUNEWISE_HOME": str(home)}
    proc = subprocess.run([sys.executable, str(BENCH / script), "--model", str(model_dir), *args],
                          capture_output=True, text=True, env=env, timeout=300, check=False)
    assert proc.returncode == 0, f"{script} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr[-5000:]}"
    return proc.stdout


def headline(stdout: str, name: str) -> float:
    """The number on the `NAME value` line that `make bench` greps."""
    values = [line.split()[1] for line in stdout.splitlines() if line.split()[:1] == [name]]
    assert len(values) == 1, f"expected one line starting with {name!r}:\n{stdout}"
    value = float(values[0])
    assert math.isfinite(value), f"{name} {value}"
    return value


@pytest.mark.slow  # ~50 s, the longest of these: `make test-slow` (and `make bench`) run it
def test_train_speed_compares_with_trl(tiny_model_dir, tmp_path):
    out = run_bench("train_speed.py", tiny_model_dir, tmp_path / "home", "--short-steps", "2", "--long-steps", "1",
                    "--batch-size", "2", "--trl-config", "bf16+same_batches")
    assert headline(out, "ratio_train_tokens_per_s_vs_trl_short") > 0
    assert headline(out, "ratio_train_tokens_per_s_vs_trl_long") > 0
    assert headline(out, "train_mfu") >= 0  # a 0.1M-parameter model prints 0.00
    # Same initialisation, same batches in the same order: the two stacks' validation losses agree.
    differences = [float(d) for d in re.findall(r"val loss [\d.]+ vs [\d.]+ \(([+-][\d.]+)%\)", out)]
    assert len(differences) == 2 and all(abs(d) < 2 for d in differences), out


def test_dpo_agrees_with_trl_and_is_timed_against_it(tiny_model_dir, tmp_path):
    out = run_bench("dpo_vs_trl.py", tiny_model_dir, tmp_path / "home", "--speed-steps", "1", "--batch-size", "2")
    assert headline(out, "dpo_step0_loss_gap") < 1e-5  # both log 2: a fresh LoRA is its reference
    assert headline(out, "dpo_max_loss_gap") < 1e-4
    assert headline(out, "ratio_dpo_tokens_per_s_vs_trl") > 0


def test_eval_speed_compares_with_hf_generate(tiny_model_dir, tmp_path):
    out = run_bench("eval_speed.py", tiny_model_dir, tmp_path / "home", "--n", "4", "--n-generate", "2")
    assert headline(out, "ratio_eval_examples_per_s_vs_hf_generate") > 0
    assert headline(out, "ratio_generate_examples_per_s_vs_hf_generate") > 0
    assert "4 test prompts of support_tickets" in out
    # fp32 greedy decoding in batches gives the same texts as one prompt at a time.
    assert "mismatched texts 0 of 2" in out, out


def test_lora_step_speed_times_both_losses(tiny_model_dir, tmp_path):
    out = run_bench("lora_step_speed.py", tiny_model_dir, tmp_path / "home", "--steps", "2", "--batch-size", "2",
                    "--length", "40")
    speedup = re.search(r"^answer-only / full-vocab speed: ([\d.]+)x$", out, re.MULTILINE)
    assert speedup and float(speedup.group(1)) > 0, out
    loop = re.search(r"^train\(\) loop +(\d+) real tok/s", out, re.MULTILINE)
    assert loop and int(loop.group(1)) > 0, out


def test_serve_load_answers_every_request(tiny_model_dir, tmp_path):
    out = run_bench("serve_load.py", tiny_model_dir, tmp_path / "home", "--requests", "4", "--concurrency", "2",
                    "--max-tokens", "4")
    assert headline(out, "ratio_two_adapters_vs_one_rps") > 0
    assert out.count("(4 done, 0 not started)") == 2, out


def test_many_labels_times_full_and_candidate_scoring(tiny_model_dir, tmp_path):
    out = run_bench("many_labels.py", tiny_model_dir, tmp_path / "home", "--n", "4", "--features-n", "4",
                    "--max-train", "300")
    assert headline(out, "ratio_candidates_zero_shot") > 0 and headline(out, "ratio_candidates_few_shot_nearest_k3") > 0
    assert headline(out, "ratio_features_prefix") > 0
    assert "full scoring, 20 labels" in out and "20 candidates of 77 labels" in out
