"""Prompts to token ids: answer-only labels, left truncation, the default system prompt, the fallback format."""
from __future__ import annotations

import pytest
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast

from tunewise.errors import ModelError
from tunewise.models.chat_template import (
    DEFAULT_SYSTEM,
    IGNORE_INDEX,
    answer_ids,
    encode_example,
    end_of_turn_id,
    prompt_ids,
    prompt_text,
    truncate_prompt,
)

SYSTEM = {"role": "system", "content": "Classify the ticket."}
USER = {"role": "user", "content": "My invoice is wrong and I was charged twice."}


def test_prompt_plus_answer_is_the_rendered_conversation(tiny_tokenizer):
    for answer in ["billing", "bug report", "The app crashes.", "a\nb"]:
        full = tiny_tokenizer.apply_chat_template(
            [SYSTEM, USER, {"role": "assistant", "content": answer}], tokenize=False
        )
        # The template ends the turn with "<|im_end|>\n"; tunewise stops at <|im_end|>.
        assert full.endswith("<|im_end|>\n")
        expected = tiny_tokenizer.encode(full[: -len("\n")], add_special_tokens=False)
        assert prompt_ids(tiny_tokenizer, [SYSTEM, USER]) + answer_ids(tiny_tokenizer, answer) == expected


def test_answer_ends_with_end_of_turn(tiny_tokenizer):
    ids = answer_ids(tiny_tokenizer, "billing")
    assert ids[-1] == end_of_turn_id(tiny_tokenizer) == tiny_tokenizer.convert_tokens_to_ids("<|im_end|>")
    assert tiny_tokenizer.decode(ids[:-1]) == "billing"


def test_default_system_prompt_replaces_the_templates_own(tiny_tokenizer):
    text = tiny_tokenizer.decode(prompt_ids(tiny_tokenizer, [USER]))
    assert DEFAULT_SYSTEM in text
    assert "tiny built-in default" not in text  # the template's default system prompt never appears
    with_own = tiny_tokenizer.decode(prompt_ids(tiny_tokenizer, [SYSTEM, USER]))
    assert DEFAULT_SYSTEM not in with_own and SYSTEM["content"] in with_own
    assert with_own.endswith("<|im_start|>assistant\n")


def test_labels_mask_the_prompt(tiny_tokenizer):
    input_ids, labels = encode_example(tiny_tokenizer, [SYSTEM, USER], "billing", max_length=512)
    prompt = prompt_ids(tiny_tokenizer, [SYSTEM, USER])
    answer = answer_ids(tiny_tokenizer, "billing")
    assert input_ids == prompt + answer
    assert labels == [IGNORE_INDEX] * len(prompt) + answer


def test_left_truncation_keeps_the_answer(tiny_tokenizer):
    prompt = prompt_ids(tiny_tokenizer, [SYSTEM, USER])
    answer = answer_ids(tiny_tokenizer, "bug report")
    max_length = len(answer) + 10
    input_ids, labels = encode_example(tiny_tokenizer, [SYSTEM, USER], "bug report", max_length=max_length)
    assert len(input_ids) == len(labels) == max_length
    assert input_ids == prompt[-10:] + answer  # the start of the prompt is what goes
    assert labels[-len(answer) :] == answer and labels[:10] == [IGNORE_INDEX] * 10


def test_answer_longer_than_max_length_keeps_one_prompt_token(tiny_tokenizer):
    answer = "The app crashes when I open settings. Please fix this bug."
    input_ids, labels = encode_example(tiny_tokenizer, [USER], answer, max_length=6)
    assert len(input_ids) == 6 and labels[0] == IGNORE_INDEX and labels[1:] == input_ids[1:]
    assert input_ids[1:] == answer_ids(tiny_tokenizer, answer)[:5]


def test_truncate_prompt():
    assert truncate_prompt([1, 2, 3, 4], 2) == [3, 4]
    assert truncate_prompt([1, 2], 5) == [1, 2]
    assert truncate_prompt([1, 2], 0) == []


def plain_tokenizer(with_eos: bool) -> PreTrainedTokenizerFast:
    vocab = {"[UNK]": 0, "</s>": 1, "<s>": 2, "System": 3, "User": 4, "Assistant": 5, ":": 6, "hi": 7, "yes": 8}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Whitespace()])
    special = {"eos_token": "</s>", "bos_token": "<s>"} if with_eos else {}
    return PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="[UNK]", **special)


def test_fallback_format_without_chat_template():
    tokenizer = plain_tokenizer(with_eos=True)
    messages = [{"role": "user", "content": "hi"}]
    assert prompt_text(tokenizer, messages) == f"<s>System: {DEFAULT_SYSTEM}\n\nUser: hi\n\nAssistant:"
    tokens = tokenizer.convert_ids_to_tokens(prompt_ids(tokenizer, messages))
    assert tokens[0] == "<s>" and tokens[-3:] == ["hi", "Assistant", ":"]
    assert answer_ids(tokenizer, "yes") == [8, 1]  # eos ends the turn when there is no chat end-of-turn token


def test_no_end_of_turn_token_is_a_model_error():
    with pytest.raises(ModelError, match="eos"):
        end_of_turn_id(plain_tokenizer(with_eos=False))
