"""Prompt templates and demonstration selection."""
from collections import Counter

from tunewise.prompting.templates import (
    demo_order,
    few_shot_messages,
    zero_shot_messages,
)
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


def test_prefix_puts_the_instruction_before_the_input_and_leaves_the_system_message_to_the_default():
    from tunewise.prompting.templates import prefix_messages

    ex = _examples()[0]
    assert prefix_messages(ex, "Pick a label.") == [{"role": "user", "content": "Pick a label.\n\ntext a 0"}]
    assert prefix_messages(ex, None) == list(ex.messages)


def test_cot_appends_the_cue_to_the_last_user_message_after_the_zero_shot_conversation():
    from tunewise.prompting.templates import cot_messages

    ex = _examples()[0]
    msgs = cot_messages(ex, "Pick a label.", "Think, then 'Answer: <label>'.")
    assert msgs[0] == {"role": "system", "content": "Pick a label."}
    assert msgs[-1] == {"role": "user", "content": "text a 0\n\nThink, then 'Answer: <label>'."}
    assert ex.messages[-1]["content"] == "text a 0"  # the example itself is unchanged


def test_fit_to_context_drops_demonstrations_from_the_end_until_the_prompt_fits():
    from tunewise.prompting.demos import fit_to_context

    demos = _examples()[:5]
    ex = _examples()[-1]

    def count(messages):  # one "token" per character of content
        return sum(len(m["content"]) for m in messages)

    def build(kept):
        return few_shot_messages(ex, kept, "Pick.")

    full = count(build(demos))
    messages, dropped = fit_to_context(build, demos, count, limit=full)
    assert dropped == 0 and messages == build(demos)
    messages, dropped = fit_to_context(build, demos, count, limit=full - 1)
    assert dropped == 1 and messages == build(demos[:4])  # the last demo goes first
    messages, dropped = fit_to_context(build, demos, count, limit=1)
    assert dropped == 5 and messages == build([])  # nothing fits: the bare question, cut later like any prompt
