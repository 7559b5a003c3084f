"""The support-replies judge: the house rules a customer-support reply must follow, checked in plain Python.

`house_rules` is the pass/fail judge, `house_rules_score` the fraction of rules met (an RL reward); stdlib only.
"""
from __future__ import annotations

import re

# The only sign-offs the house accepts; a reply's last sentence (or line) must be one of them.
POLITE_CLOSINGS: tuple[str, ...] = (
    "Kind regards, the Support Team",
    "Best regards, the Support Team",
    "Thank you for your patience.",
    "Thanks for reaching out.",
    "We appreciate your patience.",
)
MAX_WORDS = 40
# The lookahead keeps "#A482130" from counting as "#A48213" followed by a stray digit.
ORDER_NUMBER = re.compile(r"#[A-Z]\d{5}(?!\d)")
SENTENCE_ENDS = ".!?\n"


def _cites_order_number(prompt: str, completion: str) -> bool:
    """True when the reply cites the ticket's order number and no number the ticket does not mention."""
    asked, cited = set(ORDER_NUMBER.findall(prompt)), set(ORDER_NUMBER.findall(completion))
    if not asked:
        return not cited  # nothing to cite: inventing a number is the mistake
    return bool(cited) and cited <= asked


def _closes_politely(completion: str) -> bool:
    """True when the reply's last sentence or line is one of POLITE_CLOSINGS (a trailing period either way)."""
    text = completion.strip().rstrip(".").rstrip()
    for closing in POLITE_CLOSINGS:
        core = closing.rstrip(".")
        if not text.endswith(core):
            continue
        before = text[: len(text) - len(core)]
        # The closing must be a whole sentence: "...and thanks for reaching out" is not a sign-off.
        if not before.strip() or before.endswith("\n") or before.rstrip()[-1] in SENTENCE_ENDS:
            return True
    return False


def rules_met(prompt: str, completion: str) -> dict[str, bool]:
    """Each house rule (order_number, word_limit, closing) -> whether the reply to `prompt` keeps it."""
    return {
        "order_number": _cites_order_number(prompt, completion),
        "word_limit": len(completion.split()) <= MAX_WORDS,
        "closing": _closes_politely(completion),
    }


def house_rules(prompt: str, completion: str) -> bool:
    """The pass/fail judge: True when the reply keeps every house rule."""
    return all(rules_met(prompt, completion).values())


def house_rules_score(prompt: str, completion: str) -> float:
    """The fraction of house rules the reply keeps (0, 1/3, 2/3 or 1), for use as an RL reward."""
    met = rules_met(prompt, completion)
    return sum(met.values()) / len(met)
