"""Generate the bundled support-ticket routing data set (synthetic, deterministic, standard library only).

`python generate.py [--out tickets.jsonl] [--seed 13] [--stats]`; the same seed gives byte-identical output.
"""
from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path

SEED = 13
DEFAULT_OUT = Path(__file__).resolve().parent / "tickets.jsonl"

# Examples per intent. Uneven on purpose: real queues have a few heavy intents and a long tail.
COUNTS = {
    "shipping_delay": 165,
    "billing_refund": 145,
    "password_reset": 140,
    "bug_report": 130,
    "cancel_subscription": 125,
    "double_charge": 105,
    "damaged_item": 105,
    "account_locked": 100,
    "wrong_item": 95,
    "change_address": 90,
    "upgrade_plan": 85,
    "invoice_request": 80,
    "feature_request": 75,
    "data_export": 60,
}

# Rates of the surface variations, per ticket.
AMBIGUOUS_RATE = 0.05  # wording that fits two intents; labelled with the one a human router would pick
TERSE_RATE = 0.14  # the core request only, no greeting or sign-off
GREETING_RATE = 0.45
SIGNOFF_RATE = 0.42
POLITE_RATE = 0.14
RAMBLE_RATE = 0.12
LONG_RAMBLE_RATE = 0.05  # a second, longer stretch of background before the point
DETAIL_RATE = 0.18
ANGRY_RATE = 0.11
URGENT_RATE = 0.06
SECOND_TOPIC_RATE = 0.09
TYPO_RATE = 0.14  # tickets with 1-3 misspelt words
LOWER_NOPUNCT_RATE = 0.08
LOWER_RATE = 0.05

# ---------------------------------------------------------------- slot values

PRODUCTS = [
    "wireless earbuds", "standing desk", "coffee grinder", "yoga mat", "phone case", "hiking backpack",
    "desk lamp", "bluetooth speaker", "air fryer", "pair of running shoes", "electric kettle", "monitor arm",
    "mechanical keyboard", "rain jacket", "water bottle", "blender", "office chair", "smart plug",
    "webcam", "cast iron pan", "throw blanket", "USB-C hub", "baby monitor", "bike light", "tent",
    "espresso machine", "wall clock", "set of bed sheets", "gaming mouse", "robot vacuum",
]
PLANS = ["Basic", "Starter", "Plus", "Pro", "Team", "Business", "Premium", "Family"]
DEVICES = [
    "iPhone 13", "iPhone 15", "Pixel 7", "Samsung Galaxy S22", "Android tablet", "iPad", "Windows laptop",
    "MacBook Air", "Chrome on Windows", "Firefox", "Safari on my Mac", "the desktop app", "a Chromebook",
    "my work PC", "Edge",
]
FEATURES = [
    "search bar", "checkout page", "order history page", "notifications page", "account page", "calendar sync",
    "photo upload", "shopping cart", "wishlist", "settings page", "login screen", "dashboard",
    "CSV import", "payment page", "chat window", "product filter",
]
WISHES = [
    "a dark mode", "an option to pause deliveries", "a shared wishlist", "Apple Pay at checkout",
    "a way to schedule orders in advance", "two-factor login with an authenticator app",
    "keyboard shortcuts", "a Spanish version of the site", "gift wrapping", "bulk ordering for teams",
    "an export to Google Sheets", "a widget for the home screen", "saved searches",
    "a way to split payment across two cards", "reminders before renewal", "more than one delivery address",
    "a family account with separate logins", "an API for our shop",
]
FIRST_NAMES = [
    "Anna", "Ben", "Carlos", "Dana", "Emeka", "Fatima", "Greg", "Hana", "Ivan", "Jess", "Kofi", "Laura",
    "Mateo", "Nina", "Omar", "Priya", "Quinn", "Rosa", "Sam", "Tomás", "Uma", "Victor", "Wen", "Yusuf",
    "Zoë", "José", "Łukasz", "Aoife", "Mike", "Sarah", "Chris", "Linda",
]
LAST_NAMES = ["Smith", "Okafor", "Novak", "Garcia", "Lee", "Brown", "Silva", "Kowalski", "Nguyen", "Patel", "Meyer"]
STREETS = ["Elm Street", "Harbour Road", "Maple Ave", "King St", "Station Road", "Oak Lane", "Bridge St", "Park Row"]
CITIES = ["Leeds", "Austin", "Dublin", "Toronto", "Bristol", "Denver", "Manchester", "Portland", "Glasgow", "Ottawa"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
CURRENCIES = ["$", "$", "$", "£", "€"]


def _order(rng: random.Random) -> str:
    style = rng.randrange(4)
    if style == 0:
        return f"#{rng.randint(10000, 99999)}"
    if style == 1:
        return f"ORD-{rng.randint(100000, 999999)}"
    if style == 2:
        return f"{rng.randint(1000, 9999)}-{rng.randint(100, 999)}"
    return f"A{rng.randint(1000000, 9999999)}"


def _amount(rng: random.Random) -> str:
    cents = rng.choice(["", ".99", ".50", ".00", ".95", f".{rng.randint(10, 99)}"])
    return f"{rng.choice(CURRENCIES)}{rng.randint(5, 320)}{cents}"


def _day(rng: random.Random) -> str:
    """A calendar day as a noun: 'March 3', 'the 14th', 'Friday'."""
    style = rng.randrange(3)
    if style == 0:
        return f"{rng.choice(MONTHS)} {rng.randint(1, 28)}"
    if style == 1:
        return f"the {rng.choice(['1st', '2nd', '3rd', '5th', '9th', '12th', '14th', '20th', '23rd', '28th'])}"
    return rng.choice(WEEKDAYS)


def _past(rng: random.Random) -> str:
    """When something happened, as a phrase that stands on its own: 'on March 3', 'last Tuesday'."""
    style = rng.randrange(3)
    if style == 0:
        return f"on {_day(rng)}"
    if style == 1:
        return f"last {rng.choice(WEEKDAYS)}"
    return rng.choice(["yesterday", "two days ago", "last week", "this morning", "over the weekend"])


def _future(rng: random.Random) -> str:
    """When something will happen: 'on the 14th', 'next Friday', 'tomorrow'."""
    style = rng.randrange(3)
    if style == 0:
        return f"on {_day(rng)}"
    if style == 1:
        return f"next {rng.choice(WEEKDAYS)}"
    return rng.choice(["tomorrow", "this weekend", "at the end of the month", "from Monday"])


def _slots(rng: random.Random) -> dict[str, str]:
    """One value for every slot a template may use (cheap, so always drawn in full)."""
    product, product2 = rng.sample(PRODUCTS, 2)
    plan, plan2 = rng.sample(PLANS, 2)
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    return {
        "order": _order(rng),
        "product": product,
        "product2": product2,
        "amount": _amount(rng),
        "date": _past(rng),
        "day": _day(rng),
        "future": _future(rng),
        "plan": plan,
        "plan2": plan2,
        "device": rng.choice(DEVICES),
        "feature": rng.choice(FEATURES),
        "wish": rng.choice(WISHES),
        "name": first,
        "email": f"{first.lower().replace('ł', 'l').replace('é', 'e').replace('á', 'a').replace('ë', 'e')}."
        f"{last.lower()}{rng.choice(['', '', str(rng.randint(1, 99))])}@example.com",
        "street": f"{rng.randint(2, 240)} {rng.choice(STREETS)}",
        "city": rng.choice(CITIES),
        "days": str(rng.randint(3, 21)),
        "n": str(rng.randint(2, 6)),
        "card": f"{rng.choice(['Visa', 'Mastercard', 'Amex', 'debit card'])} ending in {rng.randint(1000, 9999)}",
        "month": rng.choice(MONTHS),
        "year": str(rng.choice([2023, 2024, 2025])),
    }


# ---------------------------------------------------------------- core requests, per intent

TEMPLATES: dict[str, list[str]] = {
    "billing_refund": [
        "I'd like a refund for order {order}. The {product} isn't what I expected and I've already sent it back.",
        "Can I get my money back for the {product}? I returned it {date} and haven't seen anything yet.",
        "refund for {order} please",
        "I returned the {product} two weeks ago and the {amount} still hasn't come back to my card.",
        "You charged me {amount} for a renewal I didn't want. I'd like that reversed please.",
        "How long does a refund normally take? I sent back order {order} {date}.",
        "I was promised a refund of {amount} by one of your agents on the phone but nothing has arrived.",
        "The {product} stopped working after {days} days. I don't want a replacement, I just want my money back.",
        "Please refund the {amount} for the {plan} plan. I forgot to turn off auto-renew and haven't used it at all.",
        "Return label was used, tracking shows you received the parcel, so where is my refund?",
        "want my money back for the {product}, it's junk",
        "Your site says refunds take 5 business days. It's been {days}. Order {order}, {amount}.",
        "I got a store credit instead of a refund to my {card}. I never asked for credit, please send it to the card.",
        "The item was out of stock and you cancelled my order {order}, but the {amount} was still taken. "
        "When do I get it back?",
        "Could you check on the status of my refund? Order {order}, returned {date}.",
        "I was charged full price but the promo code should have taken {amount} off. Can you refund the difference?",
        "I'm within the 30 day window so I'd like to return the {product} and get a full refund.",
    ],
    "double_charge": [
        "I was charged twice for order {order}. Two payments of {amount} on my {card}.",
        "My bank statement shows the same {amount} payment twice on {day}.",
        "charged 2x for the same thing??",
        "Your checkout froze, I clicked pay again, and now I've been billed twice for the {product}.",
        "There are two identical charges from you this month for my {plan} subscription. I only have one account.",
        "Hi, looks like the {amount} charge went through twice. Can you remove the duplicate?",
        "I see {amount} taken on {day} and then the exact same amount again an hour later. Only one order was placed.",
        "Why did my {plan} plan renew twice this month? I've been billed {amount} two times.",
        "duplicate payment on my card for order {order}",
        "Got two confirmation emails and two charges, but I only ordered one {product}.",
        "My card was debited twice for the annual renewal. Please fix this, that's a lot of money to have tied up.",
        "The payment failed message came up so I paid again with PayPal, but it turns out the first one went "
        "through too.",
        "I have a pending charge and a completed charge for the same order {order}, both {amount}.",
        "Billed three times for one order?! {amount} x3 on my {card}.",
        "You took the subscription fee on both my old card and my new card this month.",
    ],
    "password_reset": [
        "I forgot my password and the reset email never arrives. My login is {email}.",
        "How do I reset my password? I don't see the link on the {device} app.",
        "password reset link not working",
        "The reset link says it has expired every time I click it, even straight away.",
        "I changed my email provider and can't remember my password. Can you send the reset to {email}?",
        "I've requested a new password {n} times today and nothing shows up, not even in spam.",
        "Can't remember my password. Please help me set a new one.",
        "When I type in my new password it says it doesn't meet the requirements, but it does. How do I get past this?",
        "I clicked 'forgot password' but it says there is no account with {email}. I definitely have one.",
        "need to change my password, someone might know it",
        "The password reset page just spins forever on {device}.",
        "I reset my password {date} but the new one doesn't work either. Can you reset it for me?",
        "my password manager lost my login for your site, how do I set a new password",
        "Reset code from the text message is rejected as invalid. I'm typing it exactly.",
        "I set up the account for my mum and neither of us knows the password now. Her email is {email}.",
        "Is there a way to reset my password without access to my old work email?",
    ],
    "account_locked": [
        "My account has been locked after too many login attempts. How long until I can get back in?",
        "It says my account is suspended and to contact support. I have no idea why.",
        "account locked, please unlock",
        "I'm locked out of my account. The password is correct, it just says the account is disabled.",
        "I got an email saying my account was frozen for suspicious activity. It was just me logging in from "
        "{city} on holiday.",
        "After I changed my phone the two-factor codes go to the old number and now I'm locked out.",
        "Why was my account deactivated? I have an open order {order} and can't even see it.",
        "Your system blocked my account when I tried to pay with a new {card}. Please unblock it.",
        "I'm getting 'too many attempts, try again later' and it's been {n} hours.",
        "my account is blocked and i can't log in on {device} or the website",
        "I lost access to my authenticator app and can't get past the security check. Account email is {email}.",
        "The account for {email} was locked overnight. Nobody else uses it. Please restore access.",
        "Every time I log in it says 'account restricted'. What does that mean and how do I fix it?",
        "Can you reactivate my account? I think it got flagged when I used a VPN.",
        "Locked out for the second time this week. I'm using the right password, I promise.",
    ],
    "cancel_subscription": [
        "Please cancel my {plan} subscription. I don't need it anymore.",
        "How do I stop my membership from renewing? I can't find the option anywhere.",
        "cancel my plan",
        "I want to end my subscription before the next billing date on {day}.",
        "I'm moving abroad and won't be using the service. Can you close my {plan} plan at the end of this month?",
        "Money is tight at the moment so I need to cancel. Please confirm once it's done.",
        "I tried to cancel in the app on {device} but the button does nothing. Please cancel it for me.",
        "Don't renew my subscription. Account is {email}.",
        "I've found another service that suits me better, so please cancel my membership.",
        "turn off auto renewal and cancel the {plan} plan, thanks",
        "Can I cancel now and keep access until the end of the period I've paid for?",
        "Stop charging me every month, I want out.",
        "My late father had a subscription with you under {email}. Please cancel it.",
        "I only signed up for the free trial. Please cancel before it turns into a paid {plan} plan.",
        "We're closing the office, so please cancel the {plan} account for our team.",
        "Is there a cancellation fee? If not, please go ahead and cancel my subscription.",
    ],
    "upgrade_plan": [
        "I'd like to upgrade from {plan} to {plan2}. How do I do that?",
        "We've grown to {n} people, can we move our account to a bigger plan?",
        "upgrade to {plan2} please",
        "What's the difference in price if I switch from {plan} to {plan2} mid-month?",
        "I want the extra storage. Can you move me up to the {plan2} tier?",
        "Is it possible to go from monthly to yearly billing and switch to {plan2} at the same time?",
        "The upgrade button on the billing page is greyed out. I want to move to {plan2}.",
        "Do I lose anything if I switch from {plan} to {plan2}? I want more seats.",
        "how do i get the {plan2} plan, i'm on {plan} right now",
        "My team keeps hitting the usage limit on {plan}. Please bump us up to the next plan.",
        "I'd like to add {n} more users to our account, which I think means a higher plan.",
        "Can I try {plan2} for a month and then decide whether to stay on it?",
        "Is there a discount for upgrading to the annual {plan2} plan for non-profits?",
        "Ready to upgrade. Send me whatever I need to sign for the {plan2} plan.",
        "I upgraded on {device} but my account still shows {plan}. Can you check?",
    ],
    "shipping_delay": [
        "Where is my order {order}? It was supposed to arrive {date}.",
        "My package has been stuck 'in transit' for {days} days.",
        "order {order} still not here",
        "Tracking hasn't updated since {day}. Is my {product} lost?",
        "I ordered a {product} for a birthday this weekend and it still hasn't shipped. Will it make it in time?",
        "The estimated delivery date keeps moving. First it was {day}, now it says next week.",
        "It's been {days} days and the order still says 'processing'. When will it ship?",
        "The courier website says 'awaiting collection' for order {order}. What's going on?",
        "Paid for express delivery and it's now {n} days late. Where is it?",
        "still waiting on my {product}, no updates at all",
        "The tracking link in my email doesn't work and I have no idea where my parcel is. Order {order}.",
        "Can you tell me when order {order} will actually be delivered? I need to plan to be home.",
        "My order shows as shipped but the carrier has no record of the tracking number.",
        "I'm in {city}. Is there a delay with deliveries here? My {product} is overdue.",
        "Half of my order came {date}, the rest is nowhere. Order {order}.",
        "Parcel has been sitting at the local depot for a week. Why isn't it out for delivery?",
        "when will my stuff arrive, ordered {date}",
    ],
    "damaged_item": [
        "My {product} arrived broken. The box was crushed on one side.",
        "The {product} from order {order} came with a big crack in it.",
        "item arrived damaged",
        "Opened the parcel and the {product} is scratched all over. This was sold as new.",
        "The {product} I received is dented and one of the parts has snapped off.",
        "Glass was shattered when it arrived. Photos attached. Order {order}.",
        "The {product} was leaking when I opened the box and it got all over the other items.",
        "It came in a torn bag and the {product} is stained. Can I get a replacement?",
        "The {product} doesn't turn on out of the box, and there's a rattle inside like something came loose "
        "in transit.",
        "box was soaked and the {product} inside is ruined",
        "Half the set arrived chipped. I'd like new ones sent please.",
        "The screen on the {product} had a crack when I took it out. I haven't even used it.",
        "Delivered {date} with the packaging ripped open and the {product} bent.",
        "Both legs of the {product} are bent, must have been dropped. Order {order}.",
        "Received my order but the {product} is damaged. What do I do, send photos?",
        "The seal on the {product} was broken and it looks like it's been knocked about. Not happy.",
    ],
    "wrong_item": [
        "I ordered a {product} but received a {product2}.",
        "Wrong item in my parcel. Order {order} should be a {product}.",
        "got the wrong thing",
        "The box had the right label but inside was a {product2} instead of my {product}.",
        "I ordered the large size and got a small. Can you swap it?",
        "You sent me the blue one, I ordered black. Order {order}.",
        "This isn't my order at all. It has someone else's name on the packing slip.",
        "I received {n} of the same item instead of one of each. The {product} is missing and there's an "
        "extra {product2}.",
        "my order {order} has a {product2} in it, i never ordered that",
        "Received a completely different model of {product} from the one on the website.",
        "The colour is wrong. The picture showed grey and this is bright green.",
        "I got a {product2}. I'd like the {product} I actually paid for, please. How do I send this back?",
        "Packing slip says {product} but the box contains a {product2}.",
        "Ordered two things, got one of them and a random {product2} nobody here ordered.",
        "You shipped the older version of the {product}, not the one I selected.",
        "the item I got doesn't match the description, it's a different product entirely",
    ],
    "change_address": [
        "I need to change the delivery address on order {order}. I've moved to {street}, {city}.",
        "Can you update my shipping address before my order ships?",
        "change address for {order} to {street}",
        "I typed the wrong house number. It should be {street}, not what I entered.",
        "Please send order {order} to my work address instead: {street}, {city}.",
        "I'm moving {future}. How do I update the address on my subscription deliveries?",
        "Is it too late to change where my {product} is going? It hasn't shipped yet.",
        "The address on my account is old. Please change it to {street}, {city}.",
        "wrong postcode on my order, can you fix it before it goes out",
        "I'd like this order delivered to my parents' place in {city} instead of my flat.",
        "Can I redirect the parcel to a pickup point? I won't be home {future}.",
        "My billing and shipping address got mixed up at checkout. It should ship to {street}.",
        "Can you update my default address for all future orders? New one is {street}, {city}.",
        "I left out the apartment number on order {order}. It's flat {n}.",
        "Please change the delivery address, the one on file is from before I moved.",
    ],
    "bug_report": [
        "The app crashes every time I open the {feature} on {device}.",
        "The {feature} doesn't load, it just shows a blank white screen.",
        "{feature} broken on {device}",
        "Since the latest update, the {feature} freezes after a few seconds. I've reinstalled twice.",
        "I get 'Error 500' when I click save on the {feature}.",
        "Buttons on the {feature} are overlapping and I can't tap the right one on my {device}.",
        "Notifications arrive {n} times for the same thing. Something is off.",
        "The prices in my cart show as NaN when I change the quantity.",
        "The {feature} logs me out every time I switch tabs on {device}.",
        "search results are empty even for stuff i know is on the site",
        "The page keeps refreshing in a loop when I open the {feature}. Tried clearing cookies.",
        "Dates in the {feature} are a day off. It says {day} but I set something else.",
        "When I upload a photo it turns sideways and then the app freezes.",
        "The {feature} says 'something went wrong' with no other details. Happens on {device} and on the website.",
        "Dark mode makes the text invisible in the {feature}, black on black.",
        "The app keeps asking me to update but the store says I already have the latest version.",
        "Your website won't let me check out on {device}, the pay button does nothing.",
    ],
    "feature_request": [
        "It would be great if you added {wish}.",
        "Any plans to support {wish}? I'd use it every week.",
        "please add {wish}",
        "Suggestion: {wish}. A lot of people in my team have asked about it.",
        "Would love to see {wish} in a future update.",
        "Are you considering {wish}? Your competitors have it.",
        "Small request: {wish} would make the app so much easier to use on {device}.",
        "I'd pay extra for {wish} on the {plan} plan.",
        "feature idea - {wish}",
        "Is there a roadmap I can see? Specifically I'm hoping for {wish}.",
        "Can you pass this on to the product team: we really need {wish}.",
        "Not a complaint, just an idea. {wish} would help people like me who order every week.",
        "The {feature} works fine but it'd be nice to have {wish} too.",
        "Please consider {wish}. Happy to test a beta.",
        "Wish list item: {wish}. Thanks for listening!",
    ],
    "invoice_request": [
        "Could you send me an invoice for order {order}? I need it for my expenses.",
        "I need a VAT invoice for my {plan} subscription for {month}.",
        "invoice for {order} please",
        "Where can I download the invoices for my account? I can only see receipts.",
        "Our finance team needs an invoice with our company name on it for the {amount} payment on {day}.",
        "Please resend the invoice for {month}, I deleted the email by mistake.",
        "Can you make the invoice out to my business address rather than my home address?",
        "I need all my invoices from {year} for my tax return.",
        "The invoice is missing our VAT number. Could you reissue it?",
        "need a receipt with the tax shown separately for order {order}",
        "Can I get a proper invoice rather than the order confirmation email? My employer won't accept that.",
        "Please send a copy of the invoice for the {product} to {email}.",
        "We need the invoice in the name of our company for the annual {plan} plan. Can you update it?",
        "The PDF invoice link in my account gives an error. Can you email it instead?",
        "I'd like an itemised invoice for my last {n} orders.",
    ],
    "data_export": [
        "How can I download all of my data from my account?",
        "I'd like a copy of all the personal data you hold on me, under GDPR.",
        "export my data",
        "Is there a way to export my order history as a CSV?",
        "Please send me everything you have stored for {email}.",
        "We're migrating to another tool and need a full export of our team's data.",
        "I requested a data export {date} but the download link never came.",
        "Can I get my saved lists and history out in a file I can open in Excel?",
        "The export button in settings gives me an empty file.",
        "subject access request for {email} please",
        "How long does a data export usually take? I need it before the end of {month}.",
        "I want to back up all my projects before I change plans. How do I export them?",
        "Can your API give me a full dump of my account data, or is there a download option?",
        "Please provide all data linked to my account, including any records of calls and chats.",
    ],
}

# Wording that fits two intents. The label is the request a human router would act on first:
# the thing the customer asks to be done, not the background they give.
AMBIGUOUS: dict[str, list[str]] = {
    "billing_refund": [
        "I cancelled {date} but was billed {amount} again this morning. I want that money back.",
        "The {product} arrived damaged and honestly I don't want another one. Just refund me.",
        "You sent the wrong item and I've already sent it back. Please refund the {amount} rather than "
        "sending a new one.",
        "My order {order} never arrived and I've given up waiting. Refund me.",
    ],
    "double_charge": [
        "I see two payments of {amount} for order {order}. Can one of them be refunded?",
        "I upgraded to {plan2} and got charged the full price on top of my {plan} fee for the same month.",
        "I cancelled and re-subscribed by accident and now I've paid twice this month.",
    ],
    "password_reset": [
        "I can't get in, it says my password is wrong and I think I'm about to get locked out. Can you send "
        "a reset link?",
        "My account seems locked but I think it's just my password. How do I set a new one?",
        "The app logs me out and then says my password is wrong. I need to reset it.",
    ],
    "account_locked": [
        "I reset my password {n} times and now it says my account is locked.",
        "The app keeps logging me out and now it says my account is disabled.",
        "My reset link worked but after I log in it says the account is on hold.",
    ],
    "cancel_subscription": [
        "Please end my {plan} membership and refund whatever is left on it.",
        "I was charged for another month which reminded me I don't use this. Just cancel it.",
        "Instead of upgrading I think I'll just cancel. Please close my {plan} plan.",
        "Before I cancel, can I export my stuff? Either way please cancel the subscription this week.",
    ],
    "upgrade_plan": [
        "Does the {plan2} plan have calendar sync? If so I'd like to move to it.",
        "I was going to cancel but if {plan2} is cheaper annually I'd switch to that instead.",
        "The export limit on {plan} is a pain. Move me to a plan that doesn't have it.",
    ],
    "shipping_delay": [
        "My order {order} is a week late. If it doesn't come by {day} I'll want my money back.",
        "Tracking says delivered but nothing is here. Where is my parcel?",
        "Still no sign of my {product}. Did it go to my old address?",
    ],
    "damaged_item": [
        "Package arrived {days} days late and the {product} inside was dented.",
        "The box I got has a cracked {product} and I'm not even sure it's the model I ordered.",
        "The {product} doesn't work out of the box, the app can't even find it.",
    ],
    "wrong_item": [
        "Tracking said delivered, but what's in my mailbox is someone else's package.",
        "I got a {product2} instead of the {product}, and the box was smashed too.",
        "This isn't what I ordered. Do I send it back or will you refund me?",
    ],
    "change_address": [
        "My order hasn't shipped yet, so if it's still waiting, can it go to {street}, {city} instead?",
        "It's been stuck for days. I've moved since, so please reroute it to {street}.",
        "I can't edit my address in the app, the field is greyed out. New one is {street}, {city}.",
    ],
    "bug_report": [
        "The export to PDF button does nothing when I click it. Would also be nice if it did CSV.",
        "I get charged at checkout but the page errors out and the order never shows up in my history.",
        "The 'forgot password' button on the {device} app does nothing when tapped, it's just dead.",
    ],
    "feature_request": [
        "There's no way to change the delivery address after ordering. Please add one.",
        "I wish I could download my invoices all at once instead of one at a time.",
        "It'd be nice if the app didn't log me out every day. Can you add a 'remember me'?",
    ],
    "invoice_request": [
        "I need a download of all my past invoices from {year} for my accountant.",
        "I was refunded {amount} for order {order}. Can I get a corrected invoice showing that?",
        "Charged {amount} on {day}, what was it for? Please send the invoice.",
    ],
    "data_export": [
        "Before I close my account I want a copy of everything you have stored about me.",
        "I need my complete order history with all the receipts in one file.",
        "Is there a bulk export? Our team is thinking of leaving, so we need everything out first.",
    ],
}

# ---------------------------------------------------------------- register wrappers

GREETINGS = [
    "Hi,", "Hello,", "Hey there,", "Good morning,", "Good afternoon,", "Dear support team,", "Hi team,",
    "Hello support,", "hey", "Hi there!", "Hiya,", "To whom it may concern,", "Hi {agent},", "Hello again,",
]
AGENTS = ["Sam", "Alex", "Maria", "support"]
POLITE = [
    "I hope you're well.", "Sorry to bother you.", "Hoping someone can help me with this.",
    "Thanks for taking the time to read this.", "I hope this is the right place to ask.",
    "Apologies if this has been asked before.", "Quick question for you.",
]
RAMBLES = [
    "I've been a customer for about {n} years and never had a problem before.",
    "I'm writing this from my phone on the train so excuse the short message.",
    "My sister recommended you last year and I've been happy until now.",
    "It's been a hectic week with the move and the kids' school starting.",
    "I'm not great with computers, so please bear with me.",
    "I actually tried the chat earlier but it disconnected after twenty minutes.",
    "I've read through the help pages and couldn't find an answer.",
    "Long story short, I was away for a few weeks and only noticed now.",
    "My partner usually deals with this stuff but they're away.",
    "I did call, but the wait time was over an hour and I had to go to work.",
    "Our dog has just had surgery so I've been a bit distracted, sorry if this is all over the place.",
    "I use your service mostly for the business and it's been good overall.",
]
ANGRY = [
    "This is ridiculous.", "Honestly very disappointed.", "This is the third time I'm writing about this!",
    "If this isn't sorted today I'm leaving a review.", "Not impressed at all.", "Fix it.",
    "I expected better from you.", "Absolutely unacceptable.", "Really frustrating.",
    "Nobody has answered my last two emails.",
]
URGENT = ["This is urgent.", "Need this sorted asap.", "Please treat this as urgent.", "URGENT please."]
SECOND_TOPICS = [
    "Also, unrelated, do you have a student discount?",
    "Separately, your app keeps logging me out, but that's a minor thing.",
    "Oh and do you ship to {city}?",
    "Also, while I have you, what are your opening hours on weekends?",
    "Side note, your newsletter keeps going to my spam folder.",
    "Also, is the {product2} coming back in stock soon?",
    "PS: the chat bot on your site was no help at all.",
    "Also can you update my phone number on file while you're at it? Not urgent.",
    "Unrelated, but I'd love a dark mode some day.",
    "And one more thing: can I get an invoice for this too, eventually?",
    "By the way, the {feature} was slow today but it worked in the end.",
    "Also, I might upgrade later this year, but that's for another time.",
]
DETAILS = [
    "My account email is {email}.", "I'm usually free after 5pm if a call is easier.",
    "I've been a member since {year}.", "I can send screenshots if that helps.",
    "You can reply here, I check this inbox daily.", "My name on the account is {name} {last}.",
    "I'm using {device}, if that matters.", "I've already checked the FAQ.",
]
SIGNOFFS = [
    "Thanks,", "Thanks in advance!", "Regards, {name}", "Cheers", "- {name}", "Best, {name}", "thx",
    "Thank you.", "Many thanks, {name} {last}", "Kind regards,\n{name}", "Cheers, {name}", "Thanks so much!",
    "Appreciate the help.", "ty",
]

# ---------------------------------------------------------------- noise


def _typo(word: str, rng: random.Random) -> str:
    """Misspell one word the way fast typists do: swapped, dropped or doubled letters."""
    i = rng.randrange(1, len(word) - 1)
    kind = rng.randrange(3)
    if kind == 0:
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if kind == 1:
        return word[:i] + word[i + 1 :]
    return word[:i] + word[i] + word[i:]


def _add_typos(text: str, rng: random.Random) -> tuple[str, bool]:
    parts = re.split(r"(\W+)", text)  # words at even positions, separators between them
    # Lower-case words only: names, plans and order numbers keep their spelling (they are often pasted).
    candidates = [i for i in range(0, len(parts), 2) 
                  if len(parts[i]) >= 4 and parts[i].isalpha() and parts[i].islower()]
    if not candidates:
        return text, False
    most = max(1, len(candidates) // 4)  # a short ticket gets one slip, not three
    for i in rng.sample(candidates, min(most, rng.choice([1, 1, 1, 2, 2, 3]))):
        parts[i] = _typo(parts[i], rng)
    return "".join(parts), True


def _lower_no_punct(text: str) -> str:
    """How some people type into a phone: no capitals, no full stops, keep what carries meaning."""
    text = text.lower().replace("\n", " ")
    text = re.sub(r"[.,!;:()'\"]+(?=\s|$)", "", text)
    return re.sub(r"\s+", " ", text).strip()


# ---------------------------------------------------------------- assembly


@dataclass(frozen=True)
class Ticket:
    text: str
    label: str
    ambiguous: bool
    typo: bool


def _end_sentence(text: str) -> str:
    """A terse request ('refund for #123 please') gets a full stop when more text follows it."""
    return text if text[-1] in ".!?" else text + "."


def _fill(template: str, slots: dict[str, str]) -> str:
    return template.format_map(slots)


def _draw_ticket(label: str, rng: random.Random) -> Ticket:
    slots = _slots(rng)
    slots["agent"] = rng.choice(AGENTS)
    slots["last"] = rng.choice(LAST_NAMES)
    ambiguous = rng.random() < AMBIGUOUS_RATE
    core = _fill(rng.choice(AMBIGUOUS[label] if ambiguous else TEMPLATES[label]), slots)

    if rng.random() < TERSE_RATE:
        parts = [core]
    else:
        body = [core]
        if rng.random() < DETAIL_RATE:
            body.append(_fill(rng.choice(DETAILS), slots))
        ramble = rng.random()
        if ramble < LONG_RAMBLE_RATE:
            body[:0] = [_fill(r, slots) for r in rng.sample(RAMBLES, 2)]
        elif ramble < LONG_RAMBLE_RATE + RAMBLE_RATE:
            body.insert(0, _fill(rng.choice(RAMBLES), slots))
        if rng.random() < POLITE_RATE:
            body.insert(0, rng.choice(POLITE))
        if rng.random() < ANGRY_RATE:
            body.append(rng.choice(ANGRY))
        if rng.random() < URGENT_RATE:
            body.append(rng.choice(URGENT))
        if rng.random() < SECOND_TOPIC_RATE:
            body.append(_fill(rng.choice(SECOND_TOPICS), slots))
        parts = []
        if rng.random() < GREETING_RATE:
            parts.append(_fill(rng.choice(GREETINGS), slots))
        parts.append(" ".join([_end_sentence(b) for b in body[:-1]] + [body[-1]]))
        if rng.random() < SIGNOFF_RATE:
            parts.append(_fill(rng.choice(SIGNOFFS), slots))
    # Emails break lines after the greeting and before the sign-off; chat messages do not.
    text = ("\n" if rng.random() < 0.3 else " ").join(parts)

    typo = False
    if rng.random() < TYPO_RATE:
        text, typo = _add_typos(text, rng)
    case = rng.random()
    if case < LOWER_NOPUNCT_RATE:
        text = _lower_no_punct(text)
    elif case < LOWER_NOPUNCT_RATE + LOWER_RATE:
        text = text.lower()
    return Ticket(text=text.strip(), label=label, ambiguous=ambiguous, typo=typo)


def generate_tickets(seed: int = SEED) -> list[Ticket]:
    """All tickets in a fixed shuffled order; a text already drawn is drawn again (texts are unique)."""
    rng = random.Random(seed)
    seen: set[str] = set()
    tickets: list[Ticket] = []
    for label, count in COUNTS.items():
        for _ in range(count):
            for _attempt in range(1000):
                ticket = _draw_ticket(label, rng)
                key = ticket.text.casefold()
                if key not in seen:
                    break
            else:
                raise RuntimeError(f"could not draw a new unique text for {label}; add templates")
            seen.add(key)
            tickets.append(ticket)
    rng.shuffle(tickets)
    return tickets


def records(seed: int = SEED) -> list[dict[str, str]]:
    """The data set as {"id", "text", "label"} records, ids t0001.. in file order."""
    width = max(4, len(str(sum(COUNTS.values()))))
    return [
        {"id": f"t{i:0{width}d}", "text": t.text, "label": t.label}
        for i, t in enumerate(generate_tickets(seed), start=1)
    ]


def render_jsonl(seed: int = SEED) -> str:
    """The exact file content: one JSON object per line, UTF-8 text, '\\n' line ends."""
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records(seed))


def stats(seed: int = SEED) -> str:
    """A short summary for the README and for a human check after changing templates."""
    tickets = generate_tickets(seed)
    words = sorted(len(t.text.split()) for t in tickets)
    counts: dict[str, int] = {}
    for t in tickets:
        counts[t.label] = counts.get(t.label, 0) + 1
    lines = [f"{len(tickets)} tickets, {len(counts)} labels"]
    for label, n in sorted(counts.items(), key=lambda kv: -kv[1]):
        lines.append(f"  {label:<20} {n:>4}  {n / len(tickets):5.1%}")
    lines.append(
        f"words per text: min {words[0]}, median {statistics.median(words):g}, "
        f"p95 {words[int(0.95 * (len(words) - 1))]}, max {words[-1]}; over 80 words: {sum(w > 80 for w in words)}"
    )
    lines.append(f"with typos: {sum(t.typo for t in tickets) / len(tickets):.1%}")
    lines.append(f"ambiguous: {sum(t.ambiguous for t in tickets) / len(tickets):.1%}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output JSONL (default: beside this script)")
    parser.add_argument("--seed", type=int, default=SEED, help="random seed (the bundled file uses the default)")
    parser.add_argument("--stats", action="store_true", help="print counts and length statistics too")
    args = parser.parse_args(argv)
    content = render_jsonl(args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(content.encode("utf-8"))
    print(f"wrote {content.count(chr(10))} tickets to {args.out}")
    if args.stats:
        print(stats(args.seed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
