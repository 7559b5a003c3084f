"""Adapter composition on a tiny random llama: the combined adapter's weight update is the weighted sum of the
single-task adapters' updates, and the ladder scores it per task next to the single-task LoRAs it was made from."""
from __future__ import annotations

import json
import warnings

import pytest
import torch
from conftest import SIZE_INSTRUCTION, build_tiny_llama, write_two_task_config
from peft import LoraConfig, PeftModel, get_peft_model

from tunewise import api
from tunewise.config import load_config
from tunewise.errors import ConfigError
from tunewise.ladder.plan import planned_methods
from tunewise.methods import composition
from tunewise.methods.composition import CompositionRung, SingleTaskAdapter
from tunewise.report.render import terminal_table
from tunewise.sections import MAIN_TASK
from tunewise.task import Task

TARGETS = ["q_proj", "v_proj", "down_proj"]


def _config(tmp_path, model_dir, methods="[composition]", composition="{weights: {size: 0.5}}"):
    return load_config(write_two_task_config(
        tmp_path, model_dir, methods, lora=f"{{r: 4, alpha: 8, target_modules: {TARGETS}}}",
        train="{lr: 5.0e-3, max_steps: 12, batch_size: 8, eval_every: 12, patience: null, precision: fp32, log_every: 12}",
        extra=f"composition: {composition}\nforgetting: {{max_items: 8}}\n"))


# ---------------------------------------------------------------- the combination


def _adapter(tokenizer, folder, r, seed):
    """A LoRA of rank `r` with random (not zero) B, saved as a PEFT folder."""
    torch.manual_seed(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # as in _open
        model = get_peft_model(build_tiny_llama(len(tokenizer)),
                               LoraConfig(r=r, lora_alpha=2 * r, target_modules=TARGETS, init_lora_weights=False))
    model.save_pretrained(str(folder))
    return folder


def _deltas(model) -> dict[str, torch.Tensor]:
    """Merged weight minus base weight of every adapted linear layer."""
    base = build_tiny_llama(model.config.vocab_size).state_dict()
    merged = model.merge_and_unload().state_dict()
    return {name: merged[name] - base[name] for name in base if any(f"{t}.weight" in name for t in TARGETS)}


def _open(tokenizer, folder) -> PeftModel:
    """The adapter folder on a fresh tiny llama, as plain PEFT opens it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # PEFT 0.21 on transformers 5: is_gradient_checkpointing
        return PeftModel.from_pretrained(build_tiny_llama(len(tokenizer)), str(folder))


def _single_delta(tokenizer, folder):
    return _deltas(_open(tokenizer, folder))


def test_cat_gives_exactly_the_weighted_sum_of_the_adapters_updates_at_different_ranks(tiny_tokenizer, tmp_path):
    folders = {"main": _adapter(tiny_tokenizer, tmp_path / "a", r=2, seed=1),
               "size": _adapter(tiny_tokenizer, tmp_path / "b", r=4, seed=2)}
    weights = {"main": 0.7, "size": -1.3}
    combined = composition.compose(build_tiny_llama(len(tiny_tokenizer)), tiny_tokenizer, folders, weights, "cat")

    assert list(combined.peft_config) == [composition.COMBINED] and composition.rank(combined) == 2 + 4
    got = _deltas(combined)
    single = {task: _single_delta(tiny_tokenizer, folder) for task, folder in folders.items()}
    assert len(got) == 2 * len(TARGETS)  # every adapted layer of both blocks
    for name, delta in got.items():
        expected = sum(weights[task] * single[task][name] for task in folders)
        assert expected.abs().max() > 1e-3  # the adapters do move the weights
        torch.testing.assert_close(delta, expected, atol=1e-5, rtol=0)


def test_svd_recovers_a_low_rank_sum_exactly_and_linear_only_approximates_it(tiny_tokenizer, tmp_path):
    # The same adapter twice: the weighted sum is 2x its update, of its own rank, so the rank-4 SVD loses nothing;
    # linear adds the A and B factors separately, so its cross terms scale the update by (sqrt .7 + sqrt 1.3)^2.
    folder = _adapter(tiny_tokenizer, tmp_path / "a", r=4, seed=1)
    folders, weights = {"main": folder, "size": folder}, {"main": 0.7, "size": 1.3}
    single = _single_delta(tiny_tokenizer, folder)
    for kind, factor, rank in (("svd", 2.0, 4), ("linear", (0.7 ** 0.5 + 1.3 ** 0.5) ** 2, 4)):
        combined = composition.compose(build_tiny_llama(len(tiny_tokenizer)), tiny_tokenizer, folders, weights, kind)
        assert composition.rank(combined) == rank
        for name, delta in _deltas(combined).items():
            torch.testing.assert_close(delta, factor * single[name], atol=1e-5, rtol=1e-4)


# ---------------------------------------------------------------- the rung in the ladder


def test_ladder_scores_the_composed_adapter_per_task_next_to_the_single_task_loras(tiny_model_dir, tiny_tokenizer,
                                                                                   tmp_path):
    config = _config(tmp_path, tiny_model_dir)
    result = api.run(config, log=lambda m: None)
    report, run_dir = result.report, result.run_dir

    # composition brings the run's own lora along, and the other task's lora[size] trains before it.
    assert [r["name"] for r in report["rungs"]] == ["zero_shot", "lora", "composition"]
    by_name = {r["name"]: r for r in report["rungs"]}
    section = report["multitask"]
    assert section["mixture"] is None  # no multitask rung, no mixture
    assert section["composition"] == {"combination_type": "cat", "weights": {"main": 1.0, "size": 0.5}}
    assert [r["name"] for r in section["single_task_rungs"]] == ["lora[size]"]
    rows = {row["task"]: row for row in section["rows"]}
    assert rows["main"]["single_task"] == by_name["lora"]["metrics"]["accuracy"]
    assert rows["main"]["composition"] == by_name["composition"]["metrics"]["accuracy"]
    assert rows["size"]["single_task"] == section["single_task_rungs"][0]["metrics"]["exact_match"]
    assert rows["size"]["composition"] == by_name["composition"]["per_task"]["size"]["exact_match"]
    for row in rows.values():
        assert row["multitask"] is None and row["difference"] is None
        assert row["composition_difference"] == pytest.approx(
            row["composition"]["value"] - row["single_task"]["value"], abs=1e-4)

    # Scored on each task's own test ids; costs are the combined adapter's (rank 4 + 4: twice one LoRA), no training.
    data = json.loads((run_dir / "data.json").read_text())
    predictions = run_dir / "rungs" / "composition" / "tasks" / "size" / "predictions.jsonl"
    assert [json.loads(line)["id"] for line in predictions.read_text().splitlines()] == \
        data["multitask"]["tasks"][0]["split_ids"]["test"]
    cost, lora_cost = by_name["composition"]["cost"], by_name["lora"]["cost"]
    assert cost["trainable_params"] == 2 * lora_cost["trainable_params"]
    assert cost["total_params"] - cost["trainable_params"] == lora_cost["total_params"] - lora_cost["trainable_params"]
    assert cost["disk_bytes"] > lora_cost["disk_bytes"] and by_name["composition"]["training"] is None
    assert "composed adapter" in terminal_table(report) and "composed adapter" in (run_dir / "report.md").read_text()

    # The artifact is a plain PEFT adapter folder, and its update is 1 x lora's + 0.5 x lora[size]'s (fp32 run).
    adapter = run_dir / "rungs" / "composition" / "adapter"
    assert {"adapter_config.json", "adapter_model.safetensors", "tunewise_base.json"} <= {p.name for p in adapter.iterdir()}
    loaded = _open(tiny_tokenizer, adapter)
    assert loaded.peft_config["default"].r == 8
    main = _single_delta(tiny_tokenizer, run_dir / "rungs" / "lora" / "adapter")
    size = _single_delta(tiny_tokenizer, run_dir / "tasks" / "size" / "lora" / "adapter")
    for name, delta in _deltas(loaded).items():
        torch.testing.assert_close(delta, main[name] + 0.5 * size[name], atol=1e-5, rtol=0)


def test_dry_run_times_the_combination_on_untrained_adapters(tiny_model_dir, tmp_path):
    rows = api.estimate(_config(tmp_path, tiny_model_dir), log=lambda m: None)
    assert [r["rung"] for r in rows] == ["zero_shot", "lora", "lora[size]", "composition"]  # as the run orders them
    assert all(r["fit_s"] > 0 for r in rows[1:])


# ---------------------------------------------------------------- planning, skipping, config


def test_composition_brings_lora_along_and_runs_it_first(tiny_model_dir, tmp_path):
    config = _config(tmp_path, tiny_model_dir)
    plans = [(["composition"], ["lora", "composition"]),
             (["composition", "full", "lora"], ["lora", "composition", "full"]),
             (["multitask", "composition"], ["lora", "multitask", "composition"]),
             (["composition", "multitask"], ["lora", "composition", "multitask"])]
    for methods, planned in plans:
        assert planned_methods(config.model_copy(update={"methods": methods})) == planned


def test_the_rung_is_skipped_without_other_tasks_or_when_a_single_task_lora_did_not_run(tmp_path):
    from tunewise.config import config_from_dict

    config = config_from_dict({"data": {"path": "a.jsonl"}, "methods": ["composition"]})
    task = Task("classification", ["a", "b"], "accuracy", "Pick a or b.")
    assert "multitask.tasks" in CompositionRung(task, config, []).skip_reason

    from tunewise.methods.multitask import TaskData
    other = TaskData("size", Task("generation", None, "exact_match", SIZE_INSTRUCTION), [], [], [], 1.0, 64)
    rung = CompositionRung(task, config, [other])
    assert rung.skip_reason is None
    rung.use_adapters([SingleTaskAdapter(MAIN_TASK, "lora", tmp_path / "gone"),
                       SingleTaskAdapter("size", "lora[size]", tmp_path / "none", skipped="no CUDA here")])
    assert "lora left no" in rung.skip_reason and "lora[size] was skipped (no CUDA here)" in rung.skip_reason


def test_weights_naming_an_unknown_task_are_a_config_error_naming_the_field(tiny_model_dir, tmp_path):
    with pytest.raises(ConfigError) as err:
        _config(tmp_path, tiny_model_dir, composition="{weights: {sise: 0.5, main: 1.0, other: 2.0}}")
    text = str(err.value)
    assert "tunewise.yaml: composition:" in text and "weights.sise, weights.other" in text
    assert "multitask.tasks (size)" in text and "weights.main" not in text
    with pytest.raises(ConfigError, match="composition.combination_type"):
        _config(tmp_path, tiny_model_dir, composition="{combination_type: ties}")
