"""Load on `tunewise serve` over loopback: requests/s and p50/p95 latency with every request for one adapter, then
with requests alternating between two adapters on the same base.

The server runs as a user starts it (the CLI in a subprocess, 127.0.0.1, a free port) over the bundled SmolLM2 with
two LoRA adapters; the client is the official `openai` package, `--concurrency` requests in flight at once. The two
adapters hold the same weights under different names, so answers have the same lengths in both phases and the
ratio measures what serving two adapters costs: split batches and switching the active adapter (no weights move).
The load is bounded: a fixed number of requests per phase and a time limit after which no new request starts.
Usage: HF_HUB_OFFLINE=1 python bench/serve_load.py [--requests 48] [--concurrency 8] [--max-tokens 32] [--model M]
The smallest run, on any local model folder: --model DIR --requests 4 --concurrency 2 --max-tokens 4.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import openai
import torch
from peft import LoraConfig, get_peft_model

from tunewise.config import load_config
from tunewise.data import prepare_data
from tunewise.models.adapted import write_base_record
from tunewise.models.load import load_causal_lm

CONFIG = Path(__file__).resolve().parents[1] / "examples" / "support_tickets" / "tunewise.yaml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2", help="base model: a bundled name or a local folder "
                        "(default: the bundled SmolLM2)")
    parser.add_argument("--requests", type=int, default=48, help="requests per phase")
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight at once")
    parser.add_argument("--max-tokens", type=int, default=32, help="max_tokens of every request")
    parser.add_argument("--time-limit", type=float, default=240, help="seconds per phase after which no request starts")
    args = parser.parse_args()

    config = load_config(CONFIG)
    questions = [e.messages[-1]["content"] for e in prepare_data(config.data, config.task).split.test]
    with tempfile.TemporaryDirectory() as folder:
        adapters = make_adapters(args.model, Path(folder))
        process, url = start_server(args.model, adapters, args.concurrency)
        try:
            client = openai.OpenAI(base_url=url, api_key="unused", max_retries=0, timeout=600)
            ask(client, "one", questions[0], args.max_tokens)  # warm-up: first calls allocate caches
            one = phase(client, ["one"], questions, args)
            two = phase(client, ["one", "two"], questions, args)
        finally:
            process.terminate()
            process.wait(timeout=30)
    print(f"\n{args.requests} requests per phase, {args.concurrency} at once, max_tokens {args.max_tokens}, "
          f"{torch.get_num_threads()} CPU threads on this machine")
    for name, result in (("one adapter", one), ("alternating two", two)):
        print(f"{name:16s} {result['rps']:6.2f} req/s  p50 {result['p50']:6.2f} s  p95 {result['p95']:6.2f} s  "
              f"{result['tokens_per_s']:7.1f} tokens/s  ({result['done']} done, {result['skipped']} not started)")
    print(f"ratio_two_adapters_vs_one_rps {two['rps'] / one['rps']:.2f}")


def make_adapters(model_name: str, folder: Path) -> dict[str, Path]:
    """Two LoRA adapters (all seven projections, r 16) with the same small random weights, saved as PEFT folders."""
    model, tokenizer = load_causal_lm(model_name)
    torch.manual_seed(0)
    targets = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    model = get_peft_model(model, LoraConfig(r=16, lora_alpha=32, target_modules=targets))
    with torch.no_grad():  # B starts at zero (no change); a small B makes the adapter compute something real
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.normal_(0, 1e-3)
    paths = {}
    for name in ("one", "two"):
        paths[name] = folder / name
        model.save_pretrained(paths[name])
        write_base_record(paths[name], model, tokenizer)
    return paths


def start_server(model_name: str, adapters: dict[str, Path], concurrency: int) -> tuple[subprocess.Popen, str]:
    command = [sys.executable, "-m", "tunewise.cli", "serve", *(f"{n}={p}" for n, p in adapters.items()),
               "--base", model_name, "--port", "0", "--max-concurrent", str(concurrency)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in process.stdout:
        print(line, end="", flush=True)
        if "serving" in line and "http://" in line:
            # Keep echoing the server's output: a full pipe would stall it, and its errors explain failed requests.
            threading.Thread(target=echo, args=(process.stdout,), daemon=True).start()
            return process, line.split("at ")[1].split()[0]
    raise SystemExit("the server exited before it served")


def echo(lines) -> None:
    for line in lines:
        print(line, end="", flush=True)


def ask(client: openai.OpenAI, model: str, question: str, max_tokens: int) -> tuple[float, int]:
    began = time.perf_counter()
    reply = client.chat.completions.create(model=model, messages=[{"role": "user", "content": question}],
                                           max_tokens=max_tokens)
    return time.perf_counter() - began, reply.usage.completion_tokens


def phase(client: openai.OpenAI, models: list[str], questions: list[str], args) -> dict:
    """Send args.requests requests (model i % len(models)), args.concurrency at a time, until the time limit."""
    deadline = time.perf_counter() + args.time_limit

    def one(i: int) -> tuple[float, int] | None:
        if time.perf_counter() > deadline:
            return None
        return ask(client, models[i % len(models)], questions[i % len(questions)], args.max_tokens)

    began = time.perf_counter()
    with ThreadPoolExecutor(args.concurrency) as pool:
        results = list(pool.map(one, range(args.requests)))
    wall = time.perf_counter() - began
    done = [r for r in results if r is not None]
    latencies = sorted(seconds for seconds, _ in done)
    return {"rps": len(done) / wall, "p50": statistics.median(latencies),
            "p95": latencies[min(len(latencies) - 1, round(0.95 * (len(latencies) - 1)))],
            "tokens_per_s": sum(tokens for _, tokens in done) / wall, "done": len(done),
            "skipped": len(results) - len(done)}


if __name__ == "__main__":
    main()
