"""`tunewise init DATA`: for every supported format it writes a commented config that `tunewise data check`
accepts, sized to the time budget on this machine (timed on the tiny llama); bad data writes nothing and names
every problem; an existing file is never overwritten."""
from __future__ import annotations

import csv
import json

import pytest
from conftest import WORD_LABELS, write_word_labels

from tunewise.cli import main
from tunewise.config import load_config
from tunewise.init_config import training_budget


def _records(fmt: str, n: int = 60) -> list[dict]:
    words = sorted(WORD_LABELS)
    rows = []
    for i in range(n):
        word, label = words[i % len(words)], WORD_LABELS[words[i % len(words)]]
        question = f"What kind of thing is {word} number {i}?"
        rows.append({
            "chat": {"messages": [{"role": "user", "content": question}, {"role": "assistant", "content": label}]},
            "alpaca": {"instruction": "Name the kind of thing.", "input": f"{word} {i}", "output": label},
            "prompt_completion": {"prompt": question, "completion": f"It is a {label}."},
            "classification": {"text": f"{word} {i}", "label": label},
        }[fmt])
    return rows


def _write(path, fmt: str) -> None:
    rows = _records(fmt)
    if path.suffix == ".csv":
        with open(path, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    else:
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))


@pytest.mark.parametrize(("fmt", "name", "task_type"), [
    ("chat", "chat.jsonl", "generation"),
    ("alpaca", "alpaca.jsonl", "generation"),
    ("prompt_completion", "pc.jsonl", "generation"),
    ("classification", "labels.jsonl", "classification"),
    ("classification", "labels.csv", "classification"),
])
def test_init_writes_a_config_data_check_accepts(tmp_path, tiny_model_dir, capsys, fmt, name, task_type):
    data = tmp_path / "data" / name
    data.parent.mkdir()
    _write(data, fmt)
    out = tmp_path / "tunewise.yaml"
    assert main(["init", str(data), "--out", str(out), "--model", str(tiny_model_dir), "--no-estimate"]) == 0
    text = out.read_text()
    assert text.startswith("# tunewise.yaml written by `tunewise init`") and "Split: train" in text
    config = load_config(out)
    assert config.data.path == data and config.data.format == fmt and config.task.type == task_type
    assert config.methods == (["encoder_features", "lora"] if task_type == "classification" else ["lora"])
    assert config.decision.expected_predictions == 100_000
    assert "the recommendation picks the lowest\n  # training + prediction cost at this volume" in text
    capsys.readouterr()
    assert main(["data", "check", str(out)]) == 0
    assert "0 error(s)" in capsys.readouterr().out


def test_init_times_the_plan_and_cuts_it_to_the_budget(tmp_path, tiny_model_dir):
    data = write_word_labels(tmp_path / "words.jsonl", n=120)
    out = tmp_path / "tunewise.yaml"
    assert main(["init", str(data), "--out", str(out), "--model", str(tiny_model_dir), "--budget", "0.02"]) == 0
    text = out.read_text()
    assert "Estimated time here (timed probes): zero_shot" in text and "lora" in text
    assert "over the 0.02 min budget" in text
    config = load_config(out)
    assert config.train.max_minutes is not None or config.eval.max_test_examples is not None


def test_the_training_budget_lets_fast_rungs_finish_and_cuts_slow_ones_alike():
    # 5 s + 50 s + 50 s = the 105 s left: the 5 s rung trains whole, the 100 s and 300 s rungs get 50 s each.
    assert training_budget([300.0, 5.0, 100.0], 105.0) == 50.0
    assert training_budget([10.0, 20.0], 25.0) == 15.0
    assert training_budget([10.0, 20.0], 100.0) == 20.0


def test_few_examples_give_a_prompting_plan(tmp_path, tiny_model_dir):
    data = write_word_labels(tmp_path / "few.jsonl", n=30)
    out = tmp_path / "tunewise.yaml"
    assert main(["init", str(data), "--out", str(out), "--model", str(tiny_model_dir), "--no-estimate"]) == 0
    assert load_config(out).methods == [] and "prompting only" in out.read_text()


def test_bad_data_writes_nothing_and_names_every_problem(tmp_path, tiny_model_dir, capsys):
    data = tmp_path / "bad.jsonl"
    rows = [json.dumps(r) for r in _records("classification", 30)]
    rows[3], rows[7] = '{"text": "no label here"}', "not json"
    data.write_text("\n".join(rows) + "\n")
    out = tmp_path / "tunewise.yaml"
    assert main(["init", str(data), "--out", str(out), "--model", str(tiny_model_dir), "--no-estimate"]) == 2
    err = capsys.readouterr().err
    assert f"{data}:4" in err and f"{data}:8" in err
    assert not out.exists()


def test_an_existing_config_is_never_overwritten(tmp_path, tiny_model_dir, capsys):
    data = write_word_labels(tmp_path / "words.jsonl")
    out = tmp_path / "tunewise.yaml"
    out.write_text("mine\n")
    assert main(["init", str(data), "--out", str(out), "--model", str(tiny_model_dir), "--no-estimate"]) == 2
    assert out.read_text() == "mine\n" and "never overwrites" in capsys.readouterr().err
