"""The many-intent example: the committed JSONL is exactly what its generator writes, has 77 intents, and loads."""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from conftest import example_script

from tunewise.config import load_config
from tunewise.data import prepare_data

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "many_intents"
DATA = EXAMPLE / "intents.jsonl"


@pytest.fixture(scope="module")
def generator():
    with example_script(EXAMPLE / "generate.py") as module:
        yield module


def test_regenerating_gives_the_committed_file_byte_for_byte(generator, tmp_path):
    out = tmp_path / "intents.jsonl"
    assert generator.main(["--out", str(out)]) == 0
    assert out.read_bytes() == DATA.read_bytes(), "intents.jsonl is stale: run examples/many_intents/generate.py"
    assert generator.render_jsonl(seed=1) != generator.render_jsonl()  # the seed matters


def test_many_labels_balanced_unique_and_small():
    records = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines()]
    labels = Counter(r["label"] for r in records)
    assert len(labels) == 77 and set(labels.values()) == {40}
    assert all(list(r) == ["id", "text", "label"] for r in records)
    assert len({r["text"] for r in records}) == len(records) and len({r["id"] for r in records}) == len(records)
    assert DATA.stat().st_size < 1_000_000


def test_the_example_config_loads_its_data_as_a_77_label_classification_task():
    config = load_config(EXAMPLE / "tunewise.yaml")
    prepared = prepare_data(config.data, config.task)
    assert prepared.task.type == "classification" and len(prepared.task.labels) == 77
    assert config.eval.candidate_labels == 20 and len(prepared.split.test) > 500
