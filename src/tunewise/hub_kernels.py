"""No kernel code from the Hugging Face Hub: bitsandbytes' CPU backend (QLoRA here, imported by PEFT) asks the
`kernels` library for a compiled kernel from the Hub when it is imported, on CPUs with AVX512-BF16. tunewise never
runs code fetched from the Hub, so `block()` (called when tunewise is imported) makes that one module see no
`kernels` library while it loads: bitsandbytes then computes with the kernels in its own wheel.

An import hook rather than an import: bitsandbytes loads torch, and `import tunewise` must stay fast (so this
module imports nothing beyond sys until the hook fires).
"""
from __future__ import annotations

import sys

FETCHING_MODULE = "bitsandbytes.backends.cpu.ops"  # calls kernels.get_kernel(...) at import


class _WithoutKernels:
    """A module loader that runs the module's code with `import kernels` failing, then puts `kernels` back."""

    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module) -> None:
        import logging

        # Its warning that it could not load the Hub kernel: expected, it computes with its own.
        logging.getLogger(FETCHING_MODULE).setLevel(logging.ERROR)
        had, before = "kernels" in sys.modules, sys.modules.get("kernels")
        sys.modules["kernels"] = None  # `from kernels import get_kernel` raises ImportError
        try:
            self.loader.exec_module(module)
        finally:
            if had:
                sys.modules["kernels"] = before
            else:
                del sys.modules["kernels"]


class _Finder:
    """A meta path finder that hands FETCHING_MODULE to _WithoutKernels and leaves every other module alone."""

    def find_spec(self, name, path, target=None):
        if name != FETCHING_MODULE:
            return None
        from importlib.machinery import PathFinder

        spec = PathFinder.find_spec(name, path, target)
        if spec is not None and spec.loader is not None:
            spec.loader = _WithoutKernels(spec.loader)
        return spec


def block() -> None:
    """Install the hook, once."""
    if not any(isinstance(finder, _Finder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _Finder())
