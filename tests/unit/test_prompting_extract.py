"""Reading the answer out of chain-of-thought outputs, on constructed strings."""
import pytest

from tunewise.prompting.extract import extract_answer, match_label

LABELS = ["billing_refund", "bug", "bug_report", "shipping_delay"]


@pytest.mark.parametrize("text, expected", [
    ("The customer was charged.\nAnswer: billing_refund", "billing_refund"),
    ("Reasoning...\n**Answer:** `shipping_delay`.", "shipping_delay"),
    ("Step 1: it crashes.\nFinal answer: Bug Report", "bug_report"),  # case and separators
    ("answer - bug", "bug"),
    ("I think the answer is shipping delay.", "shipping_delay"),
    ("Answer: bug_report\nWait, no.\nAnswer: billing_refund", "billing_refund"),  # the last answer line wins
    ("Answer: the label is bug_report because it crashes", "bug_report"),  # the one label named, as words
    ("Answer: bug report", "bug_report"),  # 'bug' is inside 'bug report': the longer label wins
    ("It is late, a shipping_delay or maybe a bug_report.", "bug_report"),  # no answer line: last label named
])
def test_classification_answers_are_matched_to_a_label(text, expected):
    assert extract_answer(text, LABELS) == expected


@pytest.mark.parametrize("text", ["", "I cannot tell.", "Answer: none of these"])
def test_no_label_anywhere_gives_none(text):
    assert extract_answer(text, LABELS) is None


@pytest.mark.parametrize("text, expected", [
    ("Let me think. The doc says 12 hours.\nAnswer: 12 hours", "12 hours"),
    ("Answer: \"Settings > Power\".", "Settings > Power"),
    ("The final answer is 42", "42"),
    ("Some thoughts.\n\nBlue light\n", "Blue light"),  # no answer line: the last non-empty line
    ("", None),
])
def test_free_text_answers(text, expected):
    assert extract_answer(text) == expected


def test_match_label_needs_whole_words():
    assert match_label("debugging", LABELS) is None
    assert match_label("BUG", LABELS) == "bug"
