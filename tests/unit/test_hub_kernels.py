"""Importing bitsandbytes (PEFT does, for QLoRA) after tunewise asks the Hub for no kernel code."""
import subprocess
import sys

import pytest

# A `kernels` library whose get_kernel only records that it was asked; then bitsandbytes is imported.
PROBE = """
import sys, types
asked = []
sys.modules["kernels"] = types.SimpleNamespace(get_kernel=lambda repo, **kw: asked.append(repo) or 1 / 0)
{first}
import bitsandbytes
print(asked)
"""


def _asked(first: str) -> str:
    done = subprocess.run([sys.executable, "-c", PROBE.format(first=first)], capture_output=True, text=True,
                          check=True, env={"HF_HUB_OFFLINE": "1", "PATH": ""})
    return done.stdout.strip()


def test_bitsandbytes_fetches_no_kernel_from_the_hub_under_tunewise():
    alone = _asked("")
    if alone == "[]":
        pytest.skip("this CPU has no AVX512-BF16: bitsandbytes asks for no Hub kernel here anyway")
    assert alone == "['kernels-community/quantization-bitsandbytes']"  # what it does on its own
    assert _asked("import tunewise") == "[]"
