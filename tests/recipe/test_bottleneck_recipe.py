"""The bottleneck-adapter recipe on a tiny random llama: starts as the base, learns, touches only the adapters,
saves and reloads exactly, runs in bf16, and places adapters where the config says."""
import json

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from tunewise.errors import ModelError
from tunewise.methods import bottleneck
from tunewise.methods.bottleneck import BottleneckAdapter, BottleneckConfig
from tunewise.sections import TrainConfig
from tunewise.train.batching import IGNORE_INDEX, Encoded, collate
from tunewise.train.loop import train
from tunewise.train.loss import answer_loss, answer_loss_sum

VOCAB, PAD, HIDDEN, LAYERS, SIZE = 96, 0, 64, 2, 8


def _tiny_llama(seed: int = 0) -> LlamaForCausalLM:
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=VOCAB, hidden_size=HIDDEN, num_hidden_layers=LAYERS, num_attention_heads=4,
        num_key_value_heads=2, intermediate_size=128, tie_word_embeddings=True,
        # At the default 0.02 the frozen (tied) output layer keeps logits near zero, so no adapter could fit.
        initializer_range=0.2,
    )
    return LlamaForCausalLM(config).eval()


def _classification_data(n: int, seed: int) -> list[Encoded]:
    """Prompts of random length; the 2-token answer is a function of the prompt's first token."""
    g = torch.Generator().manual_seed(seed)
    data = []
    for _ in range(n):
        prompt = torch.randint(3, VOCAB, (int(torch.randint(6, 16, (1,), generator=g)),), generator=g).tolist()
        answer = [3 + prompt[0] % 4, 2]  # label token, then an end-of-turn token
        data.append(Encoded(prompt + answer, [IGNORE_INDEX] * len(prompt) + answer))
    return data


def _adapted(placement=("attention", "mlp"), seed: int = 0) -> LlamaForCausalLM:
    return bottleneck.apply(_tiny_llama(seed), BottleneckConfig(size=SIZE, placement=list(placement)))


def _randomize_up_projections(model) -> None:
    """Move the adapters off their zero start, as training would (and so the down-projections get gradients)."""
    with torch.no_grad():
        for name, p in bottleneck.adapter_parameters(model).items():
            if ".up." in name:
                p.normal_(std=0.1)


def _logits(model, batch) -> torch.Tensor:
    with torch.no_grad():
        return model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits


def test_adapted_model_starts_as_the_base_and_keeps_its_class():
    batch = collate(_classification_data(4, seed=1), PAD)
    model = _adapted()
    assert type(model) is LlamaForCausalLM
    assert torch.equal(_logits(model, batch), _logits(_tiny_llama(), batch))
    _randomize_up_projections(model)
    assert not torch.allclose(_logits(model, batch), _logits(_tiny_llama(), batch), atol=1e-3)  # hooks run


def test_loss_falls_and_only_adapters_change(tmp_path):
    model = _adapted()
    data = _classification_data(32, seed=0)
    batch = collate(data, PAD)
    frozen = {n: p.detach().clone() for n, p in model.named_parameters() if not p.requires_grad}
    with torch.no_grad():
        before = answer_loss(model, batch).item()
    cfg = TrainConfig(lr=1e-2, batch_size=8, max_steps=30, warmup_ratio=0.0, log_every=1000, patience=None,
                      precision="fp32", seed=0)

    result = train(model, data, data[:8], cfg, tmp_path, PAD)

    with torch.no_grad():
        after = answer_loss(model, batch).item()
    assert result.steps == 30
    assert after < 0.5 * before, (before, after)
    for name, p in model.named_parameters():
        if not p.requires_grad:
            assert torch.equal(p, frozen[name]), f"frozen weight {name} changed"
    assert all(p.abs().sum() > 0 for n, p in bottleneck.adapter_parameters(model).items() if ".up." in n)


def test_only_adapter_parameters_are_trainable_and_get_gradients():
    model = _adapted()
    adapters = bottleneck.adapter_parameters(model)
    assert len(adapters) == LAYERS * 2 * 4  # down and up, weight and bias, after both sublayers
    assert all(p.dtype == torch.float32 for p in adapters.values())
    loss_sum, _ = answer_loss_sum(model.train(), collate(_classification_data(4, seed=2), PAD))
    loss_sum.backward()
    for name, p in model.named_parameters():
        assert p.requires_grad == (name in adapters), name
        assert (p.grad is not None) == (name in adapters), name
    assert all(p.grad.abs().sum() > 0 for n, p in adapters.items() if ".up." in n)  # zero start, live gradient


def test_save_then_load_on_a_fresh_base_gives_identical_logits(tmp_path):
    model = _adapted(placement=["mlp", "attention"])
    _randomize_up_projections(model)
    saved_to = bottleneck.save(model, tmp_path / "adapter")

    assert saved_to == tmp_path / "adapter"
    assert {p.name for p in saved_to.iterdir()} == {"adapter_model.safetensors", "bottleneck_config.json"}
    saved_cfg = json.loads((saved_to / "bottleneck_config.json").read_text())
    assert saved_cfg["size"] == SIZE and saved_cfg["placement"] == ["mlp", "attention"]
    assert saved_cfg["adapters"] == LAYERS * 2
    reloaded = bottleneck.load(_tiny_llama(), saved_to)
    batch = collate(_classification_data(4, seed=3), PAD)
    expected = _logits(model, batch)
    assert torch.equal(_logits(reloaded, batch), expected)
    assert not torch.allclose(_logits(_tiny_llama(), batch), expected, atol=1e-3)  # the adapters matter
    assert reloaded.bottleneck_config == model.bottleneck_config


def test_generation_with_kv_cache_matches_generation_without():
    model = _adapted()
    _randomize_up_projections(model)
    prompt = torch.tensor([[1, 5, 9, 17, 33]])
    kwargs = {"max_new_tokens": 6, "do_sample": False, "pad_token_id": PAD}
    with_cache = model.generate(prompt, use_cache=True, **kwargs)
    without_cache = model.generate(prompt, use_cache=False, **kwargs)
    assert with_cache.shape[1] > prompt.shape[1]
    assert torch.equal(with_cache, without_cache)


def test_bf16_base_trains_under_autocast_and_predicts_without():
    model = bottleneck.apply(_tiny_llama().to(torch.bfloat16), BottleneckConfig(size=SIZE))
    _randomize_up_projections(model)
    adapters = bottleneck.adapter_parameters(model)
    assert all(p.dtype == torch.float32 for p in adapters.values())
    batch = collate(_classification_data(4, seed=4), PAD)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss_sum, _ = answer_loss_sum(model.train(), batch)
    loss_sum.backward()
    assert torch.isfinite(loss_sum)
    for name, p in adapters.items():
        assert p.grad is not None and p.grad.dtype == torch.float32, name
        assert torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name
    logits = _logits(model.eval(), batch)  # plain bf16 inference: the adapters cast in and out
    assert logits.dtype == torch.bfloat16 and torch.isfinite(logits).all()


@pytest.mark.parametrize("placement", [["attention", "mlp"], ["mlp"], ["attention"]])
def test_placement_sets_where_adapters_go_and_how_many_parameters(placement):
    model = _adapted(placement)
    adapters = [m for m in model.modules() if isinstance(m, BottleneckAdapter)]
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert len(adapters) == LAYERS * len(placement)
    assert trainable == LAYERS * len(placement) * (2 * HIDDEN * SIZE + SIZE + HIDDEN)
    for layer in model.model.layers:
        assert bool(layer.self_attn._forward_hooks) == ("attention" in placement)
        assert bool(layer.mlp._forward_hooks) == ("mlp" in placement)


def test_load_without_config_names_the_missing_file(tmp_path):
    bottleneck.save(_adapted(), tmp_path)
    (tmp_path / "bottleneck_config.json").unlink()
    with pytest.raises(ModelError, match="bottleneck_config.json"):
        bottleneck.load(_tiny_llama(), tmp_path)


def test_load_with_other_placement_names_the_missing_weights(tmp_path):
    bottleneck.save(_adapted(placement=["mlp"]), tmp_path)
    cfg_path = tmp_path / "bottleneck_config.json"
    cfg_path.write_text(json.dumps(json.loads(cfg_path.read_text()) | {"placement": ["attention", "mlp"]}))
    with pytest.raises(ModelError, match=r"adapter_model\.safetensors.*missing \['model\.layers\.0\.bottleneck\.attention"):
        bottleneck.load(_tiny_llama(), tmp_path)


def test_models_without_decoder_layers_and_double_apply_are_refused():
    with pytest.raises(ModelError, match="no decoder layers"):
        bottleneck.apply(torch.nn.Sequential(torch.nn.Linear(4, 4)), BottleneckConfig())
    with pytest.raises(ModelError, match="already has bottleneck adapters"):
        bottleneck.apply(_adapted(), BottleneckConfig())
