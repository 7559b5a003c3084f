"""prepare_data end to end on small files: split, task, leakage, hashes and a JSON-able summary."""
from __future__ import annotations

import hashlib
import json

from tunewise.data import check_data, prepare_data
from tunewise.sections import DataConfig, SplitConfig, TaskConfig


def write_jsonl(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def test_prepare_classification_file(tmp_path):
    records = [{"text": f"message number {i}", "label": ["billing", "bug", "other"][i % 3]} for i in range(30)]
    path = write_jsonl(tmp_path / "tickets.jsonl", records)
    prepared = prepare_data(DataConfig(path=path), TaskConfig())
    assert prepared.task.labels == ["billing", "bug", "other"]
    assert prepared.split.counts() == {"train": 21, "val": 3, "test": 6}
    assert prepared.file_hashes == {str(path): hashlib.sha256(path.read_bytes()).hexdigest()}
    summary = json.loads(json.dumps(prepared.summary()))
    assert summary["format"] == "classification"
    assert summary["counts"]["labels"] == {"billing": 10, "bug": 10, "other": 10}
    assert summary["split_ids"]["test"] == [e.id for e in prepared.split.test]
    assert summary["leakage"]["normalised"]["test-train"] == 0


def test_classification_over_chat_data_sets_labels_on_examples(tmp_path):
    def turns(i):
        return [{"role": "user", "content": f"text {i}"}, {"role": "assistant", "content": "yes" if i % 2 else "no"}]

    records = [{"messages": turns(i)} for i in range(20)]
    path = write_jsonl(tmp_path / "chat.jsonl", records)
    prepared = prepare_data(DataConfig(path=path), TaskConfig(type="classification"))
    assert prepared.task.labels == ["no", "yes"]
    everything = prepared.split.train + prepared.split.val + prepared.split.test
    assert all(e.label == e.answer for e in everything)
    assert {e.label for e in prepared.split.test} == {"no", "yes"}  # stratified on the answers


def test_leakage_is_a_warning_not_an_error(tmp_path):
    records = [{"prompt": "the same question", "completion": f"a{i}"} for i in range(12)]
    path = write_jsonl(tmp_path / "dup.jsonl", records)
    prepared = prepare_data(DataConfig(path=path, split=SplitConfig(seed=3)), TaskConfig())
    assert prepared.leakage.exact["test-train"] == len(prepared.split.test)
    assert "leakage" in [w.code for w in prepared.report.warnings]


def test_check_data_reports_split_counts_and_per_file_counts(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", [{"prompt": f"p{i}", "completion": "c"} for i in range(10)])
    report = check_data(DataConfig(path=path), TaskConfig())
    assert report.ok and report.files == {str(path): 10}
    assert report.splits == {"train": 7, "val": 1, "test": 2}
    assert json.loads(json.dumps(report.to_dict()))["format"] == "prompt_completion"


def test_test_labels_never_seen_in_training_are_warned_about(tmp_path):
    train = write_jsonl(tmp_path / "train.jsonl", [{"text": f"t{i}", "label": "ab"[i % 2]} for i in range(10)])
    test = write_jsonl(tmp_path / "test.jsonl", [{"text": "u", "label": "a"}, {"text": "v", "label": "c"}])
    prepared = prepare_data(DataConfig(train=train, test=test), TaskConfig())
    warning = next(w for w in prepared.report.warnings if w.code == "label_not_in_train")
    assert warning.message.endswith(": c")


def test_describe_names_format_counts_and_verdict(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", [{"text": f"t{i}", "label": "ab"[i % 2]} for i in range(10)])
    text = check_data(DataConfig(path=path), TaskConfig()).describe()
    assert "format: classification" in text and "labels: a 5, b 5" in text
    assert "0 error(s)" in text and text.endswith("ok")
    bad = check_data(DataConfig(path=tmp_path / "missing.jsonl"), TaskConfig()).describe()
    assert "not usable" in bad
