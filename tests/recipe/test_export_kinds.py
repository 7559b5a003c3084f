"""Every kind of rung that can win is shipped the same way: `tunewise export` writes a folder, `tunewise serve`
answers with it (/v1/classify, /v1/predict) and `tunewise predict` predicts a file with it, each giving exactly the
rung's saved predictions for the same inputs — prompt styles (few-shot demos, nearest demos), RAG, adapters (QLoRA's
on its 4-bit base), full / freeze, prompt learning, bottleneck, classifier heads, feature rungs, candidate labels and
a generation task.
"""
from __future__ import annotations

import json
import math
import subprocess
import sys
import urllib.request

import pytest
from conftest import write_sizes, write_tiny_run_config
from fastapi.testclient import TestClient

from tunewise import api
from tunewise.cli import main
from tunewise.config import load_config
from tunewise.data.load import load_file
from tunewise.export import ExportError, export
from tunewise.export.package import MANIFEST, TRAIN_FILE
from tunewise.prompting.templates import user_text
from tunewise.serve import ServeSettings, start

CLASSIFICATION_RUNGS = ["zero_shot", "few_shot_balanced_k2", "few_shot_nearest_k2", "rag_bm25", "lora", "qlora",
                        "full", "freeze", "prompt_tuning", "bottleneck", "features", "encoder_features", "classifier",
                        "encoder_classifier"]
KEY = "export-key"


def _run(folder, model_dir, methods: str, **changes):
    """A finished tiny run of the word-label task with `methods` and config `changes` (a dict updates that section's
    fields, anything else replaces the field)."""
    path = write_tiny_run_config(folder, model_dir, "{lr: 5.0e-3, max_steps: 6, batch_size: 8, precision: fp32}",
                                 forgetting_items=4, methods=methods)
    config = load_config(path)
    config = config.model_copy(update={k: getattr(config, k).model_copy(update=v) if isinstance(v, dict) else v
                                       for k, v in changes.items()})
    return api.run(config, log=lambda m: None)


@pytest.fixture(scope="module")
def classification(tmp_path_factory, module_model_dir):
    """A finished tiny classification run with every shippable kind of rung, and its test examples."""
    folder = tmp_path_factory.mktemp("kinds")
    result = _run(folder, module_model_dir, "[lora, qlora, full, freeze, prompt_tuning, bottleneck, features, "
                  "encoder_features, classifier, encoder_classifier]", rungs=["zero_shot", "few_shot", "rag"],
                  prompt={"few_shot_k": [2], "demo_selection": ["balanced", "nearest"]}, rag={"retrievers": ["bm25"]})
    return result.run_dir, _test_examples(result.run_dir, folder / "data.jsonl")


def _test_examples(run_dir, data):
    config = load_config(run_dir / "config.yaml")
    examples = {e.id: e for e in load_file(data, config.data).examples}
    ids = json.loads((run_dir / "data.json").read_text())["split_ids"]["test"]
    return [examples[i] for i in ids]


def _saved(run_dir, rung) -> list[dict]:
    lines = (run_dir / "rungs" / rung / "predictions.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def _softmax(scores: dict) -> dict:
    top = max(scores.values())
    total = sum(math.exp(v - top) for v in scores.values())
    return {k: math.exp(v - top) / total for k, v in scores.items()}


@pytest.fixture(scope="module")
def served(classification):
    """Every rung of the classification run exported as a package and served by one server (FastAPI test client)."""
    run_dir, _ = classification
    folders = [export(run_dir, rung=rung) for rung in CLASSIFICATION_RUNGS]
    app, engine, _ = start(ServeSettings(sources=[str(f) for f in folders], api_key=KEY, precision="fp32"),
                           log=lambda m: None)
    try:
        yield TestClient(app, headers={"Authorization": f"Bearer {KEY}"}), folders
    finally:
        engine.stop()


@pytest.mark.parametrize("rung", CLASSIFICATION_RUNGS)
def test_each_exported_kind_classifies_through_the_server_as_the_rung_was_scored(served, classification, rung):
    client, _ = served
    run_dir, test = classification
    reply = client.post("/v1/classify", json={"model": rung, "input": [user_text(e) for e in test]})
    assert reply.status_code == 200, reply.text
    data = reply.json()["data"]
    saved = _saved(run_dir, rung)
    assert [d["label"] for d in data] == [s["prediction"] for s in saved]
    for answer, row in zip(data, saved):
        expected = _softmax(row["scores"])
        assert answer["probabilities"].keys() == expected.keys()
        assert all(abs(answer["probabilities"][k] - expected[k]) < 1e-6 for k in expected)


def test_packages_hold_what_each_kind_needs(served):
    _, folders = served
    contents = {json.loads((f / MANIFEST).read_text())["rung"]: sorted(p.name for p in f.iterdir()) for f in folders}
    assert TRAIN_FILE in contents["few_shot_balanced_k2"] and TRAIN_FILE in contents["few_shot_nearest_k2"]
    assert "index" in contents["rag_bm25"] and TRAIN_FILE not in contents["rag_bm25"]
    assert "adapter" in contents["lora"] and TRAIN_FILE not in contents["lora"]  # no training data where not needed
    assert "model" in contents["full"] and "classifier" in contents["encoder_features"]
    assert contents["zero_shot"] == ["README.md", "config.yaml", MANIFEST]  # a prompt: nothing but the settings


def test_models_list_the_routes_each_export_answers_and_chat_refuses_what_it_cannot_serve(served):
    client, _ = served
    routes = {m["id"]: m["routes"] for m in client.get("/v1/models").json()["data"]}
    assert routes["lora"] == ["/v1/chat/completions", "/v1/completions", "/v1/predict", "/v1/classify"]
    assert routes["features"] == ["/v1/predict", "/v1/classify"]
    for name in ("prompt_tuning", "bottleneck", "features"):
        reply = client.post("/v1/chat/completions", json={"model": name, "messages": [{"role": "user",
                                                                                           "content": "hi"}]})
        assert reply.status_code == 400 and "/v1/predict" in reply.json()["error"]["message"]
    assert client.post("/v1/predict", json={"model": "nope", "input": "x"}).status_code == 404
    too_many = client.post("/v1/classify", json={"model": "lora", "input": ["red 1"] * 65})
    assert too_many.status_code == 400 and too_many.json()["error"]["param"] == "input"
    assert client.post("/v1/classify", json={"model": "lora", "input": ""}).status_code == 400
    assert TestClient(client.app).post("/v1/classify", json={"model": "lora", "input": "x"}).status_code == 401


@pytest.mark.parametrize(("rung", "fmt"), [("lora", "adapter"), ("lora", "merged"), ("freeze", "merged"),
                                           ("full", "merged")])
def test_predict_from_adapter_and_merged_exports_gives_the_saved_labels(classification, rung, fmt, tmp_path):
    run_dir, test = classification
    out = export(run_dir, fmt, tmp_path / "export", rung=rung)
    inputs = tmp_path / "inputs.jsonl"
    inputs.write_text("".join(json.dumps({"id": e.id, "text": user_text(e)}) + "\n" for e in test))  # no labels
    assert main(["predict", str(out), str(inputs), "--out", str(tmp_path / "predictions.jsonl")]) == 0
    rows = [json.loads(line) for line in (tmp_path / "predictions.jsonl").read_text().splitlines()]
    saved = _saved(run_dir, rung)
    assert [r["id"] for r in rows] == [e.id for e in test] and "reference" not in rows[0]
    same = sum(r["prediction"] == s["prediction"] for r, s in zip(rows, saved))
    # A merged model sums the update into the weights: its scores may differ in the last bits, rarely a label.
    assert same == len(saved) if fmt == "adapter" or rung == "full" else same >= len(saved) - 1


def test_predict_reads_a_csv_of_inputs_with_or_without_answers(classification, tmp_path):
    run_dir, test = classification
    out = export(run_dir, rung="few_shot_balanced_k2", out=tmp_path / "few")
    inputs = tmp_path / "inputs.csv"
    rows = [f'"{user_text(e)}",{e.label if i % 2 else ""}' for i, e in enumerate(test)]
    inputs.write_text("text,label\n" + "\n".join(rows) + "\n")
    no_labels = tmp_path / "texts.csv"
    no_labels.write_text("text\n" + "\n".join(f'"{user_text(e)}"' for e in test) + "\n")
    saved = [s["prediction"] for s in _saved(run_dir, "few_shot_balanced_k2")]
    for path, written in ((inputs, tmp_path / "a.jsonl"), (no_labels, tmp_path / "b.jsonl")):
        assert main(["predict", str(out), str(path), "--out", str(written)]) == 0
        predicted = [json.loads(line) for line in written.read_text().splitlines()]
        assert [p["prediction"] for p in predicted] == saved
    with_answers = [json.loads(line) for line in (tmp_path / "a.jsonl").read_text().splitlines()]
    assert [r.get("reference") for r in with_answers[:2]] == [None, test[1].label]  # kept where given


def test_predict_checks_the_input_file_before_loading_anything(classification, tmp_path, capsys):
    run_dir, _ = classification
    out = export(run_dir, rung="zero_shot", out=tmp_path / "zero")
    inputs = tmp_path / "inputs.jsonl"
    inputs.write_text('{"text": "red 4"}\n{"text": 7}\n{"label": "colour"}\n')
    assert main(["predict", str(out), str(inputs), "--out", str(tmp_path / "p.jsonl")]) != 0
    err = capsys.readouterr().err
    assert f"{inputs}:2" in err and f"{inputs}:3" in err and "text" in err
    assert not (tmp_path / "p.jsonl").exists()


def test_what_cannot_be_exported_says_what_can(classification, tmp_path):
    run_dir, _ = classification
    with pytest.raises(ExportError, match="--format package ships it"):
        export(run_dir, "merged", tmp_path / "m", rung="few_shot_balanced_k2")
    with pytest.raises(ExportError, match="does not fold"):
        export(run_dir, "merged", tmp_path / "m", rung="bottleneck")
    assert not (tmp_path / "m").exists()


def test_many_labels_ship_the_candidates_neighbours(tmp_path, module_model_dir):
    result = _run(tmp_path, module_model_dir, "[features]", rungs=["zero_shot"], eval={"candidate_labels": 2})
    test = _test_examples(result.run_dir, tmp_path / "data.jsonl")
    for rung in ("zero_shot", "features"):
        folder = export(result.run_dir, rung=rung)
        assert (folder / TRAIN_FILE).is_file()
        app, engine, _ = start(ServeSettings(sources=[str(folder)], precision="fp32"), log=lambda m: None)
        try:
            data = TestClient(app).post("/v1/classify", json={"model": rung, "input": [user_text(e) for e in test]}
                                        ).json()["data"]
        finally:
            engine.stop()
        saved = _saved(result.run_dir, rung)
        assert [d["label"] for d in data] == [s["prediction"] for s in saved]
        assert all(len(d["probabilities"]) == 2 for d in data)  # chose among its 2 candidates, as scored


def test_a_generation_task_is_predicted_and_served_as_scored(tmp_path, module_model_dir):
    write_sizes(tmp_path / "sizes.jsonl", n=60)
    config = load_config(write_tiny_run_config(tmp_path, module_model_dir, "{lr: 5.0e-3, max_steps: 6, "
                                               "batch_size: 8, precision: fp32}", forgetting_items=4, methods="[lora]"))
    config = config.model_copy(update={
        "task": config.task.model_copy(update={"type": "generation", "metric": "exact_match"}),
        "data": config.data.model_copy(update={"path": tmp_path / "sizes.jsonl"}),
        "rungs": ["zero_shot", "few_shot"],
        "prompt": config.prompt.model_copy(update={"few_shot_k": [1], "demo_selection": ["random"]}),
        "eval": config.eval.model_copy(update={"max_new_tokens": 4})})
    result = api.run(config, log=lambda m: None)
    test = _test_examples(result.run_dir, tmp_path / "sizes.jsonl")
    folders = [export(result.run_dir, rung=rung) for rung in ("few_shot_random_k1", "lora")]
    app, engine, _ = start(ServeSettings(sources=[str(f) for f in folders], precision="fp32"), log=lambda m: None)
    try:
        client = TestClient(app)
        for rung in ("few_shot_random_k1", "lora"):
            reply = client.post("/v1/predict", json={"model": rung, "input": [user_text(e) for e in test]})
            assert [d["output"] for d in reply.json()["data"]] == [s["prediction"] for s in
                                                                   _saved(result.run_dir, rung)]
        refused = client.post("/v1/classify", json={"model": "lora", "input": "a big thing"})
        assert refused.status_code == 400 and "/v1/predict" in refused.json()["error"]["message"]
    finally:
        engine.stop()


def test_the_cli_exports_the_recommended_rung_and_serves_it(classification, tmp_path):
    """`tunewise export RUN` then `tunewise serve FOLDER` as a user types them: a live server on a free port."""
    run_dir, test = classification
    out = tmp_path / "shipped"
    done = subprocess.run([sys.executable, "-m", "tunewise.cli", "export", str(run_dir), "--out", str(out)],
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    recommended = json.loads((run_dir / "report.json").read_text())["recommendation"]["rung"]
    assert json.loads((out / MANIFEST).read_text())["rung"] == recommended
    process = subprocess.Popen([sys.executable, "-m", "tunewise.cli", "serve", str(out), "--port", "0"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        for line in process.stdout:
            if "serving" in line and "http://" in line:
                break
        url = line.split("at ")[1].split()[0]
        request = urllib.request.Request(f"{url}/classify", method="POST", headers={"Content-Type": "application/json"},
                                         data=json.dumps({"model": recommended, "input": user_text(test[0])}).encode())
        with urllib.request.urlopen(request, timeout=60) as reply:
            label = json.loads(reply.read())["data"][0]["label"]
        assert label == _saved(run_dir, recommended)[0]["prediction"]
    finally:
        process.terminate()
        process.wait(timeout=30)
