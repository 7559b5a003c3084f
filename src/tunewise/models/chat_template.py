"""The one place where conversations become token ids, used identically by training and evaluation.

Rendering: the tokenizer's chat template with the generation prompt (`prompt_ids`), then the answer followed by
the end-of-turn token (`answer_ids`: `<|im_end|>` for SmolLM2, else eos). For SmolLM2, prompt_ids + answer_ids
equals the tokenised full conversation except the template's trailing "\n" after the final `<|im_end|>`, which is
left out: the model stops at `<|im_end|>`, so nothing after it is trained or scored. Answers should be stripped
(the data layer does): an answer starting with two or more spaces tokenises differently after "assistant\n".

System prompt policy: SmolLM2's template silently adds its own system prompt ("You are a helpful AI assistant
named SmolLM, ...") when a conversation has none. tunewise always passes the task instruction as a system message;
when a conversation still has none, `prompt_ids` inserts DEFAULT_SYSTEM, so the template's built-in default never
appears and training and evaluation see the same text.

Tokenizers without a chat template use FALLBACK_FORMAT: each turn as "<Role>: <content>\n\n", then "Assistant:",
with the tokenizer's bos token (if any) in front; the answer is " <answer>" + eos.
"""
from __future__ import annotations

from collections.abc import Sequence

from transformers import PreTrainedTokenizerBase

from tunewise.errors import ModelError
from tunewise.records import Message

DEFAULT_SYSTEM = "You are a helpful assistant."
IGNORE_INDEX = -100  # label value that cross-entropy skips (PyTorch's default ignore_index)
# End-of-turn tokens of common chat formats, tried before eos (ChatML, Llama 3, Gemma, Phi-3).
END_OF_TURN_TOKENS = ("<|im_end|>", "<|eot_id|>", "<end_of_turn>", "<|end|>")
FALLBACK_FORMAT = "{role}: {content}\n\n"
FALLBACK_GENERATION_PROMPT = "Assistant:"


def with_system(messages: Sequence[Message]) -> list[Message]:
    """The conversation with DEFAULT_SYSTEM in front when it has no system message."""
    messages = list(messages)
    if not any(m["role"] == "system" for m in messages):
        messages.insert(0, {"role": "system", "content": DEFAULT_SYSTEM})
    return messages


def prompt_text(tokenizer: PreTrainedTokenizerBase, messages: Sequence[Message]) -> str:
    """The prompt as text, ending where the assistant's answer starts."""
    messages = with_system(messages)
    if tokenizer.chat_template:
        return tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    turns = "".join(FALLBACK_FORMAT.format(role=m["role"].capitalize(), content=m["content"]) for m in messages)
    return (tokenizer.bos_token or "") + turns + FALLBACK_GENERATION_PROMPT


def prompt_ids(tokenizer: PreTrainedTokenizerBase, messages: Sequence[Message]) -> list[int]:
    """Token ids of the conversation up to and including the generation prompt."""
    # The rendered text already holds every special token (bos included), so none are added again.
    return tokenizer.encode(prompt_text(tokenizer, messages), add_special_tokens=False)


def answer_ids(tokenizer: PreTrainedTokenizerBase, answer: str) -> list[int]:
    """Token ids of the answer followed by the end-of-turn token."""
    if not tokenizer.chat_template:
        answer = " " + answer  # the fallback prompt ends in "Assistant:" without a space
    return tokenizer.encode(answer, add_special_tokens=False) + [end_of_turn_id(tokenizer)]


def end_of_turn_id(tokenizer: PreTrainedTokenizerBase) -> int:
    """The token that ends an assistant turn: a known chat end-of-turn token in the vocabulary, else eos."""
    for token in END_OF_TURN_TOKENS:
        token_id = tokenizer.convert_tokens_to_ids(token)
        # Unknown tokens map to the unk id (or None), never to a real end-of-turn token.
        if token_id is not None and token_id != tokenizer.unk_token_id:
            return token_id
    if tokenizer.eos_token_id is not None:
        return tokenizer.eos_token_id
    raise ModelError(
        f"{tokenizer.name_or_path}: the tokenizer has no end-of-turn token ({', '.join(END_OF_TURN_TOKENS)}) and no "
        "eos token, so answers cannot be terminated; use a tokenizer that defines eos_token"
    )


def truncate_prompt(ids: Sequence[int], max_len: int) -> list[int]:
    """The last `max_len` ids: the start of an overlong prompt is dropped, the generation prompt kept."""
    if max_len <= 0:
        return []
    return list(ids[-max_len:])


def encode_example(
    tokenizer: PreTrainedTokenizerBase, messages: Sequence[Message], answer: str, max_length: int
) -> tuple[list[int], list[int]]:
    """(input_ids, labels) of one training example; labels are IGNORE_INDEX on the prompt so loss is on the answer.

    Too long: the prompt is cut from the left. An answer that alone fills max_length is cut from the right
    (losing its end-of-turn token) so that one prompt token is kept.
    """
    prompt = prompt_ids(tokenizer, messages)
    target = answer_ids(tokenizer, answer)[: max(max_length - 1, 1)]
    prompt = truncate_prompt(prompt, max_length - len(target))
    return prompt + target, [IGNORE_INDEX] * len(prompt) + target
