"""Multi-task LoRA on a tiny random llama: the mixture teaches both tasks, and the ladder scores it per task next to
one LoRA per task; data problems in any task's file surface together before anything trains."""
from __future__ import annotations

import json

import pytest
import torch
from conftest import SIZE_INSTRUCTION, write_two_task_config

from tunewise import api
from tunewise.config import load_config
from tunewise.errors import DataError
from tunewise.methods.lora import lora_method
from tunewise.methods.multitask import MultitaskRung, TaskData
from tunewise.methods.tuned import TunedRung, sft_examples
from tunewise.task import Task
from tunewise.train.batching import collate
from tunewise.train.loss import answer_loss


def _config(tmp_path, model_dir, methods="[multitask]"):
    return load_config(write_two_task_config(
        tmp_path, model_dir, methods, temperature=2.0,
        train="{lr: 5.0e-3, max_steps: 16, batch_size: 8, eval_every: 8, patience: null, precision: fp32, log_every: 8}"))


def test_ladder_scores_the_mixture_per_task_next_to_one_lora_per_task(tiny_model_dir, tmp_path):
    config = _config(tmp_path, tiny_model_dir)
    result = api.run(config, log=lambda m: None)
    report, run_dir = result.report, result.run_dir

    # multitask brings the single-task lora of the run's own task along; both are rungs of the main table.
    assert [r["name"] for r in report["rungs"]] == ["zero_shot", "lora", "multitask"]
    section = report["multitask"]
    assert [m["task"] for m in section["mixture"]] == ["main", "size"]
    shares = [m["share"] for m in section["mixture"]]
    assert sum(shares) == pytest.approx(1, abs=1e-3) and shares[1] > 42 / (42 + 63)  # T=2 lifts the small task
    rows = {row["task"]: row for row in section["rows"]}
    assert rows["main"]["metric"] == "accuracy" and rows["size"]["metric"] == "exact_match"
    for row in rows.values():
        for side in ("single_task", "multitask"):
            assert row[side]["ci_low"] <= row[side]["value"] <= row[side]["ci_high"]
        assert row["difference"] == pytest.approx(row["multitask"]["value"] - row["single_task"]["value"], abs=1e-4)
    by_name = {r["name"]: r for r in report["rungs"]}
    assert rows["main"]["single_task"] == by_name["lora"]["metrics"]["accuracy"]
    assert rows["main"]["multitask"] == by_name["multitask"]["metrics"]["accuracy"]
    assert [r["name"] for r in section["single_task_rungs"]] == ["lora[size]"]
    assert rows["size"]["single_task"] == section["single_task_rungs"][0]["metrics"]["exact_match"]
    assert by_name["multitask"]["training"]["mixture"] == {m["task"]: m["share"] for m in section["mixture"]}

    # Each task is scored on its own test ids; the single-task adapter of the other task is saved in its folder.
    data = json.loads((run_dir / "data.json").read_text())
    size_ids = data["multitask"]["tasks"][0]["split_ids"]["test"]
    for predictions in (run_dir / "rungs" / "multitask" / "tasks" / "size" / "predictions.jsonl",
                        run_dir / "tasks" / "size" / "lora" / "predictions.jsonl"):
        assert [json.loads(line)["id"] for line in predictions.read_text().splitlines()] == size_ids
    assert (run_dir / "tasks" / "size" / "lora" / "adapter" / "adapter_model.safetensors").is_file()
    assert data["multitask"]["cross_task_leakage"] == {}
    assert "## Multi-task" in (run_dir / "report.md").read_text()

    # Rerunning the saved config (its data paths were resolved) reproduces the per-task table.
    again = api.run(load_config(run_dir / "config.yaml"), log=lambda m: None)
    assert again.report["multitask"]["rows"] == section["rows"]


def test_dry_run_times_the_other_tasks_single_lora_too(tiny_model_dir, tmp_path):
    rows = api.estimate(_config(tmp_path, tiny_model_dir), log=lambda m: None)
    assert [r["rung"] for r in rows] == ["zero_shot", "lora", "multitask", "lora[size]"]
    assert all(r["fit_s"] > 0 for r in rows[1:])


def test_without_other_tasks_the_rung_is_skipped_with_its_reason(tiny_model_dir, tmp_path):
    config = _config(tmp_path, tiny_model_dir, methods="[multitask]")
    config.multitask.tasks = []
    result = api.run(config, log=lambda m: None)
    multitask = next(r for r in result.report["rungs"] if r["name"] == "multitask")
    assert "multitask.tasks" in multitask["skipped"]
    assert result.report["multitask"]["rows"][0]["multitask"] is None


def test_bad_lines_in_every_tasks_file_are_reported_together_before_training(tiny_model_dir, tmp_path):
    config = _config(tmp_path, tiny_model_dir)
    with open(tmp_path / "main.jsonl", "a") as f:
        f.write('{"id": "bad", "text": "oak 1"}\n')  # no label
    with open(tmp_path / "size.jsonl", "a") as f:
        f.write("{not json\n")
    with pytest.raises(DataError) as err:
        api.run(config, log=lambda m: None)
    text = str(err.value)
    assert "main.jsonl:91" in text and "size.jsonl:61" in text
    assert not (tmp_path / "runs").exists()


# ---------------------------------------------------------------- the rung itself


def _examples(path, fmt):
    from tunewise.data import prepare_data
    from tunewise.sections import DataConfig, TaskConfig

    return prepare_data(DataConfig(path=path, format=fmt, max_length=64), TaskConfig())


def test_the_mixture_teaches_the_other_task_that_single_task_lora_never_sees(tiny_model_dir, tmp_path):
    config = _config(tmp_path, tiny_model_dir)
    config.train = config.train.model_copy(update={"max_steps": 60, "lr": 2e-2, "eval_every": 60})
    main = _examples(tmp_path / "main.jsonl", "classification")
    size = _examples(tmp_path / "size.jsonl", "prompt_completion")
    size_task = Task("generation", None, "exact_match", SIZE_INSTRUCTION)
    other = TaskData("size", size_task, size.split.train, size.split.val, size.split.test, 1.0, 64)

    def size_loss(rung) -> float:
        encoded = sft_examples(rung.tokenizer, size.split.test, SIZE_INSTRUCTION, 64)
        with torch.no_grad():
            return answer_loss(rung.model, collate(encoded, rung.tokenizer.pad_token_id)).item()

    losses = {}
    for rung in (TunedRung(main.task, config, lora_method(config)), MultitaskRung(main.task, config, [other])):
        torch.manual_seed(0)
        info = rung.fit(main.split.train, main.split.val, tmp_path / rung.name)
        losses[rung.name] = size_loss(rung)
        assert info.training["steps"] == config.train.max_steps
    assert losses["multitask"] < losses["lora"] - 0.3, losses  # seeded: about 5.4 vs 6.0 nats
