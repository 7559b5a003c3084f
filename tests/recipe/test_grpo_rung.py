"""The GRPO rung (TRL's GRPOTrainer) on the tiny llama: it raises the mean score of a planted judge, trains only its
LoRA over the SFT model, reports KL to that reference, and is restored from its files like the other aligned rungs."""
import json

import pytest

from tunewise import api
from tunewise.config import load_config

pytest.importorskip("trl")

# Shorter answers score higher: the policy can learn it by ending its turn sooner.
JUDGE = '''
def short(prompt, completion):
    return -float(len(completion))
'''


def test_grpo_raises_the_judge_score(module_model_dir, tmp_path):
    with open(tmp_path / "pairs.jsonl", "w") as f:
        for i in range(40):
            f.write(json.dumps({"prompt": f"ticket {i} about the app", "chosen": "ok", "rejected": "the app is broken"})
                    + "\n")
    (tmp_path / "judge.py").write_text(JUDGE)
    (tmp_path / "tunewise.yaml").write_text(f"""
task: {{judge: judge.py:short, judge_threshold: -5}}
data: {{path: pairs.jsonl, max_length: 64}}
model: {{name: {module_model_dir}}}
rungs: []
methods: [grpo]
train: {{lr: 5.0e-3, max_steps: 4, batch_size: 8, eval_every: 4, patience: null, precision: fp32}}
alignment: {{rl_lr: 2.0e-2, rl_steps: 12, rl_group: 4, rl_prompts_per_step: 2, rl_kl: 0.04}}
lora: {{r: 4, alpha: 8}}
eval: {{bootstrap_samples: 100, max_new_tokens: 12}}
forgetting: {{max_items: 4}}
output_dir: {tmp_path / "runs"}
""")
    result = api.run(load_config(tmp_path / "tunewise.yaml"), log=lambda m: None)
    report = json.loads((result.run_dir / "report.json").read_text())
    rungs = {r["name"]: r for r in report["rungs"]}
    assert list(rungs) == ["sft", "grpo"]  # grpo brings the SFT model it starts from
    curve = rungs["grpo"]["training"]["curve"]
    assert len(curve) == 12 and all(e["kl"] is not None for e in curve)
    first, last = [e["reward"] for e in curve[:3]], [e["reward"] for e in curve[-3:]]
    assert sum(last) / 3 > sum(first) / 3  # the judge's mean score rose
    assert "judge_score" in rungs["grpo"]["metrics"]  # scored like every rung (greedy answers of a tiny random model)
    block = rungs["grpo"]["alignment"]
    assert block["reference"] == "the SFT model" and "kl_to_reference" in block
    assert (result.run_dir / "rungs" / "grpo" / "adapter" / "sft" / "adapter_model.safetensors").is_file()
