"""Batched greedy generation equals one-at-a-time greedy decoding and stops at end of turn."""
from __future__ import annotations

import pytest
import torch

from tunewise.evaluate.generate import cut_at_stop, decode_answer, generate
from tunewise.models.chat_template import prompt_ids
from tunewise.sections import SamplingConfig

QUESTIONS = ["hi", "My invoice is wrong and I was charged twice.", "What is the capital of France?", "The app crashes"]


def greedy_one(model, tokenizer, prompt: list[int], max_new_tokens: int) -> str:
    """Reference decoder: no padding, no cache, argmax token by token until end of turn."""
    ids = list(prompt)
    new: list[int] = []
    with torch.no_grad():
        for _ in range(max_new_tokens):
            token = int(model(input_ids=torch.tensor([ids])).logits[0, -1].argmax())
            if token == tokenizer.convert_tokens_to_ids("<|im_end|>"):
                break
            ids.append(token)
            new.append(token)
    return tokenizer.decode(new, skip_special_tokens=True).strip()


def ban_whitespace_tokens(model, tokenizer) -> None:
    """A random tied-embedding model likes to repeat "\n", which strips to ""; ban whitespace so answers show."""
    bias = torch.zeros(model.config.vocab_size)
    for token_id in range(model.config.vocab_size):
        if tokenizer.decode([token_id]).isspace():
            bias[token_id] = -100.0
    model.lm_head.bias = torch.nn.Parameter(bias)


def test_batched_generation_equals_one_at_a_time(tiny_llama):
    model, tokenizer = tiny_llama
    ban_whitespace_tokens(model, tokenizer)
    prompts = [prompt_ids(tokenizer, [{"role": "user", "content": q}]) for q in QUESTIONS]
    assert len({len(p) for p in prompts}) == len(prompts)  # different lengths: padding is exercised
    batched = generate(model, tokenizer, prompts, max_new_tokens=12, batch_size=3, precision="fp32")
    assert batched == [greedy_one(model, tokenizer, p, 12) for p in prompts]
    assert all(batched)


def test_stops_at_end_of_turn(tiny_llama):
    model, tokenizer = tiny_llama
    ban_whitespace_tokens(model, tokenizer)
    prompts = [prompt_ids(tokenizer, [{"role": "user", "content": "hi"}])]
    assert generate(model, tokenizer, prompts, max_new_tokens=5, precision="fp32") != [""]
    # A large bias on the end-of-turn logit makes it the greedy choice at the first step.
    with torch.no_grad():
        model.lm_head.bias[tokenizer.convert_tokens_to_ids("<|im_end|>")] = 100.0
    assert generate(model, tokenizer, prompts, max_new_tokens=5, precision="fp32") == [""]


def test_decode_answer_cuts_at_the_first_stop_token(tiny_tokenizer):
    hello = tiny_tokenizer.encode("the app", add_special_tokens=False)
    ids = hello + [2] + tiny_tokenizer.encode(" crashes", add_special_tokens=False)
    assert decode_answer(tiny_tokenizer, ids, [2]) == "the app"
    assert decode_answer(tiny_tokenizer, hello, [2]) == "the app"


def test_prompt_tuning_model_generates_like_one_at_a_time(tiny_llama):
    """A prompt-tuned model (virtual tokens added inside forward, so no shared-prefix cache) decodes as greedy does."""
    peft = pytest.importorskip("peft")
    model, tokenizer = tiny_llama
    ban_whitespace_tokens(model, tokenizer)
    tuned = peft.get_peft_model(model, peft.PromptTuningConfig(task_type="CAUSAL_LM", num_virtual_tokens=3))
    tuned.eval()
    prompts = [prompt_ids(tokenizer, [{"role": "user", "content": q}]) for q in QUESTIONS]
    batched = generate(tuned, tokenizer, prompts, max_new_tokens=8, batch_size=3, precision="fp32")
    assert batched == [greedy_one(tuned, tokenizer, p, 8) for p in prompts]


def test_stop_strings_cut_every_answer_at_its_first_stop(tiny_llama):
    model, tokenizer = tiny_llama
    ban_whitespace_tokens(model, tokenizer)
    prompts = [prompt_ids(tokenizer, [{"role": "user", "content": q}]) for q in QUESTIONS]
    full = generate(model, tokenizer, prompts, max_new_tokens=12, batch_size=4, precision="fp32")
    stop = full[0][3:5]  # a piece of the first answer, so at least that answer stops early
    cut = generate(model, tokenizer, prompts, max_new_tokens=12, batch_size=4, precision="fp32", stop=[stop])
    assert cut == [cut_at_stop(answer, [stop]) for answer in full]
    assert cut[0] == full[0][: full[0].index(stop)].strip() and len(cut[0]) < len(full[0])


def test_cut_at_stop_takes_the_earliest_of_several():
    assert cut_at_stop("a b\nc ###d", ["###", "\n"]) == "a b"
    assert cut_at_stop("answer", ["###"]) == "answer" and cut_at_stop("x", []) == "x"


def test_sampling_is_repeatable_with_its_seed_and_differs_from_greedy(tiny_llama):
    model, tokenizer = tiny_llama
    ban_whitespace_tokens(model, tokenizer)
    prompts = [prompt_ids(tokenizer, [{"role": "user", "content": q}]) for q in QUESTIONS]
    greedy = generate(model, tokenizer, prompts, max_new_tokens=8, precision="fp32")

    def sample(seed):
        return generate(model, tokenizer, prompts, max_new_tokens=8, precision="fp32",
                        sampling=SamplingConfig(temperature=5.0, top_p=1.0, seed=seed))

    first = sample(0)
    assert sample(0) == first and first != greedy and sample(1) != first
