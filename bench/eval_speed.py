"""Evaluation speed on the bundled SmolLM2-135M: tunewise's batched evaluation vs Hugging Face generate, one at a time.

Both sides see the same zero-shot prompts of the bundled support-ticket task (the ladder's zero-shot rung), the same
weights (eval dtype) and no autocast, as the ladder predicts. Classification: `score_labels` ranks the 14 labels;
the baseline greedily generates a label's worth of tokens per example. Generation: batched `generate` vs the same
greedy decoding one example at a time, which must give the same texts; it runs on the first --n-generate prompts
(16 new tokens one at a time is the slow part of the script) and with fp32 weights by default, because in bf16 the
batched and one-at-a-time matmuls round differently and flip near-tied tokens (about 1 text in 3 differed).
Usage: HF_HUB_OFFLINE=1 python bench/eval_speed.py [--n 200] [--n-generate 48] [--generation-dtype fp32] [--model M]
The smallest run, on any local model folder: --model DIR --n 4 --n-generate 2.
Timings on a shared CPU are noisy: the two sides take turns of 40 prompts so load from other processes hits both
alike, and only the numbers printed by one run compare.
"""
from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import torch
from transformers.utils import logging as hf_logging

from tunewise.config import load_config
from tunewise.data import prepare_data
from tunewise.evaluate.generate import decode_answer, generate, stop_token_ids
from tunewise.evaluate.likelihood import score_labels
from tunewise.evaluate.predict import prompt_token_ids
from tunewise.models.chat_template import answer_ids
from tunewise.models.load import eval_dtype, load_causal_lm
from tunewise.prompting.templates import zero_shot_messages

CONFIG = Path(__file__).resolve().parents[1] / "examples" / "support_tickets" / "tunewise.yaml"
NO_LABEL = "no label"
GENERATE_TOKENS = 16  # long enough for a label plus a few words of chatter; short enough to run in minutes
TURN = 40  # prompts per turn (a multiple of the batch size); each turn re-runs the shared prefix: ~2 tokens per prompt


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="a bundled name or a local folder (default: the example task's model.name, "
                        "the bundled SmolLM2)")
    parser.add_argument("--n", type=int, default=200, help="test examples (the first N of the test split)")
    parser.add_argument("--n-generate", type=int, default=48, help="of those, how many the generation check uses")
    parser.add_argument("--generation-dtype", choices=["fp32", "bf16"], default="fp32", help="weights for generation")
    args = parser.parse_args()

    hf_logging.disable_progress_bar()  # plain output lines
    config = load_config(CONFIG)
    prepared = prepare_data(config.data, config.task)
    task, test = prepared.task, prepared.split.test[: args.n]
    model_name = args.model or config.model.name
    model, tokenizer = load_causal_lm(model_name, dtype=eval_dtype(config))
    # The ladder's own prompts: cut from the left to leave max_new_tokens of context for the answer.
    prompts = prompt_token_ids(model, tokenizer, [zero_shot_messages(e, task.instruction) for e in test],
                               config.eval.max_new_tokens)
    batch_size = config.eval.batch_size
    print(f"{len(prompts)} test prompts of {CONFIG.parent.name}, {sum(map(len, prompts)) / len(prompts):.0f} tokens "
          f"on average; no autocast, {torch.get_num_threads()} torch threads", flush=True)

    classify_ratio = compare_classification(model, tokenizer, prompts, [e.label for e in test], task.labels, batch_size)
    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16}[args.generation_dtype]
    if dtype != model.dtype:
        model, tokenizer = load_causal_lm(model_name, dtype=dtype)
    generate_ratio = compare_generation(model, tokenizer, prompts[: args.n_generate], batch_size)
    print(f"ratio_generate_examples_per_s_vs_hf_generate {generate_ratio:.2f}")
    print(f"ratio_eval_examples_per_s_vs_hf_generate {classify_ratio:.2f}")


def compare_classification(model, tokenizer, prompts, gold: list[str], labels: list[str], batch_size: int) -> float:
    """Label scoring vs HF generate per example; prints speeds, accuracies, agreement; returns the speed ratio."""
    max_new_tokens = max(len(answer_ids(tokenizer, label)) for label in labels)  # longest label + end of turn

    def ours(chunk: list[list[int]]) -> list[str]:
        scores = score_labels(model, tokenizer, chunk, labels, batch_size=batch_size, precision="fp32")  # (n, L)
        return [labels[i] for i in scores.argmax(axis=1)]

    def hf(chunk: list[list[int]]) -> list[str]:
        texts = hf_generate_one_at_a_time(model, tokenizer, chunk, max_new_tokens)
        return [text if text in labels else NO_LABEL for text in texts]

    (ours_out, ours_s), (hf_out, hf_s) = in_turns([ours, hf], prompts)
    n = len(prompts)
    print(f"classification, {len(labels)} labels, {model.dtype} weights:")
    print(speed_line(f"tunewise score_labels, batch {batch_size}", n, ours_s, f"accuracy {accuracy(ours_out, gold):.3f}"))
    print(speed_line(f"HF generate one at a time, {max_new_tokens} new tokens", n, hf_s,
                     f"accuracy {accuracy(hf_out, gold):.3f}, {hf_out.count(NO_LABEL)} answers not a label"))
    print(f"  agreement {accuracy(ours_out, hf_out):.3f} (ranking every label and free greedy text are different "
          "decoders: they need not agree)", flush=True)
    return hf_s / ours_s


def compare_generation(model, tokenizer, prompts, batch_size: int) -> float:
    """Batched greedy `generate` vs HF generate per example; prints speeds and mismatches; returns the speed ratio."""

    def ours(chunk: list[list[int]]) -> list[str]:
        return generate(model, tokenizer, chunk, GENERATE_TOKENS, batch_size=batch_size, precision="fp32")

    def hf(chunk: list[list[int]]) -> list[str]:
        return hf_generate_one_at_a_time(model, tokenizer, chunk, GENERATE_TOKENS)

    (ours_out, ours_s), (hf_out, hf_s) = in_turns([ours, hf], prompts)
    n = len(prompts)
    mismatches = sum(a != b for a, b in zip(ours_out, hf_out))
    print(f"generation, greedy, up to {GENERATE_TOKENS} new tokens, {model.dtype} weights, first {n} prompts:")
    print(speed_line(f"tunewise generate, batch {batch_size}", n, ours_s))
    print(speed_line("HF generate one at a time", n, hf_s))
    print(f"  mismatched texts {mismatches} of {n}", flush=True)
    return hf_s / ours_s


def in_turns(sides: list[Callable[[list[list[int]]], list[str]]], prompts) -> list[tuple[list[str], float]]:
    """(outputs in the prompts' order, seconds) of each side, run in turns of TURN prompts, alternating who goes first.

    Taking turns lets load from other processes hit both sides alike. Turns take the prompts shortest first, so
    tunewise's batches are the ones it forms from the whole set (it sorts by length); one untimed warm-up call each.
    """
    for side in sides:
        side(prompts[:2])
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
    outputs: list[list[str]] = [[""] * len(prompts) for _ in sides]
    seconds = [0.0 for _ in sides]
    for turn, start in enumerate(range(0, len(order), TURN)):
        rows = order[start : start + TURN]
        for i in range(len(sides)) if turn % 2 == 0 else reversed(range(len(sides))):
            started = time.perf_counter()
            answers = sides[i]([prompts[row] for row in rows])
            seconds[i] += time.perf_counter() - started
            for row, answer in zip(rows, answers):
                outputs[i][row] = answer
    return list(zip(outputs, seconds))


def hf_generate_one_at_a_time(model, tokenizer, prompts: list[list[int]], max_new_tokens: int) -> list[str]:
    """The baseline: `model.generate` per prompt, greedy, stopping at end of turn; answers as `generate` decodes them."""
    stop = stop_token_ids(tokenizer)
    texts = []
    with torch.inference_mode():
        for prompt in prompts:
            ids = torch.tensor([prompt])
            out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=max_new_tokens,
                                 do_sample=False, eos_token_id=stop, pad_token_id=stop[0])  # (1, T + new)
            texts.append(decode_answer(tokenizer, out[0, ids.shape[1] :].tolist(), stop))
    return texts


def speed_line(name: str, n: int, seconds: float, note: str = "") -> str:
    return f"  {name:42s} {n / seconds:6.2f} examples/s  {seconds:6.1f} s  {note}".rstrip()


def accuracy(predicted: list[str], reference: list[str]) -> float:
    return sum(p == r for p, r in zip(predicted, reference)) / len(reference)


if __name__ == "__main__":
    main()
