"""The preference recipe on a tiny random llama: DPO starts at log 2, learns planted preferences with a frozen
reference, and every loss equals its formula computed by hand."""
import math

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from tunewise.methods import lora
from tunewise.methods.lora import LoraConfig
from tunewise.sections import TrainConfig
from tunewise.train.preference import (
    EncodedPreference,
    Objective,
    objective_loss,
    reference_logps,
    reply_logps,
    train_preference,
)

VOCAB, EOT = 96, 2


def _tiny_llama(seed: int = 0) -> LlamaForCausalLM:
    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=VOCAB, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                         num_key_value_heads=2, intermediate_size=128, tie_word_embeddings=True, initializer_range=0.2)
    return LlamaForCausalLM(config)


def _planted_pairs(n: int, seed: int) -> list[EncodedPreference]:
    """The chosen reply's first token is a function of the prompt's last token (one of four); the rejected one's
    is another."""
    g = torch.Generator().manual_seed(seed)
    pairs = []
    for _ in range(n):
        prompt = torch.randint(3, VOCAB, (int(torch.randint(5, 12, (1,), generator=g)),), generator=g).tolist()
        prompt[-1] = 20 + prompt[-1] % 4
        good = 3 + prompt[-1] % 4
        bad = 3 + (prompt[-1] + 2) % 4
        tail = torch.randint(10, VOCAB, (int(torch.randint(1, 4, (1,), generator=g)),), generator=g).tolist()
        pairs.append(EncodedPreference(prompt, [good, *tail, EOT], [bad, *tail, EOT]))
    return pairs


def _config(**overrides) -> TrainConfig:
    defaults = dict(lr=5e-3, batch_size=8, max_steps=30, warmup_ratio=0.1, eval_every=10, log_every=5, patience=None,
                    precision="fp32", seed=0)
    return TrainConfig(**(defaults | overrides))


def _policy(seed: int = 0):
    return lora.apply(_tiny_llama(seed), LoraConfig(r=8, alpha=16, dropout=0.0))


def _autocast():
    return torch.autocast("cpu", enabled=False)


def test_reply_log_probs_equal_the_full_vocabulary_computation():
    model = _tiny_llama().eval()
    prompts, replies = [[5, 6, 7], [8, 9]], [[10, 11, EOT], [12, EOT]]
    with torch.no_grad():
        sums, counts = reply_logps(model, prompts, replies, pad_id=EOT)  # pad = end of turn, as in SmolLM2
        expected = []
        for p, r in zip(prompts, replies):
            logits = model(torch.tensor([p + r])).logits[0].log_softmax(-1)  # (T, V), one row alone: no padding
            expected.append(sum(float(logits[len(p) - 1 + i, tok]) for i, tok in enumerate(r)))
    assert sums.tolist() == pytest.approx(expected, abs=1e-5)
    assert counts.tolist() == [3, 2]  # the end-of-turn token counts although it is also the pad id


def test_dpo_starts_at_log_2_learns_planted_pairs_and_keeps_the_reference(tmp_path):
    model = _policy()
    pairs, val = _planted_pairs(64, seed=1), _planted_pairs(16, seed=2)
    before = reference_logps(model, pairs, EOT, 8, _autocast)

    # Step 0: a fresh LoRA (B = 0) is the reference, so every pair's DPO loss is log 2.
    prompts, replies = [], []
    for item in pairs[:8]:
        prompts += [item.prompt, item.prompt]
        replies += [item.chosen, item.rejected]
    model.train()
    logps, counts = reply_logps(model, prompts, replies, EOT)
    first = objective_loss(Objective("dpo", beta=0.1), pairs[:8], logps, counts, torch.cat(before[:8]))
    assert first.losses.tolist() == pytest.approx([math.log(2)] * 8, abs=1e-6)

    result = train_preference(model, pairs, val, _config(), Objective("dpo", beta=0.5), tmp_path, EOT)
    train_events = [e for e in result.log if e["event"] == "train"]
    assert train_events[-1]["loss"] < train_events[0]["loss"] - 0.1
    assert train_events[-1]["margin"] > 0 and train_events[-1]["accuracy"] > 0.8
    val_events = [e for e in result.log if e["event"] == "eval"]
    assert val_events[-1]["val_accuracy"] > 0.8  # held-out pairs of the same rule
    after = reference_logps(model, pairs, EOT, 8, _autocast)
    assert all(torch.equal(a, b) for a, b in zip(before, after))  # the reference never moved, bit for bit
    assert (tmp_path / "train_log.jsonl").is_file()


@pytest.mark.parametrize("name", ["ipo", "orpo", "simpo", "kto"])
def test_each_objective_learns_the_planted_preference(tmp_path, name):
    model = _policy()
    pairs, val = _planted_pairs(64, seed=1), _planted_pairs(16, seed=2)
    if name == "kto":  # single replies: each pair as a desirable and an undesirable one
        pairs = [EncodedPreference(p.prompt, *r) for p in pairs for r in ((p.chosen, None), (None, p.rejected))]
        val = [EncodedPreference(p.prompt, p.chosen, p.rejected) for p in val]
    beta = {"simpo": 2.0, "ipo": 0.05}.get(name, 0.5)  # IPO stops at a margin of 1 / (2 beta): ask for a wide one
    result = train_preference(model, pairs, val, _config(), Objective(name, beta=beta), tmp_path, EOT)
    losses = [e["loss"] for e in result.log if e["event"] == "train"]
    assert losses[-1] < losses[0]
    assert [e for e in result.log if e["event"] == "eval"][-1]["val_accuracy"] >= 0.7  # held-out pairs (chance: 0.5)


def _hand(pc, pr, rc, rr, nc, nr):
    return {k: torch.tensor(v, dtype=torch.float32) for k, v in
            dict(pc=pc, pr=pr, rc=rc, rr=rr, nc=nc, nr=nr).items()}


def _items(n):
    return [EncodedPreference([5], [6] * 3, [7] * 2) for _ in range(n)]


def _rows(pc, pr):
    return torch.tensor([v for pair in zip(pc, pr) for v in pair], dtype=torch.float32)


def test_losses_equal_their_formulas_by_hand():
    pc, pr, rc, rr = [-4.0, -9.0], [-6.0, -5.0], [-5.0, -7.0], [-5.5, -6.0]
    nc, nr = 3.0, 2.0
    logps, refs = _rows(pc, pr), _rows(rc, rr)
    counts = _rows([nc, nc], [nr, nr])
    sig = lambda x: 1 / (1 + math.exp(-x))

    dpo = objective_loss(Objective("dpo", beta=0.1), _items(2), logps, counts, refs).losses.tolist()
    assert dpo == pytest.approx([-math.log(sig(0.1 * ((a - c) - (b - d)))) for a, b, c, d in zip(pc, pr, rc, rr)])

    ipo = objective_loss(Objective("ipo", beta=0.1), _items(2), logps, counts, refs).losses.tolist()
    assert ipo == pytest.approx([((a - c) / nc - (b - d) / nr - 5.0) ** 2 for a, b, c, d in zip(pc, pr, rc, rr)])

    with_sft = objective_loss(Objective("dpo", beta=0.1, sft_weight=0.5), _items(2), logps, counts, refs)
    assert with_sft.losses.tolist() == pytest.approx([d + 0.5 * -a / nc for d, a in zip(dpo, pc)])

    simpo = objective_loss(Objective("simpo", beta=2.0, simpo_gamma=0.5), _items(2), logps, counts, None)
    assert simpo.losses.tolist() == pytest.approx(
        [-math.log(sig(2.0 * (a / nc - b / nr) - 0.5 * 2.0)) for a, b in zip(pc, pr)])

    odds = lambda m: m - math.log(1 - math.exp(m))
    orpo = objective_loss(Objective("orpo", beta=0.1, orpo_lambda=0.2), _items(2), logps, counts, None)
    assert orpo.losses.tolist() == pytest.approx(
        [-a / nc + 0.2 * -math.log(sig(odds(a / nc) - odds(b / nr))) for a, b in zip(pc, pr)])
    assert orpo.right == [True, False]

    # KTO: one reply per item; z = the batch's mean policy/reference ratio, clamped at 0.
    policy, reference = [-4.0, -6.0, -3.0], [-5.0, -5.5, -4.0]
    desirable = [True, False, True]
    items = [EncodedPreference([5], [6], None) if d else EncodedPreference([5], None, [7]) for d in desirable]
    kto = objective_loss(Objective("kto", beta=0.5, kto_desirable_weight=1.0, kto_undesirable_weight=2.0), items,
                         torch.tensor(policy), torch.ones(3), torch.tensor(reference)).losses.tolist()
    ratios = [p - r for p, r in zip(policy, reference)]
    z = max(0.0, sum(ratios) / 3)
    assert kto == pytest.approx([1 - sig(0.5 * (r - z)) if d else 2.0 * (1 - sig(0.5 * (z - r)))
                                 for r, d in zip(ratios, desirable)])


def test_the_reward_model_learns_a_planted_preference(tmp_path):
    from tunewise.methods.reward import RewardModel, reward_scores

    model = RewardModel(_policy(), hidden_size=64)
    pairs, val = _planted_pairs(320, seed=1), _planted_pairs(32, seed=2)  # fewer pairs: it memorises (~0.75)
    result = train_preference(model, pairs, val, _config(max_steps=100, lr=1e-2), Objective("bradley_terry", beta=1.0),
                              tmp_path, EOT, score_rows=reward_scores)
    train_events = [e for e in result.log if e["event"] == "train"]
    assert train_events[0]["loss"] == pytest.approx(math.log(2), abs=0.05)  # a zero head scores every reply 0
    assert [e for e in result.log if e["event"] == "eval"][-1]["val_accuracy"] >= 0.9
