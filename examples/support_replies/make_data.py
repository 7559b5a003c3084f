"""Generate the support-replies preference data: per ticket, a reply that keeps the house rules and one that breaks one.

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
TICKET_WORDS = (20, 60)
REPLY_WORDS = (30, 55)  # chosen replies, and rejected ones that break another rule than the word limit
LONG_WORDS = (70, 95)  # rejected replies that break the word limit: well past judge.MAX_WORDS, not just over
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
        ("My order {order} for a {product} was supposed to arrive on {day}, but it still has not shown up. The "
         "tracking page has not updated in days. Can you tell me where it is?",
         "I ordered a {product} (order {order}) over a week ago and it is still not here. It was promised for "
         "{day}. I need it soon, please check what is going on.",
         "Still waiting on order {order}. The {product} should have been delivered last {day} and nobody has "
         "contacted me. Is it lost?",
         "Where is my {product}? Order {order} said delivery by {day} and the tracking just says in transit."),
        ("I am sorry your {product} has not arrived yet.",
         "Sorry for the delay with your {product}, I know how frustrating that is.",
         "I apologise that your delivery is running late."),
        ("I have checked {ref} and the courier reports a delay at the local depot; it should reach you within "
         "two working days.",
         "I have asked the courier to trace {ref} today, and if it is not found by Friday we will send a "
         "replacement free of charge.",
         "I have flagged {ref} as urgent with the courier, and you will get a tracking update by email within "
         "24 hours."),
        ("Tracking should update as soon as the parcel is scanned again.",
         "If it still has not arrived by then, we will refund the delivery charge as well."),
    ),
    Topic(
        "damaged_item", GADGETS,
        ("The {product} from order {order} arrived on {day} with a cracked casing and a crushed box. I would like "
         "a replacement, please. I can send photos if needed.",
         "Order {order} came today but the {product} is broken, it looks like it was dropped in transit. What "
         "should I do?",
         "I just unpacked my {product} (order {order}) and it is badly scratched and dented. It was meant to be a "
         "gift for {day}. Please help."),
        ("I am very sorry the {product} arrived damaged.",
         "Sorry to hear your {product} was broken in transit.",
         "I apologise that your {product} reached you in that state."),
        ("I have arranged a free replacement for {ref}, which will ship tomorrow with next-day delivery.",
         "A replacement for {ref} is on its way, and a prepaid return label for the damaged one is attached to "
         "this email.",
         "There is no need to send photos; I have issued a replacement under {ref} and you can recycle the "
         "damaged one."),
        ("The replacement comes in reinforced packaging this time.",
         "We have reported the damage to the courier so you do not have to."),
    ),
    Topic(
        "refund_request", GADGETS,
        ("I returned the {product} from order {order} on {day} and have not received my refund yet. How long does "
         "it usually take?",
         "Please refund order {order}. The {product} did not work as described and I sent it back on {day}. I "
         "have the return receipt.",
         "I would like my money back for the {product} in order {order}. It is not what I expected. Do I need to "
         "send it back first?"),
        ("Sorry for the wait on your refund.",
         "I am sorry the {product} did not work out for you.",
         "Apologies that this has taken longer than it should."),
        ("I can see the return on {ref}, and the refund has now been issued; it should reach your card within 3 "
         "to 5 working days.",
         "I have approved the refund for {ref}; once the item reaches our warehouse, the money goes back to your "
         "original payment method.",
         "The refund for {ref} has been processed today, and you will receive a confirmation email shortly."),
        ("Your bank may take a day or two longer to show it.",
         "The return label in your account covers the postage."),
    ),
    Topic(
        "wrong_size", CLOTHES,
        ("I ordered a {product} in size {size} but received size {wrong} instead. Order number {order}. Can I "
         "exchange it for the right size?",
         "The {product} in order {order} is the wrong size. I asked for {size} and the label says {wrong}. I need "
         "it before {day}.",
         "You sent me a size {wrong} {product} for order {order}, but I clearly picked {size} at checkout. How do "
         "I swap it?"),
        ("Sorry we sent the wrong size of {product}.",
         "Apologies for the mix-up with the size of your {product}.",
         "I am sorry the {product} you received was not the size you ordered."),
        ("I have sent size {size} for {ref} by express delivery, and a free return label for the {wrong} is "
         "included in the parcel.",
         "I have set up an exchange on {ref}: the {size} ships today, and you can return the {wrong} at no cost "
         "within 30 days.",
         "The correct {size} for {ref} is reserved and leaves our warehouse today; please send the {wrong} back "
         "whenever suits you."),
        ("You will not be charged again for the exchange.",
         "The {wrong} can go back in the same bag it came in."),
    ),
    Topic(
        "double_charge", GADGETS,
        ("I was charged twice for order {order}. My bank statement shows two payments of {amount} on {day}. "
         "Please refund the duplicate.",
         "Why did you take {amount} from my card two times? I only placed one order, {order}, for a {product}.",
         "There are two identical charges of {amount} for order {order} on my card. Only one {product} was "
         "ordered. Can you fix this?"),
        ("I am sorry you were charged twice.",
         "Apologies for the duplicate payment of {amount}.",
         "Sorry about the double charge, that should not have happened."),
        ("I have confirmed the duplicate payment on {ref} and refunded {amount} to your card; it can take up to "
         "5 working days to appear.",
         "The second charge on {ref} was a payment error on our side, and I have reversed it today.",
         "I have refunded the extra {amount} taken for {ref}, and you will receive a confirmation email within "
         "the hour."),
        ("Some banks show the reversal as a separate line rather than removing the charge.",
         "Your original payment for the {product} is unaffected."),
    ),
    Topic(
        "cancel_order", GADGETS,
        ("Please cancel order {order}. I ordered a {product} by mistake on {day} and no longer need it.",
         "I changed my mind about the {product}. Can you cancel order {order} before it ships? I placed it on "
         "{day}.",
         "I need to cancel {order} as soon as possible. I found the {product} cheaper elsewhere. Has it been "
         "shipped already?"),
        ("Sorry the {product} was not what you needed.",
         "No problem at all, and sorry for any worry.",
         "I am sorry to see you change your mind, but I can help."),
        ("I have cancelled {ref} before it left our warehouse, and the full amount will be refunded to your card "
         "within 3 working days.",
         "I have cancelled {ref} for you, so nothing will ship and you will not be charged.",
         "I managed to stop {ref} before dispatch; your refund is on its way and you will get an email "
         "confirming it."),
        ("You do not need to return anything.",
         "The {product} is back in stock if you ever want it again."),
    ),
    Topic(
        "address_change", GADGETS,
        ("I just realised order {order} is going to my old address. Can you send the {product} to {address} "
         "instead?",
         "I moved last week. Please update the delivery address for order {order} to {address}. The {product} has "
         "not shipped yet, I think.",
         "Wrong address on order {order}! The {product} should go to {address}, not the one on file. Is it too "
         "late to change it before {day}?"),
        ("Thanks for letting us know, and sorry for the trouble.",
         "Sorry for the confusion over the delivery address.",
         "I apologise for the worry about where your {product} is going."),
        ("I have updated the delivery address on {ref} to {address}, and the courier has confirmed the change.",
         "The {product} on {ref} has not shipped yet, so I have changed the delivery address to {address}.",
         "I have redirected {ref} to {address}; delivery may take one extra day because of the change."),
        ("Your account now has the new address saved for future orders.",
         "The courier will text you on the morning of delivery."),
    ),
    Topic(
        "missing_part", tuple(KITS),
        ("My {product} arrived on {day} (order {order}) but the {part} is missing from the box. I cannot use it "
         "without it.",
         "Order {order}: the {product} came without the {part}. I checked all the packaging twice. Can you send "
         "the missing piece?",
         "The box for order {order} had the {product} but no {part}. The manual says it should be included. "
         "Please sort this out."),
        ("I am sorry the {part} was missing from your {product}.",
         "Apologies that your {product} arrived without the {part}.",
         "Sorry about the missing {part}, that must be annoying."),
        ("I have sent a new {part} for {ref} by express post, and it should arrive within two working days.",
         "A replacement {part} for {ref} is on its way today, free of charge, and there is no need to return "
         "anything.",
         "I have asked the warehouse to ship the missing {part} for {ref} today, with tracking sent to your "
         "email."),
        ("The assembly guide is also on our website if the printed one is unclear.",
         "We have told the warehouse so the next boxes are checked."),
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
TICKET_GREETINGS = ("", "Hi,", "Hello,", "Hi there,", "Dear Support,", "Good morning,")
TICKET_EXTRAS = ("", "", "This is the second time I have written about this.", "I have been a customer for years.",
                 "Please get back to me soon.", "I would appreciate a quick answer.")
TICKET_SIGNOFFS = ("Thanks, {name}", "Regards, {name}", "Cheers, {name}", "- {name}", "Many thanks, {name}")
REPLY_GREETINGS = ("Hi {name},", "Hello {name},", "Dear {name},")
EXTRAS = (  # general detail sentences: one may pad a good reply, several make an overlong one
    "You can follow every step in your account under My Orders.",
    "If anything else comes up, just reply to this email and it reaches our team.",
    "I have added a note to your account so you will not need to explain this again.",
    "Our team checks these cases daily, so nothing will slip through.",
    "You do not need to do anything else for now.",
    "We will email you as soon as there is any update.",
    "Please keep this email for your records.",
    "Our support line is also open seven days a week if you prefer to call.",
    "A confirmation with all the details has been sent to your email address.",
    "We are reviewing our checks to stop this from happening again.",
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
    """A customer's ticket of 20-60 words: greeting, the topic's message, an aside, a signed name."""
    for _ in range(TRIES):
        body = " ".join(p for p in (rng.choice(topic.tickets).format(**slots), rng.choice(TICKET_EXTRAS)) if p)
        parts = [rng.choice(TICKET_GREETINGS), body, rng.choice(TICKET_SIGNOFFS).format(**slots)]
        text = "\n".join(p for p in parts if p)  # greeting and name on lines of their own, as in an email
        if TICKET_WORDS[0] <= _words(text) <= TICKET_WORDS[1]:
            return text
    raise RuntimeError(f"no {topic.name} ticket of {TICKET_WORDS} words after {TRIES} tries: fix the templates")


def _reply(rng: random.Random, topic: Topic, slots: dict[str, str], *, cite: bool = True,
           extras: tuple[int, int] = (0, 1), ending: str = "polite", words: tuple[int, int] = REPLY_WORDS) -> str:
    """A helpful reply: greeting, apology, what happens to the order, `extras` detail sentences, then an ending.

    `cite=False` says "your order" where a good reply names it; `ending` is "polite" (one of judge.POLITE_CLOSINGS),
    "curt" (a CURT_ENDINGS line) or "none" (the reply stops after its last content sentence).
    """
    ref = f"order {slots['order']}" if cite else "your order"  # both two words: omitting it does not shorten
    details = [s.format(**slots) for s in topic.follow_ups] + list(EXTRAS)
    for _ in range(TRIES):
        body = [rng.choice(topic.apologies).format(**slots), rng.choice(topic.actions).format(ref=ref, **slots)]
        body += rng.sample(details, rng.randint(*extras))
        closing = {"polite": rng.choice(judge.POLITE_CLOSINGS), "curt": rng.choice(CURT_ENDINGS), "none": ""}[ending]
        parts = [rng.choice(REPLY_GREETINGS).format(**slots), " ".join(body), closing]
        text = "\n\n".join(p for p in parts if p)
        if words[0] <= _words(text) <= words[1]:
            return text
    raise RuntimeError(f"no {topic.name} reply of {words} words after {TRIES} tries: fix the templates")


def _rejected(rng: random.Random, topic: Topic, slots: dict[str, str], broken_rule: str) -> str:
    """A reply like the chosen one in tone and content that breaks `broken_rule` and keeps the other two."""
    if broken_rule == "order_number":
        return _reply(rng, topic, slots, cite=False)
    if broken_rule == "word_limit":
        return _reply(rng, topic, slots, extras=(3, 6), words=LONG_WORDS)
    return _reply(rng, topic, slots, ending=rng.choice(("curt", "none")))


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
        record = {"id": f"r{i:04d}", "prompt": _ticket(rng, topic, slots), "chosen": _reply(rng, topic, slots),
                  "rejected": _rejected(rng, topic, slots, broken_rule), "broken_rule": broken_rule,
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
