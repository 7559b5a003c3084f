"""Generate the support-replies preference data: per ticket, a reply that keeps the house rules and one that breaks one.

The rejected reply is the chosen one with one edit (the order number left out, the closing made curt or dropped, or
detail sentences added past the word limit), so each pair differs only in the rule it is about.

`python make_data.py [--seed 0] [--n 480] [--out DIR]` writes pairs.jsonl and unpaired.jsonl (synthetic, deterministic,
stdlib only; the same arguments give byte-identical files). judge.py holds the rules; every record is checked by it.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import random
import string
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

HERE = Path(__file__).resolve().parent
SEED = 0
COUNT = 480
RULES = ("order_number", "word_limit", "closing")  # the keys of judge.rules_met, one broken per rejected reply
TICKET_WORDS = (12, 30)
REPLY_WORDS = (15, 32)  # chosen replies
LONG_WORDS = (46, 60)  # rejected replies that break the word limit: well past judge.MAX_WORDS, not just over
TRIES = 200


def _load_judge() -> ModuleType:
    """judge.py, imported by path (this folder is not a package)."""
    spec = importlib.util.spec_from_file_location("support_replies_judge", HERE / "judge.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


judge = _load_judge()

# ---------------------------------------------------------------- the topics: ticket templates and reply parts


@dataclass(frozen=True)
class Topic:
    """One kind of ticket: how customers write it and the parts a good reply to it is made of."""

    name: str
    products: tuple[str, ...]
    tickets: tuple[str, ...]  # {order} {product} {day} and the topic's own slots
    apologies: tuple[str, ...]
    actions: tuple[str, ...]  # each cites the order once, as {ref}: "order #A48213", or "your order" when omitted
    follow_ups: tuple[str, ...]  # optional detail sentences, drawn with the general EXTRAS


GADGETS = ("blender", "pair of headphones", "desk lamp", "backpack", "coffee maker", "kettle", "phone case",
           "wall clock", "yoga mat", "toothbrush", "bluetooth speaker", "table lamp", "set of knives", "toaster",
           "smartwatch", "hair dryer", "laptop stand", "wireless mouse")
CLOTHES = ("rain jacket", "hoodie", "pair of jeans", "t-shirt", "dress", "pair of running shorts", "sweater",
           "winter coat", "linen shirt", "pair of trainers")
KITS = {  # product -> parts that can be missing from its box
    "bookshelf": ("set of screws", "back panel", "wall bracket"),
    "desk lamp": ("power adapter", "bulb"),
    "coffee grinder": ("lid", "power cable"),
    "office chair": ("gas lift", "left armrest", "set of wheels"),
    "stand mixer": ("whisk attachment", "mixing bowl"),
    "camera tripod": ("mounting plate", "carry bag"),
    "baby monitor": ("charging cable", "wall mount"),
    "garden hose reel": ("spray nozzle", "hose connector"),
}
SIZES = ("XS", "S", "M", "L", "XL", "XXL")

TOPICS = (
    Topic(
        "late_delivery", GADGETS,
        ("My order {order} for a {product} was due on {day} and still has not arrived. Where is it?",
         "Order {order} is late. The {product} was promised for {day} and tracking has not moved.",
         "Still waiting on order {order}. The {product} should have come last {day}. Is it lost?",
         "Where is my {product}? Order {order} said delivery by {day}, but tracking just says in transit."),
        ("Sorry your {product} is late.",
         "Sorry for the delay.",
         "Apologies for the late delivery."),
        ("The courier has {ref} at the depot, and it arrives within two days.",
         "The courier is tracing {ref}; if it is lost, we send a replacement.",
         "I have flagged {ref} as urgent; expect a tracking update within 24 hours."),
        ("Tracking updates at the next scan.",
         "We will also refund the delivery charge."),
    ),
    Topic(
        "damaged_item", GADGETS,
        ("The {product} from order {order} arrived on {day} with a cracked casing. I would like a replacement, "
         "please.",
         "Order {order} came today but the {product} is broken, probably dropped in transit. What should I do?",
         "My {product} (order {order}) arrived scratched and dented. It was a gift for {day}. Please help."),
        ("Sorry the {product} arrived damaged.",
         "Sorry it was broken in transit.",
         "Apologies for the damaged {product}."),
        ("A free replacement for {ref} ships tomorrow by next-day delivery.",
         "A replacement for {ref} is on its way, with a prepaid return label.",
         "I have sent a replacement under {ref}; please recycle the damaged one."),
        ("It comes in sturdier packaging.",
         "We have told the courier about the damage."),
    ),
    Topic(
        "refund_request", GADGETS,
        ("I returned the {product} from order {order} on {day} and still have no refund. How long does it take?",
         "Please refund order {order}. The {product} did not work and I sent it back on {day}.",
         "I want my money back for the {product} in order {order}. Do I need to return it first?"),
        ("Sorry for the wait.",
         "Sorry the {product} did not work out.",
         "Apologies for the slow refund."),
        ("The refund for {ref} is issued and reaches your card within 5 working days.",
         "The refund for {ref} is approved and paid once the item reaches us.",
         "The refund for {ref} was processed today; a confirmation email is on its way."),
        ("Your bank may take a little longer.",
         "The return label covers postage."),
    ),
    Topic(
        "wrong_size", CLOTHES,
        ("I ordered a {product} in size {size} but got {wrong}. Order {order}. Can I exchange it?",
         "The {product} in order {order} is the wrong size: I asked for {size}, the label says {wrong}.",
         "You sent a size {wrong} {product} for order {order}, but I picked {size}. How do I swap it?"),
        ("Sorry we sent the wrong size.",
         "Apologies for the size mix-up.",
         "Sorry the size was wrong."),
        ("Size {size} for {ref} ships today with a free return label.",
         "I have set up an exchange on {ref}: the {size} ships today.",
         "The size {size} for {ref} leaves today; return the {wrong} whenever suits you."),
        ("You will not be charged again.",
         "The {wrong} can go back in the same bag."),
    ),
    Topic(
        "double_charge", GADGETS,
        ("I was charged twice for order {order}: two payments of {amount} on {day}. Please refund one.",
         "Why did you take {amount} from my card twice? I only placed one order, {order}.",
         "There are two charges of {amount} for order {order} on my card, for one {product}. Please fix this."),
        ("Sorry you were charged twice.",
         "Apologies for the duplicate payment.",
         "Sorry about the double charge."),
        ("I have refunded the duplicate {amount} on {ref}; allow 5 working days.",
         "The second charge on {ref} was our error, and I have reversed it.",
         "I have refunded the extra {amount} for {ref} and emailed you a confirmation."),
        ("Some banks show the reversal separately.",
         "Your original payment is unaffected."),
    ),
    Topic(
        "cancel_order", GADGETS,
        ("Please cancel order {order}. I ordered a {product} by mistake on {day}.",
         "I changed my mind about the {product}. Can you cancel order {order} before it ships?",
         "I need to cancel {order} now, I found the {product} cheaper elsewhere. Has it shipped?"),
        ("No problem, sorry for any worry.",
         "Sorry it was not what you needed.",
         "Sorry for the trouble."),
        ("I have cancelled {ref}; the full refund reaches your card within 3 days.",
         "I have cancelled {ref}, so nothing will ship and you pay nothing.",
         "I stopped {ref} before dispatch, and your refund is on its way."),
        ("You do not need to return anything.",
         "No further charge will appear."),
    ),
    Topic(
        "address_change", GADGETS,
        ("Order {order} is going to my old address. Can you send the {product} to {address} instead?",
         "I moved last week. Please change the delivery address for order {order} to {address}.",
         "Wrong address on order {order}! The {product} should go to {address}. Is it too late?"),
        ("Thanks for letting us know.",
         "Sorry for the address confusion.",
         "Sorry for the trouble."),
        ("I have changed the address on {ref} to {address}.",
         "Nothing has shipped on {ref} yet, so it now goes to {address}.",
         "I have redirected {ref} to {address}; it may take one extra day."),
        ("Your account now has the new address.",
         "The courier will text you on delivery day."),
    ),
    Topic(
        "missing_part", tuple(KITS),
        ("My {product} (order {order}) arrived on {day} without the {part}. I cannot use it without it.",
         "Order {order}: the {product} came without the {part}. Can you send the missing piece?",
         "The box for order {order} had no {part} for the {product}, though the manual lists it."),
        ("Sorry the {part} was missing.",
         "Apologies for the missing {part}.",
         "Sorry your box was incomplete."),
        ("A new {part} for {ref} goes out by express post today.",
         "A free {part} for {ref} ships today; there is nothing to return.",
         "The warehouse is sending the missing {part} for {ref} with tracking."),
        ("The assembly guide is also on our website.",
         "We will check future boxes more carefully."),
    ),
)

# ---------------------------------------------------------------- slots and surface variation

NAMES = ("Maria", "James", "Aisha", "Tom", "Priya", "Lukas", "Sofia", "Daniel", "Mei", "Oliver", "Fatima",
         "Carlos", "Hannah", "Kenji", "Grace", "Omar", "Chloe", "Mateo", "Nina", "Samuel", "Leila", "Ben", "Zoe",
         "Ravi", "Ingrid", "Pedro", "Yuki", "Emma", "Kwame", "Lucy")
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
STREETS = ("Elm Street", "Station Road", "Mill Lane", "Park Avenue", "Church Road", "High Street", "Oak Close",
           "Victoria Road", "Queens Drive", "Harbour Way")
TOWNS = ("Leeds", "Bristol", "Dublin", "Cardiff", "York", "Brighton", "Glasgow", "Norwich", "Bath", "Exeter")
TICKET_GREETINGS = ("", "", "Hi,", "Hello,", "Hi there,", "Dear Support,")
TICKET_EXTRAS = ("", "", "", "This is my second message about this.", "I have been a customer for years.",
                 "Please reply soon.", "I need a quick answer.")
TICKET_SIGNOFFS = ("Thanks, {name}", "Regards, {name}", "Cheers, {name}", "- {name}", "{name}")
REPLY_GREETINGS = ("Hi {name},", "Hello {name},")  # on the body's line: a greeting costs two words, not a paragraph
EXTRAS = (  # general detail sentences: one may pad a good reply, several make an overlong one
    "Track it under My Orders.",
    "Just reply here if anything else comes up.",
    "I have noted this on your account.",
    "Our team checks these cases daily.",
    "Nothing else is needed from you.",
    "We will email you with any update.",
    "Please keep this email for your records.",
    "Our phone line is open every day.",
    "A confirmation is in your inbox.",
    "We are reviewing our checks.",
)
# A rejected reply that breaks the closing rule ends on one of these or on its last content sentence: curt, not rude.
CURT_ENDINGS = ("That is all.", "Nothing further is needed.", "Case noted.", "No further action required.")


def _order_numbers(rng: random.Random, n: int) -> list[str]:
    """`n` distinct order numbers like #A48213, so no ticket's number appears in another ticket."""
    numbers: dict[str, None] = {}  # a dict keeps draw order, so the output does not depend on set hashing
    while len(numbers) < n:
        numbers[f"#{rng.choice(string.ascii_uppercase)}{rng.randrange(100000):05d}"] = None
    return list(numbers)


def _slots(rng: random.Random, topic: Topic, order: str) -> dict[str, str]:
    """Every slot a template of `topic` can use, filled for one ticket."""
    product = rng.choice(topic.products)
    size, wrong = rng.sample(SIZES, 2)
    return {
        "order": order, "product": product, "name": rng.choice(NAMES), "day": rng.choice(DAYS),
        "size": size, "wrong": wrong, "part": rng.choice(KITS.get(product, ("part",))),
        "amount": f"${rng.randrange(12, 400)}.{rng.choice(('00', '49', '95', '99'))}",
        "address": f"{rng.randrange(2, 200)} {rng.choice(STREETS)}, {rng.choice(TOWNS)}",
    }


def _words(text: str) -> int:
    """Words as judge.rules_met counts them (whitespace-split)."""
    return len(text.split())


def _ticket(rng: random.Random, topic: Topic, slots: dict[str, str]) -> str:
    """A customer's ticket of TICKET_WORDS words: greeting, the topic's message, an aside, a signed name."""
    for _ in range(TRIES):
        body = " ".join(p for p in (rng.choice(topic.tickets).format(**slots), rng.choice(TICKET_EXTRAS)) if p)
        parts = [rng.choice(TICKET_GREETINGS), body, rng.choice(TICKET_SIGNOFFS).format(**slots)]
        text = "\n".join(p for p in parts if p)  # greeting and name on lines of their own, as in an email
        if TICKET_WORDS[0] <= _words(text) <= TICKET_WORDS[1]:
            return text
    raise RuntimeError(f"no {topic.name} ticket of {TICKET_WORDS} words after {TRIES} tries: fix the templates")


@dataclass(frozen=True)
class Draft:
    """A reply in parts, so that a rejected reply can be its chosen reply with exactly one part changed."""

    greeting: str  # "Hi Emma,"
    body: tuple[str, ...]  # apology, the action on the order ({ref} unfilled), detail sentences
    closing: str  # one of judge.POLITE_CLOSINGS
    unused: tuple[str, ...]  # the detail sentences the body does not use: what an overlong reply adds


def _render(draft: Draft, slots: dict[str, str], *, cite: bool = True, added: tuple[str, ...] = (),
            closing: str | None = None) -> str:
    """The reply's text: greeting and body on one line, the closing on a line of its own (none when it is "").

    `cite=False` says "your order" where the chosen reply names it ("order #A48213": both two words); `added`
    sentences go after the body; `closing` replaces the draft's.
    """
    ref = f"order {slots['order']}" if cite else "your order"
    text = " ".join([draft.greeting, *(s.format(ref=ref, **slots) for s in draft.body), *added])
    closing = draft.closing if closing is None else closing
    return f"{text}\n{closing}" if closing else text


def _draft(rng: random.Random, topic: Topic, slots: dict[str, str]) -> Draft:
    """A reply that keeps every rule, of REPLY_WORDS words: a short greeting, apology, what happens to the order,
    0-1 detail sentences, a polite closing."""
    details = [s.format(**slots) for s in topic.follow_ups] + list(EXTRAS)
    for _ in range(TRIES):
        apology = rng.choice(topic.apologies).format(**slots)
        apology = apology[0].lower() + apology[1:]  # it follows "Hi Emma," on the same line
        extra = rng.sample(details, rng.randint(0, 1))
        draft = Draft(greeting=rng.choice(REPLY_GREETINGS).format(**slots),
                      body=(apology, rng.choice(topic.actions), *extra),  # the action keeps {ref} for _render
                      closing=rng.choice(judge.POLITE_CLOSINGS),
                      unused=tuple(d for d in details if d not in extra))
        if REPLY_WORDS[0] <= _words(_render(draft, slots)) <= REPLY_WORDS[1]:
            return draft
    raise RuntimeError(f"no {topic.name} reply of {REPLY_WORDS} words after {TRIES} tries: fix the templates")


def _rejected(rng: random.Random, draft: Draft, slots: dict[str, str], broken_rule: str) -> str:
    """The chosen reply with one edit that breaks `broken_rule` and keeps the other two: "your order" for the order
    number, a curt ending or none for the closing, detail sentences added before the closing for the word limit.

    One edit, so that the pair differs only in what makes one reply better: a model that prefers the chosen reply
    prefers the rule, not other wording.
    """
    if broken_rule == "order_number":
        return _render(draft, slots, cite=False)
    if broken_rule == "closing":
        return _render(draft, slots, closing=rng.choice((*CURT_ENDINGS, "")))
    for _ in range(TRIES):
        text = _render(draft, slots, added=tuple(rng.sample(draft.unused, rng.randint(3, 7))))
        if LONG_WORDS[0] <= _words(text) <= LONG_WORDS[1]:
            return text
    raise RuntimeError(f"no reply of {LONG_WORDS} words after {TRIES} tries: fix the templates")


def _check(record: dict[str, str]) -> None:
    """Fail loudly if a record does not say what it claims: chosen keeps every rule, rejected breaks exactly one."""
    chosen = judge.rules_met(record["prompt"], record["chosen"])
    rejected = judge.rules_met(record["prompt"], record["rejected"])
    broken = [rule for rule, met in rejected.items() if not met]
    if not all(chosen.values()) or broken != [record["broken_rule"]]:
        raise RuntimeError(f"{record['id']}: chosen {chosen}, rejected breaks {broken}, "
                           f"expected only {record['broken_rule']!r}: fix the templates")


# ---------------------------------------------------------------- the records and the files


def pair_records(seed: int = SEED, n: int = COUNT) -> list[dict[str, str]]:
    """`n` tickets, each with a chosen reply (keeps every rule) and a rejected one (breaks the rule it names)."""
    rng = random.Random(seed)
    records = []
    for i, order in enumerate(_order_numbers(rng, n), start=1):
        topic = rng.choice(TOPICS)
        slots = _slots(rng, topic, order)
        broken_rule = rng.choice(RULES)
        prompt, draft = _ticket(rng, topic, slots), _draft(rng, topic, slots)
        record = {"id": f"r{i:04d}", "prompt": prompt, "chosen": _render(draft, slots),
                  "rejected": _rejected(rng, draft, slots, broken_rule), "broken_rule": broken_rule,
                  "topic": topic.name}
        _check(record)
        records.append(record)
    return records


def unpaired_records(pairs: list[dict[str, str]], seed: int = SEED) -> list[dict[str, object]]:
    """The same tickets as KTO-style data: per ticket, by a coin flip, its chosen reply (True) or rejected (False)."""
    rng = random.Random(f"{seed}:unpaired")  # its own stream, so the pairs do not change with this file
    records = []
    for pair in pairs:
        good = rng.random() < 0.5
        records.append({"id": pair["id"], "prompt": pair["prompt"],
                        "completion": pair["chosen"] if good else pair["rejected"], "label": good})
    return records


def render_jsonl(records: list[dict[str, object]]) -> str:
    """The records as JSONL text, one object per line, keys in insertion order."""
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)


def main(argv: list[str] | None = None) -> int:
    """Write pairs.jsonl and unpaired.jsonl into --out and print what they hold."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=SEED, help="random seed (default %(default)s)")
    parser.add_argument("--n", type=int, default=COUNT, help="number of tickets (default %(default)s)")
    parser.add_argument("--out", type=Path, default=HERE, help="folder for the two files (default: this folder)")
    args = parser.parse_args(argv)
    pairs = pair_records(args.seed, args.n)
    unpaired = unpaired_records(pairs, args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "pairs.jsonl").write_bytes(render_jsonl(pairs).encode("utf-8"))
    (args.out / "unpaired.jsonl").write_bytes(render_jsonl(unpaired).encode("utf-8"))
    broken = Counter(r["broken_rule"] for r in pairs)
    labels = Counter(r["label"] for r in unpaired)
    print(f"wrote {len(pairs)} pairs (rejected breaks {dict(sorted(broken.items()))}) and {len(unpaired)} unpaired "
          f"({labels[True]} good, {labels[False]} bad) to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
