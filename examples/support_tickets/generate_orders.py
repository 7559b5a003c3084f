"""Generate the order-number task of the multi-task example (synthetic, deterministic, standard library only).

Each record is a new support ticket drawn by generate.py's templates (a different seed) and the order number it
mentions, copied exactly as the customer wrote it, or `none`. No ticket text repeats one of tickets.jsonl, so
training on this task never shows the routing task's test tickets.

`python generate_orders.py [--out orders.jsonl] [--seed 29] [--stats]`; the same seed gives byte-identical output.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import random
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SEED = 29
COUNT = 600
DEFAULT_OUT = HERE / "orders.jsonl"
TICKETS = HERE / "tickets.jsonl"
NONE = "none"


def _ticket_generator():
    """generate.py, imported by path (this folder is not a package)."""
    spec = importlib.util.spec_from_file_location("support_tickets_generate", HERE / "generate.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks the module up while the file executes
    spec.loader.exec_module(module)
    return module


def _key(text: str) -> str:
    """Lowercase, letters and digits only: two tickets with the same key count as the same ticket."""
    return re.sub(r"[^0-9a-z]+", " ", text.lower()).strip()


def order_in_text(order: str, text: str) -> str:
    """The order number as it appears in `text` (casing and punctuation can change it), or `none`."""
    for form in (order, order.lower(), order.lstrip("#"), order.lower().replace("-", "")):
        if re.search(rf"(?<![0-9A-Za-z]){re.escape(form)}(?![0-9A-Za-z])", text):
            return form
    return NONE


def generate_records(seed: int = SEED, count: int = COUNT) -> list[dict[str, str]]:
    """`count` records {"id", "prompt", "completion"}, half of them with an order number; intents drawn in the
    routing data's proportions."""
    tickets = _ticket_generator()
    drawn_order: list[str] = []
    draw_slots = tickets._slots

    def remembering_slots(rng: random.Random) -> dict[str, str]:
        slots = draw_slots(rng)
        drawn_order.append(slots["order"])
        return slots

    tickets._slots = remembering_slots  # the ticket's order number, whether or not its template uses it
    taken = {_key(json.loads(line)["text"]) for line in TICKETS.read_text(encoding="utf-8").splitlines()}
    rng = random.Random(seed)
    labels, weights = zip(*tickets.COUNTS.items())
    records: list[dict[str, str]] = []
    kept = {True: 0, False: 0}  # tickets kept without / with an order number
    while len(records) < count:
        ticket = tickets._draw_ticket(rng.choices(labels, weights)[0], rng)
        key = _key(ticket.text)
        if key in taken:
            continue
        answer = order_in_text(drawn_order[-1], ticket.text)
        if kept[answer == NONE] >= count // 2:
            continue  # half the tickets mention an order number, half do not
        kept[answer == NONE] += 1
        taken.add(key)
        records.append({"id": f"o{len(records) + 1:04d}", "prompt": ticket.text, "completion": answer})
    return records


def render_jsonl(seed: int = SEED) -> str:
    """The exact file content: one JSON object per line, UTF-8, '\\n' line ends."""
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in generate_records(seed))


def stats(seed: int = SEED) -> str:
    records = generate_records(seed)
    with_order = sum(r["completion"] != NONE for r in records)
    return f"{len(records)} tickets, {with_order} ({with_order / len(records):.0%}) mention an order number"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output JSONL (default: beside this script)")
    parser.add_argument("--seed", type=int, default=SEED, help="random seed (the bundled file uses the default)")
    parser.add_argument("--stats", action="store_true", help="print how many tickets mention an order")
    args = parser.parse_args(argv)
    content = render_jsonl(args.seed)
    args.out.write_bytes(content.encode("utf-8"))
    print(f"wrote {content.count(chr(10))} tickets to {args.out}")
    if args.stats:
        print(stats(args.seed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
