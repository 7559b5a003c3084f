"""Views of report.json: the terminal table and report.md.

Both read only the report dictionary, so `tunewise report runs/<id>` shows exactly what the run recorded.
"""
from __future__ import annotations

COLUMNS = ["rung", "metric (95% CI)", "train s", "predict s", "peak RSS", "trainable", "disk", "full/disk", "tok/s"]


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return str(n)


def _count(n: int) -> str:
    if n >= 1e6:
        return f"{n / 1e6:.2f}M"
    if n >= 1e3:
        return f"{n / 1e3:.1f}K"
    return str(n)


def rung_rows(report: dict) -> list[list[str]]:
    """One row of strings per rung, in ladder order."""
    metric = report["primary_metric"]
    rows = []
    for rung in report["rungs"]:
        if rung.get("skipped"):
            rows.append([rung["name"], f"skipped: {rung['skipped']}", *["-"] * (len(COLUMNS) - 2)])
            continue
        m, c = rung["metrics"][metric], rung["cost"]
        rows.append([
            rung["name"] + (" *" if rung["name"] == report["recommendation"]["rung"] else ""),
            f"{m['value']:.3f} [{m['ci_low']:.3f}, {m['ci_high']:.3f}]",
            f"{c['fit_wall_s']:.1f}",
            f"{c['predict_wall_s']:.1f}",
            _size(c["peak_rss_bytes"]),
            _count(c["trainable_params"]),
            _size(c["disk_bytes"]),
            f"{c['storage_ratio']:g}x" if "storage_ratio" in c else "-",
            f"{c['train_tokens_per_s']:.0f}" if "train_tokens_per_s" in c else "-",
        ])
    return rows


def terminal_table(report: dict) -> str:
    """A fixed-width table of rungs plus the recommendation."""
    header = [COLUMNS[0], f"{report['primary_metric']} (95% CI)", *COLUMNS[2:]]
    rows = [header, *rung_rows(report)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    rec = report["recommendation"]
    lines += ["", f"Recommendation: {rec['rung']}  (* in the table)", rec["reason"]]
    return "\n".join(lines)


def markdown(report: dict) -> str:
    """report.md: summary, rung table, all metrics, data and leakage, how to reproduce."""
    rec, data, task = report["recommendation"], report["data"], report["task"]
    header = ["rung", f"{report['primary_metric']} (95% CI)", *COLUMNS[2:]]
    out = [
        f"# tunewise report — run {report['run_id']}",
        "",
        f"**Recommendation: `{rec['rung']}`.** {rec['reason']}",
        "",
        "Next steps:",
        *[f"- {s}" for s in rec["next_steps"]],
        "",
        "## Rungs",
        "",
        f"Task: {task['type']}; primary metric: {report['primary_metric']}; "
        f"{data.get('scored_test_examples', '?')} test examples, "
        "the same for every rung. `*` marks the recommendation. full/disk: bytes of a whole fine-tuned copy of "
        "the base over the bytes this rung stores.",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *["| " + " | ".join(r) + " |" for r in rung_rows(report)],
        "",
        "## All metrics",
        "",
    ]
    scored = [r for r in report["rungs"] if not r.get("skipped")]
    metric_names = list(scored[0]["metrics"]) if scored else []
    out += ["| rung | " + " | ".join(metric_names) + " |", "|---|" + "---|" * len(metric_names)]
    for rung in scored:
        cells = [f"{rung['metrics'][n]['value']:.3f} [{rung['metrics'][n]['ci_low']:.3f}, "
                 f"{rung['metrics'][n]['ci_high']:.3f}]" for n in metric_names]
        out.append(f"| {rung['name']} | " + " | ".join(cells) + " |")
    out += ["", "## Rungs in words", ""]
    out += [f"- `{r['name']}` ({r['kind']}): {r['description']}" for r in report["rungs"]]
    for rung in report["rungs"]:
        t = rung.get("training")
        if t and "curve" in t:  # trained in the loop (feature-based rungs fit a solver instead)
            out += [
                "",
                f"## Training: {rung['name']}",
                "",
                f"{t['steps']} optimizer steps ({t['epochs_done']:.2f} epochs), best validation loss "
                f"{t['best_val_loss']:.4f} at step {t['best_step']}, early stop: {t['stopped_early']}; "
                f"{t['real_tokens']:,} real tokens at {t['tokens_per_s']:.0f} tokens/s "
                f"({t['wall_s']:.0f} s).",
                "",
                "| step | train loss | val loss |",
                "|---|---|---|",
            ]
            train_loss = {p["step"]: p.get("loss") for p in t["curve"] if p.get("loss") is not None}
            out += [f"| {p['step']} | {_loss(train_loss.get(p['step']))} | {_loss(p['val_loss'])} |"
                    for p in t["curve"] if p.get("val_loss") is not None]
    out += ["", "## Data", "", "```json", _json(data_overview(data)), "```", "",
            "## Reproduce", "", f"`tunewise run {report['run_dir']}/config.yaml` (seed {report['config']['seed']}).",
            ""]
    return "\n".join(out)


def _loss(v) -> str:
    return "-" if v is None else f"{v:.4f}"


def data_overview(data: dict) -> dict:
    """The data summary without the (long) split id lists."""
    return {k: v for k, v in data.items() if k not in ("split_ids", "ids")}


def _json(obj) -> str:
    import json

    return json.dumps(obj, indent=2, ensure_ascii=False, default=str)
