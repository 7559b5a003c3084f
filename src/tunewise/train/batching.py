"""Training batches: tokenised examples, length-grouped batch order, padding or packing into tensors.

Grouping similar lengths keeps padding (wasted compute) low; the order is reproducible from (seed, epoch).
Packing puts a batch's examples end to end in one row instead, with position ids that restart at each example
and no attention mask, from which the model builds a block-diagonal causal mask: no token attends across
examples, and the loss equals the padded batch's.
"""
from __future__ import annotations

import random
from dataclasses import dataclass

import torch
from torch import Tensor

IGNORE_INDEX = -100  # the label value that cross-entropy (and our answer-only loss) skips

# Sorting happens inside chunks of this many batches: enough to find similar lengths, small enough
# that each epoch still sees the data in a different order.
_BATCHES_PER_MEGA_CHUNK = 50


@dataclass(frozen=True)
class Encoded:
    """One tokenised training example; labels are IGNORE_INDEX on prompt tokens, not shifted."""

    input_ids: list[int]
    labels: list[int]

    def __post_init__(self) -> None:
        if len(self.input_ids) != len(self.labels):
            raise ValueError(f"input_ids ({len(self.input_ids)}) and labels ({len(self.labels)}) differ in length")


def length_grouped_batches(lengths: list[int], batch_size: int, seed: int, epoch: int) -> list[list[int]]:
    """Indices split into batches of similar length; every index exactly once; same (seed, epoch), same order."""
    rng = random.Random(f"{seed}:{epoch}")
    order = list(range(len(lengths)))
    rng.shuffle(order)
    mega = batch_size * _BATCHES_PER_MEGA_CHUNK
    batches = []
    for start in range(0, len(order), mega):
        chunk = sorted(order[start : start + mega], key=lambda i: lengths[i], reverse=True)
        batches.extend(chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size))
    rng.shuffle(batches)
    return batches


def collate(batch: list[Encoded], pad_id: int) -> dict[str, Tensor]:
    """Right-pad to the longest example: input_ids, attention_mask, labels (IGNORE_INDEX on pads), each (B, T)."""
    width = max(len(e.input_ids) for e in batch)
    input_ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    labels = torch.full((len(batch), width), IGNORE_INDEX, dtype=torch.long)
    attention_mask = torch.zeros((len(batch), width), dtype=torch.long)
    for row, example in enumerate(batch):
        n = len(example.input_ids)
        input_ids[row, :n] = torch.tensor(example.input_ids, dtype=torch.long)
        labels[row, :n] = torch.tensor(example.labels, dtype=torch.long)
        attention_mask[row, :n] = 1
    return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}


def collate_packed(batch: list[Encoded]) -> dict[str, Tensor]:
    """The examples end to end in one row: input_ids, position_ids (0.. per example), labels; each (1, sum of lengths).

    Each example's first label is IGNORE_INDEX: it would be predicted from the previous example's last token.
    """
    input_ids, position_ids, labels = [], [], []
    for example in batch:
        input_ids.extend(example.input_ids)
        position_ids.extend(range(len(example.input_ids)))
        labels.extend([IGNORE_INDEX, *example.labels[1:]])
    return {
        "input_ids": torch.tensor([input_ids], dtype=torch.long),
        "position_ids": torch.tensor([position_ids], dtype=torch.long),
        "labels": torch.tensor([labels], dtype=torch.long),
    }


def split_by_tokens(batch: list[Encoded], max_tokens: int | None) -> list[list[Encoded]]:
    """Consecutive pieces of the batch whose padded size (rows x longest) stays within max_tokens, when set.

    A piece has at least one example, so an example longer than max_tokens still trains, alone.
    """
    if max_tokens is None:
        return [batch]
    pieces: list[list[Encoded]] = [[]]
    width = 0
    for example in batch:
        new_width = max(width, len(example.input_ids))
        if pieces[-1] and new_width * (len(pieces[-1]) + 1) > max_tokens:
            pieces.append([])
            new_width = len(example.input_ids)
        pieces[-1].append(example)
        width = new_width
    return pieces


def token_counts(batch: dict[str, Tensor]) -> tuple[int, int]:
    """(real, computed) tokens of a collated batch; packed batches have no padding."""
    if "attention_mask" in batch:
        return int(batch["attention_mask"].sum()), batch["attention_mask"].numel()
    return batch["input_ids"].numel(), batch["input_ids"].numel()
