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
from tunewise.train.loop import planned_steps, train, training_summary
from tunewise.train.loss import answer_loss_sum
from tunewise.train.probe import LR_CHECK_FILE, check_learning_rates, learning_rate

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
    device = next(model.parameters()).device  # train() moves the model to the GPU where there is one
    with torch.no_grad():
        loss_sum, n = answer_loss_sum(model.eval(), {k: v.to(device) for k, v in collate(data, PAD).items()})
    return loss_sum.item() / n


def test_loss_falls_and_only_adapters_change(tmp_path):
    model = _lora_model(dropout=0.05)
    data = _classification_data(32, seed=0)
    frozen = {n: p.detach().cpu().clone() for n, p in model.named_parameters() if not p.requires_grad}
    adapters = {n: p.detach().cpu().clone() for n, p in model.named_parameters() if p.requires_grad}
    before = _mean_loss(model, data)

    result = train(model, data, data[:16], _config(precision="bf16"), tmp_path, PAD)

    after = _mean_loss(model, data)
    assert after < 0.2 * before, (before, after)
    assert result.steps == 30 and not model.training
    train_losses = [e["loss"] for e in result.log if e["event"] == "train"]
    assert train_losses[-1] < 0.5 * train_losses[0]
    for name, p in model.named_parameters():
        if not p.requires_grad:
            assert torch.equal(p.cpu(), frozen[name]), f"frozen weight {name} changed"
    assert all(not torch.equal(p.cpu(), adapters[n]) for n, p in model.named_parameters() if "lora_B" in n)
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
    model = model.cpu()  # compared with fresh CPU models below (train() used the GPU where there is one)
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
    assert result.stop_reason == "patience" and not result.undertrained
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


# ---------------------------------------------------------------- stopping rule and learning-rate check


def _trainable(model) -> dict[str, torch.Tensor]:
    return {n: p.detach().cpu().clone() for n, p in model.named_parameters() if p.requires_grad}


def test_lr_check_picks_the_best_of_planted_rates(tmp_path):
    """1e-6 barely moves in 8 steps, 1e3 diverges or overshoots: 1e-2 has the lowest validation loss."""
    model = _lora_model()
    initial = _trainable(model)
    train_data, val_data = _classification_data(48, seed=5), _classification_data(32, seed=6)

    check = check_learning_rates(model, train_data, val_data, _config(), [1e-6, 1e-2, 1e3], tmp_path, PAD)

    assert check.picked == 1e-2 and check.val_losses[1] == min(check.val_losses)
    assert check.val_losses[0] > check.val_losses[1] < check.val_losses[2]
    assert check.seconds > 0 and check.tokens_per_s > 0
    assert all(torch.equal(p, initial[n]) for n, p in _trainable(model).items())  # back at the start
    assert not (tmp_path / "lr_check").exists()  # the probes leave nothing behind


def test_training_after_the_check_is_training_at_the_picked_rate(tmp_path):
    """The check leaves no trace: weights, optimizer and data order start fresh, so the run equals one at that
    rate given outright, bit for bit; a resumed run reads the pick back instead of checking again."""
    train_data, val_data = _classification_data(32, seed=7), _classification_data(16, seed=8)
    cfg = _config(lr=None, max_steps=6)
    checked = _lora_model()
    rate, check = learning_rate(checked, train_data, val_data, cfg, None, 1e-2, tmp_path / "a", PAD)
    assert rate == check.picked and check.rates == pytest.approx([5e-3, 1e-2, 2e-2])
    result = train(checked, train_data, val_data, cfg.model_copy(update={"lr": rate}), tmp_path / "a", PAD)
    plain = _lora_model()
    train(plain, train_data, val_data, cfg.model_copy(update={"lr": rate}), tmp_path / "b", PAD)
    assert all(torch.equal(p, _trainable(plain)[n]) for n, p in _trainable(checked).items())
    assert result.lr == rate

    assert (tmp_path / "a" / LR_CHECK_FILE).is_file()
    again, reread = learning_rate(_lora_model(), train_data, val_data, cfg, None, 1e-2, tmp_path / "a", PAD,
                                  resume=True)
    assert again == rate and reread.seconds == pytest.approx(check.seconds, abs=1e-3)  # read, not measured anew
    assert learning_rate(_lora_model(), train_data, val_data, cfg, 3e-3, 1e-2, tmp_path / "c", PAD) == (3e-3, None)


def test_a_run_cut_while_validation_loss_falls_is_undertrained(tmp_path):
    model = _lora_model()
    train_data, val_data = _classification_data(48, seed=9), _classification_data(16, seed=10)
    result = train(model, train_data, val_data, _config(max_steps=8, eval_every=4), tmp_path, PAD)

    losses = [e["val_loss"] for e in result.log if e["event"] == "eval"]
    assert len(losses) == 2 and losses[1] < 0.99 * losses[0]
    assert result.stop_reason == "max_steps" and result.undertrained
    summary = training_summary(result)
    assert summary["undertrained"] is True and summary["stop_reason"] == "max_steps" and summary["lr_check"] is None
    assert json.loads(json.dumps(summary))["lr"] == 1e-2


def test_the_time_budget_stops_after_the_step_that_crosses_it(tmp_path):
    model = _lora_model()
    train_data, val_data = _classification_data(32, seed=11), _classification_data(8, seed=12)
    result = train(model, train_data, val_data, _config(max_steps=30, max_minutes=1e-6), tmp_path, PAD)

    assert result.stop_reason == "time_budget" and result.steps == 1
    assert [e["step"] for e in result.log if e["event"] == "eval"] == [1]  # evaluated where it stopped
    assert result.best_step == 1 and result.undertrained  # cut after one step: nothing shows it levelled off


def test_the_default_length_trains_until_validation_loss_stops_falling(tmp_path):
    """No epochs, no eval_every: validation 4 times per epoch (here every step), stop when it no longer falls 1%
    below the best in 3 evaluations after warmup, before the max_epochs cap; a short cap stops it there instead.
    (32 random prompts cannot teach the rule behind the answers: validation loss falls, then turns up.)"""
    train_data, val_data = _classification_data(32, seed=13), _classification_data(8, seed=14)
    cfg = TrainConfig(lr=3e-2, max_epochs=10, precision="fp32", log_every=1000)  # 4 steps per epoch, warmup 2
    result = train(_lora_model(), train_data, val_data, cfg, tmp_path / "a", PAD)

    evals = [e for e in result.log if e["event"] == "eval"]
    assert result.stop_reason == "patience" and not result.undertrained
    assert result.steps < planned_steps(32, cfg) == 40
    assert [e["step"] for e in evals] == list(range(1, result.steps + 1))  # eval_every: ceil(4 / 4) = 1
    best_before_last_three = min(e["val_loss"] for e in evals[:-3])
    assert all(e["val_loss"] >= 0.99 * best_before_last_three for e in evals[-3:])

    capped = train(_lora_model(), train_data, val_data, cfg.model_copy(update={"max_epochs": 1.0}), tmp_path / "b",
                   PAD)
    assert capped.stop_reason == "epochs" and capped.steps == 4
