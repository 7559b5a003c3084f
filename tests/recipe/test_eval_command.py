"""`tunewise eval` on a finished tiny run: re-scoring from saved predictions with no model on disk, a benchmark on
the run's base and adapter (equal to the run's own forgetting check), an adapter folder alone, a model folder,
and perplexity against a brute-force forward."""
from __future__ import annotations

import json
import math
import shutil

import pytest
import torch
from conftest import write_word_labels

from tunewise import api
from tunewise.cli import main
from tunewise.config import load_config
from tunewise.errors import TunewiseError
from tunewise.evaluate.perplexity import document_nll, perplexity_with_ci
from tunewise.standalone import EvalSettings


@pytest.fixture
def finished_run(tiny_model_dir, tmp_path):
    write_word_labels(tmp_path / "data.jsonl")
    (tmp_path / "tunewise.yaml").write_text(f"""
task: {{type: classification}}
data: {{path: data.jsonl, max_length: 64}}
model: {{name: {tiny_model_dir}}}
rungs: [zero_shot]
train: {{lr: 5.0e-3, max_steps: 16, batch_size: 8, eval_every: 8, patience: null, precision: fp32, log_every: 8}}
lora: {{r: 4, alpha: 8, dropout: 0.0}}
eval: {{bootstrap_samples: 200}}
forgetting: {{max_items: 60}}
output_dir: {tmp_path / "runs"}
""")
    return api.run(load_config(tmp_path / "tunewise.yaml"), log=lambda m: None)


def test_a_run_is_rescored_from_its_predictions_without_any_model(finished_run, tiny_model_dir, capsys):
    shutil.rmtree(tiny_model_dir)  # nothing left to load: re-scoring must not need the model
    result = api.evaluate(finished_run.run_dir)
    assert result["rescored"] and [r["name"] for r in result["rungs"]] == ["zero_shot", "lora"]
    for row, rung in zip(result["rungs"], finished_run.report["rungs"]):
        assert row["metrics"] == rung["metrics"] and row["matches_report"]
    assert result["significance"]["rows"][0]["difference"] == pytest.approx(
        finished_run.report["significance"]["rows"][0]["difference"])

    # Edited predictions are scored as they are now, and flagged as different from the report.
    path = finished_run.run_dir / "rungs" / "zero_shot" / "predictions.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    for row in rows:
        row["prediction"] = row["reference"]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert main(["eval", str(finished_run.run_dir)]) == 0
    out = capsys.readouterr().out
    assert "no model loaded" in out and "zero_shot" in out and "DIFFERS from report.json" in out
    assert "1.000" in out


def test_benchmark_on_a_run_equals_its_forgetting_check(finished_run):
    settings = EvalSettings(benchmark="general_knowledge", max_items=60, precision="fp32")
    result = api.evaluate(finished_run.run_dir, settings)
    assert [m["name"] for m in result["models"]] == ["base", "lora"]
    forgetting = finished_run.report["forgetting"]
    base, lora = (m["benchmark"]["metrics"]["acc_norm"] for m in result["models"])
    assert base == forgetting["base"]["metrics"]["acc_norm"]
    assert lora == forgetting["rungs"][0]["metrics"]["acc_norm"]
    assert result["comparisons"][0]["difference"] == pytest.approx(forgetting["rungs"][0]["change"]["difference"])

    # The adapter folder alone finds its base in adapter_config.json.
    alone = api.evaluate(finished_run.run_dir / "rungs" / "lora" / "adapter", settings)
    assert alone["models"][0]["benchmark"]["metrics"]["acc_norm"] == lora
    assert alone["models"][0]["loaded"].startswith("peft adapter")


def test_a_model_folder_gets_benchmark_and_perplexity(tiny_model_dir, tmp_path, capsys):
    texts = tmp_path / "held_out.jsonl"
    texts.write_text("".join(json.dumps({"text": t}) + "\n" for t in ["the cat is red", "a dog and an oak tree"]))
    out = tmp_path / "eval.json"
    assert main(["eval", str(tiny_model_dir), "--benchmark", "general_knowledge", "--max-items", "20",
                 "--perplexity", str(texts), "--precision", "fp32", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    [row] = result["models"]
    assert set(row["benchmark"]["metrics"]) == {"acc", "acc_norm"} and row["perplexity"]["documents"] == 2
    assert "perplexity" in capsys.readouterr().out
    assert main(["eval", str(tiny_model_dir), "--benchmark", "general_knowledge", "--out", str(out)]) == 2  # kept


def test_nothing_to_score_is_an_error(tiny_model_dir):
    with pytest.raises(TunewiseError, match="nothing to score"):
        api.evaluate(tiny_model_dir)


def test_perplexity_equals_a_brute_force_forward(tiny_llama):
    model, tokenizer = tiny_llama
    texts = ["the cat is red and the dog is blue", "an oak"]
    nll, tokens = document_nll(model, tokenizer, texts, window=512, precision="fp32")
    for text, got, n in zip(texts, nll, tokens):
        ids = torch.tensor([tokenizer(text)["input_ids"]])
        with torch.no_grad():
            loss = model(input_ids=ids, labels=ids).loss.item()  # mean NLL of tokens 2..T
        assert n == ids.shape[1] - 1 and got == pytest.approx(loss * n, rel=1e-5)
    result = perplexity_with_ci(nll, tokens, n_resamples=200)
    assert result["perplexity"] == pytest.approx(math.exp(nll.sum() / tokens.sum()))
    assert result["ci_low"] <= result["perplexity"] <= result["ci_high"]

    # Windows: a long document is scored window by window, each window's first token as context only.
    windowed, counted = document_nll(model, tokenizer, texts[:1], window=4, precision="fp32")
    ids = tokenizer(texts[0])["input_ids"]
    expected = 0.0
    for start in range(0, len(ids), 4):
        chunk = torch.tensor([ids[start : start + 4]])
        if chunk.shape[1] >= 2:
            with torch.no_grad():
                expected += model(input_ids=chunk, labels=chunk).loss.item() * (chunk.shape[1] - 1)
    assert windowed[0] == pytest.approx(expected, rel=1e-5)
    assert counted[0] == sum(len(ids[s : s + 4]) - 1 for s in range(0, len(ids), 4) if len(ids[s : s + 4]) >= 2)
