"""The RAG rungs on a tiny random llama with the bundled MiniLM: retrieval in the prompt with source ids, recall@k,
the index cached and reused, RAG + LoRA trained with retrieved context, and the who-gets-what-right table."""
from __future__ import annotations

import json
import random

import pytest

from tunewise import api
from tunewise.config import load_config
from tunewise.data.text import documents_from_examples
from tunewise.rag.rungs import RagIndex
from tunewise.records import Example

pytestmark = pytest.mark.e2e

FACTS = {  # doc id -> (topic words, answer)
    "d1-battery": ("battery charge lasts", "nine hours"),
    "d2-lamp": ("lamp colour glows", "amber"),
    "d3-reset": ("reset button hold", "twelve seconds"),
    "d4-tank": ("water tank holds", "two litres"),
}


def _write(tmp_path, n_questions=48):
    docs = tmp_path / "docs"
    docs.mkdir()
    for doc, (words, answer) in FACTS.items():
        (docs / f"{doc}.md").write_text(f"# {doc}\n\nThe {words} {answer}. Other text about the garden.\n")
    rng = random.Random(0)
    with open(tmp_path / "qa.jsonl", "w") as f:
        for i in range(n_questions):
            doc = sorted(FACTS)[i % len(FACTS)]
            words, answer = FACTS[doc]
            prompt = f"question {rng.randint(0, 99)}: how long or what does the {words}?"
            f.write(json.dumps({"id": f"q{i}", "prompt": prompt, "completion": answer, "sources": [doc],
                                "fact": doc}) + "\n")


def _config(tmp_path, model_dir):
    _write(tmp_path)
    (tmp_path / "tunewise.yaml").write_text(
        f"""
task: {{type: generation, metric: token_f1, instruction: Answer in two words.}}
data: {{path: qa.jsonl, format: prompt_completion, max_length: 192}}
model: {{name: {model_dir}}}
rungs: [zero_shot, rag]
methods: [lora, rag_lora]
rag: {{documents: docs, top_k: 2, chunk_tokens: 32, chunk_overlap: 8}}
train: {{lr: 5.0e-3, max_steps: 6, batch_size: 8, eval_every: 6, patience: null, precision: fp32}}
lora: {{r: 4, alpha: 8}}
eval: {{bootstrap_samples: 200, max_new_tokens: 4, group_field: fact}}
output_dir: {tmp_path / "runs"}
"""
    )
    return load_config(tmp_path / "tunewise.yaml")


def test_rag_rungs_show_sources_report_recall_and_reuse_the_index(tiny_model_dir, tmp_path):
    result = api.run(_config(tmp_path, tiny_model_dir), log=lambda m: None)
    report, run_dir = result.report, result.run_dir
    names = [r["name"] for r in report["rungs"]]
    assert names == ["zero_shot", "rag_dense", "rag_bm25", "rag_hybrid", "lora", "rag_lora"]
    by_name = {r["name"]: r for r in report["rungs"]}
    for name in ("rag_dense", "rag_bm25", "rag_hybrid", "rag_lora"):
        rung = by_name[name]
        recall = rung["retrieval"]
        assert recall["with_gold"] == report["data"]["scored_test_examples"]
        assert 0 <= recall["recall@1"]["value"] <= recall["recall@2"]["value"] <= 1
        folder = run_dir / "rungs" / name
        rows = [json.loads(line) for line in (folder / "predictions.jsonl").read_text().splitlines()]
        assert all(1 <= len(r["sources"]) <= 2 and all("#" in s for s in r["sources"]) for r in rows)
    # BM25 finds the planted words: every question names its fact's words.
    assert by_name["rag_bm25"]["retrieval"]["recall@1"]["value"] == 1.0
    assert by_name["rag_bm25"]["kind"] == "retrieval" and by_name["rag_bm25"]["cost"]["disk_bytes"] > 0
    assert (run_dir / "rungs" / "rag_lora" / "adapter" / "rag_index" / "embeddings.safetensors").is_file()
    assert "index of" in by_name["rag_dense"]["notes"][0] and "built" in by_name["rag_dense"]["notes"][0]

    section = report["agreement"]
    best_rag = max(("rag_dense", "rag_bm25", "rag_hybrid"), key=lambda n: by_name[n]["metrics"]["token_f1"]["value"])
    assert section["rungs"][:2] == ["zero_shot", best_rag] and {"lora", "rag_lora"} <= set(section["rungs"])
    assert sum(p["examples"] for p in section["patterns"]) == report["data"]["scored_test_examples"]
    assert {g["group"] for g in section["groups"]} <= set(FACTS)
    seen = section["by_training"]["seen"]  # every fact has training questions here
    assert seen["examples"] == report["data"]["scored_test_examples"] and section["by_training"]["unseen"]["examples"] == 0
    assert seen["right"]["zero_shot"] == sum(p["examples"] for p in section["patterns"] if "zero_shot" in p["right"])
    text = (run_dir / "report.md").read_text()
    assert "## Retrieval" in text and "## Who gets what right" in text

    # Same documents and settings: the second run loads the cached index instead of embedding again.
    again = api.run(load_config(run_dir / "config.yaml"), log=lambda m: None)
    dense = next(r for r in again.report["rungs"] if r["name"] == "rag_dense")
    assert "reused from the cache" in dense["notes"][0]
    assert dense["metrics"] == by_name["rag_dense"]["metrics"]


def test_training_on_the_training_set_as_corpus_never_retrieves_the_example_itself(tmp_path):
    from tunewise.config import config_from_dict

    config = config_from_dict({"data": {"path": "x.jsonl"}, "rag": {"top_k": 2}, "output_dir": str(tmp_path)})
    train = [Example(id=f"e{i}", messages=({"role": "user", "content": f"topic {w} question"},), answer=w)
             for i, w in enumerate(["alpha", "beta", "gamma", "delta", "alpha"])]
    index = RagIndex(config, train)
    assert [d.id for d in index.documents()] == [d.id for d in documents_from_examples(train)]
    with_self = index.hits(train, "bm25")
    without = index.hits(train, "bm25", exclude_self=True)
    assert with_self[0][0].chunk.doc_id == "e0"  # its own text is the best match
    assert all(h.chunk.doc_id != e.id for e, hits in zip(train, without) for h in hits)
    assert without[0][0].chunk.doc_id == "e4"  # the other 'alpha' question
    assert all(len(hits) <= 2 for hits in without)
