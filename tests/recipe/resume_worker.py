"""A training run in its own process, for the resume tests: `python resume_worker.py OUT MODE [KILL_AT]`.

MODE: `full` trains to the end; `kill` SIGKILLs itself inside micro-batch KILL_AT (counted from 1, so with
grad_accum 2 an odd number lands between the micro-steps of one optimizer step); `resume` continues from the
newest saved state; `term` sends itself SIGTERM inside micro-batch KILL_AT; `killsave` SIGKILLs itself while the
state of step KILL_AT is being written. The trained weights go to OUT/final.safetensors.
"""
from __future__ import annotations

import os
import random
import signal
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from conftest import build_tiny_llama, build_tiny_tokenizer

from tunewise.methods import lora
from tunewise.methods.lora import LoraConfig
from tunewise.sections import TrainConfig
from tunewise.train import checkpoint
from tunewise.train.batching import Encoded
from tunewise.train.loop import TrainingInterrupted, train
from tunewise.train.loss import answer_loss_sum

CONFIG = TrainConfig(lr=3e-3, max_steps=12, batch_size=4, grad_accum=2, eval_every=4, patience=None,
                     precision="fp32", log_every=2, checkpoint_every=3, warmup_ratio=0.2)


def data(n: int, seed: int) -> list[Encoded]:
    """Examples of different lengths (so length grouping and shuffling matter), answer = last 3 tokens."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        ids = [rng.randrange(3, 300) for _ in range(rng.randrange(6, 30))]
        out.append(Encoded(input_ids=ids, labels=[-100] * (len(ids) - 3) + ids[-3:]))
    return out


def model():
    torch.manual_seed(0)
    tokenizer = build_tiny_tokenizer()
    base = build_tiny_llama(len(tokenizer))
    # Dropout on, so the dropout RNG must be restored for the weights to match.
    return lora.apply(base, LoraConfig(r=4, alpha=8, dropout=0.1, target_modules=["q_proj", "v_proj"]), "lora")


def main() -> None:
    out, mode = Path(sys.argv[1]), sys.argv[2]
    at = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    calls = [0]

    def loss_fn(m, batch):
        calls[0] += 1
        if mode == "kill" and calls[0] == at:
            os.kill(os.getpid(), signal.SIGKILL)
        if mode == "term" and calls[0] == at:
            os.kill(os.getpid(), signal.SIGTERM)
        return answer_loss_sum(m, batch)

    if mode == "killsave":
        original = checkpoint.save_file

        def dying_save(tensors, path, *args, **kwargs):
            if f".{checkpoint.STATE_PREFIX}{at}.tmp" in str(path) and "optimizer" in str(path):
                Path(path).write_bytes(b"half")  # the write started, then the process died
                os.kill(os.getpid(), signal.SIGKILL)
            return original(tensors, path, *args, **kwargs)

        checkpoint.save_file = dying_save
    net = model()
    try:
        train(net, data(40, 1), data(8, 2), CONFIG, out, pad_id=2, loss_fn=loss_fn, resume=mode == "resume")
    except TrainingInterrupted as err:
        print(err, file=sys.stderr)
        sys.exit(3)
    checkpoint.save_trainable(net, out / "final.safetensors")


if __name__ == "__main__":
    main()
