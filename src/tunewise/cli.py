"""Command-line interface: argument parsing only; each command calls the module that does the work (the public API
in `tunewise.api` for run, data check, report and eval; `init_config`, `tune`, `serve`, `export`, `registry`).

Errors meant for people (TunewiseError) are printed without a traceback and exit with status 2. Ctrl-C ends any
command with one line and status 130 (SIGTERM while `tunewise run` trains: 143); an interrupted run's line says
what it kept and how to resume.
"""
from __future__ import annotations

import argparse
import errno
import os
import sys
from pathlib import Path

from tunewise import __version__
from tunewise.distributed import is_main
from tunewise.errors import RunInterrupted, TunewiseError, write_failure
from tunewise.io import write_json
from tunewise.question_sets import FORMAT_SHAPES, FORMATS
from tunewise.serve.settings import ServeSettings as ServeDefaults

# Why a write fails for want of room or permission: no space, over quota, file too large, read-only, denied.
WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EACCES, errno.EPERM}

EPILOG = """\
examples:
  tunewise init my_data.jsonl                               # a commented tunewise.yaml for your data, sized to this machine
  tunewise data check examples/support_tickets/tunewise.yaml
  tunewise run examples/support_tickets/tunewise.yaml --set train.epochs=1
  tunewise run --resume runs/<id>                           # continue a stopped run where it stopped
  tunewise tune tunewise.yaml --trials 20                   # search lr, rank, ... on validation loss -> best.yaml
  tunewise tune tunewise.yaml --trials 10 --storage sqlite:///tune.db --study lr-search   # continue a study
  tunewise report runs/<id>
  tunewise export runs/<id>                                 # the recommended rung, whatever its kind -> a folder
  tunewise predict runs/<id>/exports/<rung>-package inputs.jsonl   # offline predictions from that folder
  tunewise export runs/<id> --format merged --out my-model   # an adapter merged into the base
  tunewise serve runs/<id> --port 8000                      # OpenAI-compatible API over the run's adapters
  tunewise eval runs/<id>                                   # re-score saved predictions, no model loaded
  tunewise eval smollm2 --benchmark arc.jsonl --format arc  # multiple-choice accuracy by log-likelihood
  tunewise config show tunewise.yaml --doc
  tunewise run examples/support_tickets/thorough.yaml     # every fine-tuning method
  tunewise methods
  tunewise models
  tunewise runs ls                                          # every recorded run, newest first
  tunewise runs compare <id> <id>                           # their rungs side by side
  tunewise runs rm <id>                                     # delete a run's folder and row (asks first)
"""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="tunewise",
        description="Should you fine-tune an LLM for this task, and how? Runs prompting (zero-shot, prefix, few-shot "
        "k-sweeps, chain of thought, your template), retrieval-augmented generation and every fine-tuning method "
        "you name (LoRA and its variants, full, head-only, prompt/prefix tuning, IA3, adapters, feature-based, "
        "classification heads, continued pretraining, multi-task, RAG + LoRA) on the same held-out split and "
        "reports quality with confidence intervals next to cost.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--version", action="version", version=f"tunewise {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run the ladder on a config and write runs/<id>/report.{json,md,html}")
    run.add_argument("config", type=Path, nargs="?", help="tunewise.yaml (with --resume: optional, checked against "
                     "the run's own config)")
    run.add_argument("--resume", type=Path, metavar="RUN_DIR",
                     help="continue a stopped run (killed, SIGTERM, Ctrl-C): finished rungs are kept, a rung that "
                     "was training continues from its newest saved state, exactly as if never stopped")
    run.add_argument("--allow-changes", metavar="FIELD,...", default="",
                     help="with --resume: fields that may differ from the run's config (only "
                     "train.log_every, checkpoint_every, eval_every, patience, max_val_examples and eval.batch_size)")
    run.add_argument(
        "--dry-run", action="store_true",
        help="check the data and estimate each rung's wall time from a few timed steps; writes no run folder",
    )
    run.add_argument("--log", dest="trackers", action="append", default=[], metavar="TRACKER",
                     help="also log params, each rung's curves and metrics, and the report to tensorboard "
                     "(runs/<id>/tensorboard/) or mlflow (<output_dir>/mlflow.db unless MLFLOW_TRACKING_URI is set); "
                     "repeatable or a comma list; needs pip install 'tunewise[tracking]'")
    _add_set(run)
    _add_tune(sub)

    data = sub.add_parser("data", help="data commands")
    data_sub = data.add_subparsers(dest="data_command", required=True, metavar="SUBCOMMAND")
    check = data_sub.add_parser(
        "check", help="list every problem in a data set (file:line: field: code: message) before any model loads",
        description="Lists every problem in a data set (file:line: field: code: message), then the split, leakage "
        "(exact/normalised repeats across splits), near-duplicates within and across splits (data."
        "near_duplicate_threshold), what data.dedup would drop when it is on, and for classification the training "
        "examples whose label a cross-validated TF-IDF classifier doubts (data.label_noise_threshold), all of them "
        "written to --label-noise-out. Loads a tokenizer at most, never model weights.",
    )
    check.add_argument("source", type=Path, help="tunewise.yaml, or a data file (JSONL, CSV/TSV, Parquet, "
                       "Arrow/Feather) or a folder saved by datasets' save_to_disk")
    check.add_argument("--format", default="auto", help="record format when SOURCE is a data file (default: auto)")
    check.add_argument("--no-length-check", action="store_true", help="skip the token-length check (no tokenizer)")
    check.add_argument("--label-noise-out", type=Path, default=None,
                       help="where the label-noise list goes, one JSON object per flagged example (classification; "
                       "default: $TUNEWISE_HOME/data_check/<SOURCE name>.label_noise.jsonl)")
    _add_set(check)

    config = sub.add_parser("config", help="configuration commands")
    config_sub = config.add_subparsers(dest="config_command", required=True, metavar="SUBCOMMAND")
    show = config_sub.add_parser("show", help="print the resolved config (defaults + YAML + --set)")
    show.add_argument("config", type=Path, nargs="?", help="tunewise.yaml (omit with --doc to list every field)")
    show.add_argument("--doc", action="store_true", help="list every field with its default and description")
    _add_set(show)

    report = sub.add_parser("report", help="print the table and recommendation of a finished run")
    report.add_argument("run_dir", type=Path, help="runs/<id>")
    report.add_argument("--html", action="store_true", help="(re)write runs/<id>/report.html from report.json and "
                        "print its path (runs made before report.html existed get one)")

    ev = sub.add_parser(
        "eval", help="score a model, adapter or run on a multiple-choice benchmark or held-out text; re-score a run",
        description="TARGET is a model (smollm2, a Hugging Face folder, a .gguf file, a merged export), an adapter "
        "folder (PEFT or bottleneck; its base from adapter_config.json or --base), or a run folder. A run folder "
        "alone is re-scored from its saved predictions without loading any model; with --benchmark or --perplexity "
        "its base model and every fine-tuned rung are scored.",
    )
    ev.add_argument("target", help="model, adapter folder or runs/<id>")
    ev.add_argument("--benchmark", help="multiple-choice JSONL file, or 'general_knowledge' (the bundled set)")
    ev.add_argument("--format", default="arc", choices=FORMATS,
                    help="the benchmark's shape: " + "; ".join(f"{k}: {v}" for k, v in FORMAT_SHAPES.items()))
    ev.add_argument("--perplexity", metavar="TEXT", help="held-out text: JSONL with a `text` field or a folder of "
                    ".txt/.md/.jsonl files; reports perplexity with a 95%% CI over documents")
    ev.add_argument("--base", help="base model of an adapter folder that does not name one")
    ev.add_argument("--max-items", type=int, help="score only the first N benchmark items")
    ev.add_argument("--batch-size", type=int, default=8, help="rows per forward pass (default 8)")
    ev.add_argument("--precision", choices=["bf16", "fp32"], default="bf16",
                    help="weight dtype while scoring (default bf16, as the ladder predicts)")
    ev.add_argument("--out", type=Path, help="also write the full result as JSON here (never overwrites)")

    exp = sub.add_parser(
        "export", help="write a run's rung (any kind that ran) as a folder that predicts and serves on its own",
        description="package (default): the rung's saved files (adapter, model, classifier or retrieval index; a "
        "prompt style has none) with the run's config and, when it draws on them, the training examples: it answers "
        "exactly as the rung was scored. adapter: the rung's PEFT folder as saved. merged: the adapter folded into "
        "the base (LoRA-family, IA3; freeze's layers put back), saved with tokenizer and chat template as "
        "safetensors; checked first (logits equal the adapter model's on a few prompts, the saved files read back "
        "exactly). gguf: the merged model as f16 and q8_0 GGUF files (llama architecture) with tokenizer and chat "
        "template, each read back and compared. Every format adds tunewise_export.json, config.yaml and a README.md, "
        "so `tunewise predict` and `tunewise serve` take it. Never overwrites.",
    )
    exp.add_argument("run_dir", type=Path, help="runs/<id>")
    exp.add_argument("--rung", help="which rung (default: the recommended one)")
    exp.add_argument("--format", default="package", choices=["package", "adapter", "merged", "gguf"],
                     help="what to write (default package)")
    exp.add_argument("--gguf-type", action="append", choices=["f16", "q8_0"],
                     help="gguf: which files (repeatable; default both)")
    exp.add_argument("--out", type=Path, help="a new folder (default runs/<id>/exports/<rung>-<format>)")
    exp.add_argument("--dtype", choices=["bf16", "fp32"], default="bf16", help="merged weights' dtype (default bf16)")

    pred = sub.add_parser(
        "predict", help="predict a file of inputs with an export, offline -> predictions.jsonl",
        description="DATA: JSONL, CSV/TSV, Parquet or Arrow records (or a save_to_disk folder) in the run's format "
        "(its field names), answers optional. Each row of the output: id, prediction, reference (when the input "
        "had an answer) and, for classification, every candidate label's probability and log-likelihood. Answers "
        "exactly as the exported rung was scored.",
    )
    pred.add_argument("export_dir", type=Path, help="a folder `tunewise export` wrote")
    pred.add_argument("data", type=Path, help="the inputs (JSONL, CSV/TSV, Parquet, Arrow/Feather or a save_to_disk "
                      "folder)")
    pred.add_argument("--out", type=Path, default=Path("predictions.jsonl"),
                      help="the predictions file to write (default predictions.jsonl; never overwritten)")

    srv = sub.add_parser(
        "serve", help="serve exports, a base model and many adapters behind an OpenAI-compatible API",
        description="SOURCE: an export folder (`tunewise export`, any rung kind: named after its rung; it answers "
        "POST /v1/predict {model, input} and, for classification, POST /v1/classify -> label + probabilities, "
        "exactly as the rung was scored; a LoRA-family or IA3 adapter in it also answers the chat routes), a run "
        "folder (every fine-tuned LoRA-family or IA3 rung, named after the rung; a multi-task run's single-task "
        "LoRAs as lora-<task>), an adapter folder (named after the folder) or NAME=FOLDER. A request's `model` picks "
        "the export or adapter (`base`: the base model alone). Routes: GET /v1/models, POST /v1/chat/completions "
        "and /v1/completions (stream: true as server-sent events), POST /v1/predict and /v1/classify, GET /health, "
        "and GET/POST /admin/adapters, DELETE /admin/adapters/NAME to load and unload adapters by name from "
        "--adapter-dir folders while serving. Decoding defaults to greedy (temperature 0), as the report scored.",
    )
    srv.add_argument("sources", nargs="*", metavar="SOURCE",
                     help="an export folder, runs/<id>, an adapter folder or NAME=FOLDER")
    defaults = ServeDefaults()
    srv.add_argument("--base", help="base model (default: the first run's model, else the first adapter's base)")
    srv.add_argument("--adapter-dir", type=Path, action="append", default=[], dest="adapter_dirs", metavar="DIR",
                     help="a folder the admin route may load adapters from by name (repeatable)")
    srv.add_argument("--host", default=defaults.host, help=f"address to listen on (default {defaults.host}; "
                     "another address needs an API key)")
    srv.add_argument("--port", type=int, default=defaults.port, help=f"port (default {defaults.port}; 0: any "
                     "free port, printed at start)")
    srv.add_argument("--api-key", help="require 'Authorization: Bearer KEY' on every route but /health "
                     "(default: $TUNEWISE_API_KEY)")
    for field in ("max_tokens", "max_n", "max_prompt_tokens", "max_concurrent", "max_batch", "max_inputs",
                  "max_body_bytes"):
        info = ServeDefaults.model_fields[field]
        srv.add_argument(f"--{field.replace('_', '-')}", type=int, default=info.default,
                         help=f"{info.description} (default {info.default})")
    srv.add_argument("--precision", choices=["bf16", "fp32"], default=defaults.precision,
                     help=f"weights' dtype while serving (default {defaults.precision}, as the ladder predicts)")

    init = sub.add_parser(
        "init", help="look at a data file and write a commented tunewise.yaml sized to this machine",
        description="Checks DATA as `tunewise data check` does (nothing is written while it has errors), detects its "
        "format and task type, counts examples and labels, proposes a split and a plan (prompting baselines; "
        "fine-tuning when there are enough training examples), times the plan with the dry run's probes and cuts "
        "training steps (then test examples) to fit --budget, and writes the config with comments saying why.",
    )
    init.add_argument("data", type=Path, help="a JSONL, CSV/TSV, Parquet or Arrow/Feather file or a save_to_disk "
                      "folder (chat, alpaca, prompt_completion or text/label)")
    init.add_argument("--out", type=Path, default=Path("tunewise.yaml"), help="the config to write (default "
                      "tunewise.yaml; never overwritten)")
    init.add_argument("--model", default="smollm2", help="model.name (default smollm2)")
    init.add_argument("--format", default="auto", choices=["auto", "chat", "alpaca", "prompt_completion",
                                                           "classification"], help="data.format (default auto)")
    init.add_argument("--budget", type=float, default=60.0, metavar="MINUTES",
                      help="time the whole plan may take on this machine (default 60)")
    init.add_argument("--no-estimate", action="store_true", help="skip timing the plan (no model is loaded)")

    sub.add_parser("models", help="list the bundled models and whether they resolve on this machine")
    sub.add_parser("methods", help="list the prompting rungs (`rungs:`) and fine-tuning methods (`methods:`) of a config")
    _add_runs(sub)
    return p


def _add_runs(sub) -> None:
    """`tunewise runs ...`: the run registry."""
    from tunewise.registry import STATUSES

    runs = sub.add_parser(
        "runs", help="list, show, compare and remove recorded runs (the run registry)",
        description="Every `tunewise run` is recorded in a SQLite registry: $TUNEWISE_REGISTRY, else "
        "registry.sqlite under $TUNEWISE_HOME (default ~/.cache/tunewise). ID: a run id, a unique prefix of one, "
        "or the run folder.",
    )
    runs_sub = runs.add_subparsers(dest="runs_command", required=True, metavar="SUBCOMMAND")
    ls = runs_sub.add_parser("ls", help="recorded runs, newest first: status, task, recommended rung, folder")
    ls.add_argument("--status", choices=STATUSES, help="only runs with this status")
    ls.add_argument("--limit", type=int, default=20, help="show the newest N (default 20; 0: all)")
    show = runs_sub.add_parser("show", help="everything recorded about a run: hashes, status, rungs with costs")
    show.add_argument("id", metavar="ID", help="run id, unique prefix or folder")
    compare = runs_sub.add_parser("compare", help="a table of rungs across runs: metric [CI], train s, disk")
    compare.add_argument("ids", nargs="+", metavar="ID", help="two or more runs")
    rm = runs_sub.add_parser("rm", help="delete a run's folder and its row (shows what and asks first)")
    rm.add_argument("id", metavar="ID", help="run id, unique prefix or folder")
    rm.add_argument("--yes", action="store_true", help="do not ask (needed when stdin is not a terminal)")
    add = runs_sub.add_parser("add", help="register finished runs made before the registry, from their report.json")
    add.add_argument("run_dirs", nargs="+", type=Path, metavar="RUN_DIR", help="runs/<id>")


def _add_tune(sub) -> None:
    """`tunewise tune`: the hyperparameter search (tunewise.tune, docs/tune.md)."""
    tune = sub.add_parser(
        "tune", help="search one method's hyperparameters (Optuna) on validation loss and write the best config",
        description="Each trial trains tune.method (LoRA by default) as the ladder does, with values drawn from "
        "tune.space by TPE, and reports its validation loss at every evaluation; median pruning stops trials "
        "behind the others. The test split is never used. The study is stored in SQLite (default: "
        "<output_dir>/tune-<study>/study.db): rerun the same command to continue it. Its trials are recorded in "
        "the run registry, and the best values are written as <output_dir>/tune-<study>/best.yaml (never "
        "overwritten), a config `tunewise run` takes.",
    )
    tune.add_argument("config", type=Path, help="tunewise.yaml (its tune: section says what is searched)")
    tune.add_argument("--trials", type=int, default=20, help="trials to run in this call (default 20); a "
                      "continued study counts on from its earlier trials")
    tune.add_argument("--storage", metavar="URL", help="Optuna storage, e.g. sqlite:///tune.db (default: study.db "
                      "in the study folder); the same URL and study name continue a study")
    tune.add_argument("--study", metavar="NAME", help="study name (default: <method>-<config hash>, so the same "
                      "config continues the same study)")
    _add_set(tune)


def _add_set(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
        help="override a config field, e.g. --set train.lr=1e-4 (repeatable)",
    )


def _cmd_run(args) -> int:
    from tunewise import api
    from tunewise.config import load_config

    log = lambda m: print(m, file=sys.stderr, flush=True)
    if args.resume is not None:
        allow = [f.strip() for f in args.allow_changes.split(",") if f.strip()]
        config = api.resume_config(args.resume, args.config, args.overrides, allow)
        result = api.run(config, log=log, resume=args.resume, trackers=args.trackers)
    else:
        if args.config is None:
            raise TunewiseError("tunewise run needs a config (tunewise.yaml), or --resume runs/<id>")
        config = load_config(args.config, args.overrides)
        if args.dry_run:
            return _print_estimates(api.estimate(config, log=log))
        result = api.run(config, log=log, trackers=args.trackers)
    if not is_main():
        return 0  # the main process prints the table
    print(api.terminal_table(result.report))
    print(f"\nreport: {result.run_dir / 'report.md'}")
    print(f"report: {result.run_dir / 'report.html'}")
    print(f"report: {result.run_dir / 'report.json'}")
    return 0


def _cmd_tune(args) -> int:
    from tunewise.config import load_config
    from tunewise.tune import tune

    log = lambda m: print(m, file=sys.stderr, flush=True)
    result = tune(load_config(args.config, args.overrides), args.trials, args.storage, args.study, log=log)
    counts = ", ".join(f"{n} {state}" for state, n in result.counts.items())
    values = ", ".join(f"{name}={value:g}" for name, value in result.best_params.items())
    print(f"study {result.study_name}: {counts} ({result.new_trials} run now)")
    print(f"best: trial {result.best_trial}, val_loss {result.best_value:.4f}: {values}")
    print(f"best config: {result.best_path}")
    print(f"next: tunewise run {result.best_path}")
    return 0


def _print_estimates(rows: list[dict]) -> int:
    from tunewise.progress import clock

    print(f"{'rung':18s} {'fit':>9s} {'predict':>9s} {'total':>9s}")
    for row in rows:
        if row.get("skipped"):
            print(f"{row['rung']:18s} skipped: {row['skipped']}")
            continue
        total = row["fit_s"] + row["predict_s"]
        print(f"{row['rung']:18s} {clock(row['fit_s']):>9s} {clock(row['predict_s']):>9s} {clock(total):>9s}")
    whole = sum(r["fit_s"] + r["predict_s"] for r in rows)
    print(f"{'all rungs':18s} {'':9s} {'':9s} {clock(whole):>9s}  (estimates from timed probes on this machine)")
    return 0


def _cmd_data_check(args) -> int:
    from tunewise import api
    from tunewise.config import DataConfig, TaskConfig, load_config
    from tunewise.data.hygiene import write_label_noise
    from tunewise.home import tunewise_home

    if args.source.suffix in (".yaml", ".yml"):
        config = load_config(args.source, args.overrides)
        data, task, model = config.data, config.task, config.model.name
    else:
        data, task, model = DataConfig(path=args.source, format=args.format), TaskConfig(), "smollm2"
    report = api.check(data, task, None if args.no_length_check else model)
    for problem in report.errors:
        print(f"error: {problem}")
    for problem in report.warnings:
        print(f"warning: {problem}")
    print(report.describe())
    if report.label_noise is not None and report.label_noise.skipped is None:
        out = args.label_noise_out or tunewise_home() / "data_check" / f"{args.source.stem}.label_noise.jsonl"
        write_label_noise(report.label_noise, out)
        print(f"label noise: all {len(report.label_noise.items)} flagged example(s) in {out}")
    return 1 if report.errors else 0


def _cmd_config_show(args) -> int:
    from tunewise.config import config_to_yaml, describe_fields, load_config

    if args.doc:
        for name, default, doc in describe_fields():
            print(f"{name:28} {default:>12}  {doc}")
        return 0
    if args.config is None:
        raise TunewiseError("config show: give a tunewise.yaml (or --doc to list every field)")
    print(config_to_yaml(load_config(args.config, args.overrides)), end="")
    return 0


def _cmd_report(args) -> int:
    from tunewise import api

    print(api.terminal_table(api.load_report(args.run_dir)))
    if args.html:
        from tunewise.report.files import write_html_report

        print(f"\nreport: {write_html_report(args.run_dir)}")
    return 0


def _cmd_eval(args) -> int:
    from tunewise import api
    from tunewise.standalone import EvalSettings, eval_summary

    if args.out is not None and args.out.exists():
        raise TunewiseError(f"{args.out}: already exists; tunewise eval never overwrites, give another --out path")
    settings = EvalSettings(benchmark=args.benchmark, format=args.format, perplexity=args.perplexity, base=args.base,
                            max_items=args.max_items, batch_size=args.batch_size, precision=args.precision)
    result = api.evaluate(args.target, settings)
    print(eval_summary(result))
    if args.out is not None:
        write_json(args.out, result)
        print(f"[tunewise] wrote {args.out}")
    return 0


def _cmd_export(args) -> int:
    from tunewise.export import export

    out = export(args.run_dir, args.format, args.out, args.rung, args.dtype, args.gguf_type)
    print(f"[tunewise] wrote {out} ({args.format}); README.md there says how to use it: tunewise predict {out} "
          f"DATA, or tunewise serve {out}")
    return 0


def _cmd_predict(args) -> int:
    from tunewise.export.batch import predict_file

    out, rows = predict_file(args.export_dir, args.data, args.out)
    print(f"[tunewise] wrote {rows} predictions to {out}")
    return 0


def _cmd_serve(args) -> int:
    from tunewise.serve import serve

    fields = {k: v for k, v in vars(args).items() if k in ServeDefaults.model_fields}
    serve(ServeDefaults(**fields), log=lambda message: print(message, flush=True))
    return 0


def _cmd_init(args) -> int:
    from tunewise.init_config import InitError, propose, write_config

    if args.out.exists():  # before any work: nothing the user has is overwritten
        raise InitError(f"{args.out}: already exists; tunewise init never overwrites: give another --out")
    plan = propose(args.data, args.model, args.format, args.budget, estimate=not args.no_estimate)
    out = write_config(plan, args.out)
    print(out.read_text(encoding="utf-8"))
    print(f"wrote {out}; next: tunewise data check {out} && tunewise run {out}")
    return 0


def _cmd_models(args) -> int:
    from tunewise.models.load import list_models

    for row in list_models():
        state = "ok" if row["ok"] else f"missing: {row['error']}"
        cached = "cached" if row["cached"] else "not converted yet (first use converts it)"
        print(f"{row['name']:8} {row['kind']:10} {state}; {cached}\n         {row['path']}")
        if row.get("cache"):
            print(f"         cache: {row['cache']}")
    return 0


def _cmd_methods(args) -> int:
    from tunewise.config import (
        DEFAULT_METHODS,
        METHOD_SUMMARIES,
        OPT_IN_METHODS,
        Config,
    )
    from tunewise.sections import RUNG_SUMMARIES

    print("prompting rungs (`rungs:`):")
    for name, summary in RUNG_SUMMARIES.items():
        print(f"  {name:20s} {summary}")
    print(f"default: rungs: {Config.model_fields['rungs'].default}\n")
    print("fine-tuning methods (`methods:`):")
    for name, summary in METHOD_SUMMARIES.items():
        print(f"  {name:20s} {summary}")
    print(f"default: methods: {DEFAULT_METHODS}; `plan: thorough` runs every method but the opt-in ones "
          f"({', '.join(OPT_IN_METHODS)}); configs/ has one YAML each")
    return 0


def _cmd_runs(args) -> int:
    handlers = {"ls": _cmd_runs_ls, "show": _cmd_runs_show, "compare": _cmd_runs_compare, "rm": _cmd_runs_rm,
                "add": _cmd_runs_add}
    return handlers[args.runs_command](args)


def _cmd_runs_ls(args) -> int:
    from tunewise import registry

    if args.limit < 0:
        raise TunewiseError(f"runs ls: --limit {args.limit}: expected 0 (all runs) or a positive number")
    records = registry.list_runs(args.status)
    print(registry.runs_table(records, registry.registry_path(), args.limit, args.status))
    return 0


def _cmd_runs_show(args) -> int:
    from tunewise import registry

    print(registry.run_details(registry.find_run(args.id)))
    return 0


def _cmd_runs_compare(args) -> int:
    from tunewise import registry

    if len(args.ids) < 2:
        raise TunewiseError(f"runs compare: give two or more runs (tunewise runs show {args.ids[0]} shows one)")
    print(registry.comparison_table([registry.find_run(ref) for ref in args.ids]))
    return 0


def _cmd_runs_rm(args) -> int:
    from tunewise import registry

    record = registry.find_run(args.id)
    print(f"remove run {record.id} ({record.status}) from the registry {registry.registry_path()}")
    deletes = record.folder.is_dir() and registry.looks_like_run_folder(record.folder)
    if deletes:
        size = registry.folder_bytes(record.folder)
        print(f"and delete its folder {record.folder} ({size / 1e6:.1f} MB)")
    elif record.folder.is_dir():
        print(f"and keep {record.folder}: it does not look like a run folder (no config.yaml with data.json or "
              "report.json), so it is not deleted")
    else:
        print(f"(its folder {record.folder} is already gone)")
    if record.status == "running" and deletes:
        print("its status is running: if the run is still going, it will fail")
    if not args.yes:
        if not sys.stdin.isatty():
            raise TunewiseError("runs rm: stdin is not a terminal, so nobody can answer; nothing was deleted. "
                                "Pass --yes to delete without asking")
        if input("delete? [y/N] ").strip().lower() not in ("y", "yes"):
            print("nothing deleted")
            return 1
    deleted = registry.remove_run(record)
    print(f"removed {record.id}" + (f" and deleted {record.folder}" if deleted else ""))
    return 0


def _cmd_runs_add(args) -> int:
    from tunewise import registry

    skipped = 0
    for run_dir in args.run_dirs:
        try:
            record = registry.add_run(run_dir)
        except registry.RegistryError as err:
            print(f"tunewise: skipped {run_dir}: {err}", file=sys.stderr)
            skipped += 1
            continue
        print(f"added {record.id} ({record.status}, recommended {record.recommended_rung}) from {record.folder}")
    return 1 if skipped else 0


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for a model hub
    # No library progress bars: in a log each model load wrote a bar of hundreds of characters (transformers and
    # huggingface_hub read the first when imported; transformers' GGUF conversion uses plain tqdm, which reads the
    # second). tunewise prints one line per load and draws its own bars on a terminal.
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TQDM_DISABLE", "1")
    args = _parser().parse_args(argv)
    handlers = {
        "run": _cmd_run,
        "tune": _cmd_tune,
        "report": _cmd_report,
        "eval": _cmd_eval,
        "export": _cmd_export,
        "predict": _cmd_predict,
        "serve": _cmd_serve,
        "models": _cmd_models,
        "methods": _cmd_methods,
        "data": _cmd_data_check,
        "config": _cmd_config_show,
        "runs": _cmd_runs,
        "init": _cmd_init,
    }
    try:
        return handlers[args.command](args)
    except RunInterrupted as err:
        if is_main():  # every process of a multi-process run stops alike; one line says so
            print(f"tunewise: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("tunewise: interrupted (Ctrl-C)", file=sys.stderr)
        return 130
    except TunewiseError as err:
        print(f"tunewise: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:
        if err.errno not in WRITE_ERRNOS:
            raise
        print(f"tunewise: error: {write_failure(err.filename or 'output', err)}", file=sys.stderr)
        return 2
    except Exception as err:
        # safetensors (weights written through PEFT or transformers) reports a failed write in its own error type.
        if type(err).__name__ != "SafetensorError" or "I/O error" not in str(err):
            raise
        print(f"tunewise: error: {write_failure('a weights file', err)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
