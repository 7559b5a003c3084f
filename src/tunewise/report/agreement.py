"""Which test examples each approach gets right: the best prompt, the best retrieval rung, LoRA, RAG + LoRA.

The counts say whether approaches fix the same examples or different ones (retrieval looks facts up, fine-tuning
remembers what it trained on); with a group field (e.g. the fact a question asks about) rows are groups.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from tunewise.evaluate.stats import right_means
from tunewise.records import Example

MAX_GROUPS = 40  # rows of the per-group table kept in the report


def compared_rungs(results: Sequence, metric: str) -> list[str]:
    """The best rung of each kind (prompting, retrieval, fine-tuning), then lora and rag_lora when they ran."""
    scored = [r for r in results if not r.skipped and r.correct is not None]
    names: list[str] = []
    for kind in ("prompting", "retrieval", "fine-tuning"):
        of_kind = [r for r in scored if r.kind == kind]
        if of_kind:
            names.append(max(of_kind, key=lambda r: r.metrics[metric]["value"]).name)
    names += [r.name for r in scored if r.name in ("lora", "rag_lora") and r.name not in names]
    return names


def agreement(results: Sequence, test: Sequence[Example], metric: str, group_field: str | None,
              train: Sequence[Example] = ()) -> dict | None:
    """The report's agreement section, or None with fewer than two rungs to compare.

    With a group field, test examples are also split by whether their group occurs in `train`: what fine-tuning
    can have memorised against what it can only have generalised (or a retriever looked up).
    """
    names = compared_rungs(results, metric)
    if len(names) < 2:
        return None
    correct = {r.name: r.correct for r in results if r.name in names}
    patterns = Counter(tuple(correct[n][i] for n in names) for i in range(len(test)))
    section = {
        "rungs": names,
        "right_means": right_means(metric),
        "patterns": [{"right": [n for n, ok in zip(names, key) if ok], "examples": count}
                     for key, count in sorted(patterns.items(), key=lambda kv: -kv[1])],
        "only": {n: sum(correct[n][i] and not any(correct[m][i] for m in names if m != n) for i in range(len(test)))
                 for n in names},
    }
    if group_field:
        section["group_field"] = group_field
        section["groups"] = _groups(test, correct, names, group_field)
        seen = {str(e.meta.get(group_field, "-")) for e in train}
        section["by_training"] = {
            which: {"examples": len(rows), "right": {n: sum(correct[n][i] for i in rows) for n in names}}
            for which, rows in (
                ("seen", [i for i, e in enumerate(test) if str(e.meta.get(group_field, "-")) in seen]),
                ("unseen", [i for i, e in enumerate(test) if str(e.meta.get(group_field, "-")) not in seen]),
            )
        }
    return section


def _groups(test: Sequence[Example], correct: dict[str, list[bool]], names: list[str], field: str) -> list[dict]:
    """Per group value: its example count and how many of them each rung gets right (most disagreement first)."""
    rows: dict[str, dict] = {}
    for i, example in enumerate(test):
        value = str(example.meta.get(field, "-"))
        row = rows.setdefault(value, {"group": value, "examples": 0, "right": dict.fromkeys(names, 0)})
        row["examples"] += 1
        for n in names:
            row["right"][n] += correct[n][i]
    ordered = sorted(rows.values(), key=lambda r: (-_spread(r), r["group"]))
    return ordered[:MAX_GROUPS]


def _spread(row: dict) -> float:
    shares = [k / row["examples"] for k in row["right"].values()]
    return max(shares) - min(shares)


def agreement_markdown(section: dict | None) -> list[str]:
    """report.md's view of the section."""
    if not section:
        return []
    names = section["rungs"]
    out = ["", "## Who gets what right", "",
           (f"Test examples by which of {', '.join(f'`{n}`' for n in names)} answer them correctly "
           f"(right = {section['right_means']})."), "",
           "| right with | examples |", "|---|---|"]
    out += [f"| {', '.join(p['right']) or 'none of them'} | {p['examples']} |" for p in section["patterns"]]
    out += ["", "Right with one rung only: " + ", ".join(f"`{n}` {k}" for n, k in section["only"].items()) + "."]
    if section.get("by_training"):
        field = section["group_field"]
        out += ["", f"Split by whether the example's `{field}` also occurs in the training split (right / examples):",
                "", "| " + field + " in train | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
        for which, row in section["by_training"].items():
            label = "yes (can be memorised)" if which == "seen" else "no (must be looked up or generalised)"
            out.append(f"| {label} | " + " | ".join(f"{row['right'][n]}/{row['examples']}" for n in names) + " |")
    if section.get("groups"):
        out += ["", f"Per `{section['group_field']}` (most disagreement first; right / examples):", "",
                "| " + section["group_field"] + " | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
        for row in section["groups"]:
            out.append(f"| {row['group']} | " + " | ".join(f"{row['right'][n]}/{row['examples']}" for n in names)
                       + " |")
    return out
