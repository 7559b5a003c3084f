"""Fine-tuning methods, one module each, and the registry every other part derives them from.

A method module owns its config section (`SECTION`, a SectionSpec or None), its rung class(es) and, per name it
provides, a MethodSpec (`METHODS`: name, one-line summary, rung factory). `MODULES` below is the registry, in the
order a plan runs the methods (roughly cheapest first); the config's `methods:` names and sections, `tunewise
methods`, docs/config.md and the plan all come from it. Adding a method is one new module, its line here, its
configs/ YAML and its tests (docs/architecture.md walks through it).
"""
from __future__ import annotations

from tunewise.methods import (
    alignment,
    bottleneck,
    classifier,
    composition,
    dapt,
    features,
    freeze,
    full,
    ia3,
    lora,
    multitask,
    prompt_learning,
    qlora,
    rag_lora,
    reward,
    rl,
)
from tunewise.methods.spec import MethodSpec, SectionSpec

MODULES = (
    features, freeze, prompt_learning, ia3, lora, bottleneck, classifier, dapt, multitask, composition, full, qlora,
    rag_lora, alignment, reward, rl,
)
METHODS: dict[str, MethodSpec] = {spec.name: spec for module in MODULES for spec in module.METHODS}
SECTIONS: list[SectionSpec] = [module.SECTION for module in MODULES if module.SECTION is not None]
