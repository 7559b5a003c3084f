"""Prompt templates and demonstration selection."""
from collections import Counter

from tunewise.prompting.templates import demo_order, few_shot_messages, zero_shot_messages
from tunewise.records import Example


def _examples(n_per_label=5, labels=("a", "b", "c")):
    return [
        Example(id=f"{lab}{i}", messages=({"role": "user", "content": f"text {lab} {i}"},), answer=lab, label=lab)
        for lab in labels
        for i in range(n_per_label)
    ]


def test_zero_shot_puts_instruction_in_system_message():
    ex = _examples()[0]
    msgs = zero_shot_messages(ex, "Pick a label.")
    assert msgs[0] == {"role": "system", "content": "Pick a label."}
    assert msgs[1:] == list(ex.messages)


def test_data_system_message_is_kept():
    ex = Example(id="x", messages=({"role": "system", "content": "own"}, {"role": "user", "content": "hi"}), answer="a")
    assert zero_shot_messages(ex, "Pick a label.")[0]["content"] == "own"
    assert few_shot_messages(ex, _examples()[:2], "Pick a label.")[0]["content"] == "own"


def test_few_shot_turns_alternate_and_end_with_the_question():
    demos = _examples()[:2]
    ex = _examples()[-1]
    msgs = few_shot_messages(ex, demos, "Pick.")
    roles = [m["role"] for m in msgs]
    assert roles == ["system", "user", "assistant", "user", "assistant", "user"]
    assert msgs[2]["content"] == demos[0].answer
    assert msgs[-1] == ex.messages[-1]


def test_demo_order_is_label_balanced_nested_and_seeded():
    train = _examples(n_per_label=6)
    order = demo_order(train, seed=1, balance_labels=True)
    assert sorted(e.id for e in order) == sorted(e.id for e in train)  # a permutation of train only
    assert Counter(e.label for e in order[:3]) == Counter({"a": 1, "b": 1, "c": 1})
    assert Counter(e.label for e in order[:6]) == Counter({"a": 2, "b": 2, "c": 2})
    assert order == demo_order(list(reversed(train)), seed=1, balance_labels=True)  # input order does not matter
    assert order != demo_order(train, seed=2, balance_labels=True)
