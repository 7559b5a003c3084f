"""Label scoring: the packed path equals a brute-force forward per pair, and it picks the likely label."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from tunewise.evaluate.likelihood import (
    _score_batch_full,
    score_continuations,
    score_labels,
)
from tunewise.models.chat_template import answer_ids, prompt_ids

PROMPTS = [[5, 9, 40, 41, 42, 7, 8, 100, 3], [17, 4], [60, 61, 62, 63, 64, 65], [250]]
CONTINUATIONS = [[11], [12, 13, 2], [200, 201, 202, 203, 2], [12, 13]]


def brute_force(model, prompt: list[int], continuation: list[int]) -> float:
    """Sum of log p(continuation token | everything before it), from one unpadded forward."""
    ids = torch.tensor([prompt + continuation])
    with torch.no_grad():
        logits = model(input_ids=ids).logits[0, -ids.shape[1] :]  # (T, V); prompt tuning prepends virtual tokens
        log_probs = F.log_softmax(logits.float(), dim=-1)
    return sum(log_probs[len(prompt) + j - 1, token].item() for j, token in enumerate(continuation))


def brute_force_matrix(model, prompts, continuations) -> np.ndarray:
    return np.array([[brute_force(model, p, c) for c in continuations] for p in prompts])


@pytest.mark.parametrize("batch_size", [1, 3, 8])
def test_packed_scores_equal_one_forward_per_pair(tiny_llama, batch_size):
    model, _ = tiny_llama
    expected = brute_force_matrix(model, PROMPTS, CONTINUATIONS)
    scores = score_continuations(model, PROMPTS, CONTINUATIONS, batch_size=batch_size, precision="fp32")
    assert scores.shape == (len(PROMPTS), len(CONTINUATIONS))
    np.testing.assert_allclose(scores, expected, atol=1e-4, rtol=0)


@pytest.mark.parametrize("attention", ["sdpa", "eager"])
def test_packed_mask_works_with_each_attention_implementation(tiny_llama, attention):
    """SDPA takes the 4-D mask as booleans, eager attention as a float bias: both must keep continuations apart."""
    model, _ = tiny_llama
    model.set_attn_implementation(attention)
    common = [30, 31, 32, 33, 34, 35, 36, 37, 38, 39]  # a shared prefix, so its cache is in play too
    prompts = [common + p for p in PROMPTS]
    scores = score_continuations(model, prompts, CONTINUATIONS, batch_size=3, precision="fp32")
    np.testing.assert_allclose(scores, brute_force_matrix(model, prompts, CONTINUATIONS), atol=1e-4, rtol=0)


def test_single_token_continuations_need_only_the_prompt(tiny_llama):
    model, _ = tiny_llama
    continuations = [[11], [12], [2]]
    scores = score_continuations(model, PROMPTS, continuations, batch_size=3, precision="fp32")
    np.testing.assert_allclose(scores, brute_force_matrix(model, PROMPTS, continuations), atol=1e-4, rtol=0)


def test_full_forward_fallback_equals_one_forward_per_pair(tiny_llama):
    model, _ = tiny_llama
    with torch.inference_mode():
        scores = _score_batch_full(model, PROMPTS, [CONTINUATIONS] * len(PROMPTS), torch.device("cpu")).numpy()
    np.testing.assert_allclose(scores, brute_force_matrix(model, PROMPTS, CONTINUATIONS), atol=1e-4, rtol=0)


def test_bf16_scores_are_close_to_fp32(tiny_llama):
    model, _ = tiny_llama
    fp32 = score_continuations(model, PROMPTS, CONTINUATIONS, precision="fp32")
    bf16 = score_continuations(model, PROMPTS, CONTINUATIONS, precision="bf16")
    np.testing.assert_allclose(bf16, fp32, atol=0.15)


def test_lora_model_scores_equal_brute_force(tiny_llama):
    peft = pytest.importorskip("peft")
    model, _ = tiny_llama
    lora = peft.get_peft_model(model, peft.LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False))
    lora.eval()
    expected = brute_force_matrix(lora, PROMPTS, CONTINUATIONS)
    scores = score_continuations(lora, PROMPTS, CONTINUATIONS, precision="fp32")
    np.testing.assert_allclose(scores, expected, atol=1e-4, rtol=0)
    # The adapter must be in the path: with it disabled the scores change.
    with lora.disable_adapter():
        base = score_continuations(lora, PROMPTS, CONTINUATIONS, precision="fp32")
    assert np.abs(base - scores).max() > 1e-3


def test_prompt_tuning_model_uses_full_forward(tiny_llama):
    peft = pytest.importorskip("peft")
    model, _ = tiny_llama
    tuned = peft.get_peft_model(model, peft.PromptTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=3))
    tuned.eval()
    expected = brute_force_matrix(tuned, PROMPTS, CONTINUATIONS)
    scores = score_continuations(tuned, PROMPTS, CONTINUATIONS, precision="fp32")
    np.testing.assert_allclose(scores, expected, atol=1e-4, rtol=0)


def test_score_labels_picks_the_label_the_model_was_taught(tiny_llama):
    model, tokenizer = tiny_llama
    labels = ["billing", "bug", "bug report", "other"]
    prompts = [prompt_ids(tokenizer, [{"role": "user", "content": text}]) for text in ("charged twice", "it crashes")]
    # Teach the model that "bug" (then end of turn) follows: a few steps on that one continuation.
    target = labels[1]
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    model.train()
    for _ in range(30):
        batch = [p + answer_ids(tokenizer, target) for p in prompts]
        for ids in batch:
            x = torch.tensor([ids])
            labels_t = x.clone()
            labels_t[0, : len(ids) - len(answer_ids(tokenizer, target))] = -100
            model(input_ids=x, labels=labels_t).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.eval()
    scores = score_labels(model, tokenizer, prompts, labels, precision="fp32")
    assert scores.shape == (2, 4)
    assert [labels[i] for i in scores.argmax(1)] == [target, target]
    # "bug report" starts with "bug" but cannot end where "bug" does, so it must score lower.
    assert (scores[:, 1] > scores[:, 2]).all()


def test_rejects_empty_sequences(tiny_llama):
    model, _ = tiny_llama
    with pytest.raises(ValueError, match="at least one token"):
        score_continuations(model, [[1, 2]], [[]])
    assert score_continuations(model, [], [[1]]).shape == (0, 1)


def test_shared_prefix_is_run_once_and_scores_stay_exact(tiny_llama):
    """Prompts that share a long prefix (system prompt, few-shot demos) give the same scores as a forward per pair."""
    from tunewise.evaluate.likelihood import shared_prefix

    model, _ = tiny_llama
    common = [30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41]
    prompts = [common + [5, 9, 40], common + [17], common + [60, 61, 62, 63, 64, 65], common + [250, 3]]
    with torch.inference_mode():
        prefix = shared_prefix(model, prompts, torch.device("cpu"))
    assert prefix is not None and prefix.length == len(common)
    scores = score_continuations(model, prompts, CONTINUATIONS, batch_size=3, precision="fp32")
    np.testing.assert_allclose(scores, brute_force_matrix(model, prompts, CONTINUATIONS), atol=1e-4, rtol=0)
    # The prefix stops before the shortest prompt's last token, which must stay to score the first label token.
    with torch.inference_mode():
        assert shared_prefix(model, [common, common + [7]], torch.device("cpu")).length == len(common) - 1


def test_each_row_scores_only_its_own_continuations(tiny_llama):
    """Per-row continuation sets (candidate labels) give each row exactly the full scores of those continuations."""
    from tunewise.evaluate.likelihood import score_row_continuations

    model, _ = tiny_llama
    common = [30, 31, 32, 33, 34, 35, 36, 37, 38, 39]  # a shared prefix, as in a real prompt
    prompts = [common + p for p in PROMPTS]
    full = score_continuations(model, prompts, CONTINUATIONS, batch_size=3, precision="fp32")
    chosen = [[2, 0], [1], [3, 2, 1], [0, 3]]  # continuation indices per prompt, in the order asked
    rows = score_row_continuations(model, prompts, [[CONTINUATIONS[j] for j in row] for row in chosen],
                                   batch_size=3, precision="fp32")
    for i, row in enumerate(chosen):
        np.testing.assert_allclose(rows[i], full[i, row], atol=1e-5, rtol=0)


def test_candidate_labels_pick_the_same_answer_as_full_scoring(tiny_llama):
    """When the best label of full scoring is a candidate, scoring only the candidates picks it too, with the same
    scores for those labels."""
    from tunewise.evaluate.likelihood import score_candidate_labels

    model, tokenizer = tiny_llama
    labels = ["billing", "bug", "bug report", "refund", "login", "shipping", "other"]
    system = "Classify the user's message. Answer with exactly one label from: " + ", ".join(labels) + "."
    prompts = [prompt_ids(tokenizer, [{"role": "system", "content": system}, {"role": "user", "content": text}])
               for text in ("my card was charged twice", "the app crashes", "where is my parcel", "hello")]
    full = score_labels(model, tokenizer, prompts, labels, batch_size=2, precision="fp32")  # (N, L)
    best = full.argmax(axis=1)
    rng = np.random.default_rng(0)
    candidates = []
    for b in best:  # the full-scoring answer plus two other labels, in a shuffled order
        others = [j for j in rng.permutation(len(labels)) if j != b][:2]
        candidates.append([labels[j] for j in rng.permutation([b, *others])])
    rows = score_candidate_labels(model, tokenizer, prompts, candidates, batch_size=2, precision="fp32")
    for i, (row, chosen) in enumerate(zip(rows, candidates)):
        assert chosen[int(row.argmax())] == labels[best[i]]
        np.testing.assert_allclose(row, [full[i, labels.index(c)] for c in chosen], atol=1e-5, rtol=0)
