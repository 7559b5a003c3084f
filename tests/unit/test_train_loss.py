"""The answer-only loss equals full-vocabulary cross-entropy, with and without LoRA and padding."""
import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from tunewise.methods import lora
from tunewise.methods.lora import LoraConfig
from tunewise.train.batching import IGNORE_INDEX, Encoded, collate
from tunewise.train.loss import answer_loss, answer_loss_sum, full_vocab_loss

VOCAB = 96


def _tiny_llama(seed: int = 0) -> LlamaForCausalLM:
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=VOCAB, hidden_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
        intermediate_size=128, tie_word_embeddings=True,
    )
    return LlamaForCausalLM(config).eval()


def _batch(lengths_and_answers, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    examples = []
    for length, n_answer in lengths_and_answers:
        ids = torch.randint(3, VOCAB, (length,), generator=g).tolist()
        examples.append(Encoded(ids, [IGNORE_INDEX] * (length - n_answer) + ids[length - n_answer :]))
    return collate(examples, pad_id=0)


@pytest.mark.parametrize("shape", [[(12, 3)], [(12, 3), (7, 2), (20, 5), (9, 1)]], ids=["one", "padded"])
def test_answer_loss_equals_full_vocab_loss(shape):
    model = _tiny_llama()
    batch = _batch(shape)
    torch.testing.assert_close(answer_loss(model, batch), full_vocab_loss(model, batch), atol=1e-5, rtol=0)


def test_answer_loss_equals_full_vocab_loss_through_lora():
    model = lora.apply(_tiny_llama(), LoraConfig(r=4, dropout=0.0)).eval()
    with torch.no_grad():  # LoRA B starts at zero; make the adapters matter
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.5)
    batch = _batch([(15, 4), (6, 2), (11, 3)], seed=1)
    base_only = _tiny_llama()
    assert not torch.allclose(full_vocab_loss(model, batch), full_vocab_loss(base_only, batch), atol=1e-3)
    torch.testing.assert_close(answer_loss(model, batch), full_vocab_loss(model, batch), atol=1e-5, rtol=0)


def test_gradients_match_full_vocab_loss():
    model = lora.apply(_tiny_llama(), LoraConfig(r=4, dropout=0.0))
    batch = _batch([(10, 3), (14, 2)], seed=2)
    grads = []
    for loss_fn in (answer_loss, full_vocab_loss):
        model.zero_grad()
        loss_fn(model, batch).backward()
        grads.append({n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad})
    for name in grads[0]:
        torch.testing.assert_close(grads[0][name], grads[1][name], atol=1e-6, rtol=1e-4)


def test_counts_only_positions_that_predict_answer_tokens():
    batch = _batch([(12, 3), (7, 2)])
    _, n_answers = answer_loss_sum(_tiny_llama(), batch)
    assert n_answers == 5


def test_loss_is_fp32_under_bf16_autocast():
    model, batch = _tiny_llama(), _batch([(12, 3)])
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = answer_loss(model, batch)
    assert loss.dtype == torch.float32
    torch.testing.assert_close(loss, full_vocab_loss(model, batch), atol=0.05, rtol=0)
