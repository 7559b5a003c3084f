"""The run registry on hand-made run folders: a row round-trips, statuses update in place, ids resolve by prefix or
folder, ambiguity and unknown ids list candidates, a corrupt or unwritable file is an error for people (and only a
warning for a run), two writers at once lose nothing, and `tunewise runs rm` asks on a terminal."""
from __future__ import annotations

import hashlib
import json
import os
import pty
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tunewise import registry
from tunewise.cli import main
from tunewise.registry import RegistryError, RunLookupError, RunRecorder

FILE_SHA = "ab" * 32


def fake_run(root: Path, name: str, values: dict[str, float] | None = None, recommended: str | None = None) -> Path:
    """A run folder as `tunewise run` leaves it: config.yaml and data.json, plus report.json when `values` (rung ->
    accuracy) are given."""
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "config.yaml").write_text("model:\n  name: tiny\ntask:\n  type: classification\n")
    data = {"task": {"type": "classification", "metric": "accuracy"}, "file_hashes": {"d.jsonl": FILE_SHA}}
    (folder / "data.json").write_text(json.dumps(data))
    if values is not None:
        (folder / "report.json").write_text(json.dumps(fake_report(values, recommended)))
    return folder


def fake_report(values: dict[str, float], recommended: str | None) -> dict:
    rungs = [{"name": name, "kind": "prompting", "skipped": None,
              "metrics": {"accuracy": {"value": v, "ci_low": v - 0.1, "ci_high": v + 0.1}},
              "cost": {"fit_wall_s": 1.5, "predict_wall_s": 0.5, "peak_rss_bytes": 2_000_000, "trainable_params": 10,
                       "total_params": 100, "disk_bytes": 4000, "train_tokens_per_s": 3.0}}
             for name, v in values.items()]
    return {"task": {"type": "classification", "metric": "accuracy"}, "primary_metric": "accuracy",
            "rungs": rungs, "recommendation": {"rung": recommended}}


def test_registry_path_follows_the_environment_and_agrees_with_tunewise_home(monkeypatch, tmp_path):
    from tunewise.models.load import tunewise_home

    assert registry.registry_path() == Path(os.environ["TUNEWISE_REGISTRY"])
    monkeypatch.delenv("TUNEWISE_REGISTRY")
    monkeypatch.setenv("TUNEWISE_HOME", str(tmp_path / "home"))
    assert registry.registry_path() == tunewise_home() / "registry.sqlite" == tmp_path / "home" / "registry.sqlite"
    monkeypatch.delenv("TUNEWISE_HOME")
    assert registry.registry_path() == tunewise_home() / "registry.sqlite"


def test_a_run_round_trips_from_running_to_finished_in_one_row(tmp_path, private_run_registry):
    folder = fake_run(tmp_path, "20260102-030405-abcdef")
    running = registry.record_run(folder, "running")
    assert running.status == "running" and running.rungs == [] and running.recommended_rung is None
    assert running.created == "2026-01-02T03:04:05+00:00"  # from the folder's name
    assert running.config_hash == hashlib.sha256((folder / "config.yaml").read_bytes()).hexdigest()
    assert running.data_hash == hashlib.sha256(FILE_SHA.encode()).hexdigest()
    assert (running.model, running.task_type, running.primary_metric) == ("tiny", "classification", "accuracy")

    report = fake_report({"zero_shot": 0.4, "lora": 0.9}, "lora")
    registry.record_run(folder, "finished", report)
    [done] = registry.list_runs()
    assert done.id == folder.name and done.folder == folder.resolve() and done.created == running.created
    assert done.status == "finished" and done.recommended_rung == "lora" and done.recommended_value == 0.9
    assert [r["name"] for r in done.rungs] == ["zero_shot", "lora"]
    assert done.rungs[1]["metrics"]["accuracy"] == {"value": 0.9, "ci_low": 0.8, "ci_high": 1.0}
    assert done.rungs[1]["cost"] == {"fit_wall_s": 1.5, "predict_wall_s": 0.5, "trainable_params": 10,
                                     "total_params": 100, "disk_bytes": 4000, "peak_rss_bytes": 2_000_000}
    with sqlite3.connect(private_run_registry) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == registry.SCHEMA_VERSION
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_statuses_update_and_filter(tmp_path):
    a, b = fake_run(tmp_path, "20260101-000000-aaaaaa"), fake_run(tmp_path, "20260102-000000-bbbbbb")
    registry.record_run(a, "running")
    registry.record_run(b, "running")
    registry.record_run(a, "failed", error="ModelError: no weights")
    registry.record_run(b, "interrupted", error="TrainingInterrupted: stopped by SIGTERM")
    assert [r.id for r in registry.list_runs()] == [b.name, a.name]  # newest first
    [failed] = registry.list_runs("failed")
    assert failed.id == a.name and failed.error == "ModelError: no weights"
    registry.record_run(b, "running")  # resumed: the same row, running again
    assert [(r.id, r.status) for r in registry.list_runs()] == [(b.name, "running"), (a.name, "failed")]
    with pytest.raises(ValueError, match="expected one of running, finished, failed, interrupted"):
        registry.record_run(a, "done")


def test_a_run_is_found_by_id_unique_prefix_or_folder(tmp_path):
    a = fake_run(tmp_path, "20260101-000000-aaaaaa")
    b = fake_run(tmp_path, "20260101-000000-abbbbb")
    c = fake_run(tmp_path, "20260305-000000-cccccc")
    for folder in (a, b, c):
        registry.record_run(folder, "running")
    assert registry.find_run(a.name).id == a.name
    assert registry.find_run("20260305").id == c.name
    assert registry.find_run("20260101-000000-ab").id == b.name
    assert registry.find_run(str(c) + "/").id == c.name


def test_an_ambiguous_or_unknown_id_lists_the_candidates(tmp_path):
    a, b = fake_run(tmp_path, "20260101-000000-aaaaaa"), fake_run(tmp_path, "20260101-000000-abbbbb")
    with pytest.raises(RunLookupError, match="no runs are recorded in"):
        registry.find_run("2026")
    registry.record_run(a, "running")
    registry.record_run(b, "finished")
    with pytest.raises(RunLookupError) as ambiguous:
        registry.find_run("20260101")
    assert "matches 2 recorded runs" in str(ambiguous.value)
    assert a.name in str(ambiguous.value) and b.name in str(ambiguous.value) and str(b.resolve()) in str(ambiguous.value)
    with pytest.raises(RunLookupError) as unknown:
        registry.find_run("1999")
    assert "no recorded run has this id" in str(unknown.value) and a.name in str(unknown.value)


def test_a_corrupt_registry_is_an_error_for_people_and_only_a_warning_for_a_run(tmp_path, private_run_registry,
                                                                               capsys):
    private_run_registry.write_bytes(b"this is not a sqlite database, it is a text file " * 40)
    with pytest.raises(RegistryError) as err:
        registry.list_runs()
    assert str(private_run_registry) in str(err.value) and "move it aside" in str(err.value)
    assert main(["runs", "ls"]) == 2
    assert "not a readable run registry" in capsys.readouterr().err

    lines = []
    recorder = RunRecorder(lines.append)
    recorder.started(fake_run(tmp_path, "20260101-000000-aaaaaa"))
    recorder.ended("finished", fake_report({"zero_shot": 0.5}, "zero_shot"))
    assert len(lines) == 1 and lines[0].startswith("[tunewise] warning: the run goes on without being recorded")


def test_an_unwritable_registry_location_costs_a_run_one_warning(tmp_path, monkeypatch):
    (tmp_path / "a-file").write_text("")
    monkeypatch.setenv("TUNEWISE_REGISTRY", str(tmp_path / "a-file" / "registry.sqlite"))
    lines = []
    recorder = RunRecorder(lines.append)
    recorder.started(fake_run(tmp_path, "20260101-000000-aaaaaa"))
    recorder.ended("failed", error=RuntimeError("boom"))
    assert len(lines) == 1 and "could not be opened or written" in lines[0] and "TUNEWISE_REGISTRY" in lines[0]


def test_a_registry_from_a_newer_tunewise_is_refused(private_run_registry):
    with sqlite3.connect(private_run_registry) as conn:
        conn.execute(f"PRAGMA user_version = {registry.SCHEMA_VERSION + 1}")
    with pytest.raises(RegistryError, match="written by a newer tunewise"):
        registry.list_runs()


def test_only_the_main_process_records(tmp_path, monkeypatch):
    monkeypatch.setenv("RANK", "1")
    recorder = RunRecorder(print)
    recorder.started(fake_run(tmp_path, "20260101-000000-aaaaaa"))
    recorder.ended("finished", fake_report({"zero_shot": 0.5}, "zero_shot"))
    monkeypatch.setenv("RANK", "0")
    assert registry.list_runs() == []


def test_two_writers_at_once_lose_nothing(tmp_path):
    folders = [fake_run(tmp_path, f"20260101-0000{i:02d}-w{i:05d}") for i in range(40)]
    errors = []

    def write(mine: list[Path]) -> None:
        try:
            for folder in mine:
                registry.record_run(folder, "running")
                registry.record_run(folder, "finished", fake_report({"zero_shot": 0.5}, "zero_shot"))
        except Exception as err:  # noqa: BLE001 - reported by the assertion below
            errors.append(err)

    threads = [threading.Thread(target=write, args=(folders[i::2],)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    records = registry.list_runs()
    assert len(records) == 40 and {r.status for r in records} == {"finished"}


def test_add_needs_a_report_and_refuses_an_id_recorded_for_another_folder(tmp_path):
    unfinished = fake_run(tmp_path / "a", "20260101-000000-aaaaaa")
    with pytest.raises(RegistryError, match="only finished runs can be added"):
        registry.add_run(unfinished)
    finished = fake_run(tmp_path / "b", "20260101-000000-aaaaaa", {"zero_shot": 0.5}, "zero_shot")
    added = registry.add_run(finished)
    assert added.status == "finished" and added.recommended_value == 0.5
    copy = fake_run(tmp_path / "c", "20260101-000000-aaaaaa", {"zero_shot": 0.5}, "zero_shot")
    with pytest.raises(RegistryError, match=f"already recorded for {finished.resolve()}"):
        registry.add_run(copy)


def test_a_run_with_a_partial_report_is_added_as_interrupted(tmp_path):
    folder = fake_run(tmp_path, "20260101-000000-bbbbbb")
    partial = {"interrupted": "rung lora", "signal": "SIGINT", "finished": ["zero_shot"], "not_finished": ["lora"],
               "resume": f"tunewise run --resume {folder}"}
    (folder / "report.json").write_text(json.dumps(fake_report({"zero_shot": 0.5}, "zero_shot") | {"partial": partial}))
    added = registry.add_run(folder)
    assert added.status == "interrupted" and added.recommended_rung == "zero_shot"


def test_remove_deletes_only_run_folders_and_always_the_row(tmp_path):
    run = fake_run(tmp_path, "20260101-000000-aaaaaa", {"zero_shot": 0.5}, "zero_shot")
    registry.record_run(run, "finished")
    assert registry.remove_run(registry.find_run(run.name)) is True
    assert not run.exists() and registry.list_runs() == []

    odd = fake_run(tmp_path, "20260102-000000-bbbbbb")
    registry.record_run(odd, "running")
    (odd / "data.json").unlink()  # config.yaml alone: not enough to call it a run folder
    (odd / "mine.txt").write_text("keep me")
    assert registry.remove_run(registry.find_run(odd.name)) is False
    assert (odd / "mine.txt").read_text() == "keep me" and registry.list_runs() == []

    gone = fake_run(tmp_path, "20260103-000000-cccccc")
    registry.record_run(gone, "failed")
    for path in gone.iterdir():
        path.unlink()
    gone.rmdir()
    assert registry.remove_run(registry.find_run(gone.name)) is False and registry.list_runs() == []


def test_compare_table_marks_recommended_rungs_and_missing_ones(tmp_path):
    a = registry.record_run(fake_run(tmp_path, "20260101-000000-aaaaaa", {"zero_shot": 0.4, "lora": 0.9}, "lora"),
                            "finished", fake_report({"zero_shot": 0.4, "lora": 0.9}, "lora"))
    b = registry.record_run(fake_run(tmp_path, "20260102-000000-bbbbbb", {"zero_shot": 0.6}, "zero_shot"),
                            "finished", fake_report({"zero_shot": 0.6}, "zero_shot"))
    lines = registry.comparison_table([a, b]).splitlines()
    assert f"A: {a.id}" in lines[0] and f"B: {b.id}" in lines[0]
    [zero_shot] = [line for line in lines if line.startswith("zero_shot")]
    [lora] = [line for line in lines if line.startswith("lora")]
    assert zero_shot.split() == ["zero_shot", "0.400", "[0.300,", "0.500]", "1.5", "4.0", "KB",
                                 "*", "0.600", "[0.500,", "0.700]", "1.5", "4.0", "KB"]
    assert lora.split() == ["lora", "*", "0.900", "[0.800,", "1.000]", "1.5", "4.0", "KB", "-", "-", "-"]


def _rm_on_a_terminal(run_id: str, answer: str) -> str:
    """`tunewise runs rm ID` with a pseudo-terminal as stdin, answering `answer`; its stdout."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "tunewise.cli", "runs", "rm", run_id], stdin=follower,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    os.close(follower)
    os.write(leader, answer.encode() + b"\n")
    out, _ = proc.communicate(timeout=60)
    os.close(leader)
    return out


def test_rm_asks_on_a_terminal_and_deletes_only_on_yes(tmp_path):
    run = fake_run(tmp_path, "20260101-000000-aaaaaa", {"zero_shot": 0.5}, "zero_shot")
    registry.record_run(run, "finished")
    out = _rm_on_a_terminal(run.name, "n")
    assert f"and delete its folder {run.resolve()}" in out and "delete? [y/N]" in out and "nothing deleted" in out
    assert run.is_dir() and len(registry.list_runs()) == 1
    out = _rm_on_a_terminal(run.name[:10], "y")
    assert f"removed {run.name} and deleted {run.resolve()}" in out
    assert not run.exists() and registry.list_runs() == []
