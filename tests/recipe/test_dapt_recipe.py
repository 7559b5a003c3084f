"""Continued pretraining on a tiny random llama: blocks cover the text, the LM loss falls, frozen weights stay put."""
from __future__ import annotations

import pytest
import torch

from tunewise.errors import TrainingError
from tunewise.methods import lora
from tunewise.methods.dapt import (
    DaptConfig,
    continued_pretraining,
    held_out_blocks,
    text_blocks,
    token_stream,
)
from tunewise.methods.lora import LoraConfig
from tunewise.sections import TrainConfig
from tunewise.train.batching import collate
from tunewise.train.loss import answer_loss

DOCS = [
    "My invoice is wrong and I was charged twice for the same order.",
    "The app crashes when I open settings. Please fix this bug.",
    "What is the capital of France? Paris is the capital of France.",
]


def _ids(tokenizer, text: str) -> list[int]:
    return tokenizer(text, add_special_tokens=False)["input_ids"]


# ---------------------------------------------------------------- blocks


def test_stream_is_every_document_followed_by_eos(tiny_tokenizer):
    eos = tiny_tokenizer.eos_token_id
    expected = [t for doc in DOCS for t in (*_ids(tiny_tokenizer, doc), eos)]
    assert token_stream(tiny_tokenizer, DOCS) == expected
    assert tiny_tokenizer.bos_token_id not in expected  # no special tokens but the separators
    assert token_stream(tiny_tokenizer, []) == []


def _block_sizes(n_tokens: int) -> tuple[int, int]:
    """(a block size whose last block is under half full, one whose last block is at least half full)."""
    dropped = next(b for b in range(16, 64) if 0 < 2 * (n_tokens % b) < b)
    kept = next(b for b in range(16, 64) if 2 * (n_tokens % b) >= b)
    return dropped, kept


def test_blocks_cut_the_stream_and_train_on_every_token(tiny_tokenizer):
    stream = token_stream(tiny_tokenizer, DOCS)
    dropped, kept = _block_sizes(len(stream))

    blocks = text_blocks(tiny_tokenizer, DOCS, kept)
    assert [t for b in blocks for t in b.input_ids] == stream  # nothing lost, nothing reordered
    assert all(len(b.input_ids) == kept for b in blocks[:-1]) and len(blocks) == -(-len(stream) // kept)
    assert 2 * len(blocks[-1].input_ids) >= kept
    assert all(b.labels == b.input_ids for b in blocks)

    blocks = text_blocks(tiny_tokenizer, DOCS, dropped)
    assert all(len(b.input_ids) == dropped for b in blocks)
    assert len(blocks) == len(stream) // dropped  # the short tail is dropped
    assert text_blocks(tiny_tokenizer, ["hi"], 64) == []  # under half a block: nothing


def test_validation_blocks_are_a_seeded_twentieth_and_disjoint(tiny_tokenizer):
    blocks = text_blocks(tiny_tokenizer, DOCS * 20, 16)  # over 40 blocks
    train_blocks, val_blocks = held_out_blocks(blocks, seed=0)
    assert len(val_blocks) == max(1, round(0.05 * len(blocks)))
    assert sorted(map(id, train_blocks + val_blocks)) == sorted(map(id, blocks))
    assert held_out_blocks(blocks, seed=0) == (train_blocks, val_blocks)
    assert held_out_blocks(blocks, seed=1)[1] != val_blocks
    assert held_out_blocks(blocks[:9], seed=0) == (blocks[:9], [])
    assert len(held_out_blocks(blocks[:10], seed=0)[1]) == 1


# ---------------------------------------------------------------- training


def _lm_loss(model, blocks, pad_id: int) -> float:
    with torch.no_grad():
        return answer_loss(model.eval(), collate(blocks, pad_id)).item()


def test_continued_pretraining_lowers_the_lm_loss_and_keeps_the_base_frozen(tiny_llama, tmp_path):
    model, tokenizer = tiny_llama
    model = lora.apply(model, LoraConfig(r=4, alpha=8))
    texts = DOCS * 8  # a few short documents, repeated: easy to memorise
    dapt_cfg = DaptConfig(block_size=32, epochs=12, lr=1e-2)
    # lr and max_steps here are the supervised run's: continued pretraining must use its own.
    train_cfg = TrainConfig(lr=1e-7, max_steps=1, batch_size=4, precision="fp32", patience=None, eval_every=5,
                            warmup_ratio=0.0, schedule="constant", seed=0)
    pad_id = tokenizer.pad_token_id
    blocks = text_blocks(tokenizer, texts, dapt_cfg.block_size)
    frozen = {n: p.detach().clone() for n, p in model.named_parameters() if not p.requires_grad}
    before = _lm_loss(model, blocks, pad_id)

    result = continued_pretraining(model, tokenizer, texts, dapt_cfg, train_cfg, tmp_path, pad_id)

    after = _lm_loss(model, blocks, pad_id)
    # From ln(vocab) = 6.0 to about 5.0: the tiny model's frozen tied head (init std 0.02) keeps logits small,
    # so even a memorised text cannot go much lower (about 4.85 after 90 steps).
    assert after < before - 0.6, (before, after)
    train_blocks = len(blocks) - max(1, round(0.05 * len(blocks)))
    assert result.steps == 12 * -(-train_blocks // 4)  # epochs from DaptConfig, max_steps cleared
    assert {e["lr"] for e in result.log} == {1e-2}
    assert result.best_step is not None  # some blocks were held out and scored
    assert (tmp_path / "train_log.jsonl").is_file()
    for name, p in model.named_parameters():
        if not p.requires_grad:
            assert torch.equal(p, frozen[name]), f"frozen weight {name} changed"


def test_too_little_text_is_a_clear_error(tiny_llama, tmp_path):
    model, tokenizer = tiny_llama
    model = lora.apply(model, LoraConfig(r=4, alpha=8))
    with pytest.raises(TrainingError, match="dapt.block_size"):
        continued_pretraining(model, tokenizer, ["hi"], DaptConfig(block_size=256), TrainConfig(), tmp_path,
                              tokenizer.pad_token_id)
