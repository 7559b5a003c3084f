"""Preference data through the whole ladder on the tiny llama: the sft baseline, DPO and ORPO rungs scored by the
user's judge, with the alignment block (preference accuracy, chosen drift, KL), and restored from their files."""
import json

import pytest
import torch

from tunewise import api
from tunewise.config import load_config
from tunewise.data.prepare import prepare_data
from tunewise.errors import ConfigError
from tunewise.export import export
from tunewise.export.package import ExportedRung
from tunewise.ladder.plan import planned_methods, rung_named
from tunewise.models.load import load_causal_lm

JUDGE = '''
def says_ok(prompt, completion):
    """Passes answers that contain the word ok."""
    return "ok" in completion.split()
'''


def _write_pairs(path, n=48):
    with open(path, "w") as f:
        for i in range(n):
            f.write(json.dumps({"id": f"p{i}", "prompt": f"ticket {i} about the app",
                                "chosen": "ok fixed", "rejected": "the app is broken"}) + "\n")


def _config(tmp_path, model_dir, methods="[dpo, orpo, reward_model]", judge="judge.py:says_ok"):
    _write_pairs(tmp_path / "pairs.jsonl")
    (tmp_path / "judge.py").write_text(JUDGE)
    (tmp_path / "tunewise.yaml").write_text(f"""
task: {{judge: {judge}}}
data: {{path: pairs.jsonl, max_length: 64}}
model: {{name: {model_dir}}}
rungs: [zero_shot]
methods: {methods}
train: {{lr: 5.0e-3, max_steps: 8, batch_size: 8, eval_every: 4, patience: null, precision: fp32, log_every: 4}}
alignment: {{lr: 5.0e-3, beta: 0.5, reward_lr: 5.0e-3, best_of: 2}}
lora: {{r: 4, alpha: 8}}
eval: {{bootstrap_samples: 100, max_new_tokens: 6}}
forgetting: {{max_items: 8}}
output_dir: {tmp_path / "runs"}
""")
    return load_config(tmp_path / "tunewise.yaml")


def test_alignment_rungs_run_on_the_ladder_scored_by_the_judge(module_model_dir, tmp_path):
    config = _config(tmp_path, module_model_dir)
    assert planned_methods(config) == ["sft", "dpo", "orpo", "reward_model"]  # dpo brings its baseline, runs after it
    result = api.run(config, log=lambda m: None)
    report = json.loads((result.run_dir / "report.json").read_text())
    rungs = {r["name"]: r for r in report["rungs"]}
    assert list(rungs) == ["zero_shot", "sft", "dpo", "orpo", "reward_model"]
    assert report["task"]["type"] == "preference" and report["task"]["metric"] == "judge_pass"
    for name, rung in rungs.items():
        assert {"judge_pass", "judge_score", "rougeL"} <= set(rung["metrics"]), name
    assert rungs["zero_shot"]["alignment"] is None
    for name in ("sft", "dpo", "orpo"):
        block = rungs[name]["alignment"]
        assert 0 <= block["preference_accuracy"]["value"] <= 1 and block["pairs"] == len(result_test_ids(result))
        assert 0 <= block["implicit_reward_accuracy"]["value"] <= 1
        assert "kl_to_reference" in block or name == "sft"
    assert rungs["dpo"]["alignment"]["reference"] == "the SFT model"
    assert rungs["orpo"]["alignment"]["reference"] == "the base model"
    vs = rungs["dpo"]["alignment"]["vs_sft"]["judge_pass"]
    assert vs["difference"] == pytest.approx(rungs["dpo"]["metrics"]["judge_pass"]["value"]
                                             - rungs["sft"]["metrics"]["judge_pass"]["value"])
    assert "## Alignment" in (result.run_dir / "report.md").read_text()
    assert "Implicit reward" in (result.run_dir / "report.html").read_text()
    # The reward model: its own pairwise accuracy, and every alignment rung's answers against sft's by it.
    assert 0 <= rungs["reward_model"]["alignment"]["reward_accuracy"]["value"] <= 1
    win = rungs["dpo"]["alignment"]["reward_win_rate_vs_sft"]
    assert win["ci_low"] <= win["value"] <= win["ci_high"]
    best_of = [json.loads(line) for line in (result.run_dir / "rungs" / "reward_model" / "predictions.jsonl").open()]
    assert all(p["candidate"] in (0, 1) for p in best_of)
    # DPO trained on top of the sft rung's LoRA, which it keeps beside its own.
    dpo_dir = result.run_dir / "rungs" / "dpo" / "adapter"
    assert (dpo_dir / "adapter_model.safetensors").is_file()
    assert (dpo_dir / "sft" / "adapter_model.safetensors").is_file()
    curve = rungs["dpo"]["training"]["curve"]
    assert curve[0]["margin"] is not None and any(e.get("val_accuracy") is not None for e in curve)

    # Restored from its files, the DPO rung answers the test prompts exactly as it was scored.
    saved = [json.loads(line) for line in (result.run_dir / "rungs" / "dpo" / "predictions.jsonl").open()]
    prepared = prepare_data(config.data, config.task)
    rung = rung_named(config, prepared.task, prepared.split.train, "dpo")
    rung.restore(prepared.split.train, dpo_dir)
    test = [e for e in prepared.split.test if e.id in {p["id"] for p in saved}]
    again = {p.id: p.output for p in rung.predict_task(prepared.task, test)}
    assert again == {p["id"]: p["prediction"] for p in saved}

    # Shipped: the package predicts as the rung did; the merged export holds the SFT LoRA and DPO's, both folded in.
    package = ExportedRung(export(result.run_dir, rung="dpo"))
    shipped = {p.id: p.output for p in package.rung.predict_task(package.task, test)}
    assert shipped == again
    merged = export(result.run_dir, fmt="merged", rung="dpo", dtype="fp32")
    model, tokenizer = load_causal_lm(str(merged), dtype=torch.float32)
    ids = torch.tensor([[1, 5, 9, 2]])
    rung.model.float()
    assert torch.allclose(model(ids).logits, rung.model(input_ids=ids).logits, atol=1e-4)


def result_test_ids(result):
    return json.loads((result.run_dir / "data.json").read_text())["split_ids"]["test"]


def test_alignment_rungs_skip_other_tasks_and_a_missing_judge_is_named(module_model_dir, tmp_path):
    config = _config(tmp_path, module_model_dir, judge="nowhere.py:says_ok")
    with pytest.raises(ConfigError, match="nowhere.py does not exist"):
        api.run(config, log=lambda m: None)
