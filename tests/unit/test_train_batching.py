"""Length-grouped batch order and padding."""
import random

import pytest
import torch

from tunewise.train.batching import (
    IGNORE_INDEX,
    Encoded,
    collate,
    length_grouped_batches,
)


def _lengths(n: int, seed: int = 0) -> list[int]:
    rng = random.Random(seed)
    return [rng.randint(5, 300) for _ in range(n)]


@pytest.mark.parametrize("n,batch_size", [(1, 4), (7, 3), (100, 8), (1003, 16)])
def test_every_index_exactly_once_per_epoch(n, batch_size):
    batches = length_grouped_batches(_lengths(n), batch_size, seed=1, epoch=0)
    flat = [i for b in batches for i in b]
    assert sorted(flat) == list(range(n))
    assert all(1 <= len(b) <= batch_size for b in batches)
    assert sum(len(b) < batch_size for b in batches) <= -(-n // (batch_size * 50))  # one short batch per chunk


def test_order_is_a_function_of_seed_and_epoch():
    lengths = _lengths(500)
    first = length_grouped_batches(lengths, 8, seed=3, epoch=2)
    assert first == length_grouped_batches(lengths, 8, seed=3, epoch=2)
    assert first != length_grouped_batches(lengths, 8, seed=3, epoch=3)
    assert first != length_grouped_batches(lengths, 8, seed=4, epoch=2)


def test_grouping_cuts_padding_against_random_batches():
    lengths = _lengths(800)
    batch_size = 8

    def padded(batches):
        return sum(max(lengths[i] for i in b) * len(b) for b in batches)

    order = list(range(len(lengths)))
    random.Random(0).shuffle(order)
    shuffled = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    grouped = length_grouped_batches(lengths, batch_size, seed=0, epoch=0)
    assert padded(grouped) < 0.7 * padded(shuffled)
    assert padded(grouped) >= sum(lengths)


def test_collate_pads_right_and_masks_pads():
    batch = [Encoded([5, 6, 7], [IGNORE_INDEX, 6, 7]), Encoded([8, 9], [IGNORE_INDEX, 9])]
    out = collate(batch, pad_id=0)
    assert out["input_ids"].tolist() == [[5, 6, 7], [8, 9, 0]]
    assert out["attention_mask"].tolist() == [[1, 1, 1], [1, 1, 0]]
    assert out["labels"].tolist() == [[IGNORE_INDEX, 6, 7], [IGNORE_INDEX, 9, IGNORE_INDEX]]
    assert all(t.dtype == torch.long for t in out.values())


def test_encoded_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match="differ in length"):
        Encoded([1, 2, 3], [1, 2])
