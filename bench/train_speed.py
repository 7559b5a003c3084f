"""Training speed: tunewise's loop against TRL `SFTTrainer` + PEFT, LoRA r=16 on SmolLM2-135M, same work.

Both stacks train the same pre-tokenised examples (answer-only loss), from the same LoRA initialisation, with the
same batch size, optimizer steps, learning rate, cosine schedule (no warmup), clipping and max length, one after
the other, each in a fresh child process of this script (so each peak RSS is its own). Each is timed around its
training call; validation loss is computed afterwards by one shared function for both. Two data shapes:
(a) the bundled example task in chat form (short examples), (b) generated long chat examples (instruction-style
answers of 128-512 tokens).

Usage:  python bench/train_speed.py              # the comparison; last lines are the ratios `make bench` reports
        python bench/train_speed.py --sweep      # tunewise alone: tokens/s and peak RSS vs length, rank, full FT
        python bench/train_speed.py --trl-config all   # every TRL configuration tried, to pick its best
        python bench/train_speed.py --model DIR --short-steps 2 --long-steps 1 --batch-size 2 \
            --trl-config bf16+same_batches       # the smallest run, on any local model folder (a smoke test)
Needs the bench extra (`pip install -e '.[bench]'`: trl, datasets). Compare only numbers printed by one run.
"""
from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import math
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from peft import LoraConfig as PeftLoraConfig
from peft import get_peft_model

from tunewise.config import load_config
from tunewise.data.prepare import prepare_data
from tunewise.ladder.cost import measure
from tunewise.methods import lora
from tunewise.methods.lora import LoraConfig
from tunewise.methods.tuned import sft_examples
from tunewise.models.chat_template import encode_example
from tunewise.models.load import count_parameters, load_causal_lm, load_tokenizer
from tunewise.sections import TrainConfig
from tunewise.train.batching import (
    IGNORE_INDEX,
    Encoded,
    collate,
    length_grouped_batches,
)
from tunewise.train.loop import train
from tunewise.train.loss import answer_loss_sum

MODEL = "smollm2"  # the bundled SmolLM2-135M; --model names another
EXAMPLE_TASK = Path(__file__).resolve().parent.parent / "examples" / "support_tickets" / "tunewise.yaml"
LORA = LoraConfig(r=16, alpha=32, dropout=0.0)  # tunewise's defaults, given to both stacks
LR = 2e-4
# TRL configurations tried (fp32 weights + bf16 autocast unless named; gradient checkpointing off, which TRL turns
# on by default). TRL_BEST lists the fastest found per data shape on this CPU (the best of them counts); `--trl-config all`
# measures every one again. "same_batches" feeds TRL tunewise's own length-grouped batches in order: as fast as
# TRL's group_by_length here, and the only way the two validation losses compare (24 steps from different data
# orders differ by up to 7% within tunewise alone: 0.757-0.807 over seeds 0-2).
TRL_CONFIGS = {
    "bf16": {"bf16": True},
    "bf16+eager": {"bf16": True, "attention": "eager"},
    "bf16+group_by_length": {"bf16": True, "train_sampling_strategy": "group_by_length"},
    "bf16+eager+group_by_length": {"bf16": True, "attention": "eager", "train_sampling_strategy": "group_by_length"},
    "bf16+padding_free": {"bf16": True, "padding_free": True},
    "bf16-weights": {"bf16": True, "weights": torch.bfloat16},
    "bf16+eager+same_batches": {"bf16": True, "attention": "eager", "same_batches": True},
    "bf16+same_batches": {"bf16": True, "same_batches": True},
}
TRL_BEST = {"short": ["bf16+eager+same_batches"], "long": ["bf16+same_batches", "bf16+padding_free"]}


@dataclass
class Shape:
    """One data shape of the comparison."""

    name: str
    train: list[Encoded]
    val: list[Encoded]
    batch_size: int
    steps: int


@dataclass
class Measurement:
    stack: str
    real_tokens: int
    padded_tokens: int
    wall_s: float
    peak_rss_bytes: int
    val_loss: float
    base_params: int  # the base model's parameters, tied embeddings once: the N of "4 x N FLOPs per token"

    @property
    def tokens_per_s(self) -> float:
        return self.real_tokens / self.wall_s

    def line(self) -> str:
        return (
            f"{self.stack:40s} {self.real_tokens / self.wall_s:7.0f} real tok/s  "
            f"{self.padded_tokens / self.wall_s:7.0f} padded tok/s  peak RSS {self.peak_rss_bytes / 2**30:5.2f} GiB  "
            f"val loss {self.val_loss:.4f}  ({self.wall_s:.0f} s)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=MODEL, help="base model: a bundled name or a local folder "
                        "(default: the bundled SmolLM2-135M)")
    parser.add_argument("--short-steps", type=int, default=24)
    parser.add_argument("--long-steps", type=int, default=6)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--trl-config", default="best", choices=["best", *TRL_CONFIGS, "all"],
                        help="TRL configuration(s) to measure; best: TRL_BEST for each data shape")
    parser.add_argument("--sweep", action="store_true", help="tunewise alone: length, rank, full fine-tuning")
    parser.add_argument("--measure", nargs=4, metavar=("STACK", "SHAPE", "BATCH", "STEPS"), help=argparse.SUPPRESS)
    parser.add_argument("--point", nargs=4, metavar=("METHOD", "RANK", "LENGTH", "STEPS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(torch.get_num_threads())  # the machine's cores (torch's default)
    if args.measure:
        return measure_one(args.model, *args.measure)
    if args.point:
        return sweep_point(args.model, *args.point)
    if args.sweep:
        return sweep(args.model)

    peak = matmul_peak_flops()
    print(f"bf16 matmul peak: {peak / 1e9:.0f} GFLOP/s ({torch.get_num_threads()} threads)", flush=True)
    ratios: dict[str, float] = {}
    for shape_name, steps in (("short", args.short_steps), ("long", args.long_steps)):
        shape = make_shape(args.model, shape_name, args.batch_size, steps)
        lengths = [len(e.input_ids) for e in shape.train]
        print(f"\n[{shape.name}] {len(shape.train)} train / {len(shape.val)} val examples, {min(lengths)}-"
              f"{max(lengths)} tokens (mean {sum(lengths) / len(lengths):.0f}), batch {shape.batch_size}, "
              f"{shape.steps} steps", flush=True)
        ours = measure_in_subprocess(args.model, "tunewise", shape_name, args.batch_size, steps)
        print(ours.line(), flush=True)
        best: Measurement | None = None
        for name in trl_configs(args.trl_config, shape.name):
            theirs = measure_in_subprocess(args.model, f"trl:{name}", shape_name, args.batch_size, steps)
            print(theirs.line(), flush=True)
            if best is None or theirs.tokens_per_s > best.tokens_per_s:
                best = theirs
        ratio = ours.tokens_per_s / best.tokens_per_s
        print(f"ours / {best.stack}: {ratio:.2f}x real tokens/s; val loss {ours.val_loss:.4f} vs "
              f"{best.val_loss:.4f} ({100 * (ours.val_loss / best.val_loss - 1):+.1f}%)", flush=True)
        ratios[shape.name] = ratio
        if shape.name == "long":
            ours_long = ours
    print()
    print(f"ratio_train_tokens_per_s_vs_trl_short {ratios['short']:.2f}")
    print(f"ratio_train_tokens_per_s_vs_trl_long {ratios['long']:.2f}")
    print(f"train_mfu {ours_long.tokens_per_s * 4 * ours_long.base_params / peak:.2f}")


def measure_in_subprocess(model_name: str, stack: str, shape: str, batch_size: int, steps: int) -> Measurement:
    """One stack on one shape in a fresh process (run one after the other), so each peak RSS is its own."""
    command = [sys.executable, __file__, "--model", model_name, "--measure", stack, shape, str(batch_size), str(steps)]
    child = subprocess.run(command, capture_output=True, text=True)
    if child.returncode != 0:
        # The child's traceback is the only account of what broke (a stack's API changed, say): show it.
        sys.stderr.write(child.stdout + child.stderr)
        raise SystemExit(f"{stack} on the {shape} shape failed (exit {child.returncode}); its output is above")
    return Measurement(**json.loads(child.stdout.strip().splitlines()[-1]))


def measure_one(model_name: str, stack: str, shape_name: str, batch_size: str, steps: str) -> None:
    """Child process: train one stack on one shape and print the Measurement as its last line (JSON)."""
    shape = make_shape(model_name, shape_name, int(batch_size), int(steps))
    pad_id = load_tokenizer(model_name).pad_token_id
    if stack == "tunewise":
        result = run_tunewise(model_name, shape, pad_id)
    else:
        result = run_trl(model_name, shape, pad_id, stack.split(":", 1)[1])
    print(json.dumps(dataclasses.asdict(result)), flush=True)


def trl_configs(choice: str, shape: str) -> list[str]:
    if choice == "all":
        return list(TRL_CONFIGS)
    return TRL_BEST[shape] if choice == "best" else [choice]


# ---------------------------------------------------------------------- data


def make_shape(model_name: str, name: str, batch_size: int, steps: int) -> Shape:
    tokenizer = load_tokenizer(model_name)
    return (short_shape if name == "short" else long_shape)(tokenizer, batch_size, steps)


def short_shape(tokenizer, batch_size: int, steps: int) -> Shape:
    """The bundled example task, encoded exactly as the ladder's LoRA rung encodes it."""
    config = load_config(EXAMPLE_TASK)
    data = prepare_data(config.data, config.task)
    encode = lambda examples: sft_examples(tokenizer, examples, data.task.instruction, config.data.max_length)
    return Shape("short", encode(data.split.train[: batch_size * steps]), encode(data.split.val[:64]),
                 batch_size, steps)


def long_shape(tokenizer, batch_size: int, steps: int) -> Shape:
    """Generated how-to requests with step-by-step answers of 128-512 tokens (deterministic)."""
    rng = random.Random(0)
    examples = [long_example(tokenizer, rng) for _ in range(batch_size * steps + 32)]
    return Shape("long", examples[:-32], examples[-32:], batch_size, steps)


_VERBS = ["check", "clean", "tighten", "measure", "replace", "label", "test", "record", "adjust", "inspect"]
_NOUNS = ["valve", "filter", "cable", "hinge", "sensor", "panel", "bracket", "pump", "switch", "seal", "belt"]
_HOW = ["carefully", "slowly", "twice", "by hand", "with the small wrench", "against the checklist", "again"]
_WHY = ["so that nothing leaks", "to avoid a second visit", "because the manual asks for it",
        "so the next person can follow", "before the pressure builds up", "to keep the warranty valid"]


def long_example(tokenizer, rng: random.Random) -> Encoded:
    noun = rng.choice(_NOUNS)
    request = f"Explain step by step how to service the {noun} of a {rng.choice(['boiler', 'pump room', 'dryer'])}."
    target = rng.randint(128, 512)
    sentences, n_tokens, step = [], 0, 1
    while n_tokens < target:
        sentence = (f"Step {step}: {rng.choice(_VERBS)} the {rng.choice(_NOUNS)} {rng.choice(_HOW)}, "
                    f"{rng.choice(_WHY)}.")
        sentences.append(sentence)
        n_tokens += len(tokenizer(" " + sentence, add_special_tokens=False)["input_ids"])
        step += 1
    ids, labels = encode_example(tokenizer, [{"role": "user", "content": request}], " ".join(sentences), 1024)
    return Encoded(ids, labels)


# ---------------------------------------------------------------------- the two stacks


def run_tunewise(model_name: str, shape: Shape, pad_id: int) -> Measurement:
    """tunewise's LoRA rung: bf16 base, LoRA via tunewise.methods.lora, tunewise.train.loop.train."""
    torch.manual_seed(0)
    model, _ = load_causal_lm(model_name, dtype=torch.bfloat16)
    base_params = count_parameters(model)[1]
    model = lora.apply(model, LORA)
    cfg = TrainConfig(max_steps=shape.steps, batch_size=shape.batch_size, lr=LR, warmup_ratio=0.0,
                      schedule="cosine", max_grad_norm=1.0, weight_decay=0.0, patience=None, log_every=10**6)
    with tempfile.TemporaryDirectory() as out_dir, measure() as cost:
        result = train(model, shape.train, [], cfg, Path(out_dir), pad_id)
    val_loss = validation_loss(model, shape.val, pad_id)
    release(model)
    return Measurement("tunewise", result.real_tokens, result.padded_tokens, cost.wall_s, cost.peak_rss_bytes,
                       val_loss, base_params)


def run_trl(model_name: str, shape: Shape, pad_id: int, name: str) -> Measurement:
    """TRL SFTTrainer on the same tokenised examples (prompt tokens labelled -100), LoRA through PEFT."""
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    options = dict(TRL_CONFIGS[name])
    weights = options.pop("weights", torch.float32)
    attention = options.pop("attention", None)
    torch.manual_seed(0)  # the same LoRA initialisation as tunewise's run
    model, tokenizer = load_causal_lm(model_name, dtype=weights)
    base_params = count_parameters(model)[1]
    if attention:
        model.set_attn_implementation(attention)
    model = get_peft_model(model, PeftLoraConfig(r=LORA.r, lora_alpha=LORA.alpha, lora_dropout=LORA.dropout,
                                                 target_modules=list(LORA.target_modules), task_type="CAUSAL_LM"))
    if options.pop("same_batches", False):
        # tunewise's length-grouped batches, in tunewise's order, read sequentially: both stacks see the very
        # same batches, so their validation losses compare (and TRL gets tunewise's low padding).
        order = length_grouped_batches([len(e.input_ids) for e in shape.train], shape.batch_size, 0, 0)
        examples = [shape.train[i] for batch in order for i in batch]
        options["train_sampling_strategy"] = "sequential"
    else:
        examples = shape.train
    dataset = Dataset.from_dict({"input_ids": [e.input_ids for e in examples],
                                 "labels": [e.labels for e in examples]})
    with tempfile.TemporaryDirectory() as out_dir:
        config = SFTConfig(
            output_dir=out_dir, per_device_train_batch_size=shape.batch_size, max_steps=shape.steps,
            learning_rate=LR, lr_scheduler_type="cosine", warmup_steps=0, weight_decay=0.0, max_grad_norm=1.0,
            optim="adamw_torch_fused", gradient_checkpointing=False, use_cpu=True, seed=0, data_seed=0,
            max_length=None if options.get("padding_free") else 1024, report_to=[], save_strategy="no",
            eval_strategy="no", logging_steps=10**6, disable_tqdm=True, dataloader_num_workers=0, **options,
        )
        trainer = SFTTrainer(model=model, args=config, train_dataset=dataset, processing_class=tokenizer)
        counts = {"real": 0, "padded": 0}
        trainer.data_collator = _counting(trainer.data_collator, counts, pad_id)
        with measure() as cost:
            trainer.train()
    val_loss = validation_loss(model, shape.val, pad_id)
    release(model, trainer)
    return Measurement(f"TRL SFTTrainer ({name})", counts["real"], counts["padded"], cost.wall_s,
                       cost.peak_rss_bytes, val_loss, base_params)


def _counting(collator, counts: dict[str, int], pad_id: int):
    """The collator, counting the real and computed tokens of every batch it builds."""
    def collate_and_count(examples):
        batch = collator(examples)
        counts["real"] += sum(len(e["input_ids"]) for e in examples)
        counts["padded"] += batch["input_ids"].numel()
        return batch
    return collate_and_count


@torch.no_grad()
def validation_loss(model, val: list[Encoded], pad_id: int) -> float:
    """Mean answer-token loss over `val`, bf16 autocast, batches of 8: one function for both stacks."""
    model.eval()
    loss_sum, n = 0.0, 0
    for start in range(0, len(val), 8):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            batch_sum, batch_n = answer_loss_sum(model, collate(val[start : start + 8], pad_id))
        loss_sum, n = loss_sum + batch_sum.item(), n + batch_n
    return loss_sum / n


def release(*objects) -> None:
    """Drop the run's model so the next run starts from a similar memory state."""
    del objects
    gc.collect()


# ---------------------------------------------------------------------- machine peak and sweep


def matmul_peak_flops(size: int = 2048, repeats: int = 10) -> float:
    """Best observed bf16 matmul FLOP/s of this machine (square matmuls, all torch threads)."""
    a = torch.randn(size, size, dtype=torch.bfloat16)
    b = torch.randn(size, size, dtype=torch.bfloat16)
    best = math.inf
    for _ in range(repeats):
        started = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - started)
    return 2 * size**3 / best


SWEEP = [("lora", 16, length, 4) for length in (128, 256, 512, 1024)] + \
        [("lora", rank, 256, 4) for rank in (8, 64)] + [("full", 0, 256, 4)]


def sweep(model_name: str) -> None:
    """Each point in a fresh process, so every peak RSS is its own."""
    print("method  rank  length  batch  real tok/s  peak RSS GiB", flush=True)
    for method, rank, length, batch in SWEEP:
        subprocess.run([sys.executable, __file__, "--model", model_name, "--point", method, str(rank), str(length),
                        str(batch)], check=True)


def sweep_point(model_name: str, method: str, rank: str, length: str, batch: str) -> None:
    """One sweep point: 5 steps on random-token sequences of `length` tokens, half of them answer."""
    rank_, length_, batch_ = int(rank), int(length), int(batch)
    torch.manual_seed(0)
    weights = torch.bfloat16 if method == "lora" else torch.float32  # full fine-tuning keeps fp32 master weights
    model, _ = load_causal_lm(model_name, dtype=weights)
    if method == "lora":
        model = lora.apply(model, LoraConfig(r=rank_, alpha=2 * rank_))
    g = torch.Generator().manual_seed(0)
    data = []
    for _ in range(batch_ * 6):
        ids = torch.randint(10, model.config.vocab_size, (length_,), generator=g).tolist()
        data.append(Encoded(ids, [IGNORE_INDEX] * (length_ // 2) + ids[length_ // 2 :]))
    cfg = TrainConfig(max_steps=6, batch_size=batch_, lr=LR, patience=None, log_every=10**6)
    with tempfile.TemporaryDirectory() as out_dir, measure() as cost:
        train(model, data[:batch_], [], TrainConfig(max_steps=1, batch_size=batch_, lr=LR, log_every=10**6), Path(out_dir), 0)
        result = train(model, data, [], cfg, Path(out_dir), 0)
    print(f"{method:6s}  {rank_ or '-':>4}  {length_:6d}  {batch_:5d}  {result.tokens_per_s:10.0f}  "
          f"{cost.peak_rss_bytes / 2**30:12.2f}", flush=True)


if __name__ == "__main__":
    main()
