"""LoRA training on the tiny llama, run alone or under `accelerate launch --num_processes 2 --cpu` (gloo), for the
multi-process tests: `python multiprocess_worker.py OUT GRAD_ACCUM [kill|resume]`.

One process with grad_accum 2 and two processes with grad_accum 1 take the same micro-batches per optimizer step,
so their loss curves must agree. `kill` SIGKILLs every process inside step 5, after the state of step 3.
"""
from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from resume_worker import CONFIG, data, model

from tunewise.train import checkpoint
from tunewise.train.loop import train
from tunewise.train.loss import answer_loss_sum


def main() -> None:
    out, grad_accum = Path(sys.argv[1]), int(sys.argv[2])
    mode = sys.argv[3] if len(sys.argv) > 3 else "full"
    cfg = CONFIG.model_copy(update={"grad_accum": grad_accum, "log_every": 1, "eval_every": 100})
    steps = [0]

    def loss_fn(m, batch):
        steps[0] += 1
        if mode == "kill" and steps[0] == 5 * grad_accum:
            os.kill(os.getpid(), signal.SIGKILL)
        return answer_loss_sum(m, batch)

    net = model()
    result = train(net, data(40, 1), data(8, 2), cfg, out, pad_id=2, loss_fn=loss_fn, resume=mode == "resume")
    rank = int(os.environ.get("RANK", "0"))  # set by the launcher in each process
    losses = [e["loss"] for e in result.log if e["event"] == "train"]
    (out / f"losses-{rank}.json").write_text(json.dumps(losses))
    if rank == 0:
        checkpoint.save_trainable(net, out / "final.safetensors")


if __name__ == "__main__":
    main()
