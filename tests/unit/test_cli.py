"""The CLI: data check lists every mistake with file:line and exits non-zero, before any model loads."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tunewise import cli
from tunewise.cli import main
from tunewise.errors import RunInterrupted

FIVE_MISTAKES = [
    '{"id": "a1", "text": "my card was charged twice", "label": "billing"}',
    '{"id": "a2", "text": "reset my password please", "label": "login"',  # 2: bad_json
    '{"id": "a3", "label": "billing"}',  # 3: missing_field text
    '{"id": "a4", "text": 42, "label": "login"}',  # 4: wrong_type
    '{"id": "a5", "text": "   ", "label": "login"}',  # 5: empty_text
    '{"id": "a1", "text": "where is my parcel", "label": "shipping"}',  # 6: duplicate_id
] + [json.dumps({"id": f"ok{i}", "text": f"ticket number {i}", "label": ["billing", "login"][i % 2]}) for i in range(12)]


def _bad_file(tmp_path: Path) -> Path:
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(FIVE_MISTAKES) + "\n")
    return path


def test_data_check_lists_all_five_mistakes_and_fails(tmp_path, capsys):
    path = _bad_file(tmp_path)
    code = main(["data", "check", str(path), "--no-length-check"])
    out = capsys.readouterr().out
    assert code != 0
    errors = [line for line in out.splitlines() if line.startswith("error:")]
    found = {(line.split(":")[2], line.split(": ")[3]) for line in errors}
    expected_lines = {"2", "3", "4", "5", "6"}
    assert {ln for ln, _ in found} == expected_lines, out
    assert {code for _, code in found} == {"bad_json", "missing_field", "wrong_type", "empty_text", "duplicate_id"}
    assert all(str(path) in line for line in errors)


def test_config_error_is_printed_without_traceback(tmp_path):
    cfg = tmp_path / "tunewise.yaml"
    cfg.write_text("data: {path: x.jsonl}\ntrain: {lr: -1}\n")
    proc = subprocess.run([sys.executable, "-m", "tunewise.cli", "config", "show", str(cfg)],
                          capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert proc.returncode == 2
    assert "train.lr" in proc.stderr and "Traceback" not in proc.stderr


def test_config_doc_lists_fields(capsys):
    assert main(["config", "show", "--doc"]) == 0
    out = capsys.readouterr().out
    assert "train.lr" in out and "lora.r" in out


@pytest.mark.e2e
def test_data_check_with_length_check_loads_no_model_weights(tmp_path):
    """The length check needs the tokenizer only: no model conversion, no weights, and still every mistake."""
    home = tmp_path / "home"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TUNEWISE_HOME": str(home)}
    proc = subprocess.run([sys.executable, "-m", "tunewise.cli", "data", "check", str(_bad_file(tmp_path))],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert sum(line.startswith("error:") for line in proc.stdout.splitlines()) == 5
    assert not (home / "models").exists() or not any((home / "models").rglob("*.safetensors"))


def test_methods_lists_every_rung_and_method_a_config_accepts(capsys):
    from tunewise.config import ALL_METHODS
    from tunewise.sections import RungName

    assert main(["methods"]) == 0
    listed = [line.split()[0] for line in capsys.readouterr().out.splitlines() if line.startswith("  ")]
    assert listed == [*RungName.__args__, *ALL_METHODS]


def test_ctrl_c_in_any_command_ends_with_one_line_and_status_130(monkeypatch, capsys):
    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_cmd_methods", interrupted)
    assert main(["methods"]) == 130
    assert capsys.readouterr().err == "tunewise: interrupted (Ctrl-C)\n"


def test_an_interrupted_run_exits_as_a_shell_says_of_its_signal(monkeypatch, capsys):
    def stopped(args):
        raise RunInterrupted("interrupted during rung lora: training stopped by SIGTERM ...", "SIGTERM")

    monkeypatch.setattr(cli, "_cmd_run", stopped)
    assert main(["run", "tunewise.yaml"]) == 143
    assert capsys.readouterr().err == "tunewise: interrupted during rung lora: training stopped by SIGTERM ...\n"
    assert RunInterrupted("interrupted during rung features").exit_code == 130
