"""Generate the many-intent data set: 77 banking, retail and travel intents (synthetic, deterministic, stdlib only).

`python generate.py [--out intents.jsonl] [--seed 7] [--per-intent 40]`; the same arguments give byte-identical
output. Each message is one of its intent's templates with slots filled and optional greeting, politeness and
sign-off around it, so neighbouring intents (card_lost / card_stolen, refund_status / refund_request) share words.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

SEED = 7
PER_INTENT = 40
DEFAULT_OUT = Path(__file__).resolve().parent / "intents.jsonl"

# ---------------------------------------------------------------- the intents: label -> templates with {slots}

BANKING = {
    "card_lost": ["I lost my {card} somewhere {past}", "can't find my {card} anywhere, I think I dropped it",
                  "my {card} is missing, I must have lost it {past}"],
    "card_stolen": ["someone stole my wallet with my {card} {past}", "my {card} was stolen, please block it",
                    "I think my {card} got stolen on the train {past}"],
    "card_not_arrived": ["my new {card} still hasn't arrived", "you sent my {card} {past} and it never came",
                         "waiting for my {card} for ages, where is it"],
    "card_declined": ["my {card} got declined at {shop}", "payment with my {card} was refused {past}",
                      "why does my {card} keep getting declined"],
    "card_activation": ["how do I activate my new {card}", "I received the {card}, how do I turn it on",
                        "activate the {card} I just got"],
    "pin_change": ["I want to change the PIN on my {card}", "how can I set a new PIN",
                   "need to update my card PIN to something else"],
    "pin_blocked": ["I entered the wrong PIN three times and now it's blocked", "my PIN is locked, how do I unlock it",
                    "PIN blocked after too many attempts {past}"],
    "balance_check": ["what is the balance on my {account}", "how much money do I have in my {account}",
                      "show me my current {account} balance"],
    "transfer_failed": ["my transfer of {amount} failed", "the transfer I made {past} did not go through",
                        "why did my payment of {amount} to my landlord fail"],
    "transfer_pending": ["my transfer of {amount} is still pending", "the money I sent {past} hasn't reached them yet",
                         "how long does a transfer stay pending"],
    "transfer_limit": ["what is the maximum I can transfer in one day", "I need to send {amount}, is there a limit",
                       "how do I raise my transfer limit"],
    "wrong_recipient": ["I sent {amount} to the wrong person", "transferred money to the wrong account {past}",
                        "I typed the wrong account number and sent {amount}"],
    "direct_debit_cancel": ["cancel the direct debit to {company}", "stop the monthly direct debit for my gym",
                            "I want to cancel a direct debit set up on my {account}"],
    "standing_order": ["set up a standing order of {amount} every month", "how do I create a standing order",
                       "I want to pay {amount} to my savings every week automatically"],
    "unknown_charge": ["there is a charge of {amount} I don't recognise", "what is this payment to {company}",
                       "I see a transaction from {past} that I did not make"],
    "duplicate_charge": ["I was charged twice for the same purchase at {shop}", "double charge of {amount} {past}",
                         "the same payment appears two times on my statement"],
    "atm_cash_not_received": ["the ATM took my card but gave no cash", "I withdrew {amount} but the machine gave nothing",
                              "cash machine charged me {amount} and no money came out"],
    "atm_card_swallowed": ["the ATM kept my {card}", "cash machine swallowed my card {past}",
                           "my card got stuck in the ATM and never came back"],
    "exchange_rate": ["what exchange rate do you use for euros", "how much is {amount} in dollars with your rate",
                      "why was the exchange rate so bad on my purchase abroad"],
    "foreign_fee": ["why was I charged a fee for paying abroad", "is there a fee for using my {card} overseas",
                    "I got a foreign transaction fee of {amount}"],
    "open_account": ["I would like to open a new {account}", "how do I open an account with you",
                     "can I open a second {account} online"],
    "close_account": ["please close my {account}", "I want to shut down my account and move my money",
                      "how do I close my bank account for good"],
    "statement_request": ["send me a statement for {month}", "I need my bank statements for the last three months",
                          "where can I download a statement for my {account}"],
    "interest_rate": ["what interest rate does the {account} pay", "how much interest do I earn on savings",
                      "has the interest rate on my {account} changed"],
    "loan_application": ["I want to apply for a loan of {amount}", "can I borrow money for a new car",
                         "how do I apply for a personal loan"],
    "overdraft_request": ["can I get an overdraft on my {account}", "I want to increase my overdraft limit",
                          "how do I apply for an arranged overdraft"],
}
RETAIL = {
    "order_status": ["where is my order {order}", "what's the status of order {order}",
                     "has my order of the {item} shipped yet"],
    "order_cancel": ["cancel my order {order}", "I want to cancel the {item} I ordered {past}",
                     "please stop order {order} before it ships"],
    "order_change": ["can I change the size on order {order}", "I want to add another {item} to my order",
                     "change the colour of the {item} in my order"],
    "delivery_late": ["my {item} was supposed to arrive {past} and it's late", "order {order} is overdue",
                      "the delivery date passed and still no {item}"],
    "delivery_address": ["change the delivery address for order {order}", "I moved, please ship to {city} instead",
                         "update where my {item} is delivered"],
    "delivery_missed": ["I missed the courier {past}", "the driver left a card saying I wasn't home",
                        "how do I rearrange a delivery I missed"],
    "damaged_item": ["my {item} arrived broken", "the box was crushed and the {item} is damaged",
                     "the {item} I got {past} is cracked"],
    "wrong_item": ["I got the wrong item, I ordered a {item}", "you sent me someone else's order",
                   "order {order} contained a different product"],
    "missing_item": ["one item is missing from my order {order}", "the {item} was not in the box",
                     "I only got half of order {order}"],
    "return_request": ["I want to return the {item}", "how do I send back order {order}",
                       "can I return a {item} I bought {past}"],
    "return_label": ["I need a return label for the {item}", "where do I print the returns label",
                     "send me a prepaid label for order {order}"],
    "refund_status": ["where is my refund for the {item}", "I returned order {order} and have not been refunded",
                      "how long until I get my {amount} back"],
    "refund_request": ["I want a refund for the {item}", "please refund the {amount} for order {order}",
                       "give me my money back for the {item}"],
    "exchange_size": ["can I swap the {item} for a bigger size", "I need a smaller size of the {item}",
                      "exchange my {item} for the right size"],
    "price_match": ["I saw the {item} cheaper at {shop}, can you match it", "do you price match",
                    "{shop} sells the {item} for less, will you match the price"],
    "promo_code": ["my promo code doesn't work", "the discount code was rejected at checkout",
                   "why won't my voucher apply to the {item}"],
    "gift_card_balance": ["how much is left on my gift card", "check the balance of gift card {order}",
                          "what's the balance on the gift card I got {past}"],
    "stock_availability": ["when will the {item} be back in stock", "is the {item} available in {city}",
                           "do you have the {item} in stock right now"],
    "warranty_claim": ["my {item} stopped working, is it under warranty", "I want to make a warranty claim",
                       "the {item} broke after two months, what does the warranty cover"],
    "product_question": ["does the {item} come with batteries", "what size is the {item}",
                         "is the {item} waterproof"],
    "loyalty_points": ["how many loyalty points do I have", "my points from order {order} were not added",
                       "how do I spend my reward points"],
    "account_login": ["I can't log in to my shop account", "the website says my password is wrong",
                      "locked out of my account on your store"],
    "newsletter_unsubscribe": ["stop sending me marketing emails", "unsubscribe me from the newsletter",
                               "I get too many promotional emails, remove me"],
    "payment_failed_checkout": ["my payment failed at checkout", "checkout keeps saying payment declined",
                                "I can't pay for the {item}, the payment page errors"],
    "invoice_request": ["I need an invoice for order {order}", "send me a VAT invoice for the {item}",
                        "can I get a receipt for my purchase {past}"],
    "store_hours": ["what time does the {city} store open", "are you open on Sunday in {city}",
                    "what are the opening hours of your shop"],
}
TRAVEL = {
    "flight_booking": ["book a flight to {city} {future}", "I need a ticket from {city} to {city2}",
                       "find me a flight to {city} for two people"],
    "flight_cancel": ["cancel my flight to {city}", "I can't travel anymore, cancel booking {booking}",
                      "please cancel the flight I booked {past}"],
    "flight_change": ["move my flight to {city} to {future}", "change the date of booking {booking}",
                      "can I switch to an earlier flight to {city}"],
    "flight_delay": ["is my flight to {city} delayed", "our flight {flight} is late, what happens now",
                     "how long is the delay on {flight}"],
    "flight_status": ["what's the status of flight {flight}", "has {flight} landed yet",
                      "is flight {flight} on time"],
    "check_in": ["how do I check in online for {flight}", "check me in for my flight to {city}",
                 "when does check-in open for booking {booking}"],
    "seat_selection": ["I want a window seat on {flight}", "can I choose my seat for the flight to {city}",
                       "change my seat to an aisle seat"],
    "baggage_allowance": ["how many bags can I take to {city}", "what is the baggage allowance on {flight}",
                          "can I bring a second suitcase"],
    "lost_luggage": ["my suitcase didn't arrive in {city}", "the airline lost my bag on {flight}",
                     "my luggage is missing after the flight {past}"],
    "extra_baggage": ["add an extra bag to booking {booking}", "I need to pay for another checked bag",
                      "how much does an extra suitcase cost to {city}"],
    "hotel_booking": ["book a hotel in {city} {future}", "I need a room in {city} for three nights",
                      "find me a hotel near the centre of {city}"],
    "hotel_cancel": ["cancel my hotel in {city}", "I want to cancel hotel reservation {booking}",
                     "please cancel the room I booked {past}"],
    "hotel_change_dates": ["change my hotel dates to {future}", "can I extend my stay in {city} by a night",
                           "move reservation {booking} to later dates"],
    "hotel_amenities": ["does the hotel in {city} have a pool", "is breakfast included at the hotel",
                        "is there parking at my hotel in {city}"],
    "car_rental": ["rent a car in {city} {future}", "I need a rental car for a week in {city}",
                   "book a car to pick up at the {city} airport"],
    "car_rental_cancel": ["cancel my car rental in {city}", "I don't need the rental car anymore, booking {booking}",
                          "please cancel the car I reserved {past}"],
    "travel_insurance": ["do I need travel insurance for {city}", "add travel insurance to booking {booking}",
                         "what does your travel insurance cover"],
    "visa_requirements": ["do I need a visa to visit {city}", "what documents do I need to travel to {city}",
                          "visa rules for a trip to {city}"],
    "refund_flight": ["I want a refund for my cancelled flight to {city}", "refund booking {booking} please",
                      "when will I get my money back for {flight}"],
    "upgrade_class": ["upgrade me to business class on {flight}", "how much is an upgrade to first class to {city}",
                      "can I use points to upgrade my seat"],
    "pet_travel": ["can I bring my dog on the flight to {city}", "rules for travelling with a cat",
                   "is my pet allowed in the cabin on {flight}"],
    "special_assistance": ["I need wheelchair assistance at the {city} airport", "my mother needs help boarding",
                           "request special assistance for booking {booking}"],
    "meal_request": ["I need a vegetarian meal on {flight}", "can I order a gluten free meal for my flight",
                     "request a special meal for booking {booking}"],
    "airport_transfer": ["book a transfer from the {city} airport to my hotel", "I need a taxi from the airport",
                         "is there a shuttle from the airport to the hotel in {city}"],
    "loyalty_miles": ["my miles from {flight} were not credited", "how many air miles do I have",
                      "add the miles for my trip to {city} to my account"],
}
INTENTS = {**BANKING, **RETAIL, **TRAVEL}

# ---------------------------------------------------------------- slots and surface variation

CARDS = ["card", "debit card", "credit card", "Visa card", "bank card", "contactless card"]
ACCOUNTS = ["current account", "savings account", "joint account", "checking account", "business account"]
SHOPS = ["the supermarket", "a petrol station", "Amazon", "the pharmacy", "a restaurant", "Tesco", "Walmart", "IKEA"]
COMPANIES = ["Netflix", "Spotify", "my phone company", "the electricity company", "PayPal", "Uber", "a gym"]
ITEMS = ["jacket", "phone case", "blender", "pair of boots", "lamp", "coffee maker", "backpack", "headphones",
         "dress", "office chair", "kettle", "monitor", "sofa cushion", "watch", "toaster", "rug"]
CITIES = ["Paris", "Lisbon", "Tokyo", "New York", "Berlin", "Madrid", "Rome", "Dublin", "Chicago", "Oslo",
          "Athens", "Prague", "Sydney", "Toronto", "Vienna"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
GREETINGS = ["Hi, ", "Hello, ", "Hey, ", "Good morning, ", "Hi there, "]
POLITE = ["please ", "could you help, ", "quick question: "]
SIGNOFFS = [" Thanks!", " Thank you.", " Cheers.", " Thanks in advance.", " Any help appreciated."]
GREETING_RATE, POLITE_RATE, SIGNOFF_RATE, LOWER_RATE = 0.4, 0.15, 0.35, 0.15


def _slots(rng: random.Random) -> dict[str, str]:
    city, city2 = rng.sample(CITIES, 2)
    return {
        "card": rng.choice(CARDS),
        "account": rng.choice(ACCOUNTS),
        "shop": rng.choice(SHOPS),
        "company": rng.choice(COMPANIES),
        "item": rng.choice(ITEMS),
        "city": city,
        "city2": city2,
        "month": rng.choice(MONTHS),
        "amount": f"{rng.choice(['$', '£', '€'])}{rng.randint(5, 900)}",
        "order": f"#{rng.randint(10000, 99999)}",
        "booking": f"{rng.choice('ABCDEFGHJKLMNPQRSTUVWXYZ')}{rng.randint(10000, 99999)}",
        "flight": f"{rng.choice(['BA', 'LH', 'AF', 'KL', 'IB', 'DL', 'UA'])}{rng.randint(100, 999)}",
        "past": rng.choice(["yesterday", "last week", "two days ago", f"last {rng.choice(WEEKDAYS)}",
                            f"on {rng.choice(MONTHS)} {rng.randint(1, 28)}", "this morning"]),
        "future": rng.choice(["tomorrow", "next week", f"next {rng.choice(WEEKDAYS)}",
                              f"on {rng.choice(MONTHS)} {rng.randint(1, 28)}", "this weekend"]),
    }


def _message(template: str, rng: random.Random) -> str:
    """One customer message: the filled template with optional greeting, politeness, sign-off and casing."""
    core = template.format(**_slots(rng))
    if rng.random() < POLITE_RATE:
        core = rng.choice(POLITE) + core
    if rng.random() < GREETING_RATE:
        core = rng.choice(GREETINGS) + core
    text = core[0].upper() + core[1:]
    text += "?" if core.split(" ", 1)[0].lower() in {"how", "what", "where", "when", "why", "can", "is", "do",
                                                      "does", "has", "are"} else "."
    if rng.random() < SIGNOFF_RATE:
        text += rng.choice(SIGNOFFS)
    return text.lower() if rng.random() < LOWER_RATE else text


def records(seed: int = SEED, per_intent: int = PER_INTENT) -> list[dict[str, str]]:
    """`per_intent` distinct messages per intent, intents interleaved in a seeded order: {"id", "text", "label"}."""
    rng = random.Random(seed)
    out, seen = [], set()
    for label, templates in INTENTS.items():
        texts = []
        while len(texts) < per_intent:
            text = _message(templates[len(texts) % len(templates)], rng)
            if text not in seen:
                seen.add(text)
                texts.append(text)
        out += [{"text": t, "label": label} for t in texts]
    rng.shuffle(out)
    return [{"id": f"m{i:04d}", **r} for i, r in enumerate(out)]


def render_jsonl(seed: int = SEED, per_intent: int = PER_INTENT) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records(seed, per_intent))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output JSONL (default: beside this script)")
    parser.add_argument("--seed", type=int, default=SEED, help="random seed (the bundled file uses the default)")
    parser.add_argument("--per-intent", type=int, default=PER_INTENT, help="messages per intent")
    args = parser.parse_args(argv)
    content = render_jsonl(args.seed, args.per_intent)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(content.encode("utf-8"))
    print(f"wrote {content.count(chr(10))} messages ({len(INTENTS)} intents) to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
