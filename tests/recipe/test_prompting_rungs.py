"""Prompting rungs on a tiny random llama: every style end to end, the k-sweep chart, demos from train only, and
few-shot prompts fitted to the context. Nearest-neighbour demos embed with the bundled MiniLM (hence e2e)."""
from __future__ import annotations

import json
import random
import xml.etree.ElementTree as ET

import pytest

from tunewise import api
from tunewise.config import load_config
from tunewise.evaluate.predict import BaseModelCache, prompt_limit
from tunewise.models.embed import TextEncoder
from tunewise.prompting.demos import NearestDemos
from tunewise.prompting.rungs import PromptRung
from tunewise.records import Example
from tunewise.task import Task

pytestmark = pytest.mark.e2e

TOPICS = {
    "animal": ["the cat sleeps on the sofa", "a dog barks at the mailman", "my kitten chases a mouse",
               "the puppy wants a walk", "a horse runs in the field"],
    "weather": ["heavy rain is expected tomorrow", "the sun is shining all day", "snow covers the roads",
                "a storm with strong wind", "it is foggy this morning"],
    "food": ["I baked fresh bread today", "pasta with tomato sauce for dinner", "a bowl of fruit salad",
             "the soup needs more salt", "pancakes with syrup for breakfast"],
}


def _example(i: str, text: str, label: str) -> Example:
    return Example(id=i, messages=({"role": "user", "content": text},), answer=label, label=label)


def test_nearest_demos_are_the_most_similar_training_inputs_and_never_test_ones():
    train = [_example(f"tr-{label}-{n}", text, label) for label, texts in TOPICS.items()
             for n, text in enumerate(texts)]
    test = [_example("te-1", "my cat naps on the couch", "animal"),
            _example("te-2", "my cat naps on the couch!", "animal"),  # a near copy of another test input
            _example("te-3", "thunder and rain tonight", "weather")]
    nearest = NearestDemos(train, TextEncoder("minilm"))
    chosen = nearest.for_examples(test, 3)
    train_ids = {e.id for e in train}
    assert all(d.id in train_ids for demos in chosen for d in demos)
    assert chosen[0][0].id == "tr-animal-0"  # 'the cat sleeps on the sofa'
    assert [d.label for d in chosen[0][:2]] == ["animal"] * 2
    assert chosen[2][0].label == "weather"
    assert nearest.for_examples(test, 10)[0][:3] == chosen[0]  # a prefix of a longer list: nested k


def _write(path, n=60, seed=0, words=4):
    rng = random.Random(seed)
    with open(path, "w") as f:
        for i in range(n):
            label = sorted(TOPICS)[i % 3]
            text = " ".join([rng.choice(TOPICS[label])] * words)
            f.write(json.dumps({"id": f"x{i}", "text": text, "label": label}) + "\n")


def _config(tmp_path, model_dir, words=1):
    _write(tmp_path / "data.jsonl", words=words)
    (tmp_path / "tunewise.yaml").write_text(
        f"""
task: {{type: classification}}
data: {{path: data.jsonl, max_length: 64}}
model: {{name: {model_dir}}}
rungs: [zero_shot, prefix, few_shot, cot, template]
methods: []
prompt:
  few_shot_k: [1, 2]
  demo_selection: [balanced, random, nearest]
  cot_max_new_tokens: 12
  template: "Options: {{{{ labels | join(', ') }}}}\\nText: {{{{ input }}}}"
eval: {{bootstrap_samples: 200, max_new_tokens: 4}}
output_dir: {tmp_path / "runs"}
"""
    )
    return load_config(tmp_path / "tunewise.yaml")


def test_every_prompt_style_runs_and_the_report_draws_the_k_sweep(tiny_model_dir, tmp_path):
    result = api.run(_config(tmp_path, tiny_model_dir), log=lambda m: None)
    report, run_dir = result.report, result.run_dir
    names = [r["name"] for r in report["rungs"]]
    sweeps = [f"few_shot_{s}_k{k}" for s in ("balanced", "random", "nearest") for k in (1, 2)]
    assert names == ["zero_shot", "prefix", *sweeps, "cot", "template"]

    # Demonstrations come from train, as many as k, and nearest ones differ per test input.
    split = json.loads((run_dir / "data.json").read_text())["split_ids"]
    for name in sweeps:
        rows = [json.loads(line) for line in (run_dir / "rungs" / name / "predictions.jsonl").read_text().splitlines()]
        k = int(name[-1])
        assert all(len(r["demos"]) == k and set(r["demos"]) <= set(split["train"]) for r in rows)
        if "nearest" in name:
            assert len({tuple(r["demos"]) for r in rows}) > 1
        else:
            assert len({tuple(r["demos"]) for r in rows}) == 1

    # Chain of thought keeps its reasoning; its prediction is a label or empty (no answer found).
    labels = set(report["task"]["labels"])
    cot = [json.loads(line) for line in (run_dir / "rungs" / "cot" / "predictions.jsonl").read_text().splitlines()]
    assert all("reasoning" in r and (r["prediction"] in labels or r["prediction"] == "") for r in cot)
    cot_rung = next(r for r in report["rungs"] if r["name"] == "cot")
    assert cot_rung["prompt"]["answers_not_found"] == sum(r["prediction"] == "" for r in cot)

    # The k-sweep: a chart with one curve per selection (k = 0, 1, 2), and the table in report.md.
    svg = ET.parse(run_dir / "k_sweep.svg").getroot()
    polylines = svg.findall("{http://www.w3.org/2000/svg}polyline")
    assert len(polylines) == 3 and all(len(p.get("points").split()) == 3 for p in polylines)
    text = (run_dir / "report.md").read_text()
    assert "## Prompting" in text and "![k-sweep](k_sweep.svg)" in text and "Best prompting rung" in text
    assert "| 0 |" in text and "| 2 |" in text


def test_a_bad_template_stops_the_run_before_any_model_loads(tiny_model_dir, tmp_path):
    config = _config(tmp_path, tiny_model_dir)
    config.prompt.template = "{{ input }} {{ nope }}"
    with pytest.raises(Exception, match="template_variable") as err:
        api.run(config, log=lambda m: None)
    assert "tunewise.yaml" in str(err.value)
    assert not (tmp_path / "runs").exists()


def test_few_shot_prompts_drop_demonstrations_to_fit_the_context(tiny_model_dir, tmp_path):
    config = _config(tmp_path, tiny_model_dir, words=12)  # long inputs: 6 demos overflow 512 positions
    base = BaseModelCache(str(tiny_model_dir), __import__("torch").float32)
    model, tokenizer = base.get()
    train = [_example(f"tr{i}", " ".join([TOPICS["food"][i % 5]] * 12), "food") for i in range(6)]
    test = [_example("te", "pasta " * 40, "food"), _example("te2", "bread", "food")]
    task = Task("classification", ["animal", "food", "weather"], "accuracy", "Pick the topic.")
    rung = PromptRung(base, task, config, "few_shot", k=6, selection="random")
    rung.fit(train, [], tmp_path / "rung")
    conversations, demo_ids = rung.conversations(test, model, tokenizer)
    limit = prompt_limit(model, config.eval.max_new_tokens)
    lengths = [len(tokenizer.apply_chat_template(c, add_generation_prompt=True, tokenize=True)) for c in conversations]
    assert rung.summary["shortened_prompts"] >= 1 and rung.summary["dropped_demos"] >= 1
    assert all(n <= limit for n in lengths)
    assert len(demo_ids[0]) < 6 and demo_ids[0] == demo_ids[1][: len(demo_ids[0])]  # dropped from the end
    assert "dropped from the end" in rung.notes()[0]


def test_many_labels_every_rung_chooses_among_the_same_candidates(tiny_model_dir, tmp_path):
    """With more labels than eval.candidate_labels, each test example gets the labels of its nearest training
    examples; label-scoring rungs score only those, feature rungs are cut to them, and data.json says how often the
    gold label is among them."""
    config = _config(tmp_path, tiny_model_dir)
    config.rungs, config.methods = ["zero_shot", "few_shot"], ["encoder_features"]
    config.prompt.few_shot_k, config.prompt.demo_selection = [1], ["nearest"]
    config.eval.candidate_labels = 2  # of the 3 topics
    result = api.run(config, log=lambda m: None)
    run_dir = result.run_dir
    summary = json.loads((run_dir / "data.json").read_text())["candidate_labels"]
    assert summary["per_example"] == 2 and summary["proposed_by"] == "minilm nearest training examples"
    assert 0.0 <= summary["gold_among_candidates"] <= 1.0
    chosen = {}
    for rung in ("zero_shot", "few_shot_nearest_k1", "encoder_features"):
        rows = [json.loads(line) for line in (run_dir / "rungs" / rung / "predictions.jsonl").read_text().splitlines()]
        for r in rows:
            assert len(r["scores"]) == 2 and r["prediction"] == max(r["scores"], key=r["scores"].get)
            assert chosen.setdefault(r["id"], set(r["scores"])) == set(r["scores"])  # the same candidates everywhere
    descriptions = {r["name"]: r["description"] for r in result.report["rungs"]}
    assert "shared prompt prefix computed once" in descriptions["zero_shot"]
    assert "scored among 2 candidate labels" in descriptions["few_shot_nearest_k1"]
    assert "chooses among 2 candidate labels" in descriptions["encoder_features"]
