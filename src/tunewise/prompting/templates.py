"""How an example becomes a chat conversation, the same way for every rung, in each prompt style.

zero-shot: the task instruction is the system message (fine-tuned rungs train and are scored on exactly this
conversation, so only the weights differ); prefix: the instruction opens the user's message instead; few-shot:
demonstrations are earlier user/assistant turns; chain-of-thought: a cue asks for reasoning, then an answer line.
"""
from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence

from tunewise.errors import TrainingError
from tunewise.models.chat_template import answer_ids, prompt_ids
from tunewise.models.load import load_tokenizer
from tunewise.records import Example, Message


def _with_system(messages: Sequence[Message], instruction: str | None) -> list[Message]:
    """Put the task instruction first, unless the data brought its own system message."""
    messages = list(messages)
    if messages and messages[0]["role"] == "system":
        return messages
    if instruction is None:
        return messages  # the chat-template layer adds tunewise's default system prompt
    return [{"role": "system", "content": instruction}, *messages]


def zero_shot_messages(example: Example, instruction: str | None) -> list[Message]:
    """The instruction prompt: system instruction + the example's conversation."""
    return _with_system(example.messages, instruction)


def prefix_messages(example: Example, instruction: str | None) -> list[Message]:
    """The plain-instruction (prefix) prompt: the instruction opens the first user message; default system message."""
    messages = [m for m in example.messages if m["role"] != "system"]
    if instruction:
        first = next(i for i, m in enumerate(messages) if m["role"] == "user")
        messages[first] = {"role": "user", "content": f"{instruction}\n\n{messages[first]['content']}"}
    system = [m for m in example.messages[:1] if m["role"] == "system"]
    return [*system, *messages]


def cot_messages(example: Example, instruction: str | None, cue: str) -> list[Message]:
    """The zero-shot conversation with a chain-of-thought cue (prompt.cot_instruction) after the last user message."""
    messages = zero_shot_messages(example, instruction)
    last = max(i for i, m in enumerate(messages) if m["role"] == "user")
    messages[last] = {"role": "user", "content": f"{messages[last]['content']}\n\n{cue}"}
    return messages


def user_text(example: Example) -> str:
    """The content of the example's last user message (what an encoder embeds, what a template calls `input`)."""
    for message in reversed(example.messages):
        if message["role"] == "user":
            return message["content"]
    raise TrainingError(f"{example.file}:{example.line}: example {example.id} has no user message")


def few_shot_messages(example: Example, demos: Sequence[Example], instruction: str | None) -> list[Message]:
    """Demonstrations as earlier chat turns, then the example's own conversation."""
    turns: list[Message] = []
    for demo in demos:
        turns.extend(m for m in demo.messages if m["role"] != "system")
        turns.append({"role": "assistant", "content": demo.answer})
    own = [m for m in example.messages if m["role"] != "system"]
    system = [m for m in example.messages[:1] if m["role"] == "system"]
    return _with_system([*system, *turns, *own], instruction)


def demo_order(train: Sequence[Example], seed: int, balance_labels: bool) -> list[Example]:
    """A fixed, seeded order of candidate demonstrations; the first k are the k-shot demos.

    With labels, the order cycles through the labels (in a seeded order), so any prefix is label-balanced
    and the k=1 demos are a subset of the k=3 demos, which are a subset of the k=6 demos.
    """
    rng = random.Random(seed)
    pool = sorted(train, key=lambda e: e.id)
    rng.shuffle(pool)
    if not balance_labels:
        return pool
    by_label: dict[str, list[Example]] = defaultdict(list)
    for example in pool:
        by_label[example.label or ""].append(example)
    labels = sorted(by_label)
    rng.shuffle(labels)
    ordered: list[Example] = []
    for round_ in range(max(len(v) for v in by_label.values())):
        ordered.extend(by_label[label][round_] for label in labels if round_ < len(by_label[label]))
    return ordered


def token_counter(model_name: str):
    """count_tokens(example, instruction) for the data's length check: the zero-shot conversation plus the answer,
    in `model_name`'s tokens (loads only its tokenizer)."""
    tokenizer = load_tokenizer(model_name)

    def count_tokens(example: Example, instruction: str | None) -> int:
        messages = zero_shot_messages(example, instruction)
        return len(prompt_ids(tokenizer, messages)) + len(answer_ids(tokenizer, example.answer))

    return count_tokens
