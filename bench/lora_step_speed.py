"""LoRA training speed on the bundled SmolLM2-135M: answer-only output layer vs full-vocabulary loss.

One process, one model; the two losses take turns step by step on the same synthetic chat-like batches (so load
from other processes hits both alike), then `tunewise.train.loop.train` runs the recipe end to end.
Usage: HF_HUB_OFFLINE=1 python bench/lora_step_speed.py [--steps 15] [--batch-size 8] [--length 120] [--answer 5]
       [--model M]; the smallest run, on any local model folder: --model DIR --steps 2 --batch-size 2 --length 40
Timings on a shared CPU are noisy: compare only the numbers printed by one run.
"""
from __future__ import annotations

import argparse
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil
import torch

from tunewise.methods import lora
from tunewise.methods.lora import LoraConfig
from tunewise.models.load import count_parameters, load_causal_lm
from tunewise.sections import TrainConfig
from tunewise.train.batching import IGNORE_INDEX, Encoded, collate
from tunewise.train.loop import train
from tunewise.train.loss import answer_loss_sum, full_vocab_loss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2", help="a bundled name or a local folder (default: the bundled "
                        "SmolLM2-135M)")
    parser.add_argument("--steps", type=int, default=15, help="steps per variant")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--length", type=int, default=120, help="mean sequence length in tokens")
    parser.add_argument("--answer", type=int, default=5, help="answer tokens per sequence")
    parser.add_argument("--precision", choices=["bf16", "fp32"], default="bf16")
    args = parser.parse_args()

    torch.manual_seed(0)
    # fp32 weights under bf16 autocast: the base as the GGUF file dequantises, as this bench has always measured.
    model = lora.apply(load_causal_lm(args.model, dtype=torch.float32)[0], LoraConfig(r=16, alpha=32, dropout=0.05))
    trainable, total = count_parameters(model)
    data = synthetic_data(args.steps * args.batch_size, args.length, args.answer, model.config.vocab_size)
    batches = [collate(data[i : i + args.batch_size], pad_id=0) for i in range(0, len(data), args.batch_size)]
    print(f"LoRA r=16: {trainable:,} trainable of {total:,}; RSS after load {rss_mb():.0f} MB", flush=True)

    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=1e-4, fused=True)
    model.train()
    seconds = {"answer_only": 0.0, "full_vocab": 0.0}
    peak_mb = {"answer_only": 0.0, "full_vocab": 0.0}
    for step, batch in enumerate(batches):
        # Alternate which variant goes first, so neither always runs right after the other's memory traffic.
        order = ["answer_only", "full_vocab"] if step % 2 == 0 else ["full_vocab", "answer_only"]
        for variant in order:
            with peak_rss_mb() as peak:
                started = time.perf_counter()
                with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.precision == "bf16"):
                    if variant == "answer_only":
                        loss_sum, n = answer_loss_sum(model, batch)
                        loss = loss_sum / n
                    else:
                        loss = full_vocab_loss(model, batch)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(params, 1.0)
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
                seconds[variant] += time.perf_counter() - started
            peak_mb[variant] = max(peak_mb[variant], peak["mb"])
    real_tokens = sum(int(b["attention_mask"].sum()) for b in batches)
    for variant in seconds:
        print(f"{variant:12s} {real_tokens / seconds[variant]:7.0f} real tok/s  "
              f"{seconds[variant] / len(batches):6.2f} s/step  peak RSS {peak_mb[variant]:6.0f} MB", flush=True)
    print(f"answer-only / full-vocab speed: {seconds['full_vocab'] / seconds['answer_only']:.2f}x")

    cfg = TrainConfig(max_steps=args.steps, batch_size=args.batch_size, precision=args.precision, lr=2e-4,
                      eval_every=10**6, log_every=5, patience=None, max_val_examples=args.batch_size)
    with tempfile.TemporaryDirectory() as out_dir, peak_rss_mb() as peak:
        result = train(model, data, data[: args.batch_size], cfg, Path(out_dir), pad_id=0)
    print(f"train() loop  {result.tokens_per_s:7.0f} real tok/s  wall {result.wall_s:.1f} s  "
          f"peak RSS {peak['mb']:6.0f} MB  padding {1 - result.real_tokens / result.padded_tokens:.1%}")
    print(f"({args.precision}, B={args.batch_size}, T~{args.length}, {args.answer}-token answers, "
          f"{args.steps} steps per variant, {torch.get_num_threads()} torch threads)")


def rss_mb() -> float:
    return psutil.Process().memory_info().rss / 2**20


@contextmanager
def peak_rss_mb() -> Iterator[dict[str, float]]:
    """Peak resident memory over the block, sampled every 10 ms by a thread: {"mb": peak} once the block ends."""
    peak = {"mb": rss_mb()}
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.01):
            peak["mb"] = max(peak["mb"], rss_mb())

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield peak
    finally:
        stop.set()
        thread.join()
        peak["mb"] = max(peak["mb"], rss_mb())


def synthetic_data(n: int, length: int, answer: int, vocab: int) -> list[Encoded]:
    """Random-token sequences of length ±15% around `length`; the last `answer` tokens are the answer."""
    g = torch.Generator().manual_seed(0)
    data = []
    for _ in range(n):
        size = int(torch.randint(int(0.85 * length), int(1.15 * length) + 1, (1,), generator=g))
        ids = torch.randint(10, vocab, (size,), generator=g).tolist()
        data.append(Encoded(ids, [IGNORE_INDEX] * (size - answer) + ids[size - answer :]))
    return data


if __name__ == "__main__":
    main()
