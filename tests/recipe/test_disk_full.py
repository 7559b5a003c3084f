"""A run that cannot write (the file size limit of a full disk) stops with an error naming the file and why, and
leaves an earlier run's folder exactly as it was."""
from __future__ import annotations

import hashlib
import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

from conftest import write_tiny_run_config

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}


def config(folder: Path, model_dir: Path) -> Path:
    return write_tiny_run_config(folder, model_dir, "{lr: 5.0e-3, max_steps: 4, batch_size: 8, precision: fp32}")


def limited(max_bytes: int):
    """A process whose files may not grow past `max_bytes`: writes fail with EFBIG, as on a full disk."""
    def apply():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # get the error instead of being killed
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_bytes, max_bytes))
    return apply


def digests(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_full_disk_is_a_clear_error_and_earlier_runs_are_untouched(tiny_model_dir, tmp_path):
    path = config(tmp_path, tiny_model_dir)
    first = subprocess.run([sys.executable, "-m", "tunewise.cli", "run", str(path)], capture_output=True, text=True,
                           env=ENV, timeout=600, check=False)
    assert first.returncode == 0, first.stderr[-2000:]
    [earlier] = list((tmp_path / "runs").iterdir())
    before = digests(earlier)

    # 8 KB per file: the config and small JSON files fit, the rung's weights do not.
    full = subprocess.run([sys.executable, "-m", "tunewise.cli", "run", str(path)], capture_output=True, text=True,
                          env=ENV, timeout=600, check=False, preexec_fn=limited(8_000))
    assert full.returncode == 2, full.stderr[-2000:]
    message = full.stderr.strip().splitlines()[-1]
    assert message.startswith("tunewise: error:") and "could not write (" in message and "File too large" in message
    assert ".safetensors" in message  # the file it could not write
    assert "Traceback" not in full.stderr
    assert digests(earlier) == before
    [failed] = [p for p in (tmp_path / "runs").iterdir() if p != earlier]
    assert not (failed / "report.json").exists()
