"""Prediction time against the number of labels: label scoring with 20 labels, 77 labels, and 77 labels narrowed to
20 candidate labels per example (eval.candidate_labels), on the bundled many-intent example and SmolLM2-135M.

Each row runs a ladder rung's own `predict` (zero-shot, and few-shot with the 3 nearest demonstrations) on the same
number of test examples; the 20-label rows use 20 of the 77 intents (their training and test examples only). The
candidate row also prints how often the gold intent is among the candidates, and the one-off encoder time that
chose them. The last rows time the `features` rung's embedding: the whole conversation (instruction and 77-label
list included) per example, as it was, against the shared instruction run once (KV cache) and each example's
remainder after it.
Usage: HF_HUB_OFFLINE=1 python bench/many_labels.py [--n 48] [--features-n 200] [--model M]
The smallest run, on any local model folder: --model DIR --n 4 --features-n 4 --max-train 300.
Timings on a shared CPU are noisy: compare the numbers printed by one run only.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
from transformers.utils import logging as hf_logging

from tunewise.config import load_config
from tunewise.data import prepare_data
from tunewise.evaluate.candidates import candidates_summary, with_candidates
from tunewise.evaluate.predict import BaseModelCache
from tunewise.methods.features import FeatureRung
from tunewise.models.embed import TextEncoder, embed_sequences
from tunewise.models.load import eval_dtype
from tunewise.prompting.demos import NearestDemos
from tunewise.prompting.rungs import PromptRung
from tunewise.prompting.templates import user_text
from tunewise.task import Task, default_instruction, example_label

CONFIG = Path(__file__).resolve().parents[1] / "examples" / "many_intents" / "tunewise.yaml"
FEW_LABELS = 20
CANDIDATES = 20


def task_with(labels: list[str], metric: str) -> Task:
    return Task("classification", labels, metric, default_instruction(labels))


def time_rungs(base, task, config, train, test, label: str) -> list[tuple[str, float]]:
    """(row name, examples/s) of zero-shot and few-shot nearest k3 predicting `test`."""
    nearest = NearestDemos(train, TextEncoder(config.model.encoder, batch_size=config.eval.batch_size * 4))
    nearest.fit()  # embedding train is the rung's fit, not its prediction time
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for style, k in (("zero_shot", 0), ("few_shot", 3)):
            rung = PromptRung(base, task, config, style, k=k, selection="nearest", nearest=nearest)
            rung.fit(train, [], Path(scratch))
            if style == "few_shot":
                nearest.for_examples(test, k)  # test embeddings too: the timing is label scoring alone
            started = time.perf_counter()
            predictions = rung.predict(test)
            seconds = time.perf_counter() - started
            accuracy = sum(p.output == example_label(e) for p, e in zip(predictions, test)) / len(test)
            rows.append((f"{rung.name:<22} {label:<30}", len(test) / seconds, accuracy))
            print(f"{rows[-1][0]} {rows[-1][1]:6.2f} examples/s  accuracy {accuracy:.3f}", flush=True)
    return rows


def time_features(config, task, examples) -> None:
    """Examples/s of the features rung's decoder embedding: whole conversation per example vs prefix run once."""
    rung = FeatureRung(task, config, "decoder")
    _, tokenizer = rung._load()
    inputs = rung._token_ids(examples)
    whole = [inputs.prefix + s for s in inputs.seqs]  # what every example ran before the shared prefix was cached
    device = next(rung.model.parameters()).device
    rung.embed(examples[:2])  # warm-up (and the prefix cache, run once per rung)
    started = time.perf_counter()
    embed_sequences(rung._forward, whole, tokenizer.pad_token_id or 0, device, config.eval.batch_size)
    before = time.perf_counter() - started
    started = time.perf_counter()
    rung.embed(examples)
    after = time.perf_counter() - started
    print(f"features, whole conversation per example ({sum(map(len, whole)) / len(whole):.0f} tokens)   "
          f"{len(examples) / before:6.2f} examples/s")
    print(f"features, shared prefix ({len(inputs.prefix)} tokens) run once + remainder "
          f"({sum(map(len, inputs.seqs)) / len(inputs.seqs):.0f} tokens)   {len(examples) / after:6.2f} examples/s")
    print(f"ratio_features_prefix {before / after:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="a bundled name or a local folder (default: the example's model.name, "
                        "the bundled SmolLM2)")
    parser.add_argument("--n", type=int, default=48, help="test examples per row")
    parser.add_argument("--features-n", type=int, default=200, help="examples the features rung embeds")
    parser.add_argument("--max-train", type=int, help="use only the first N training examples (quick smoke runs)")
    args = parser.parse_args()

    hf_logging.disable_progress_bar()
    config = load_config(CONFIG)
    if args.model:
        config.model.name = args.model
    prepared = prepare_data(config.data, config.task)
    train, test = prepared.split.train[: args.max_train], prepared.split.test
    labels = prepared.task.labels
    few = labels[:: len(labels) // FEW_LABELS][:FEW_LABELS]  # spread over banking, retail and travel
    metric = prepared.task.metric
    all_labels = task_with(labels, metric)
    base = BaseModelCache(config.model.name, eval_dtype(config))
    base.get()
    print(f"{len(labels)} intents, {len(train)} train; {args.n} test examples per row; "
          f"{torch.get_num_threads()} torch threads", flush=True)

    rows = time_rungs(base, task_with(few, metric), config, [e for e in train if example_label(e) in few],
                      [e for e in test if example_label(e) in few][: args.n], f"full scoring, {len(few)} labels")
    test77 = test[: args.n]
    rows += time_rungs(base, all_labels, config, train, test77, f"full scoring, {len(labels)} labels")
    encoder = TextEncoder(config.model.encoder, batch_size=config.eval.batch_size * 4)
    encoder.load()
    started = time.perf_counter()
    narrowed = with_candidates(all_labels, train, test77, user_text, encoder, CANDIDATES)
    choose_s = time.perf_counter() - started
    summary = candidates_summary(narrowed, test77, config.model.encoder)
    rows += time_rungs(base, narrowed, config, train, test77, f"{CANDIDATES} candidates of {len(labels)} labels")
    print(f"candidates chosen in {choose_s:.1f} s (MiniLM: {len(train)} train + {len(test77)} test); gold among "
          f"them for {summary['gold_among_candidates']:.1%} of the test examples")
    speed = {name: value for name, value, _ in rows}
    for style in ("zero_shot", "few_shot_nearest_k3"):
        full, cand = (next(v for k, v in speed.items() if k.startswith(style) and what in k)
                      for what in (f"full scoring, {len(labels)}", "candidates"))
        print(f"ratio_candidates_{style} {cand / full:.2f}")

    time_features(config, all_labels, test[: args.features_n])


if __name__ == "__main__":
    main()
