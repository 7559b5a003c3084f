"""Config: every problem reported at once with its path; overrides; round trip; shipped YAMLs load."""
from pathlib import Path

import pytest

from tunewise.config import (
    Config,
    config_from_dict,
    config_to_yaml,
    describe_fields,
    load_config,
)
from tunewise.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


def _write(tmp_path, text):
    path = tmp_path / "tunewise.yaml"
    path.write_text(text)
    return path


def test_all_problems_reported_together_with_paths(tmp_path):
    path = _write(tmp_path, "data: {path: x.jsonl}\ntrain: {lr: -1, batch_size: 0, bogus: 3}\nlora: {r: zero}\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    fields = {p.field for p in err.value.problems}
    assert {"train.lr", "train.batch_size", "train.bogus", "lora.r"} <= fields
    assert all(p.file == str(path) for p in err.value.problems)


def test_overrides_are_applied_and_parsed_as_yaml(tmp_path):
    path = _write(tmp_path, "data: {path: x.jsonl}\n")
    config = load_config(path, ["train.lr=1e-4", "prompt.few_shot_k=[2, 4]", "rungs=[zero_shot]"])
    assert config.train.lr == 1e-4
    assert config.prompt.few_shot_k == [2, 4]
    assert config.rungs == ["zero_shot"]


def test_data_paths_are_relative_to_the_yaml_file(tmp_path):
    config = load_config(_write(tmp_path, "data: {path: sub/x.jsonl}\n"))
    assert config.data.path == tmp_path / "sub" / "x.jsonl"


def test_cross_field_checks():
    with pytest.raises(ConfigError) as err:
        config_from_dict({"data": {"path": "a.jsonl", "train": "b.jsonl"}})
    assert "not both" in str(err.value)
    with pytest.raises(ConfigError):
        config_from_dict({"data": {"train": "b.jsonl"}})  # train without test
    with pytest.raises(ConfigError):
        config_from_dict({"data": {"path": "a.jsonl", "split": {"val": 0.5, "test": 0.45}}})


def test_bad_yaml_names_the_line(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_config(_write(tmp_path, "data:\n  path: [unclosed\n"))
    assert err.value.problems[0].line is not None


def test_yaml_round_trip_gives_the_same_config(tmp_path):
    config = config_from_dict({"data": {"path": str(tmp_path / "x.jsonl")}, "train": {"lr": 3e-4}})
    again = load_config(_write(tmp_path, config_to_yaml(config)))
    assert again == config


def test_every_field_has_a_description():
    rows = describe_fields(Config)
    assert len(rows) > 30
    assert all(doc for _, _, doc in rows), [name for name, _, doc in rows if not doc]


@pytest.mark.parametrize("path", sorted(REPO.glob("configs/*.yaml")) + sorted(REPO.glob("examples/*/*.yaml")))
def test_every_shipped_yaml_loads(path):
    config = load_config(path)
    assert config.data.path is None or config.data.path.exists() or config.data.train is not None


@pytest.mark.parametrize("path", sorted(REPO.glob("configs/*.yaml")) + sorted(REPO.glob("examples/*/*.yaml")))
def test_every_shipped_yaml_builds_its_plan_without_loading_a_model(path):
    from tunewise.ladder.plan import build_plan, planned_methods
    from tunewise.task import Task

    config = load_config(path)
    task = Task("classification", ["a", "b"], "accuracy", "Pick a or b.")
    names = [planned.rung.name for planned in build_plan(config, task, [])]
    for method in planned_methods(config):
        assert any(name == method or name.startswith("lora_r") for name in names), (method, names)
    if config.dapt.text is not None:
        assert config.dapt.text.exists()


def test_data_paths_resolve_to_absolute_so_a_saved_config_reads_the_same_files(tmp_path, monkeypatch):
    # A run saves its resolved config in runs/<id>/; `--resume` loads it from there. A path relative to the working
    # folder (a YAML given as work/tunewise.yaml) would then be read relative to the run folder.
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "tunewise.yaml").write_text("data: {path: data.jsonl}\n")
    monkeypatch.chdir(tmp_path)
    config = load_config(Path("work/tunewise.yaml"))
    assert config.data.path == tmp_path / "work" / "data.jsonl"
    saved = tmp_path / "runs" / "some-run" / "config.yaml"
    saved.parent.mkdir(parents=True)
    saved.write_text(config_to_yaml(config))
    assert load_config(saved).data.path == config.data.path
