"""docs/config.md is generated from the config models: it must be current, and every field must say what it does."""
from __future__ import annotations

from pathlib import Path

from tunewise.config import field_docs, type_words
from tunewise.config_doc import config_markdown

DOC = Path(__file__).resolve().parents[2] / "docs" / "config.md"


def test_docs_config_md_is_current():
    assert DOC.read_text(encoding="utf-8") == config_markdown(), "docs/config.md is stale: run `make docs`"


def test_every_field_is_documented_in_it():
    rows = field_docs()
    undocumented = [f.name for f in rows if not f.description]
    assert not undocumented, f"fields without a description: {undocumented}"
    text = config_markdown()
    assert all(f"| `{f.name}` |" in text for f in rows)
    assert "| `train.max_epochs` | float |" in text and "| `train.lr` | float or null |" in text
    assert "| `data.format` | 'auto' \\| 'preference' \\| 'kto' \\| 'chat'" in text


def test_types_read_as_words():
    from typing import Literal

    assert type_words(Literal["a", "b"]) == "'a' | 'b'"
    assert type_words(int | None) == "int or null"
    assert type_words(list[str]) == "list of str"
