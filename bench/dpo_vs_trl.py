"""DPO: tunewise's preference recipe against TRL's DPOTrainer, on the same model, LoRA initialisation and pairs.

(1) Agreement: a tiny random llama (or --model), fp32, one batch of pairs trained for a few steps by both stacks
(same LoRA start, AdamW, constant rate, clipping, beta, no dropout; TRL's reference = the adapter disabled, as ours).
TRL tokenises prompt + reply text itself, so the prompts are given to it as our rendered chat text and the replies
as text ending in the end-of-turn token: it then reads the very ids we train on (checked). Step-0 losses must agree
to 1e-5 (both log 2), later ones to 1e-4.
(2) Speed: tokens/s of both on SmolLM2 (bf16 autocast, fp32 LoRA) over the bundled support_replies pairs, each
stack timed around its whole training call (ours includes its one reference pass).

Usage:  python bench/dpo_vs_trl.py                       # both parts; the last lines are what `make bench` greps
        python bench/dpo_vs_trl.py --model DIR --speed-steps 1 --batch-size 2   # the smallest run (a smoke test)
Needs the bench extra (trl, datasets). Compare only numbers printed by one run.
"""
from __future__ import annotations

import argparse
import copy
import json
import math
import sys
import tempfile
import time
from pathlib import Path

import torch
from datasets import Dataset
from trl import DPOConfig, DPOTrainer

from tunewise.data.load import load_file
from tunewise.methods import lora
from tunewise.methods.alignment import encode_preferences
from tunewise.methods.lora import LoraConfig
from tunewise.models.chat_template import prompt_text
from tunewise.models.load import load_causal_lm, load_tokenizer
from tunewise.prompting.templates import zero_shot_messages
from tunewise.sections import DataConfig, TrainConfig
from tunewise.train.preference import Objective, train_preference

PAIRS = Path(__file__).resolve().parent.parent / "examples" / "support_replies" / "pairs.jsonl"
INSTRUCTION = "You are the customer support team. Reply to the customer's message."
BETA = 0.1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="a local model folder for both parts (default: a tiny random "
                        "llama for agreement, the bundled SmolLM2 for speed)")
    parser.add_argument("--agreement-steps", type=int, default=4)
    parser.add_argument("--speed-steps", type=int, default=12)
    parser.add_argument("--batch-size", type=int, default=8)
    args = parser.parse_args()
    torch.set_num_threads(torch.get_num_threads())
    agreement(args.model, args.agreement_steps, min(args.batch_size, 8))
    speed(args.model or "smollm2", args.speed_steps, args.batch_size)


def examples(n: int):
    loaded = load_file(PAIRS, DataConfig(path=PAIRS))
    return loaded.examples[:n]


def trl_dataset(tokenizer, examples) -> Dataset:
    """Text TRL tokenises into exactly our ids: the rendered prompt, each reply ending in the end-of-turn token."""
    eot = tokenizer.convert_ids_to_tokens(encode_preferences(tokenizer, examples[:1], INSTRUCTION, 10_000,
                                                             False)[0].chosen[-1])
    return Dataset.from_list([{"prompt": prompt_text(tokenizer, zero_shot_messages(e, INSTRUCTION)),
                               "chosen": e.answer + eot, "rejected": e.rejected + eot} for e in examples])


def trl_config(out: str, steps: int, batch_size: int, bf16: bool) -> DPOConfig:
    return DPOConfig(output_dir=out, beta=BETA, learning_rate=5e-4 if not bf16 else 5e-5, max_steps=steps,
                     per_device_train_batch_size=batch_size, lr_scheduler_type="constant", warmup_steps=0,
                     weight_decay=0.0, max_grad_norm=1.0, logging_steps=1, save_strategy="no", report_to="none",
                     use_cpu=not torch.cuda.is_available(), bf16=bf16, gradient_checkpointing=False,
                     max_length=None, seed=0, disable_dropout=True, dataloader_drop_last=False)


def our_config(steps: int, batch_size: int, bf16: bool) -> TrainConfig:
    return TrainConfig(lr=5e-4 if not bf16 else 5e-5, max_steps=steps, batch_size=batch_size, warmup_ratio=0.0,
                       schedule="constant", weight_decay=0.0, max_grad_norm=1.0, log_every=1, eval_every=10_000,
                       patience=None, precision="bf16" if bf16 else "fp32", seed=0)


def agreement(model_dir: str | None, steps: int, batch_size: int) -> None:
    """Both stacks train one batch of pairs (every step sees the same pairs, so the data order cannot differ)."""
    tokenizer = load_tokenizer(model_dir or "smollm2")
    base = load_causal_lm(model_dir, dtype=torch.float32)[0] if model_dir else tiny_llama(len(tokenizer))
    torch.manual_seed(0)
    # A fresh LoRA (B = 0): for both stacks the reference is then the adapter disabled. (Given a trained adapter,
    # TRL 1.16 copies it as a frozen reference instead; tunewise merges the SFT LoRA first, see alignment.py.)
    policy = lora.apply(base, LoraConfig(r=8, alpha=16, dropout=0.0))
    twin = copy.deepcopy(policy)
    pairs = examples(batch_size)
    items = encode_preferences(tokenizer, pairs, INSTRUCTION, 10_000, False)
    with tempfile.TemporaryDirectory() as tmp:
        ours = train_preference(policy, items, [], our_config(steps, batch_size, False), Objective("dpo", BETA),
                                Path(tmp), tokenizer.pad_token_id)
        trainer = DPOTrainer(model=twin, args=trl_config(tmp + "/trl", steps, batch_size, False),
                             train_dataset=trl_dataset(tokenizer, pairs), processing_class=tokenizer)
        check_same_ids(trainer, items)
        trainer.train()
    our_losses = [e["loss"] for e in ours.log if e["event"] == "train"]
    trl_losses = [e["loss"] for e in trainer.state.log_history if "loss" in e]
    gaps = [abs(a - b) for a, b in zip(our_losses, trl_losses)]
    for step, (a, b) in enumerate(zip(our_losses, trl_losses), 1):
        print(f"step {step}: tunewise {a:.7f}  trl {b:.7f}  |diff| {abs(a - b):.2e}")
    print(f"dpo_step0_loss_gap {gaps[0]:.2e}  (log 2 = {math.log(2):.7f}; need < 1e-5)")
    print(f"dpo_max_loss_gap {max(gaps):.2e}  (need < 1e-4)")
    if gaps[0] >= 1e-5 or max(gaps) >= 1e-4:
        raise SystemExit("tunewise's DPO loss disagrees with TRL's")


def check_same_ids(trainer, items) -> None:
    """TRL's tokenised pairs are our prompt and reply ids."""
    for row, item in zip(trainer.train_dataset, items):
        if row["prompt_ids"] != item.prompt or row["chosen_ids"] != item.chosen or row["rejected_ids"] != item.rejected:
            raise SystemExit("TRL tokenised a pair differently from tunewise; the comparison would not be fair")


def speed(model_name: str, steps: int, batch_size: int) -> None:
    tokenizer = load_tokenizer(model_name)
    pairs = examples(steps * batch_size)
    items = encode_preferences(tokenizer, pairs, INSTRUCTION, 512, False)
    tokens = sum(len(i.prompt) * 2 + len(i.chosen) + len(i.rejected) for i in items)
    results = {}
    for stack in ("tunewise", "trl"):
        base = load_causal_lm(model_name, dtype=torch.bfloat16 if stack == "tunewise" else torch.float32)[0]
        torch.manual_seed(0)
        policy = lora.apply(base, LoraConfig(r=16, alpha=32, dropout=0.0))
        with tempfile.TemporaryDirectory() as tmp:
            started = time.perf_counter()
            if stack == "tunewise":
                train_preference(policy, items, [], our_config(steps, batch_size, True), Objective("dpo", BETA),
                                 Path(tmp), tokenizer.pad_token_id)
            else:
                trainer = DPOTrainer(model=policy, args=trl_config(tmp + "/trl", steps, batch_size, True),
                                     train_dataset=trl_dataset(tokenizer, pairs), processing_class=tokenizer)
                started = time.perf_counter()  # TRL's tokenisation of the data set is not training time
                trainer.train()
            results[stack] = tokens / (time.perf_counter() - started)
        print(f"{stack}: {results[stack]:.0f} tokens/s ({steps} steps of {batch_size} pairs, {tokens:,} tokens)",
              file=sys.stderr)
    print(json.dumps({k: round(v, 1) for k, v in results.items()}))
    print(f"ratio_dpo_tokens_per_s_vs_trl {results['tunewise'] / results['trl']:.2f}")


def tiny_llama(vocab_size: int):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    return LlamaForCausalLM(LlamaConfig(vocab_size=vocab_size, hidden_size=64, intermediate_size=128,
                                        num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                                        tie_word_embeddings=True, initializer_range=0.2))


if __name__ == "__main__":
    main()
