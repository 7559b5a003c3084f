"""The whole ladder on a tiny random llama saved as a local HF directory: report shape, reproducibility."""
import json

import pytest
from conftest import write_word_labels
from peft import PeftModel
from transformers import AutoModelForCausalLM

from tunewise import api
from tunewise.config import load_config
from tunewise.errors import DataError
from tunewise.evaluate.multiple_choice import read_benchmark, score_benchmark
from tunewise.question_sets import GENERAL_KNOWLEDGE


def _config(tmp_path, model_dir):
    write_word_labels(tmp_path / "data.jsonl")
    (tmp_path / "tunewise.yaml").write_text(
        f"""
task: {{type: classification}}
data: {{path: data.jsonl, max_length: 64}}
model: {{name: {model_dir}}}
prompt: {{few_shot_k: [1, 2]}}
train: {{lr: 5.0e-3, max_steps: 24, batch_size: 8, eval_every: 8, patience: null, precision: fp32, log_every: 8}}
lora: {{r: 4, alpha: 8, dropout: 0.0}}
eval: {{bootstrap_samples: 200}}
output_dir: {tmp_path / "runs"}
"""
    )
    return load_config(tmp_path / "tunewise.yaml")


def _scored_test_ids(result):
    return json.loads((result.run_dir / "data.json").read_text())["split_ids"]["test"]


def _metrics(report):
    return {r["name"]: r["metrics"] for r in report["rungs"]}


def test_ladder_writes_a_complete_report_and_reruns_identically(tiny_model_dir, tiny_tokenizer, tmp_path):
    tokenizer = tiny_tokenizer
    config = _config(tmp_path, tiny_model_dir)
    result = api.run(config, log=lambda m: None)
    report = json.loads((result.run_dir / "report.json").read_text())

    assert [r["name"] for r in report["rungs"]] == ["zero_shot", "few_shot_balanced_k1", "few_shot_balanced_k2", "lora"]
    for rung in report["rungs"]:
        acc = rung["metrics"]["accuracy"]
        assert acc["ci_low"] <= acc["value"] <= acc["ci_high"]
        assert "macro_f1" in rung["metrics"]
        assert rung["cost"]["total_params"] > 0 and rung["cost"]["peak_rss_bytes"] > 0
    lora = report["rungs"][-1]
    assert 0 < lora["cost"]["trainable_params"] < lora["cost"]["total_params"]
    assert lora["cost"]["disk_bytes"] > 0 and lora["cost"]["train_tokens_per_s"] > 0
    val_losses = [p["val_loss"] for p in lora["training"]["curve"] if p.get("val_loss") is not None]
    assert min(val_losses) < val_losses[0]  # training learned something
    assert report["recommendation"]["rung"] in _metrics(report)
    assert (result.run_dir / "report.md").read_text().startswith("# tunewise report")

    # Paired tests: every other rung against the best, on the same items.
    section = report["significance"]
    best = max(report["rungs"], key=lambda r: r["metrics"]["accuracy"]["value"])
    assert section["best"] == best["name"] and len(section["rows"]) == len(report["rungs"]) - 1
    for row in section["rows"]:
        other = next(r for r in report["rungs"] if r["name"] == row["rung"])
        gap = best["metrics"]["accuracy"]["value"] - other["metrics"]["accuracy"]["value"]
        assert row["difference"] == pytest.approx(gap) and 0 <= row["p_mcnemar"] <= 1 and 0 <= row["p_bootstrap"] <= 1
        assert row["ci_low"] <= row["difference"] <= row["ci_high"]
    assert "## Paired tests against" in (result.run_dir / "report.md").read_text()

    # Per-label scores and the confusion matrix add up to the test set.
    classes = lora["per_class"]
    assert sum(m["support"] for m in classes["labels"].values()) == len(_scored_test_ids(result))
    assert sum(map(sum, classes["confusion"]["counts"])) == len(_scored_test_ids(result))
    assert "## Per label" in (result.run_dir / "report.md").read_text()

    # Every rung scored the same test ids, and the split's ids are saved.
    data = json.loads((result.run_dir / "data.json").read_text())
    test_ids = data["split_ids"]["test"]
    for rung in report["rungs"]:
        rows = (result.run_dir / "rungs" / rung["name"] / "predictions.jsonl").read_text().splitlines()
        assert [json.loads(r)["id"] for r in rows] == test_ids

    # The adapter opens in plain PEFT.
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    tuned = PeftModel.from_pretrained(base, result.run_dir / "rungs" / "lora" / "adapter")

    # The forgetting check scored the bundled questions on the base and on the trained adapter; the change is
    # their paired difference.
    forgetting = report["forgetting"]
    items = read_benchmark(GENERAL_KNOWLEDGE, "arc")
    assert forgetting["items"] == len(items) >= 200 and forgetting["metric"] == "acc_norm"
    [row] = forgetting["rungs"]
    with_adapter = score_benchmark(tuned, tokenizer, items, "arc", precision="fp32").item_scores["acc_norm"]
    with tuned.disable_adapter():
        without = score_benchmark(tuned, tokenizer, items, "arc", precision="fp32").item_scores["acc_norm"]
    assert row["rung"] == "lora" and row["metrics"]["acc_norm"]["value"] == pytest.approx(sum(with_adapter) / len(items))
    assert forgetting["base"]["metrics"]["acc_norm"]["value"] == pytest.approx(sum(without) / len(items))
    assert row["change"]["difference"] == pytest.approx((sum(with_adapter) - sum(without)) / len(items))
    assert set(row["groups"]) == {"science", "geography", "arithmetic", "language"}
    assert "## Forgetting check" in (result.run_dir / "report.md").read_text()

    # Rerunning the saved config reproduces every metric exactly.
    again = api.run(load_config(result.run_dir / "config.yaml"), log=lambda m: None)
    assert again.run_dir != result.run_dir
    assert _metrics(again.report) == _metrics(report)


def test_dry_run_estimates_every_rung_and_writes_no_run_folder(tiny_model_dir, tmp_path):
    config = _config(tmp_path, tiny_model_dir)
    rows = api.estimate(config, log=lambda m: None)
    assert [r["rung"] for r in rows] == ["zero_shot", "few_shot_balanced_k1", "few_shot_balanced_k2", "lora"]
    assert all(r["predict_s"] > 0 for r in rows)
    assert [r["fit_s"] > 0 for r in rows] == [False, False, False, True]  # only training takes fitting time
    assert not (tmp_path / "runs").exists()


def test_a_bad_forgetting_benchmark_is_reported_with_the_data_problems(tiny_model_dir, tmp_path):
    config = _config(tmp_path, tiny_model_dir)
    with open(tmp_path / "data.jsonl", "a") as f:
        f.write('{"id": "bad", "text": "elm 1"}\n')
    (tmp_path / "mine.jsonl").write_text('{"question": "q?", "choices": {"text": ["a", "b"], "label": ["A", "B"]}}\n')
    config = config.model_copy(update={"forgetting": config.forgetting.model_copy(
        update={"benchmark": str(tmp_path / "mine.jsonl")})})
    with pytest.raises(DataError) as err:
        api.run(config, log=lambda m: None)
    where = {(p.file.rsplit("/", 1)[-1], p.field) for p in err.value.problems}
    assert ("mine.jsonl", "answerKey") in where and ("data.jsonl", "label") in where
    assert not (tmp_path / "runs").exists()  # nothing ran
