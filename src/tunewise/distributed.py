"""Several processes (`accelerate launch` / `torchrun`): who writes, and the values every process must share.

Every process runs the whole ladder on the same data and seed; the training loop splits each step's micro-batches
between them and sums the gradients. Only the main process (rank 0) writes files, so a run folder is written once.
torch is imported only when there are several processes: the CLI (and `tunewise --help`) starts without it.
"""
from __future__ import annotations

import os


def world_size() -> int:
    """Processes in the run (1 without a launcher)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def is_main() -> bool:
    """Whether this process writes files and prints the run's log (always, alone)."""
    return int(os.environ.get("RANK", "0")) == 0



def setup() -> None:
    """Join the launcher's process group (gloo on CPU) when there are several processes."""
    if world_size() == 1:
        return
    import torch
    import torch.distributed as dist
    from accelerate import PartialState

    if not dist.is_initialized():
        PartialState(cpu=not torch.cuda.is_available())


def share(value):
    """The main process's `value`, on every process (e.g. the run folder it named)."""
    if world_size() == 1:
        return value
    import torch.distributed as dist

    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def barrier() -> None:
    """Wait until every process gets here (after the main one wrote what the others read)."""
    if world_size() == 1:
        return
    import torch.distributed as dist

    if dist.is_initialized():
        dist.barrier()
