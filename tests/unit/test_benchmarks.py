"""Multiple-choice benchmarks: each file shape reads into the harness's prompts, bad lines are reported together,
pair scores equal a brute-force forward, acc / acc_norm / mc2 follow their definitions, and a model that has
learned the answers picks them."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from tunewise.errors import DataError
from tunewise.evaluate.likelihood import score_pairs
from tunewise.evaluate.multiple_choice import (
    QA_PRIMER,
    ChoiceItem,
    benchmark_metrics,
    item_metrics,
    mc2_score,
    per_group,
    read_benchmark,
    score_benchmark,
)


def write_jsonl(path, records) -> str:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records))
    return str(path)


def test_arc_records_read_in_both_shapes(tmp_path):
    path = write_jsonl(tmp_path / "arc.jsonl", [
        {"id": "q1", "question": "What do plants need?", "choices": {"text": ["light", "rock"], "label": ["A", "B"]},
         "answerKey": "A", "category": "science"},
        {"question": {"stem": "Which is a metal?", "choices": [{"text": "wood", "label": "1"},
                                                               {"text": "iron", "label": "2"}]}, "answerKey": "2"},
    ])
    first, second = read_benchmark(path, "arc")
    assert first == ChoiceItem("q1", "Question: What do plants need?\nAnswer:", (" light", " rock"), (0,), "science")
    assert second.id == "arc:2" and second.context == "Question: Which is a metal?\nAnswer:"
    assert second.choices == (" wood", " iron") and second.gold == (1,)


def test_hellaswag_mmlu_and_truthfulqa_records(tmp_path):
    hellaswag = read_benchmark(write_jsonl(tmp_path / "hs.jsonl", [
        {"activity_label": "Baking", "ctx_a": "She mixes the flour.", "ctx_b": "then she",
         "endings": ["puts it in the oven [title] Done.", "eats the bowl."], "label": "0"},
    ]), "hellaswag")[0]
    assert hellaswag.context == "Baking: She mixes the flour. Then she"
    assert hellaswag.choices == (" puts it in the oven. Done.", " eats the bowl.") and hellaswag.gold == (0,)

    mmlu = read_benchmark(write_jsonl(tmp_path / "mmlu.jsonl", [
        {"question": "2 + 2 = ?", "choices": ["3", "4", "5", "22"], "answer": 1, "subject": "elementary_math"},
        {"question": "Pick C", "choices": ["x", "y", "z"], "answer": "C"},
    ]), "mmlu")
    assert mmlu[0].context == ("The following are multiple choice questions (with answers) about elementary math.\n\n"
                               "2 + 2 = ?\nA. 3\nB. 4\nC. 5\nD. 22\nAnswer:")
    assert mmlu[0].choices == (" A", " B", " C", " D") and mmlu[0].gold == (1,) and mmlu[0].group == "elementary_math"
    assert mmlu[1].gold == (2,) and mmlu[1].context.startswith("Pick C\nA. x")

    record = {"question": "Is the Earth flat?",
              "mc1_targets": {"choices": ["No, it is round.", "Yes."], "labels": [1, 0]},
              "mc2_targets": {"No, it is round.": 1, "No.": 1, "Yes.": 0}}  # TruthfulQA's own {choice: label} shape
    path = write_jsonl(tmp_path / "tqa.jsonl", [record])
    mc1, mc2 = read_benchmark(path, "truthfulqa_mc1")[0], read_benchmark(path, "truthfulqa_mc2")[0]
    assert mc1.context == f"{QA_PRIMER}\n\nQ: Is the Earth flat?\nA:" and mc1.gold == (0,)
    assert mc2.choices == (" No, it is round.", " No.", " Yes.") and mc2.gold == (0, 1)


def test_every_bad_line_is_reported_at_once(tmp_path):
    path = write_jsonl(tmp_path / "bad.jsonl", [
        {"question": "ok", "choices": {"text": ["a", "b"], "label": ["A", "B"]}, "answerKey": "A"},
        {"question": "no answer", "choices": {"text": ["a", "b"], "label": ["A", "B"]}, "answerKey": "E"},
        "{not json",
        {"question": "", "choices": {"text": ["a"], "label": ["A"]}, "answerKey": "A"},
    ])
    with pytest.raises(DataError) as err:
        read_benchmark(path, "arc")
    found = {(p.line, p.field, p.code) for p in err.value.problems}
    assert (2, "answerKey", "bad_answer") in found
    assert (3, None, "bad_json") in found
    assert (4, "question", "wrong_type") in found and (4, "choices.text", "wrong_type") in found
    assert all(p.file == path for p in err.value.problems)
    assert "expected one of A, B" in str(err.value)


def test_unknown_format_and_missing_file_are_named(tmp_path):
    with pytest.raises(DataError, match="expected one of arc, hellaswag"):
        read_benchmark(tmp_path / "x.jsonl", "piqa")
    with pytest.raises(DataError, match="no such benchmark file"):
        read_benchmark(tmp_path / "x.jsonl", "arc")


def test_pair_scores_equal_one_forward_per_pair(tiny_llama):
    model, _ = tiny_llama
    pairs = [([5, 9, 40], [11, 12]), ([17], [200, 201, 202]), ([60, 61, 62, 63, 64, 65, 66], [7])]
    expected = []
    for prompt, continuation in pairs:
        with torch.no_grad():
            log_probs = torch.log_softmax(model(input_ids=torch.tensor([prompt + continuation])).logits[0], -1)
        expected.append(sum(log_probs[len(prompt) + j - 1, t].item() for j, t in enumerate(continuation)))
    for batch_size in (1, 2, 8):
        np.testing.assert_allclose(score_pairs(model, pairs, batch_size, "fp32"), expected, atol=1e-4, rtol=0)


def test_acc_and_acc_norm_follow_their_definitions():
    """acc takes the highest summed log-likelihood; acc_norm divides by the continuation's characters first."""
    items = [ChoiceItem("a", "ctx", (" no", " a much longer answer"), (1,)),
             ChoiceItem("b", "ctx", (" yes", " nope"), (0,))]
    # Item a: -3 > -5, so acc picks the short wrong choice; per character -5/21 > -3/3, so acc_norm picks the long one.
    scores = item_metrics(items, [[-3.0, -5.0], [-1.0, -2.0]], "arc")
    assert scores == {"acc": [0.0, 1.0], "acc_norm": [1.0, 1.0]}


def test_mc2_is_the_probability_mass_on_true_answers():
    assert mc2_score([math.log(0.5), math.log(0.3), math.log(0.2)], (0, 1)) == pytest.approx(0.8)
    # Only ratios matter: the same shift of every log-likelihood leaves it unchanged (and -1000 does not underflow).
    assert mc2_score([-1000 + math.log(0.5), -1000 + math.log(0.3), -1000 + math.log(0.2)], (2,)) == pytest.approx(0.2)
    item = ChoiceItem("t", "ctx", (" a", " b", " c"), (0, 1))
    assert item_metrics([item], [[math.log(0.1), math.log(0.1), math.log(0.8)]], "truthfulqa_mc2") == {
        "mc2": [pytest.approx(0.2)]}


def test_metrics_have_intervals_and_groups():
    items = [ChoiceItem(str(i), "c", (" a", " b"), (0,), "even" if i % 2 == 0 else "odd") for i in range(20)]
    lls = [[0.0, -1.0] if i % 2 == 0 else [-1.0, 0.0] for i in range(20)]
    from tunewise.evaluate.multiple_choice import BenchmarkScores

    scores = BenchmarkScores("arc", items, lls, item_metrics(items, lls, "arc"))
    metrics = benchmark_metrics(scores, n_resamples=200)
    assert metrics["acc"]["value"] == 0.5 and metrics["acc"]["ci_low"] < 0.5 < metrics["acc"]["ci_high"]
    assert per_group(scores) == {"even": {"items": 10, "acc": 1.0, "acc_norm": 1.0},
                                 "odd": {"items": 10, "acc": 0.0, "acc_norm": 0.0}}


def test_a_model_that_learned_the_answers_picks_them(tiny_llama):
    """Trained until one choice of each item is far more likely, the scorer picks it; the untrained model does not
    know them (its accuracy is what chance gives)."""
    model, tokenizer = tiny_llama
    items = [ChoiceItem(f"q{i}", f"Question: {q}\nAnswer:", choices, (gold,)) for i, (q, choices, gold) in enumerate([
        ("the cat is", (" red", " on the mat"), 1),
        ("a dog is a", (" dog", " tree"), 0),
        ("an oak is a", (" animal", " tree"), 1),
        ("the sky is", (" blue", " an elm"), 0),
    ])]
    before = score_benchmark(model, tokenizer, items, "arc", precision="fp32")
    texts = [item.context + item.choices[item.gold[0]] for item in items]
    ids = [tokenizer(t)["input_ids"] for t in texts]
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    torch.manual_seed(0)
    for _ in range(60):
        for seq in ids:
            loss = model(input_ids=torch.tensor([seq]), labels=torch.tensor([seq])).loss
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
    model.eval()
    after = score_benchmark(model, tokenizer, items, "arc", precision="fp32")
    assert after.item_scores["acc"] == [1.0] * 4
    margins = [ll[item.gold[0]] - max(v for j, v in enumerate(ll) if j != item.gold[0])
               for item, ll in zip(items, after.log_likelihoods)]
    assert min(margins) > 2.0  # far more likely, not a coin flip
    assert before.log_likelihoods != after.log_likelihoods
