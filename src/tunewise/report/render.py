"""Views of report.json: the terminal table and report.md.

Both read only the report dictionary, so `tunewise report runs/<id>` shows exactly what the run recorded.
"""
from __future__ import annotations

from tunewise.evaluate.forgetting import forgetting_markdown
from tunewise.report.agreement import agreement_markdown
from tunewise.report.errors import error_analysis_markdown
from tunewise.report.svg import line_chart
from tunewise.report.units import count_text, size_text

# The rung table. "total" (header from table_header) is training + the expected predictions (decision section).
COLUMNS = ["rung", "metric (95% CI)", "train s", "predict s", "s/example", "prompt tok", "predict RSS", "total",
           "peak RSS", "trainable", "disk", "full/disk", "tok/s"]
UNDERTRAINED = "‡"  # after a rung's name: still improving when training stopped


def table_header(report: dict) -> list[str]:
    """COLUMNS with the primary metric's name and the volume the total is priced at."""
    header = [COLUMNS[0], f"{report['primary_metric']} (95% CI)", *COLUMNS[2:]]
    cost = report["recommendation"].get("cost")
    if cost:
        unit = "s" if cost["unit"] == "seconds" else "cost"
        header[COLUMNS.index("total")] = f"total {unit} at {cost['expected_predictions']:,}"
    return header


def rung_label(rung: dict, report: dict) -> str:
    """The rung's name with its markers: * recommended, † best prompting rung, ‡ undertrained."""
    prompting = best_by_kind(report).get("prompting")
    best_prompt = prompting["name"] if prompting and len(report["rungs"]) > 1 else None
    return (rung["name"] + (" *" if rung["name"] == report["recommendation"]["rung"] else "")
            + (" †" if rung["name"] == best_prompt else "") + (f" {UNDERTRAINED}" if is_undertrained(rung) else ""))


def is_undertrained(rung: dict) -> bool:
    """A fine-tuned rung whose validation loss was still improving when training stopped (its score is a floor)."""
    return rung.get("kind") == "fine-tuning" and bool((rung.get("training") or {}).get("undertrained", False))


def seconds_per_example(rung: dict, report: dict) -> float | None:
    """cost.predict_s_per_example; for reports written before it, the test-set seconds over the scored examples."""
    c = rung.get("cost") or {}
    if c.get("predict_s_per_example") is not None:
        return c["predict_s_per_example"]
    n = report["data"].get("scored_test_examples")
    return c["predict_wall_s"] / n if n and "predict_wall_s" in c else None


def total_cost(rung: dict, report: dict) -> float | None:
    """The rung's total at the expected volume (recommendation.cost); None in reports written before it."""
    cost = report["recommendation"].get("cost") or {}
    return (cost.get("per_rung") or {}).get(rung["name"], {}).get("total")


def amount_text(value: float | None, report: dict) -> str:
    """A total as the table shows it: seconds (404, 27,010) or a priced amount (0.1123)."""
    if value is None:
        return "-"
    if (report["recommendation"].get("cost") or {}).get("unit") == "priced":
        return f"{value:,.4g}"
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


def per_example_text(s: float | None) -> str:
    return "-" if s is None else f"{s:.3g}"


def table_notes(report: dict) -> list[str]:
    """Lines under the rung table: what ‡ means (when a rung has it), and a many-label task's candidate scoring."""
    notes = []
    short = [r["name"] for r in report["rungs"] if is_undertrained(r)]
    if short:
        notes.append(f"{UNDERTRAINED} undertrained ({', '.join(short)}): validation loss was still improving when "
                     "training stopped, so the score is a lower bound, not a verdict on fine-tuning.")
    candidates = report["data"].get("candidate_labels")
    if candidates:
        notes.append(f"Scored on candidate labels only: {candidates['per_example']} per test example, proposed by "
                     f"{candidates['proposed_by']}; the right label is among them for "
                     f"{candidates['gold_among_candidates']:.1%} of the test examples (no rung can score above that).")
    return notes


def rung_rows(report: dict) -> list[list[str]]:
    """One row of strings per rung, in ladder order."""
    metric = report["primary_metric"]
    rows = []
    for rung in report["rungs"]:
        if rung.get("skipped"):
            rows.append([rung["name"], f"skipped: {rung['skipped']}", *["-"] * (len(COLUMNS) - 2)])
            continue
        m, c = rung["metrics"][metric], rung["cost"]
        tokens = c.get("prompt_tokens_per_example")
        rows.append([
            rung_label(rung, report),
            interval_text(m),
            f"{c['fit_wall_s']:.1f}",
            f"{c['predict_wall_s']:.1f}",
            per_example_text(seconds_per_example(rung, report)),
            "-" if tokens is None else f"{tokens:.0f}",
            size_text(c.get("predict_peak_rss_bytes")),
            amount_text(total_cost(rung, report), report),
            size_text(c["peak_rss_bytes"]),
            count_text(c["trainable_params"]),
            size_text(c["disk_bytes"]),
            f"{c['storage_ratio']:g}x" if "storage_ratio" in c else "-",
            f"{c['train_tokens_per_s']:.0f}" if "train_tokens_per_s" in c else "-",
        ])
    return rows


def partial_words(report: dict) -> str | None:
    """A partial report's warning (the run was interrupted): where it stopped, which rungs it compares, how to
    finish it; None for a full report."""
    p = report.get("partial")
    if not p:
        return None
    left = f"; not finished: {', '.join(p['not_finished'])}" if p["not_finished"] else ""
    return (f"The run was interrupted during {p['interrupted']}, so this report compares only the rungs that "
            f"finished ({', '.join(p['finished'])}){left}. `{p['resume']}` runs the rest and replaces this report "
            "with the full one.")


def terminal_table(report: dict) -> str:
    """A fixed-width table of rungs plus the recommendation (after a partial report's warning)."""
    header = table_header(report)
    rows = [header, *rung_rows(report)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    partial = partial_words(report)
    if partial:
        lines = [f"Partial report. {partial}", "", *lines]
    section = report.get("multitask")
    if section:
        compared = _multitask_columns(section)
        lines += ["", f"Multi-task (single-task LoRA -> {' | '.join(words for _, words in compared)}, per task):"]
        lines += [f"  {row['task']}: {row['metric']} {interval_text(row['single_task'])} -> "
                  + " | ".join(interval_text(row[key]) for key, _ in compared) for row in section["rows"]]
    notes = table_notes(report)
    lines += ["", *notes] if notes else []
    rec = report["recommendation"]
    lines += ["", f"Recommendation: {rec['rung']}  (* in the table; † best prompting rung)", rec["reason"]]
    return "\n".join(lines)


def markdown(report: dict) -> str:
    """report.md: summary, rung table, all metrics, data and leakage, how to reproduce; a partial report (the run
    was interrupted) says so first."""
    rec, data, task = report["recommendation"], report["data"], report["task"]
    header = table_header(report)
    partial = partial_words(report)
    out = [
        f"# tunewise report — run {report['run_id']}" + (" (partial)" if partial else ""),
        "",
        *([f"> **Partial report.** {partial}", ""] if partial else []),
        f"**Recommendation: `{rec['rung']}`.** {rec['reason']}",
        "",
        "Next steps:",
        *[f"- {s}" for s in rec["next_steps"]],
        "",
        "## Rungs",
        "",
        (f"Task: {task['type']}; primary metric: {report['primary_metric']}; "
        f"{data.get('scored_test_examples', '?')} test examples, "
        "the same for every rung. `*` marks the recommendation, `†` the best prompting rung. "
        + cost_columns_words(report) + _decoding(report.get("decoding"))),
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *["| " + " | ".join(r) + " |" for r in rung_rows(report)],
        "",
        *[line for note in table_notes(report) for line in (note, "")],
    ]
    out += all_metrics_markdown(report)
    out += prompting_markdown(report)
    out += retrieval_markdown(report)
    out += alignment_markdown(report)
    out += rungs_in_words_markdown(report)
    for rung in report["rungs"]:
        t = rung.get("training")
        if t and "curve" in t:  # trained in the loop (feature-based rungs fit a solver instead)
            out += [
                "",
                f"## Training: {rung['name']}",
                "",
                training_words(t),
                "",
                "| step | train loss | val loss |",
                "|---|---|---|",
            ]
            train_loss = {p["step"]: p.get("loss") for p in t["curve"] if p.get("loss") is not None}
            out += [f"| {p['step']} | {_loss(train_loss.get(p['step']))} | {_loss(p['val_loss'])} |"
                    for p in t["curve"] if p.get("val_loss") is not None]
    out += classes_markdown(report)
    out += significance_markdown(report.get("significance"))
    out += agreement_markdown(report.get("agreement"))
    out += forgetting_markdown(report.get("forgetting"))
    out += error_analysis_markdown(report.get("errors"))
    out += multitask_markdown(report)
    out += ["", "## Data", "", *balance_lines(data), "```json", _json(data_overview(data)), "```", "",
            "## Reproduce", "", f"`tunewise run {report['run_dir']}/config.yaml` (seed {report['config']['seed']}).",
            ""]
    return "\n".join(out)


def cost_columns_words(report: dict) -> str:
    """What the rung table's cost columns mean (report.md; the HTML page's caption says the same)."""
    batch = (report["config"].get("eval") or {}).get("batch_size")
    cost = report["recommendation"].get("cost")
    total = ""
    if cost:
        priced = "in seconds"
        if cost["unit"] == "priced":
            priced = f"priced at {cost['cpu_hour_cost']:g} per machine-hour"
            if cost.get("storage_gb_cost") is not None:
                priced += f" plus {cost['storage_gb_cost']:g} per GB stored"
        total = (f" total: training once + {cost['expected_predictions']:,} predictions (decision.expected_predictions)"
                 f" at s/example, {priced}.")
    return (f"s/example: predict seconds per test example (eval.batch_size {batch}); prompt tok: mean tokens the "
            "model read per example; predict RSS: peak memory while predicting; peak RSS: over fit and predict."
            f"{total} full/disk: bytes of a whole fine-tuned copy of the base over the bytes this rung stores.")


def all_metrics_markdown(report: dict) -> list[str]:
    """Every metric of every scored rung, with its interval."""
    scored = [r for r in report["rungs"] if not r.get("skipped")]
    metric_names = list(scored[0]["metrics"]) if scored else []
    out = ["## All metrics", "", "| rung | " + " | ".join(metric_names) + " |", "|---|" + "---|" * len(metric_names)]
    for rung in scored:
        cells = [interval_text(rung["metrics"][n]) for n in metric_names]
        name = rung["name"] + (f" {UNDERTRAINED}" if is_undertrained(rung) else "")
        out.append(f"| {name} | " + " | ".join(cells) + " |")
    return out


def rungs_in_words_markdown(report: dict) -> list[str]:
    """Each rung's kind and description, with its notes."""
    out = ["", "## Rungs in words", ""]
    for r in report["rungs"]:
        out.append(f"- `{r['name']}` ({r['kind']}): {r['description']}")
        out += [f"  - {note}" for note in r.get("notes") or []]
    return out


def training_words(t: dict) -> str:
    """One sentence on a trained rung's run: steps, best validation loss, early stop, tokens and speed; and, when
    it was still improving at the end, that it is undertrained."""
    best = ("no validation loss" if t.get("best_val_loss") is None else
            f"best validation loss {t['best_val_loss']:.4f} at step {t['best_step']}")
    words = (f"{t['steps']} optimizer steps ({t['epochs_done']:.2f} epochs), {best}, early stop: "
             f"{t['stopped_early']}; {t['real_tokens']:,} real tokens at {t['tokens_per_s']:.0f} tokens/s "
             f"({t['wall_s']:.0f} s).")
    rewards = [e["reward"] for e in t.get("curve") or [] if e.get("reward") is not None]
    if rewards:  # on-policy RL: what it optimised, from the first step to the last
        words += f" Mean reward {rewards[0]:.3f} at the first step, {rewards[-1]:.3f} at the last."
    if t.get("undertrained"):
        stop = f" (stopped by {t['stop_reason'].replace('_', ' ')})" if t.get("stop_reason") else ""
        words += f" {UNDERTRAINED} Undertrained: validation loss was still improving when training stopped{stop}."
    return words


def k_sweep(report: dict) -> dict[str, list[tuple[int, float, float, float]]]:
    """Per demo selection: (k, value, ci_low, ci_high) of the primary metric, zero_shot as k=0 of every curve."""
    metric = report["primary_metric"]
    scored = [r for r in report["rungs"] if not r.get("skipped")]
    zero = next((r for r in scored if r["name"] == "zero_shot"), None)
    curves: dict[str, list[tuple[int, float, float, float]]] = {}
    for rung in scored:
        prompt = rung.get("prompt") or {}
        if prompt.get("style") == "few_shot":
            m = rung["metrics"][metric]
            curves.setdefault(prompt["selection"], []).append((prompt["k"], m["value"], m["ci_low"], m["ci_high"]))
    if zero is not None:
        m = zero["metrics"][metric]
        for points in curves.values():
            points.append((0, m["value"], m["ci_low"], m["ci_high"]))
    return {name: sorted(points) for name, points in curves.items()}


def k_sweep_svg(report: dict) -> str | None:
    """The k-sweep as an SVG line chart (None without few-shot rungs)."""
    curves = k_sweep(report)
    if not curves:
        return None
    metric = report["primary_metric"]
    return line_chart(curves, f"{metric} by number of demonstrations", "k (demonstrations)", f"{metric} (95% CI)")


def best_by_kind(report: dict) -> dict[str, dict]:
    """The highest-scoring scored rung of each kind (prompting, fine-tuning, retrieval...)."""
    metric = report["primary_metric"]
    best: dict[str, dict] = {}
    for rung in report["rungs"]:
        if rung.get("skipped"):
            continue
        if rung["kind"] not in best or rung["metrics"][metric]["value"] > best[rung["kind"]]["metrics"][metric]["value"]:
            best[rung["kind"]] = rung
    return best


def prompting_markdown(report: dict) -> list[str]:
    """The best prompting rung against the best fine-tuned one, and the k-sweep table (with its chart)."""
    metric = report["primary_metric"]
    best = best_by_kind(report)
    out = []
    if "prompting" in best:
        p = best["prompting"]
        out += ["", "## Prompting", "",
                f"Best prompting rung: **`{p['name']}`**, {metric} {interval_text(p['metrics'][metric])}."]
        for kind, words in (("retrieval", "retrieval-augmented"), ("fine-tuning", "fine-tuned")):
            if kind in best:
                out.append(_versus(best[kind], p, metric, words))
    curves = k_sweep(report)
    if curves:
        ks = sorted({k for points in curves.values() for k, *_ in points})
        out += ["", f"### k-sweep ({metric} by number of demonstrations; k=0 is zero_shot)", "",
                "![k-sweep](k_sweep.svg)", "",
                "| k | " + " | ".join(curves) + " |", "|---|" + "---|" * len(curves)]
        for k in ks:
            cells = [next((interval_text({"value": v, "ci_low": lo, "ci_high": hi}) for kk, v, lo, hi in points
                           if kk == k), "-") for points in curves.values()]
            out.append(f"| {k} | " + " | ".join(cells) + " |")
    return out


def retrieval_markdown(report: dict) -> list[str]:
    """recall@k of each retrieval-augmented rung, where the data carries gold source ids."""
    rows = [r for r in report["rungs"] if r.get("retrieval") and r["retrieval"].get("with_gold")]
    if not rows:
        return []
    ks = [key for key in rows[0]["retrieval"] if key.startswith("recall@")]
    out = ["", "## Retrieval", "",
           (f"Share of test questions with a gold source among the first k retrieved chunks "
           f"({rows[0]['retrieval']['with_gold']} questions carry gold source ids)."), "",
           "| rung | retriever | " + " | ".join(ks) + " |", "|---|---|" + "---|" * len(ks)]
    for rung in rows:
        cells = [interval_text(rung["retrieval"][k]) for k in ks]
        out.append(f"| {rung['name']} | {rung['retrieval']['retriever']} | " + " | ".join(cells) + " |")
    return out


def alignment_markdown(report: dict) -> list[str]:
    """The preference-trained rungs beyond their answers: held-out preference accuracy, the chosen replies' log-prob
    drift, KL to the model each started from, and each against sft (paired tests on the same test items)."""
    rows = [r for r in report["rungs"] if r.get("alignment")]
    if not rows:
        return []
    metric = report["task"]["metric"]
    out = ["", "## Alignment", "",
           "Preference accuracy: held-out pairs whose chosen reply the rung's model finds more likely. Implicit reward "
           "accuracy: pairs where it raised the chosen reply's log-prob more than the rejected one's, relative to its "
           "reference (DPO's implicit reward). Chosen drift: "
           "mean change of the chosen replies' log-prob from the reference (negative: DPO-style likelihood "
           "displacement). KL: mean log-ratio to the reference on the rung's own answers (per answer; per token). "
           "vs sft: difference and paired p-value (McNemar for 0/1 scores).", "",
           "Reward win rate: share of test prompts where the run's reward model prefers the rung's answer to sft's "
           "(ties half); reward accuracy: the reward model's own held-out pairwise accuracy.", "",
           f"| rung | reference | preference accuracy | implicit reward accuracy | chosen drift | KL to reference | "
           f"{metric} vs sft | preference accuracy vs sft | reward win rate vs sft |", "|---" * 9 + "|"]
    for rung in rows:
        a = rung["alignment"]
        kl = f"{interval_text(a['kl_to_reference'])}; {a['kl_per_token']:.3f}/token" if "kl_to_reference" in a else "-"
        vs = a.get("vs_sft") or {}
        accuracy = a.get("preference_accuracy") or a.get("reward_accuracy")  # a reward model's: its pairwise one
        cells = [interval_text(a.get(k)) for k in ("implicit_reward_accuracy", "chosen_logp_drift",
                                                    "reward_win_rate_vs_sft")]
        out.append(f"| {rung['name']} | {a['reference']} | {interval_text(accuracy)} | {cells[0]} | {cells[1]} | "
                   f"{kl} | {_against_sft(vs.get(metric))} | {_against_sft(vs.get('preference_accuracy'))} | "
                   f"{cells[2]} |")
    return out


def _against_sft(comparison: dict | None) -> str:
    if not comparison:
        return "-"
    p = comparison["p_mcnemar"] if comparison.get("p_mcnemar") is not None else comparison["p_bootstrap"]
    return f"{comparison['difference']:+.3f} (p={p:.3g})"


def classes_markdown(report: dict, most_confused: int = 10) -> list[str]:
    """The recommended rung's per-label precision/recall/F1 and its most confused label pairs (classification)."""
    rung = next((r for r in report["rungs"] if r["name"] == report["recommendation"]["rung"]), None)
    if not rung or not rung.get("per_class"):
        return []
    labels, matrix = rung["per_class"]["confusion"]["labels"], rung["per_class"]["confusion"]["counts"]
    out = ["", f"## Per label: `{rung['name']}`", "", "| label | precision | recall | F1 | support |",
           "|---|---|---|---|---|"]
    for label, m in rung["per_class"]["labels"].items():
        out.append(f"| {label} | {m['precision']:.3f} | {m['recall']:.3f} | {m['f1']:.3f} | {m['support']} |")
    pairs = sorted(((matrix[i][j], labels[i], labels[j]) for i in range(len(labels)) for j in range(len(labels))
                    if i != j and matrix[i][j]), reverse=True)[:most_confused]
    if pairs:
        out += ["", "Most confused (reference -> predicted: test items):", ""]
        out += [f"- {ref} -> {pred}: {n}" for n, ref, pred in pairs]
    return out


def _decoding(how: dict | None) -> str:
    """' Decoding: ...' for generation tasks: the one way every rung decoded."""
    if not how:
        return ""
    if how["strategy"] == "greedy":
        words = "greedy"
    else:
        words = f"sampling (temperature {how['temperature']:g}, top_p {how['top_p']:g}, seed {how['seed']})"
    stop = f", stop strings {', '.join(repr(s) for s in how['stop'])}" if how["stop"] else ""
    return f" Decoding, every rung alike: {words}, at most {how['max_new_tokens']} new tokens{stop}."


def significance_markdown(section: dict | None) -> list[str]:
    """Paired tests of every rung against the best one (same test items)."""
    if not section:
        return []
    out = ["", f"## Paired tests against `{section['best']}`", "",
           (f"Per-item {section['metric']} of the best rung minus each rung's, on the same test items: the paired "
           "bootstrap's interval and two-sided p-value, and McNemar's exact test where items are right or wrong. "
           f"The recommendation counts a rung as good as the best unless p < {section.get('alpha', 0.05):g} "
           "(McNemar where there is one, else the bootstrap)."),
           "", "| rung | difference (95% CI) | p (bootstrap) | p (McNemar) | only best / only this |",
           "|---|---|---|---|---|"]
    for row in section["rows"]:
        mcnemar = "-" if row["p_mcnemar"] is None else f"{row['p_mcnemar']:.3g}"
        counts = "-" if row["a_only"] is None else f"{row['a_only']} / {row['b_only']}"
        out.append(f"| {row['rung']} | {row['difference']:+.3f} [{row['ci_low']:+.3f}, {row['ci_high']:+.3f}] | "
                   f"{row['p_bootstrap']:.3g} | {mcnemar} | {counts} |")
    return out


def _versus(rung: dict, prompt: dict, metric: str, words: str) -> str:
    """'Best <words> rung: ... +x points over the best prompt (the intervals overlap / do not overlap).'"""
    m, p = rung["metrics"][metric], prompt["metrics"][metric]
    overlap = m["ci_low"] <= p["ci_high"] and p["ci_low"] <= m["ci_high"]
    verdict = "the intervals overlap" if overlap else "the intervals do not overlap"
    return (f"Best {words} rung: `{rung['name']}`, {interval_text(m)}: {(m['value'] - p['value']) * 100:+.1f} points "
            f"over the best prompt ({verdict}).")


def _multitask_columns(section: dict) -> list[tuple[str, str]]:
    """(row key, words) of the rungs the multi-task section sets next to the single-task LoRAs: the multitask LoRA
    (when it has a mixture) and the composed adapter (when it has a composition)."""
    columns = [("multitask", "multitask LoRA")] if section.get("mixture") is not None else []
    return columns + ([("composition", "composed adapter")] if section.get("composition") else [])


def multitask_markdown(report: dict) -> list[str]:
    """The multi-task section: per task one LoRA per task next to the mixture's one LoRA and the composed adapter."""
    section = report.get("multitask")
    if not section:
        return []
    words = []
    if section.get("mixture") is not None:
        mixture = ", ".join(f"{m['task']} {m['share']:.0%} ({m['train_examples']} train, weight {m['weight']:g})"
                            for m in section["mixture"])
        words.append(f"The `multitask` rung trains one LoRA on a mixture of every task (each with its own "
                     f"instruction): {mixture}.")
    composition = section.get("composition")
    if composition:
        weights = ", ".join(f"{task} {w:g}" for task, w in composition["weights"].items())
        words.append(f"The `composition` rung adds the single-task LoRAs into one adapter without training "
                     f"({composition['combination_type']}; weights {weights}).")
    words.append(f"Each task is scored on its own test set; `single-task` is a LoRA trained on that task alone (for "
                 f"`{section['main_task']}`, this run's task, the `lora` rung).")
    columns = _multitask_columns(section)
    header = ["task", "metric", "single-task LoRA (95% CI)"]
    for _, name in columns:
        header += [f"{name} (95% CI)", "difference"]
    out = ["", "## Multi-task", "", " ".join(words), "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in section["rows"]:
        cells = [row["task"], row["metric"], interval_text(row["single_task"])]
        for key, _ in columns:
            diff = row["difference" if key == "multitask" else f"{key}_difference"]
            cells += [interval_text(row[key]), "-" if diff is None else f"{diff * 100:+.1f} points"]
        out.append("| " + " | ".join(cells) + " |")
    return out


def interval_text(m: dict | None) -> str:
    return "-" if m is None else f"{m['value']:.3f} [{m['ci_low']:.3f}, {m['ci_high']:.3f}]"


def _loss(v) -> str:
    return "-" if v is None else f"{v:.4f}"


def data_overview(data: dict) -> dict:
    """The data summary without the (long) split id lists, nor the class balance and length histograms, which
    report.html draws and report.md sums up in one line."""
    return {k: v for k, v in data.items() if k not in ("split_ids", "ids", "balance", "lengths")}


def balance_lines(data: dict) -> list[str]:
    """One line: examples per label in each split ("billing 40/5/5 (train/val/test)"), then a blank line; nothing
    for a report without `data.balance` (generation tasks, reports written before it)."""
    balance = data.get("balance")
    if not balance:
        return []
    splits = list(balance)
    labels = list(balance[splits[0]])
    per_label = ", ".join(f"{label} {'/'.join(str(balance[s].get(label, 0)) for s in splits)}" for label in labels)
    return [f"Class balance, examples per label ({'/'.join(splits)}): {per_label}.", ""]


def _json(obj) -> str:
    import json

    return json.dumps(obj, indent=2, ensure_ascii=False, default=str)
