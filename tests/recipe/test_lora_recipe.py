"""The LoRA recipe on a tiny random llama: it learns, touches only the adapters, saves, stops early, accumulates."""
import json

import pytest
import torch
from peft import PeftModel
from transformers import LlamaConfig, LlamaForCausalLM

from tunewise.errors import TrainingError
from tunewise.methods import lora
from tunewise.methods.lora import LoraConfig
from tunewise.models.load import count_parameters
from tunewise.sections import TrainConfig
from tunewise.train.batching import IGNORE_INDEX, Encoded, collate
from tunewise.train.loop import train
from tunewise.train.loss import answer_loss_sum

VOCAB, PAD = 96, 0


def _tiny_llama(seed: int = 0) -> LlamaForCausalLM:
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=VOCAB, hidden_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
        intermediate_size=128, tie_word_embeddings=True,
        # At the default 0.02 the frozen (tied) output layer keeps logits near zero, so no adapter could fit.
        initializer_range=0.2,
    )
    return LlamaForCausalLM(config)


def _classification_data(n: int, seed: int, answer_offset: int = 0) -> list[Encoded]:
    """Prompts of random length; the 2-token answer is a function of the prompt's first token."""
    g = torch.Generator().manual_seed(seed)
    data = []
    for _ in range(n):
        prompt = torch.randint(3, VOCAB, (int(torch.randint(6, 16, (1,), generator=g)),), generator=g).tolist()
        label = 3 + (prompt[0] + answer_offset) % 4
        answer = [label, 2]  # label token, then an end-of-turn token
        data.append(Encoded(prompt + answer, [IGNORE_INDEX] * len(prompt) + answer))
    return data


def _config(**overrides) -> TrainConfig:
    defaults = dict(lr=1e-2, batch_size=8, max_steps=30, warmup_ratio=0.1, eval_every=10, log_every=5,
                    patience=None, precision="fp32", seed=0)
    return TrainConfig(**(defaults | overrides))


def _lora_model(seed: int = 0, dropout: float = 0.0) -> PeftModel:
    return lora.apply(_tiny_llama(seed), LoraConfig(r=8, alpha=16, dropout=dropout))


def _mean_loss(model, data: list[Encoded]) -> float:
    with torch.no_grad():
        loss_sum, n = answer_loss_sum(model.eval(), collate(data, PAD))
    return loss_sum.item() / n


def test_loss_falls_and_only_adapters_change(tmp_path):
    model = _lora_model(dropout=0.05)
    data = _classification_data(32, seed=0)
    frozen = {n: p.detach().clone() for n, p in model.named_parameters() if not p.requires_grad}
    adapters = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
    before = _mean_loss(model, data)

    result = train(model, data, data[:16], _config(precision="bf16"), tmp_path, PAD)

    after = _mean_loss(model, data)
    assert after < 0.2 * before, (before, after)
    assert result.steps == 30 and not model.training
    train_losses = [e["loss"] for e in result.log if e["event"] == "train"]
    assert train_losses[-1] < 0.5 * train_losses[0]
    for name, p in model.named_parameters():
        if not p.requires_grad:
            assert torch.equal(p, frozen[name]), f"frozen weight {name} changed"
    assert all(not torch.equal(p, adapters[n]) for n, p in model.named_parameters() if "lora_B" in n)
    assert 0 < result.real_tokens <= result.padded_tokens and result.tokens_per_s > 0


def test_only_lora_parameters_get_gradients():
    model = _lora_model()
    trainable, total = count_parameters(model)
    names = [n for n, p in model.named_parameters() if p.requires_grad]
    assert names and all("lora_A" in n or "lora_B" in n for n in names)
    assert len(names) == 2 * 7 * 2  # A and B on seven projections in two layers
    assert trainable == sum(p.numel() for n, p in model.named_parameters() if p.requires_grad) < total
    loss_sum, _ = answer_loss_sum(model, collate(_classification_data(4, seed=1), PAD))
    loss_sum.backward()
    for name, p in model.named_parameters():
        assert (p.grad is not None) == p.requires_grad, name


def test_saved_adapter_reloads_in_plain_peft(tmp_path):
    model = _lora_model()
    data = _classification_data(16, seed=2)
    train(model, data, data, _config(max_steps=5), tmp_path / "run", PAD)
    model.save_pretrained(tmp_path / "adapter")
    assert {p.name for p in (tmp_path / "adapter").iterdir()} >= {"adapter_config.json", "adapter_model.safetensors"}
    saved_cfg = json.loads((tmp_path / "adapter" / "adapter_config.json").read_text())
    assert sorted(saved_cfg["target_modules"]) == sorted(LoraConfig().target_modules)

    reloaded = PeftModel.from_pretrained(_tiny_llama(), tmp_path / "adapter").eval()
    batch = collate(data[:4], PAD)
    with torch.no_grad():
        expected = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        got = reloaded(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        plain = _tiny_llama()(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    assert torch.equal(got, expected)
    assert not torch.allclose(plain, expected, atol=1e-3)  # the adapter really changed the outputs


def test_early_stopping_restores_the_best_checkpoint(tmp_path):
    model = _lora_model()
    train_data = _classification_data(16, seed=3)
    # Same prompts, other answers: the better the model fits train, the worse validation gets.
    val_data = _classification_data(16, seed=3, answer_offset=1)
    cfg = _config(max_steps=40, eval_every=2, patience=2, warmup_ratio=0.0, schedule="constant")

    result = train(model, train_data, val_data, cfg, tmp_path, PAD)

    assert result.stopped_early and result.steps < 40
    evals = [e for e in result.log if e["event"] == "eval"]
    assert result.best_val_loss == min(e["val_loss"] for e in evals)
    assert result.best_step == min(evals, key=lambda e: e["val_loss"])["step"] < result.steps
    assert (tmp_path / "checkpoints" / "best.safetensors").is_file()
    assert _mean_loss(model, val_data) == pytest.approx(result.best_val_loss, rel=1e-5)
    logged = [json.loads(line) for line in (tmp_path / "train_log.jsonl").read_text().splitlines()]
    assert logged == json.loads(json.dumps(result.log))


def test_accumulating_two_batches_of_four_equals_one_batch_of_eight(tmp_path):
    # One step covers all eight examples either way; answers of 1 to 4 tokens, so the two micro-batches hold
    # different numbers of answer tokens and a plain mean of micro-batch means would differ.
    data = [Encoded(e.input_ids + [5] * (i % 4), e.labels + [5] * (i % 4))
            for i, e in enumerate(_classification_data(8, seed=4))]
    runs = {}
    for batch_size, grad_accum in [(8, 1), (4, 2)]:
        model = _lora_model()
        cfg = _config(max_steps=1, batch_size=batch_size, grad_accum=grad_accum, log_every=1, max_grad_norm=None)
        result = train(model, data, data, cfg, tmp_path / f"{batch_size}x{grad_accum}", PAD)
        runs[batch_size] = (result, {n: p.detach() for n, p in model.named_parameters() if p.requires_grad})
    (one, one_weights), (two, two_weights) = runs[8], runs[4]
    assert one.real_tokens == two.real_tokens
    assert one.log[0]["loss"] == pytest.approx(two.log[0]["loss"], rel=1e-5)
    assert one.log[0]["grad_norm"] == pytest.approx(two.log[0]["grad_norm"], rel=1e-4)
    # Adam's first update is about lr * sign(grad): the loss and grad norm above check the scale, this checks the
    # direction; components whose gradient is near Adam's eps (1e-8) may move by a fraction of lr (1e-2).
    for name in one_weights:
        torch.testing.assert_close(one_weights[name], two_weights[name], atol=1e-4, rtol=0)


def test_nan_loss_names_the_step(tmp_path):
    model = _lora_model()
    with torch.no_grad():
        next(p for n, p in model.named_parameters() if "lora_A" in n).fill_(float("nan"))
        next(p for n, p in model.named_parameters() if "lora_B" in n).fill_(1.0)
    data = _classification_data(8, seed=5)
    with pytest.raises(TrainingError, match="at step 1"):
        train(model, data, data, _config(max_steps=3), tmp_path, PAD)


def test_same_seed_same_weights_with_dropout(tmp_path):
    data = _classification_data(24, seed=6)
    weights = []
    for run in range(2):
        model = _lora_model(dropout=0.1)
        train(model, data, data[:8], _config(max_steps=4, batch_size=4, seed=7), tmp_path / str(run), PAD)
        weights.append({n: p.detach() for n, p in model.named_parameters() if p.requires_grad})
    assert all(torch.equal(weights[0][n], weights[1][n]) for n in weights[0])
