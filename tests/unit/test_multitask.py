"""Multi-task mixing: shares by weight and temperature, exact counts, draws that repeat evenly; the config section."""
from __future__ import annotations

import random
from collections import Counter

import pytest

from tunewise.config import ConfigError, config_from_dict, load_config
from tunewise.methods.multitask import (
    TaskData,
    cross_task_leakage,
    draw,
    mix,
    mixture_counts,
    mixture_shares,
    validation_mix,
)
from tunewise.records import Example
from tunewise.task import Task


def test_temperature_one_mixes_in_proportion_to_weighted_size():
    assert mixture_shares([300, 100], [1, 1], 1.0) == pytest.approx([0.75, 0.25])
    assert mixture_shares([300, 100], [1, 3], 1.0) == pytest.approx([0.5, 0.5])


def test_higher_temperature_flattens_toward_equal_shares():
    t1, t2, t100 = (mixture_shares([900, 100], [1, 1], t)[1] for t in (1.0, 2.0, 100.0))
    assert t1 == pytest.approx(0.1)
    assert t2 == pytest.approx(10 / 40)  # sqrt(100) / (sqrt(900) + sqrt(100))
    assert t1 < t2 < t100 < 0.5 and t100 == pytest.approx(0.5, abs=0.02)


def test_counts_sum_to_total_and_follow_shares():
    counts = mixture_counts(10, [0.55, 0.25, 0.2])
    assert sum(counts) == 10 and counts == [6, 2, 2]  # 5.5 -> 6 takes the largest remainder
    assert mixture_counts(7, [1 / 3] * 3) in ([3, 2, 2], [2, 3, 2], [2, 2, 3])


def test_draw_repeats_every_item_equally_often_up_to_one():
    drawn = draw(list(range(10)), 25, random.Random(0))
    times = Counter(drawn)
    assert len(drawn) == 25 and set(times) == set(range(10))
    assert set(times.values()) == {2, 3}  # two whole passes, then half of a third
    assert len(set(draw(list(range(10)), 7, random.Random(0)))) == 7  # downsampled: no repeats


def test_mix_at_temperature_one_uses_every_example_once_and_is_seeded():
    a, b = [f"a{i}" for i in range(30)], [f"b{i}" for i in range(10)]
    mixed = mix([a, b], mixture_shares([30, 10], [1, 1], 1.0), seed=3)
    assert sorted(mixed) == sorted(a + b)
    assert mix([a, b], mixture_shares([30, 10], [1, 1], 1.0), seed=3) == mixed
    assert mix([a, b], mixture_shares([30, 10], [1, 1], 1.0), seed=4) != mixed


def test_mix_upsamples_the_small_task_when_weighted():
    a, b = [f"a{i}" for i in range(30)], [f"b{i}" for i in range(10)]
    mixed = mix([a, b], mixture_shares([30, 10], [1, 3], 1.0), seed=0)
    assert len(mixed) == 40
    assert sum(x.startswith("b") for x in mixed) == 20 and sum(x.startswith("a") for x in mixed) == 20


def test_validation_mix_stays_within_the_limit_and_covers_each_task():
    a, b = [f"a{i}" for i in range(100)], [f"b{i}" for i in range(100)]
    val = validation_mix([a, b], [0.75, 0.25], limit=40)
    assert len(val) == 40 and sum(x.startswith("b") for x in val) == 10
    assert validation_mix([a[:5], b[:3]], [0.5, 0.5], limit=128) == a[:4] + b[:3]  # short parts: what there is


def _task_data(name: str, train: list[str], test: list[str]) -> TaskData:
    def ex(i, text):
        return Example(id=f"{name}{i}", messages=({"role": "user", "content": text},), answer="x")

    task = Task("generation", None, "exact_match", None)
    return TaskData(name, task, [ex(i, t) for i, t in enumerate(train)], [], [ex(i, t) for i, t in enumerate(test)],
                    1.0, 64)


def test_cross_task_leakage_finds_a_test_input_trained_on_by_another_task():
    main = _task_data("main", ["alpha one", "beta two"], ["Gamma three!", "delta four"])
    other = _task_data("other", ["gamma three", "epsilon"], ["alpha one", "zeta"])
    assert cross_task_leakage([main, other]) == {"main test in other train/val": 1, "other test in main train/val": 1}
    clean = _task_data("clean", ["eta"], ["theta"])
    assert cross_task_leakage([main, clean]) == {}


def _raw(tasks, **multitask):
    return {"data": {"path": "a.jsonl"}, "methods": ["multitask"], "multitask": {"tasks": tasks, **multitask}}


def test_config_rejects_duplicate_reserved_and_malformed_task_names_together():
    tasks = [
        {"name": "orders", "data": {"path": "o.jsonl"}},
        {"name": "orders", "data": {"path": "p.jsonl"}},
        {"name": "main", "data": {"path": "q.jsonl"}},
        {"name": "../up", "data": {"path": "r.jsonl"}, "weight": 0},
    ]
    with pytest.raises(ConfigError) as err:
        config_from_dict(_raw(tasks, temperature=0))
    text = str(err.value)
    for where in ("multitask.tasks.3.name", "multitask.tasks.3.weight", "multitask.temperature"):
        assert where in text
    # Names are checked once every task's own fields are valid.
    with pytest.raises(ConfigError, match="orders.*main|main.*orders"):
        config_from_dict(_raw(tasks[:3]))


def test_task_data_paths_resolve_relative_to_the_yaml_file(tmp_path):
    folder = tmp_path / "cfg"
    folder.mkdir()
    (folder / "run.yaml").write_text(
        "data: {path: main.jsonl}\n"
        "methods: [multitask]\n"
        "multitask:\n  tasks:\n    - {name: two, data: {train: t/train.jsonl, test: t/test.jsonl}}\n"
    )
    config = load_config(folder / "run.yaml")
    extra = config.multitask.tasks[0].data
    assert config.data.path == folder / "main.jsonl"
    assert extra.train == folder / "t" / "train.jsonl" and extra.test == folder / "t" / "test.jsonl"
