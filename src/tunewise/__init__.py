"""tunewise: should we fine-tune an LLM for this task, and how?

Runs prompting and fine-tuning rungs on the same held-out split and reports quality next to cost. The Python API
(tunewise.api) is available from here: `tunewise.run(config)`, `check`, `estimate`, `evaluate`, `load_report`,
and `load_config` to read a tunewise.yaml. They load on first use, so `import tunewise` (and `tunewise --help`)
stays fast.
"""
from tunewise import hub_kernels

__version__ = "0.1.0"

hub_kernels.block()  # bitsandbytes (imported by PEFT) would fetch a kernel from the Hub

PUBLIC_API = ("run", "check", "estimate", "evaluate", "load_report", "LadderResult")


def __getattr__(name: str):
    if name in PUBLIC_API:
        from tunewise import api

        return getattr(api, name)
    if name == "load_config":
        from tunewise.config import load_config

        return load_config
    raise AttributeError(f"module 'tunewise' has no attribute {name!r}")


__all__ = [*PUBLIC_API, "load_config"]
