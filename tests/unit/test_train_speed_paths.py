"""The speed paths compute the same thing as the plain ones: packing, token-capped pieces, chunked loss, lean LoRA."""
import pytest
import torch
import torch.nn.functional as F
from transformers import LlamaConfig, LlamaForCausalLM

from tunewise.methods import lora
from tunewise.methods.lora import LoraConfig
from tunewise.sections import TrainConfig
from tunewise.train.batching import (
    IGNORE_INDEX,
    Encoded,
    collate,
    collate_packed,
    split_by_tokens,
    token_counts,
)
from tunewise.train.fused import lean_layers
from tunewise.train.loop import train
from tunewise.train.loss import answer_loss_sum, linear_cross_entropy_sum

VOCAB = 96


def _tiny_llama(attention: str = "sdpa", seed: int = 0) -> LlamaForCausalLM:
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=VOCAB, hidden_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
        intermediate_size=128, tie_word_embeddings=True, attn_implementation=attention,
    )
    return LlamaForCausalLM(config).eval()


def _examples(lengths_and_answers, seed: int = 0) -> list[Encoded]:
    g = torch.Generator().manual_seed(seed)
    examples = []
    for length, n_answer in lengths_and_answers:
        ids = torch.randint(3, VOCAB, (length,), generator=g).tolist()
        examples.append(Encoded(ids, [IGNORE_INDEX] * (length - n_answer) + ids[length - n_answer :]))
    return examples


SHAPES = [(12, 3), (7, 2), (20, 5), (9, 1)]


@pytest.mark.parametrize("attention", ["sdpa", "eager"])
def test_packed_batch_gives_the_padded_batch_loss(attention):
    model, examples = _tiny_llama(attention), _examples(SHAPES)
    padded_sum, padded_n = answer_loss_sum(model, collate(examples, pad_id=0))
    packed_sum, packed_n = answer_loss_sum(model, collate_packed(examples))
    assert packed_n == padded_n == 11
    torch.testing.assert_close(packed_sum, padded_sum, atol=1e-4, rtol=1e-5)


@pytest.mark.parametrize("attention", ["sdpa", "eager"])
def test_packed_examples_do_not_attend_to_each_other(attention):
    model = _tiny_llama(attention)
    first, second = _examples([(10, 2), (8, 3)])
    other_first = _examples([(10, 2)], seed=5)[0]  # different tokens in the first slot
    states = []
    for head in (first, other_first):
        batch = collate_packed([head, second])
        with torch.no_grad():
            hidden = model.model(input_ids=batch["input_ids"], position_ids=batch["position_ids"], use_cache=False)
        states.append(hidden.last_hidden_state[0])
    assert not torch.allclose(states[0][:10], states[1][:10])  # the first example did change
    torch.testing.assert_close(states[0][10:], states[1][10:], atol=1e-5, rtol=0)  # the second did not see it


def test_packed_batch_restarts_positions_and_masks_example_boundaries():
    examples = [Encoded([5, 6, 7], [5, 6, 7]), Encoded([8, 9], [IGNORE_INDEX, 9])]
    batch = collate_packed(examples)
    assert batch["position_ids"].tolist() == [[0, 1, 2, 0, 1]]
    # The first token of each example is never a target: it would be predicted across the boundary.
    assert batch["labels"].tolist() == [[IGNORE_INDEX, 6, 7, IGNORE_INDEX, 9]]
    assert token_counts(batch) == (5, 5)
    assert token_counts(collate(examples, pad_id=0)) == (5, 6)


@pytest.mark.parametrize("chunk", [1, 4, 1000])
@pytest.mark.parametrize("head_trains", [False, True])
def test_chunked_loss_equals_plain_cross_entropy(chunk, head_trains):
    torch.manual_seed(0)
    hidden = torch.randn(23, 16, requires_grad=True)
    weight = torch.randn(VOCAB, 16, requires_grad=head_trains)
    targets = torch.randint(0, VOCAB, (23,))
    chunked = linear_cross_entropy_sum(hidden, weight, targets, chunk=chunk)
    (2.5 * chunked).backward()  # a non-unit upstream gradient
    grads = (hidden.grad.clone(), weight.grad.clone() if head_trains else None)
    hidden.grad, weight.grad = None, None
    plain = F.cross_entropy(hidden @ weight.T, targets, reduction="sum")
    (2.5 * plain).backward()
    torch.testing.assert_close(chunked, plain, atol=1e-4, rtol=1e-6)
    torch.testing.assert_close(grads[0], hidden.grad, atol=1e-5, rtol=1e-5)
    if head_trains:
        torch.testing.assert_close(grads[1], weight.grad, atol=1e-5, rtol=1e-5)
    with torch.no_grad():  # validation takes the no-gradient path
        torch.testing.assert_close(linear_cross_entropy_sum(hidden, weight, targets, chunk=chunk), plain)


def test_split_by_tokens_keeps_every_example_and_the_cap():
    examples = _examples([(30, 2), (28, 2), (25, 2), (10, 2), (9, 2), (64, 2)])
    pieces = split_by_tokens(examples, max_tokens=60)
    assert [e for piece in pieces for e in piece] == examples
    for piece in pieces:
        assert len(piece) == 1 or len(piece) * max(len(e.input_ids) for e in piece) <= 60
    assert split_by_tokens(examples, None) == [examples]


def _train_once(tmp_path, **overrides):
    model = lora.apply(_tiny_llama(), LoraConfig(r=4))
    data = _examples([(12 + i % 9, 3) for i in range(16)], seed=3)
    cfg = TrainConfig(lr=2e-4, max_steps=3, batch_size=8, precision="fp32", patience=None, log_every=1, **overrides)
    result = train(model, data, [], cfg, tmp_path, pad_id=0)
    return result, {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}


@pytest.mark.parametrize("overrides", [{"max_batch_tokens": 40}, {"packing": True}], ids=["pieces", "packed"])
def test_capped_or_packed_micro_batches_train_like_padded_ones(tmp_path, overrides):
    plain, plain_weights = _train_once(tmp_path / "plain", max_batch_tokens=None)
    other, other_weights = _train_once(tmp_path / "other", **overrides)
    assert other.real_tokens == plain.real_tokens
    for name, weight in plain_weights.items():
        torch.testing.assert_close(other_weights[name], weight, atol=2e-5, rtol=1e-4)


def test_training_attention_is_restored_for_prediction(tmp_path):
    model = lora.apply(_tiny_llama("sdpa"), LoraConfig(r=4))
    data = _examples([(12, 3)] * 4)
    train(model, data, [], TrainConfig(lr=2e-4, max_steps=1, batch_size=4, attention="eager", patience=None), tmp_path, 0)
    assert model.get_base_model().config._attn_implementation == "sdpa"


def test_lean_lora_forward_matches_peft_under_autocast():
    model = lora.apply(_tiny_llama(), LoraConfig(r=4))
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.5)
    batch = collate(_examples(SHAPES), pad_id=0)
    layer = model.get_base_model().model.layers[0].self_attn.q_proj
    x = torch.randn(3, 5, 64)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        lean = layer(x)
        peft = type(layer).forward(layer, x)
        lean_loss, _ = answer_loss_sum(model, batch)
    torch.testing.assert_close(lean.float(), peft.float(), atol=0.03, rtol=0.02)
    with model.disable_adapter(), torch.autocast("cpu", dtype=torch.bfloat16):
        base_loss, _ = answer_loss_sum(model, batch)
    assert not torch.isclose(lean_loss, base_loss)  # the adapters were applied


def test_gradient_checkpointing_trains_like_plain_backward(tmp_path):
    plain, plain_weights = _train_once(tmp_path / "plain")
    seen = []  # whether each decoder layer call ran checkpointed
    hook = torch.nn.modules.module.register_module_forward_pre_hook(
        lambda module, args: seen.append(module.gradient_checkpointing) if hasattr(module, "self_attn") else None
    )
    try:
        checkpointed, checkpointed_weights = _train_once(tmp_path / "ckpt", gradient_checkpointing=True)
    finally:
        hook.remove()
    assert seen and all(seen)
    assert checkpointed.steps == plain.steps
    for name, weight in plain_weights.items():
        torch.testing.assert_close(checkpointed_weights[name], weight, atol=2e-5, rtol=1e-4)


def _loss_and_grads(model, batch, lean: bool):
    model.zero_grad()
    with lean_layers(model, enabled=lean) as swapped:
        total, _ = answer_loss_sum(model, batch)
        total.backward()
    return swapped, total.detach(), {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad}


def test_lean_layers_give_the_same_loss_and_gradients_and_are_restored():
    model, batch = _tiny_llama(), collate(_examples(SHAPES), pad_id=0)
    model.train()
    _, plain_loss, plain_grads = _loss_and_grads(model, batch, lean=False)
    swapped, lean_loss, lean_grads = _loss_and_grads(model, batch, lean=True)
    assert swapped == 2 * 3 + 1  # per layer two norms and the MLP, plus the final norm
    torch.testing.assert_close(lean_loss, plain_loss, atol=1e-5, rtol=1e-5)
    for name, grad in plain_grads.items():  # norm weights, projections, embeddings: every gradient
        torch.testing.assert_close(lean_grads[name], grad, atol=1e-5, rtol=1e-4, msg=name)
    assert all("forward" not in m.__dict__ for m in model.modules())  # the modules' own forwards are back


def test_lean_layers_match_under_bf16_autocast():
    model, batch = _tiny_llama(), collate(_examples(SHAPES), pad_id=0)
    model = lora.apply(model.to(torch.bfloat16), LoraConfig(r=4, alpha=8, dropout=0.0))
    with torch.no_grad():  # B starts at zero, which would leave A without gradient
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.normal_(std=0.1)
    results = []
    for lean in (False, True):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            results.append(_loss_and_grads(model, batch, lean))
    (_, plain_loss, plain_grads), (_, lean_loss, lean_grads) = results
    torch.testing.assert_close(lean_loss, plain_loss, rtol=2e-2, atol=0.0)
    assert len(plain_grads) == 2 * 7 * 2  # LoRA A and B on the seven projections of both layers
    for name, grad in plain_grads.items():
        cosine = F.cosine_similarity(lean_grads[name].float().flatten(), grad.float().flatten(), dim=0)
        assert cosine > 0.99, name
