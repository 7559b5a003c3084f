"""Splits are seeded, stratified, lose nothing, and the user's own split files are used as given."""
from __future__ import annotations

import json
from collections import Counter

import pytest

from tunewise.data import own_split, prepare_data, split_examples
from tunewise.data.split import held_out_sizes
from tunewise.records import Example
from tunewise.sections import DataConfig, SplitConfig, TaskConfig


def examples(labels: dict[str, int]) -> list[Example]:
    out = []
    for label, count in labels.items():
        for i in range(count):
            out.append(Example(f"{label}-{i}", ({"role": "user", "content": f"{label} text {i}"},), label, label))
    return out


def all_ids(split) -> list[str]:
    return [i for ids in split.ids().values() for i in ids]


def test_same_seed_same_split_other_seed_other_split():
    data = examples({"a": 30, "b": 30})
    first = split_examples(data, SplitConfig(seed=1), stratify=True).ids()
    assert split_examples(data, SplitConfig(seed=1), stratify=True).ids() == first
    reordered = split_examples(list(reversed(data)), SplitConfig(seed=1), stratify=True).ids()
    assert set(reordered["test"]) == set(first["test"])  # placement depends on ids, not on row order
    assert split_examples(data, SplitConfig(seed=2), stratify=True).ids() != first


def test_no_example_is_lost_or_duplicated():
    data = examples({"a": 17, "b": 9, "c": 4, "d": 1})
    split = split_examples(data, SplitConfig(), stratify=True)
    ids = all_ids(split)
    assert sorted(ids) == sorted(e.id for e in data)
    assert len(ids) == len(set(ids))


def test_fractions_are_respected_without_stratification():
    split = split_examples(examples({"x": 100}), SplitConfig(val=0.1, test=0.2), stratify=False)
    assert split.counts() == {"train": 70, "val": 10, "test": 20}


def test_stratified_split_puts_every_label_with_three_examples_in_every_split():
    data = examples({"big": 50, "mid": 7, "small": 3, "pair": 2})
    split = split_examples(data, SplitConfig(val=0.1, test=0.2), stratify=True)
    per_split = {name: Counter(e.label for e in found) for name, found in split.as_dict().items()}
    for label in ("big", "mid", "small"):
        assert all(per_split[name][label] >= 1 for name in ("train", "val", "test")), (label, per_split)
    assert per_split["train"]["pair"] == 1 and per_split["test"]["pair"] == 1
    # proportions follow the fractions within a label
    assert per_split["test"]["big"] == 10 and per_split["val"]["big"] == 5


def test_held_out_sizes_keep_one_for_training():
    assert held_out_sizes(1, [0.2, 0.1]) == [0, 0]
    assert held_out_sizes(2, [0.2, 0.1]) == [1, 0]
    assert held_out_sizes(3, [0.2, 0.1]) == [1, 1]
    assert held_out_sizes(100, [0.2, 0.1]) == [20, 10]


def test_split_keeps_input_order_within_each_part():
    data = examples({"x": 40})
    split = split_examples(data, SplitConfig(), stratify=False)
    position = {e.id: i for i, e in enumerate(data)}
    for found in split.as_dict().values():
        assert [position[e.id] for e in found] == sorted(position[e.id] for e in found)


def test_own_split_without_val_takes_val_from_train():
    train, test = examples({"a": 20, "b": 20}), examples({"t": 5})
    split = own_split(train, None, test, SplitConfig(val=0.1), stratify=True)
    assert split.test == test
    assert len(split.val) == 4 and Counter(e.label for e in split.val) == {"a": 2, "b": 2}
    assert sorted(e.id for e in split.train + split.val) == sorted(e.id for e in train)


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps({"text": t, "label": l}) + "\n" for t, l in rows), encoding="utf-8")
    return path


@pytest.mark.parametrize("with_val", [True, False])
def test_declared_split_files_are_used_as_given(tmp_path, with_val):
    train = write_jsonl(tmp_path / "train.jsonl", [(f"train {i}", "ab"[i % 2]) for i in range(20)])
    val = write_jsonl(tmp_path / "val.jsonl", [(f"val {i}", "ab"[i % 2]) for i in range(4)])
    test = write_jsonl(tmp_path / "test.jsonl", [(f"test {i}", "ab"[i % 2]) for i in range(6)])
    cfg = DataConfig(train=train, val=val if with_val else None, test=test)
    prepared = prepare_data(cfg, TaskConfig())
    ids = prepared.split.ids()
    assert ids["test"] == [f"test:{i}" for i in range(1, 7)]
    if with_val:
        assert ids["val"] == [f"val:{i}" for i in range(1, 5)]
        assert ids["train"] == [f"train:{i}" for i in range(1, 21)]
    else:
        assert len(ids["val"]) == 2 and all(i.startswith("train:") for i in ids["val"])
        assert sorted(ids["train"] + ids["val"]) == sorted(f"train:{i}" for i in range(1, 21))
