"""One end-to-end `tunewise run` on the bundled SmolLM2 with a small budget, through the real CLI."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TICKETS = REPO / "examples" / "support_tickets" / "tickets.jsonl"


@pytest.mark.e2e
def test_tunewise_run_on_bundled_model_small_budget(tmp_path):
    lines = TICKETS.read_text(encoding="utf-8").splitlines()[:150]
    (tmp_path / "tickets.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (tmp_path / "tunewise.yaml").write_text(
        "task: {type: classification}\n"
        "data: {path: tickets.jsonl, max_length: 256}\n"
        "prompt: {few_shot_k: [2]}\n"
        "train: {max_steps: 6, eval_every: 3, max_val_examples: 16, batch_size: 4, lr: 4.0e-4}\n"
        "eval: {max_test_examples: 16, bootstrap_samples: 200}\n"
        "forgetting: {max_items: 40}\n"
        f"output_dir: {tmp_path / 'runs'}\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "tunewise.cli", "run", str(tmp_path / "tunewise.yaml")],
        capture_output=True, text=True, env=env, timeout=900, check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report_path = Path(proc.stdout.strip().splitlines()[-1].split("report: ", 1)[1])
    report = json.loads(report_path.read_text())
    assert [r["name"] for r in report["rungs"]] == ["zero_shot", "few_shot_balanced_k2", "lora"]
    for rung in report["rungs"]:
        acc = rung["metrics"]["accuracy"]
        assert 0 <= acc["ci_low"] <= acc["value"] <= acc["ci_high"] <= 1
    lora = report["rungs"][-1]
    assert lora["cost"]["trainable_params"] == 4_884_480  # r=16 on all seven projections of SmolLM2-135M
    adapter = report_path.parent / "rungs" / "lora" / "adapter"
    assert (adapter / "adapter_config.json").is_file() and (adapter / "adapter_model.safetensors").is_file()
    assert "Recommendation:" in proc.stdout

    # The forgetting check scored the base and the adapter on the same 40 bundled questions; the error analysis
    # covers every rung.
    forgetting = report["forgetting"]
    assert forgetting["items"] == 40 and [r["rung"] for r in forgetting["rungs"]] == ["lora"]
    assert 0 <= forgetting["base"]["metrics"]["acc_norm"]["value"] <= 1
    assert set(report["errors"]["worst"]) == {"zero_shot", "few_shot_balanced_k2", "lora"}
    text = (report_path.parent / "report.md").read_text()
    assert "## Forgetting check" in text and "## Error analysis" in text

    # The trained adapter ships: merged into SmolLM2 and written as q8_0 GGUF, read back and compared.
    out = tmp_path / "gguf"
    exported = subprocess.run(
        [sys.executable, "-m", "tunewise.cli", "export", str(report_path.parent), "--rung", "lora", "--format", "gguf",
         "--gguf-type", "q8_0", "--out", str(out)],
        capture_output=True, text=True, env=env, timeout=900, check=False,
    )
    assert exported.returncode == 0, exported.stderr[-3000:]
    check = json.loads((out / "gguf_check.json").read_text())["q8_0"]
    assert check["greedy_equal"] >= check["prompts"] - 1 and (out / "model-q8_0.gguf").stat().st_size > 100e6
