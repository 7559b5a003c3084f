"""docs/config.md, generated from the config models' field docs so the reference never drifts from the code.

Regenerate with `python -m tunewise.config_doc > docs/config.md` (`make docs`); a test checks the file is current.
"""
from __future__ import annotations

from tunewise.config import Config, field_docs
from tunewise.methods import SECTIONS

HEADER = """# Configuration reference

Generated from the config models by `make docs`; do not edit by hand. The shared sections live in
`src/tunewise/sections.py`, `tune` in `src/tunewise/config.py`, and each method's section in its module under
`src/tunewise/methods/` (named under its heading).
Every field can be set in `tunewise.yaml` or on the command line with `--set section.field=value`;
`tunewise config show tunewise.yaml` prints a resolved config, `tunewise config show --doc` this list.
"""


def config_markdown() -> str:
    """The whole reference: one table per top-level section, in the order Config declares them."""
    out = [HEADER]
    rows = field_docs()
    owners = {spec.key: spec.model.__module__ for spec in SECTIONS}
    for section, info in Config.model_fields.items():
        fields = [r for r in rows if r.name == section or r.name.startswith(f"{section}.")
                  or r.name.startswith(f"{section}[]")]
        owner = f" (`{owners[section]}`)" if section in owners else ""
        out += [f"## `{section}`", "", (info.description or "") + owner, "",
                "| field | type | default | what it does |", "|---|---|---|---|"]
        out += [f"| `{f.name}` | {_cell(f.kind)} | {_cell(f.default) if f.default else 'required'} | "
                f"{_cell(f.description)} |" for f in fields]
        out.append("")
    return "\n".join(out)


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")


if __name__ == "__main__":
    print(config_markdown(), end="")
