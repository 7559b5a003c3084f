"""`tunewise tune` on the tiny random llama: 3 trials write a best config inside the declared space that equals the
study's best trial; trials land in the run registry; a rerun on the same storage continues the study; a trial behind
the median is pruned; a failing trial leaves the study going; search-space mistakes are reported all at once."""
from __future__ import annotations

import optuna
import pytest
from conftest import build_tiny_llama, write_tiny_run_config

from tunewise import registry
from tunewise.cli import main
from tunewise.config import config_from_dict, load_config
from tunewise.errors import ConfigError, TrainingError
from tunewise.train.loop import train
from tunewise.tune import report_or_prune, tune

# 6 optimizer steps, validation every 2: three evaluations per trial, under a second each on the tiny model.
TRAIN = "{max_steps: 6, eval_every: 2, batch_size: 8, log_every: 100, precision: fp32, patience: null}"
SPACE = """\
tune:
  space:
    train: {lr: {low: 1.0e-4, high: 1.0e-2, log: true}, weight_decay: [0.0, 0.1]}
    lora: {r: {low: 2, high: 8}, alpha: [4, 16], dropout: [0.0, 0.1]}
"""


def _config(tmp_path, model_dir, tune_yaml: str = SPACE):
    path = write_tiny_run_config(tmp_path, model_dir, TRAIN)
    path.write_text(path.read_text() + tune_yaml)
    return path


def _study(result) -> optuna.Study:
    return optuna.load_study(study_name=result.study_name, storage=result.storage)


def test_three_trials_write_a_best_config_from_the_declared_space(tmp_path, tiny_model_dir, capsys):
    path = _config(tmp_path, tiny_model_dir)
    assert main(["tune", str(path), "--trials", "3"]) == 0
    out = capsys.readouterr().out
    best_path = next(tmp_path.glob("runs/tune-*/best.yaml"))
    assert f"best config: {best_path}" in out

    best = load_config(best_path)  # `tunewise run` loads it the same way
    study = optuna.load_study(study_name=best_path.parent.name.removeprefix("tune-"),
                              storage=f"sqlite:///{best_path.parent / 'study.db'}")
    assert len(study.trials) == 3 and study.best_trial.state == optuna.trial.TrialState.COMPLETE
    chosen = {"train.lr": best.train.lr, "train.weight_decay": best.train.weight_decay, "lora.r": best.lora.r,
              "lora.alpha": best.lora.alpha, "lora.dropout": best.lora.dropout}
    assert chosen == study.best_trial.params
    assert 1e-4 <= best.train.lr <= 1e-2 and best.train.weight_decay in (0.0, 0.1)
    assert 2 <= best.lora.r <= 8 and isinstance(best.lora.r, int)
    assert best.lora.alpha in (4, 16) and best.lora.dropout in (0.0, 0.1)
    # Everything not searched is the study's config, and the header says where the values come from.
    assert best.data == load_config(path).data and best.train.max_steps == 6
    header = best_path.read_text().splitlines()[:3]
    assert f"trial {study.best_trial.number}" in header[1] and f"{study.best_value:.4f}" in header[1]
    assert "3 trials (3 complete, 0 pruned, 0 failed)" in header[1]
    # The test split is never scored: no predictions anywhere, only the trials' training logs.
    assert not list(best_path.parent.rglob("predictions.jsonl"))
    assert len(list(best_path.parent.glob("trials/*/train_log.jsonl"))) == 3

    record = registry.find_run(best_path.parent.name)
    assert record.status == "finished" and record.primary_metric == "val_loss"
    assert [r["name"] for r in record.rungs] == ["trial-0", "trial-1", "trial-2"]
    assert [r["params"] for r in record.rungs] == [t.params for t in study.trials]
    assert record.recommended_rung == f"trial-{study.best_trial.number}"
    assert record.recommended_value == pytest.approx(study.best_value)


def test_a_rerun_on_the_same_storage_continues_the_study(tmp_path, tiny_model_dir):
    config = load_config(_config(tmp_path, tiny_model_dir))
    storage = f"sqlite:///{tmp_path / 'tune.db'}"
    first = tune(config, 2, storage=storage, study_name="search", log=lambda m: None)
    second = tune(config, 1, storage=storage, study_name="search", log=lambda m: None)

    assert first.study_dir == second.study_dir == tmp_path / "runs" / "tune-search"
    assert [t.number for t in _study(second).trials] == [0, 1, 2]
    assert sum(second.counts.values()) == 3 and second.new_trials == 1
    assert first.best_path.name == "best.yaml" and second.best_path.name == "best-2.yaml"  # never overwritten
    assert first.best_path.is_file()
    assert len(registry.find_run("tune-search").rungs) == 3
    # A study continues only under the config it started with.
    changed = config.model_copy(update={"train": config.train.model_copy(update={"max_steps": 4})})
    with pytest.raises(ConfigError) as err:
        tune(changed, 1, storage=storage, study_name="search", log=lambda m: None)
    assert err.value.problems[0].field == "train.max_steps" and err.value.problems[0].code == "changed_in_study"


def test_a_trial_worse_than_the_median_is_pruned(tmp_path, tiny_model_dir):
    """Trial 0 (a useful lr) completes; trial 1 (an lr too small to move the adapters) is behind it at the first
    evaluation and is pruned there. The order is fixed by queueing both in the study before tuning."""
    space = "tune: {prune_startup_trials: 1, space: {train: {lr: [1.0e-2, 1.0e-9]}, lora: {r: null}}}\n"
    config = load_config(_config(tmp_path, tiny_model_dir, space))
    storage = f"sqlite:///{tmp_path / 'tune.db'}"
    queued = optuna.create_study(storage=storage, study_name="prune")
    queued.enqueue_trial({"train.lr": 1e-2})
    queued.enqueue_trial({"train.lr": 1e-9})

    result = tune(config, 2, storage=storage, study_name="prune", log=lambda m: None)

    trials = _study(result).trials
    assert [t.state for t in trials] == [optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED]
    assert list(trials[1].intermediate_values) == [2]  # stopped at its first evaluation
    assert result.best_trial == 0 and result.counts == {"complete": 1, "pruned": 1, "failed": 0}
    record = registry.find_run(result.study_dir.name)
    assert [r["kind"] for r in record.rungs] == ["trial", "pruned trial"]
    assert "trial-1    pruned" in registry.run_details(record)


def test_the_pruner_ends_training_through_the_eval_hook(tiny_tokenizer, tmp_path):
    """report_or_prune as train()'s on_eval: each validation loss is reported at its step, and a prune stops the
    loop there; with no prune the hook sees every evaluation."""
    from peft import LoraConfig as PeftLora
    from peft import get_peft_model

    from tunewise.sections import TrainConfig
    from tunewise.train.batching import IGNORE_INDEX, Encoded

    data = [Encoded(list(range(3, 13)) + [20 + i % 4, 2], [IGNORE_INDEX] * 10 + [20 + i % 4, 2]) for i in range(16)]
    cfg = TrainConfig(lr=2e-4, max_steps=6, eval_every=2, batch_size=4, log_every=100, precision="fp32",
                      patience=None)

    def lora_model():
        return get_peft_model(build_tiny_llama(len(tiny_tokenizer)), PeftLora(r=2, target_modules=["q_proj", "v_proj"]))

    seen = []
    train(lora_model(), data, data[:4], cfg, tmp_path / "a", pad_id=2, on_eval=lambda s, v: seen.append((s, v)))
    assert [s for s, _ in seen] == [2, 4, 6]

    study = optuna.create_study(pruner=optuna.pruners.MedianPruner(n_startup_trials=1))
    first = study.ask()
    for step, value in seen:
        report_or_prune(first, step, value - 1.0)  # an earlier trial that did better at every step
    study.tell(first, seen[-1][1] - 1.0)
    second = study.ask()
    with pytest.raises(optuna.TrialPruned):
        train(lora_model(), data, data[:4], cfg, tmp_path / "b", pad_id=2, on_eval=lambda s, v: report_or_prune(
            second, s, v))
    assert list(study.trials[1].intermediate_values) == [2]  # reported its first evaluation, then stopped


def test_a_failing_trial_is_recorded_and_the_study_goes_on(tmp_path, tiny_model_dir, monkeypatch):
    import tunewise.train.probe as probe_module

    calls = []

    def diverges_once(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise TrainingError("the training loss became nan at step 1; lower train.lr")
        return train(*args, **kwargs)

    monkeypatch.setattr(probe_module, "train", diverges_once)  # the loop every trained rung runs (after its rate check)
    config = load_config(_config(tmp_path, tiny_model_dir))
    result = tune(config, 2, log=lambda m: None)
    assert result.counts == {"complete": 1, "pruned": 0, "failed": 1} and result.best_trial == 1
    record = registry.find_run(result.study_dir.name)
    assert record.rungs[0]["kind"] == "failed trial" and "nan" in record.rungs[0]["skipped"]


def test_a_stopped_search_is_recorded_as_interrupted(tmp_path, tiny_model_dir, monkeypatch):
    import tunewise.train.probe as probe_module
    from tunewise.train.loop import TrainingInterrupted

    def stopped(*args, **kwargs):
        raise TrainingInterrupted("training stopped by SIGINT after step 3 of 6", tmp_path)

    monkeypatch.setattr(probe_module, "train", stopped)
    config = load_config(_config(tmp_path, tiny_model_dir))
    with pytest.raises(TrainingInterrupted, match="run the same command again to continue"):
        tune(config, 3, study_name="stopped", log=lambda m: None)
    record = registry.find_run("tune-stopped")
    assert record.status == "interrupted" and "SIGINT" in record.error
    assert [t.state for t in optuna.load_study(study_name="stopped", storage=f"sqlite:///{record.folder / 'study.db'}")
            .trials] == [optuna.trial.TrialState.FAIL]


def test_search_space_mistakes_are_reported_together_with_their_fields():
    raw = {"data": {"path": "data.jsonl"}, "tune": {"space": {
        "train": {"lr": {"low": 1e-3, "high": 1e-4}, "batch_size": [4, 8], "weight_decay": {"low": 0, "high": 1,
                                                                                           "log": True}},
        "lora": {"r": {"low": 2.5, "high": 8}, "dropout": [0.1, 1.5], "rank": [4]},
        "full": {"lr": [1e-5]},
    }}}
    with pytest.raises(ConfigError) as err:
        config_from_dict(raw, "tunewise.yaml")
    problems = {p.field: p.message for p in err.value.problems}
    assert set(problems) == {"tune.space.train.lr", "tune.space.train.batch_size", "tune.space.train.weight_decay",
                             "tune.space.lora.r", "tune.space.lora.dropout", "tune.space.lora.rank",
                             "tune.space.full"}
    assert "low (0.001) must be below high (0.0001)" in problems["tune.space.train.lr"]
    assert "log needs low > 0" in problems["tune.space.train.weight_decay"]
    assert "valid integer" in problems["tune.space.lora.r"]
    assert "choices 1.5" in problems["tune.space.lora.dropout"] and "less than 1" in problems["tune.space.lora.dropout"]
    for unknown in ("tune.space.train.batch_size", "tune.space.lora.rank", "tune.space.full"):
        assert "not a searchable parameter" in problems[unknown] and "train.lr" in problems[unknown]
        assert "lora.dropout" in problems[unknown]


def test_epochs_are_not_searched_under_max_steps_and_an_empty_space_is_refused(tmp_path):
    base = {"data": {"path": "data.jsonl"}, "train": {"max_steps": 5}}
    with pytest.raises(ConfigError) as err:
        config_from_dict(base | {"tune": {"space": {"train": {"epochs": [1, 2]}}}})
    assert "max_steps" in str(err.value) and "space.train.epochs" in str(err.value)
    empty = config_from_dict(base | {"tune": {"space": {"train": {"lr": None}, "lora": {"r": None}}},
                                     "output_dir": str(tmp_path)})
    with pytest.raises(ConfigError) as err:
        tune(empty, 1, log=lambda m: None)
    assert err.value.problems[0].field == "tune.space" and not list(tmp_path.iterdir())
