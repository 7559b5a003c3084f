"""The bundled models end to end: SmolLM2 converts once to the cache and answers; MiniLM embeds in 384 dims.

The conversion goes to the user's cache (~/.cache/tunewise or $TUNEWISE_HOME), so it happens once per machine.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import GenerationConfig

from tunewise.evaluate.generate import decode_answer, generate_ids, stop_token_ids
from tunewise.evaluate.likelihood import _score_batch_full, score_labels
from tunewise.models.chat_template import answer_ids, end_of_turn_id, prompt_ids
from tunewise.models.load import (
    ensure_converted,
    is_cached,
    load_causal_lm,
    load_encoder,
    load_tokenizer,
)
from tunewise.models.resolve import resolve_model

pytestmark = pytest.mark.e2e

QUESTION = [{"role": "system", "content": "Answer briefly."}, {"role": "user", "content": "What is the capital of France?"}]


@pytest.fixture(scope="module")
def smollm2():
    return load_causal_lm("smollm2", dtype=torch.bfloat16)


def test_smollm2_converts_once_and_reloads_from_the_cache():
    spec = resolve_model("smollm2")
    directory = ensure_converted(spec)
    assert is_cached(directory) and (directory / "model.safetensors").is_file()
    stamp = (directory / "model.safetensors").stat().st_mtime_ns
    assert ensure_converted(spec) == directory  # second call: no conversion
    assert (directory / "model.safetensors").stat().st_mtime_ns == stamp
    assert "quantization_config" not in (directory / "config.json").read_text()


def test_smollm2_template_matches_prompt_plus_answer():
    tokenizer = load_tokenizer("smollm2")
    assert tokenizer.convert_ids_to_tokens(end_of_turn_id(tokenizer)) == "<|im_end|>"
    for answer in ["Paris", "billing", "The capital is Paris."]:
        full = tokenizer.apply_chat_template(QUESTION + [{"role": "assistant", "content": answer}], tokenize=False)
        expected = tokenizer.encode(full.removesuffix("\n"), add_special_tokens=False)
        assert prompt_ids(tokenizer, QUESTION) + answer_ids(tokenizer, answer) == expected
    assert "SmolLM" not in tokenizer.decode(prompt_ids(tokenizer, QUESTION[1:]))  # no built-in default system prompt


def test_smollm2_greedy_answer_ends_at_im_end(smollm2):
    model, tokenizer = smollm2
    prompt = prompt_ids(tokenizer, QUESTION)
    stops = stop_token_ids(tokenizer)
    config = GenerationConfig(max_new_tokens=24, do_sample=False, eos_token_id=stops, pad_token_id=stops[0])
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
        [new] = generate_ids(model, [prompt], config, torch.device("cpu"))
    assert tokenizer.convert_ids_to_tokens(new[-1]) == "<|im_end|>"  # the model ends its turn by itself
    answer = decode_answer(tokenizer, new, stops)
    assert answer and "<|im_end|>" not in answer


def test_smollm2_label_scores_equal_full_forward(smollm2):
    model, tokenizer = smollm2
    labels = ["billing", "bug", "bug report"]
    prompts = [prompt_ids(tokenizer, QUESTION), prompt_ids(tokenizer, QUESTION[1:])]
    model = model.float()
    scores = score_labels(model, tokenizer, prompts, labels, precision="fp32")
    continuations = [answer_ids(tokenizer, label) for label in labels]
    with torch.inference_mode():
        full = _score_batch_full(model, prompts, [continuations] * len(prompts), torch.device("cpu")).numpy()
    np.testing.assert_allclose(scores, full, atol=1e-3)
    model.to(torch.bfloat16)


def test_minilm_gives_384_dim_embeddings():
    model, tokenizer = load_encoder("minilm")
    batch = tokenizer(["The invoice is wrong.", "I was billed twice.", "The sun is a star."], padding=True, return_tensors="pt")
    with torch.inference_mode():
        hidden = model(**batch).last_hidden_state  # (3, T, 384)
    mask = batch["attention_mask"][..., None].float()
    embeddings = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1)  # (3, 384)
    assert embeddings.shape == (3, 384)
    similarity = embeddings @ embeddings.T
    assert similarity[0, 1] > similarity[0, 2]


def test_smollm2_knows_capitals_far_better_than_chance(smollm2):
    """The bundled general-knowledge set is answerable: on its geography questions (4 choices, chance 0.25) the
    base model's interval lies well above chance, so the forgetting check can see knowledge being lost."""
    from tunewise.evaluate.multiple_choice import (
        benchmark_metrics,
        read_benchmark,
        score_benchmark,
    )
    from tunewise.question_sets import GENERAL_KNOWLEDGE

    model, tokenizer = smollm2
    items = [i for i in read_benchmark(GENERAL_KNOWLEDGE, "arc") if i.group == "geography"]
    scores = score_benchmark(model, tokenizer, items, "arc", batch_size=16, precision="fp32")
    assert benchmark_metrics(scores, n_resamples=500)["acc_norm"]["ci_low"] > 0.4
