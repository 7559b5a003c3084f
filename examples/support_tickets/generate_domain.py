"""Generate the bundled domain text: help-center articles for the support-ticket shop (synthetic, deterministic).

`python generate_domain.py [--out domain] [--seed 13] [--stats]`; the same seed gives byte-identical files.
"""
from __future__ import annotations

import argparse
import importlib.util
import random
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

SEED = 13
HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "domain"
FILE_PATTERN = re.compile(r"^\d{2}-[a-z0-9-]+\.md$")  # what this script writes (and may delete when rewriting)
NOTES_PER_ARTICLE = (3, 5)  # "good to know" bullets drawn per article, at least and at most
FAQ_PER_ARTICLE = (1, 2)


def _tickets_generator() -> ModuleType:
    """generate.py beside this file, loaded by path: its product, plan, device and screen names are reused."""
    spec = importlib.util.spec_from_file_location("support_tickets_generate_for_domain", HERE / "generate.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the file executes
    try:
        spec.loader.exec_module(module)
    finally:
        sys.modules.pop(spec.name, None)
    return module


TICKETS = _tickets_generator()


@dataclass(frozen=True)
class Article:
    """One help-center article; text fields may use the slots of `_slots` ({plan}, {reset_minutes}, ...)."""

    topic: str  # the ticket intent it covers, or "general" (not written into the article)
    title: str
    intro: str
    steps: list[str]
    notes: list[str]
    faq: list[tuple[str, str]]


# ---------------------------------------------------------------- the shop's policies, drawn once per seed


def _policies(rng: random.Random) -> dict[str, str]:
    """The numbers every article agrees on (delivery times, refund times, lock-outs, ...)."""
    return {
        "standard_days": rng.choice(["2-4", "3-5", "4-6"]),
        "express_days": rng.choice(["1-2", "1"]),
        "stuck_days": str(rng.choice([5, 7])),
        "return_days": str(rng.choice([30, 45, 60])),
        "refund_days": rng.choice(["3-5", "5-7", "5-10"]),
        "damage_days": str(rng.choice([7, 14])),
        "pending_days": rng.choice(["3-5", "5-7"]),
        "reset_minutes": str(rng.choice([30, 60])),
        "lock_attempts": str(rng.choice([5, 6, 10])),
        "lock_minutes": str(rng.choice([15, 30, 60])),
        "export_hours": str(rng.choice([24, 48, 72])),
        "link_days": str(rng.choice([7, 14])),
        "invoice_years": str(rng.choice([6, 7, 10])),
        "renewal_hours": str(rng.choice([24, 48])),
        "review_period": rng.choice(["month", "quarter"]),
        "support_hours": rng.choice(
            ["Monday to Friday, 8am to 8pm", "every day from 9am to 6pm", "Monday to Saturday, 8am to 6pm"]
        ),
    }


def _slots(rng: random.Random, policies: dict[str, str]) -> dict[str, str]:
    """Per-article example values, drawn from the same lists as the tickets."""
    plan, plan2 = sorted(rng.sample(range(len(TICKETS.PLANS) - 1), 2))  # plan2 comes later in the list
    return policies | {
        "plan": TICKETS.PLANS[plan],
        "plan2": TICKETS.PLANS[plan2],
        "device": rng.choice(TICKETS.DEVICES),
        "product": rng.choice(TICKETS.PRODUCTS),
        "feature": rng.choice(TICKETS.FEATURES),
        "wish": rng.choice(TICKETS.WISHES),
        "city": rng.choice(TICKETS.CITIES),
    }


# ---------------------------------------------------------------- the articles

STEPS_HEADINGS = ["How to do it", "Step by step", "What to do", "Steps"]
NOTES_HEADINGS = ["Good to know", "Things to check", "Before you start", "Tips"]
CLOSINGS = [
    ("Still stuck? Use the contact form in the Help section and include your order number and the e-mail "
     "address on your account, so we can find you straight away. Our team answers {support_hours}."),
    ("If none of this solves it, reply to any e-mail we have sent you about the order. The reply reaches the "
     "support team with the order attached; we answer {support_hours}."),
    ("Need a person? Chat with us from the Help section of the app or the website, {support_hours}. Have your "
     "order number or account e-mail ready."),
]

ARTICLES: list[Article] = [
    Article(
        "shipping_delay", "Where is my order? Tracking a parcel",
        "Every order gets a tracking number as soon as it leaves our warehouse. Standard delivery takes "
        "{standard_days} business days and express delivery {express_days} business days from dispatch, not from "
        "the day you ordered.",
        [
            "Sign in and open Orders. The newest order is at the top.",
            "Check the status: Processing means we are still packing it, Shipped means the carrier has it.",
            "Select Track parcel to open the carrier's page with your tracking number filled in.",
            "If the carrier shows a delivery attempt, follow its instructions to rebook or collect the parcel.",
            ("If tracking has not changed for {stuck_days} business days, contact us and we will open an "
             "investigation with the carrier."),
        ],
        [
            "Tracking can take up to 24 hours to show the first scan after we send the dispatch e-mail.",
            "Orders with several items may ship in more than one parcel, each with its own tracking number.",
            ("A parcel marked Delivered that you cannot find is often with a neighbour or in a safe place; check "
             "the carrier's delivery photo first."),
            "Public holidays and bad weather add a day or two, and deliveries to remote areas take longer.",
            "Express delivery ordered after 2pm ships the next business day.",
            "The estimated date in the app updates automatically when the carrier changes it.",
        ],
        [
            ("My order still says Processing. Is something wrong?",
             ("Most orders ship within one business day. Pre-orders and made-to-order items show their own "
              "dispatch date on the product page.")),
            ("The tracking link does not work.",
             ("Copy the tracking number from the order page and paste it on the carrier's own site; links in "
              "older e-mails can expire.")),
            ("Can I get my shipping fee back if express delivery was late?",
             "Yes. If an express parcel arrives after its promised day, we refund the express fee on request."),
        ],
    ),
    Article(
        "shipping_delay", "Late deliveries and lost parcels",
        "Sometimes a parcel gets stuck at a depot or goes missing. Here is what we do when a delivery is late, and "
        "what you can do to speed things up.",
        [
            "Compare today's date with the estimated delivery date on the order page.",
            "If the date has passed, open the tracking page and note the last scan and where it happened.",
            ("Wait until {stuck_days} business days have passed without a new scan: most stuck parcels move "
             "again within that time."),
            "Contact us with the order number. We ask the carrier to trace the parcel.",
            ("If the carrier cannot find it within five business days, we send a replacement or refund you, "
             "whichever you prefer."),
        ],
        [
            ("We cannot change the route of a parcel once the carrier has it, but we can ask it to hold the "
             "parcel at a depot near you."),
            "A parcel is declared lost only by the carrier; until then it is in transit, even if it is late.",
            "If you need an item by a certain date, choose express delivery at checkout.",
            "If a replacement is sent and the first parcel turns up later, you can keep it or return it free.",
            ("Deliveries to {city} and other large cities are sometimes split across two vans and arrive on "
             "different days."),
        ],
        [
            ("Half of my order arrived. Where is the rest?",
             "Check the order page: items that ship separately have their own tracking number and date."),
            ("It says Delivered, but nothing is here.",
             ("Wait until the end of the day and check with neighbours. If it has not turned up by the next "
              "day, tell us and we will open a claim with the carrier.")),
            ("Do I have to pay again for a replacement?", "No. Replacements for lost parcels are free."),
        ],
    ),
    Article(
        "billing_refund", "Refunds: how and when you get your money back",
        "You can get a refund for an item you return within {return_days} days, for an order we cancel, for a "
        "subscription renewal you did not want, and for a discount code that did not apply at checkout.",
        [
            "Open Orders and choose the order.",
            "Select Request a refund and pick the reason that fits best.",
            "For a return, print the free label and drop the parcel at any carrier point.",
            ("Once the return reaches us (or straight away, for a cancelled order or a missed discount), we "
             "approve the refund and send you an e-mail."),
            "The money goes back to the card or account you paid with within {refund_days} business days.",
        ],
        [
            "We refund the way you paid; we cannot send the money to a different card.",
            "Gift cards and store credit are refunded as store credit.",
            "Delivery fees are refunded when the whole order is returned or when the return is our fault.",
            ("A renewal you did not want is refunded in full if you ask within 14 days and have not used the "
             "service since it renewed."),
            "If a discount code failed at checkout, we refund the difference, not the whole order.",
            "Your bank may take a few extra days to show the refund on your statement.",
        ],
        [
            ("The refund was approved but I cannot see it.",
             ("Allow {refund_days} business days. After that, send us the refund e-mail and we will give you the "
              "reference your bank can trace.")),
            ("Can I get a refund instead of a replacement?",
             "Yes. For damaged or wrong items you can always choose a refund."),
            ("Do you refund part of a month when I cancel?",
             "Monthly plans are not refunded for the days left; you keep access until the end of the period."),
        ],
    ),
    Article(
        "billing_refund", "Returning an item for a refund",
        "Changed your mind? Most items can be returned within {return_days} days of delivery, unused and in their "
        "original packaging. Returns are free for orders within your country.",
        [
            "Sign in and open the order that holds the item.",
            "Select Return an item, choose the item and say why you are sending it back.",
            "Choose a refund to your payment method or store credit.",
            "Print the label, or show the QR code at a drop-off point if you have no printer.",
            "Keep the receipt from the drop-off point until your refund arrives.",
        ],
        [
            "Items that are opened for hygiene reasons, such as earbuds, cannot be returned unless faulty.",
            "Pack the {product} the way it arrived, with every part and manual.",
            "A return started in the app can also be handed to a courier who collects it from your door.",
            "You will get an e-mail when the return reaches our warehouse and another when the refund is sent.",
            "Items bought on sale are refunded at the price you paid.",
        ],
        [
            ("I lost the original box. Can I still return it?",
             "Yes, as long as the item is unused and well packed. We may refuse items damaged in transit."),
            ("How long does the refund take after I send the item?",
             "Returns take a few days to reach us; the refund is then sent within {refund_days} business days."),
        ],
    ),
    Article(
        "password_reset", "Resetting your password",
        "Forgot your password, or want to change it? You can set a new one yourself in a couple of minutes, in "
        "the app or on the website.",
        [
            "On the sign-in screen, select Forgot password.",
            "Enter the e-mail address of your account.",
            ("Open the e-mail we send you and select the reset link. The link works once and expires after "
             "{reset_minutes} minutes."),
            "Choose a new password: at least 10 characters, with a letter and a number.",
            "Sign in again on every device with the new password.",
        ],
        [
            "The reset e-mail comes from our no-reply address; check your spam or promotions folder.",
            "If you request several links, only the newest one works.",
            ("Some e-mail apps open links in a preview that uses them up; if the link says it has expired "
             "straight away, copy it into your browser instead."),
            "Password managers sometimes save an old password; update the saved entry after a reset.",
            "If no e-mail arrives, you may have signed up with another address. Try the other addresses you use.",
            "We never ask for your password by e-mail or chat.",
        ],
        [
            ("It says there is no account with my e-mail.",
             "You may have registered with another address or by signing in with Apple or Google. Try those."),
            ("The new password is rejected.",
             "Make sure it is at least 10 characters long and not one of your last three passwords."),
            ("I no longer have access to my old e-mail.",
             ("Contact us from the address you want to use; we will verify your identity with an order number "
              "and the last four digits of the card you paid with, then change the address for you.")),
        ],
    ),
    Article(
        "password_reset", "Changing your password",
        "You can change your password at any time from the account page, for example if you think someone else "
        "knows it. Changing it signs you out everywhere else.",
        [
            "Sign in (on {device} or anywhere else) and go to Account.",
            "Select Security, then Change password.",
            "Enter your current password, then the new one twice.",
            "Select Save. You stay signed in on this device; other devices ask for the new password.",
        ],
        [
            "If you do not know your current password, use Forgot password on the sign-in screen instead.",
            "A text message code may be asked for if two-step sign-in is on.",
            "Reset codes sent by text message are valid for 10 minutes and must be typed without spaces.",
            "If the reset page keeps loading, update the app or try the website in another browser.",
            "Use a password you do not use on any other site.",
        ],
        [
            ("Will I lose my orders or settings?", "No. Only the password changes."),
            ("Can support set a password for me?",
             "No, for your safety we only send reset links. We can check why the link does not arrive."),
        ],
    ),
    Article(
        "account_locked", "Why is my account locked?",
        "We lock an account for a while after {lock_attempts} wrong passwords in a row, and we suspend it when we "
        "see activity that does not look like you. A lock protects your orders and saved cards; it is not a "
        "penalty.",
        [
            ("Read the message on the sign-in screen: Locked means too many attempts, Suspended means a "
             "security review."),
            "For a lock, wait {lock_minutes} minutes and sign in again with the right password.",
            "If you are not sure of the password, reset it first; a reset also clears the lock.",
            "For a suspension, open the e-mail we sent you and follow the link to confirm your identity.",
            "If there is no e-mail, contact us; we restore access once we have checked the account is yours.",
        ],
        [
            "Signing in from a new country, a VPN or a new card can trigger a security review.",
            "Each failed attempt restarts the waiting time, so wait the full {lock_minutes} minutes.",
            "Your orders still ship while the account is locked.",
            "We will never ask for your full card number to unlock an account.",
            "Shared accounts are locked more often because several people try old passwords.",
        ],
        [
            ("My password is right but it still says locked.",
             "The lock lasts {lock_minutes} minutes whatever you type. Wait, then sign in once."),
            ("My account was disabled and I do not know why.",
             ("Contact us from the e-mail address on the account; we will explain and, in most cases, restore "
              "it the same day.")),
        ],
    ),
    Article(
        "account_locked", "Two-step sign-in and lost codes",
        "Two-step sign-in asks for a code from a text message or an authenticator app after your password. If "
        "you change phone or lose the app, you can be locked out, so keep your backup codes somewhere safe.",
        [
            "On the code screen, select Use a backup code and enter one of the codes you saved.",
            "Once signed in, go to Account, then Security, and set up two-step sign-in again on the new phone.",
            "Without backup codes, select I lost access to my codes.",
            "Answer the questions about your recent orders; we review the request within one business day.",
            "After the review, we turn two-step sign-in off so you can sign in and set it up again.",
        ],
        [
            "Each backup code works once. Generate new ones after you use the last.",
            "Moving to a new phone number? Update it under Security before the old SIM stops working.",
            "Authenticator codes depend on the phone's clock; set the time automatically.",
            "For safety, support cannot read codes to you over chat.",
            "Team and Business accounts can ask their account owner to reset two-step sign-in.",
        ],
        [
            ("It says too many attempts, try again later.",
             "Wait {lock_minutes} minutes before you enter another code."),
            ("Can I turn two-step sign-in off?",
             "Yes, under Security, but we recommend keeping it on."),
        ],
    ),
    Article(
        "cancel_subscription", "Cancelling your subscription",
        "You can cancel a {plan} or any other plan at any time, in the app or on the website. Cancelling stops "
        "the next renewal; you keep everything you paid for until the end of the current period.",
        [
            "Sign in and go to Account, then Subscription.",
            "Select Cancel subscription.",
            "Tell us why, if you like; it helps us improve.",
            "Confirm. You get an e-mail that says when your access ends.",
            "To stop the next payment, cancel at least {renewal_hours} hours before the renewal date.",
        ],
        [
            "Deleting the app does not cancel the subscription.",
            "There is no cancellation fee on monthly plans.",
            ("If you subscribed through the App Store or Google Play, cancel it there; we cannot stop those "
             "renewals for you."),
            "Free trials can be cancelled the same way and are never charged if you cancel before they end.",
            "After cancelling you can still see and export your data until the period ends.",
            "You can restart a cancelled subscription any time before it ends, with no gap.",
        ],
        [
            ("The Cancel button does nothing.",
             ("Update the app, or cancel on the website. If it still fails, contact us and we will cancel it "
              "for you with the date of your request.")),
            ("Do I get money back for the rest of the month?",
             "Monthly plans run to the end of the period. Annual plans cancelled within 14 days are refunded."),
        ],
    ),
    Article(
        "cancel_subscription", "Turning off automatic renewal",
        "Subscriptions renew automatically so you never lose access. If you would rather decide each time, turn "
        "auto-renewal off; the plan then simply ends on its renewal date.",
        [
            "Go to Account, then Subscription, then Renewal.",
            "Switch Auto-renew off.",
            "Check the date shown under Your plan ends on.",
            "We send a reminder a week before the end so you can renew if you change your mind.",
        ],
        [
            "Turning auto-renewal off is the same as cancelling at the end of the period.",
            "For a business account, only the account owner can change renewal settings.",
            ("If someone who has died had a subscription with us, a family member can ask us to close it; we "
             "ask for the account e-mail and refund any unused annual period."),
            "We remind you by e-mail {renewal_hours} hours before every annual renewal.",
            "Pausing instead of cancelling keeps your settings for up to three months.",
        ],
        [
            ("Will I lose my saved lists?",
             "No. Your account stays open on the free plan after the subscription ends."),
            ("Can I pause instead?",
             "Yes, monthly plans can be paused for one to three months from the same screen."),
        ],
    ),
    Article(
        "double_charge", "I was charged twice",
        "Seeing two payments for one order or one renewal is worrying, but it is usually a temporary hold, not a "
        "second payment. Here is how to tell the difference.",
        [
            "Open Orders (or Account, then Billing, for a subscription) and count the payments we list.",
            "Compare them with your bank statement. A pending amount is a hold; a completed one is a payment.",
            ("Holds from failed or repeated checkout attempts drop off by themselves within {pending_days} "
             "business days."),
            "If two completed payments match one order or one renewal, contact us with the dates and amounts.",
            "We refund the duplicate within one business day; it reaches your card in {refund_days} business days.",
        ],
        [
            "Paying again after an error message can create two orders; check for a second order number.",
            "If you paid with two methods, for example a card and PayPal, each shows a charge.",
            "An upgrade mid-month adds a charge for the difference; it is not a duplicate.",
            "A renewal taken from an old card and a new card in the same month is a duplicate; we refund one.",
            "Screenshots of the two charges help us find them faster.",
        ],
        [
            ("There are three charges for one order.",
             "Usually two are holds from failed attempts. If more than one is completed, we refund the extras."),
            ("Can you cancel the pending charge?",
             ("Only your bank can release a hold early; we can send it a confirmation that the hold is not a "
              "payment.")),
        ],
    ),
    Article(
        "double_charge", "Duplicate subscription payments",
        "Your plan renews once per period. If your {plan} plan was billed twice in one period, one of the "
        "payments is a mistake and we will refund it.",
        [
            "Go to Account, then Billing history.",
            "Look for two renewals with the same period dates.",
            ("Check whether you have a second account with another e-mail address; each account is billed "
             "separately."),
            "Contact us with the billing dates. We check the payments and refund the duplicate.",
        ],
        [
            "Cancelling and subscribing again in the same month starts a new period and a new payment.",
            "Moving from {plan} to {plan2} charges only the difference for the rest of the period.",
            "A payment marked Failed is not taken from your account.",
            "Refunds for duplicates are sent to the card that was charged.",
            "Each refund has its own reference in the e-mail we send you.",
        ],
        [
            ("I only have one account. Why two renewals?",
             "A card update at renewal time can retry the payment on both cards. We refund the second one."),
            ("How long will it take?",
             "The refund is sent within one business day and shows within {refund_days} business days."),
        ],
    ),
    Article(
        "damaged_item", "My item arrived damaged",
        "We are sorry when something arrives broken, dented, scratched or leaking. Tell us within {damage_days} "
        "days of delivery and we will send a replacement or refund you; you do not pay for the return.",
        [
            "Take a photo of the item and one of the box, including the shipping label.",
            "Open the order and select Report a problem, then Damaged item.",
            "Add the photos and say what is damaged.",
            "Choose a replacement or a refund.",
            "If we need the item back, we e-mail you a free return label; otherwise you can recycle it.",
        ],
        [
            "Keep the packaging until the case is closed; the carrier may ask to see it.",
            "If a leaking item spoiled other things in the parcel, include them in the report.",
            "An item that does not turn on out of the box counts as damaged, not as a return.",
            "Replacements ship within one business day when in stock.",
            "A {product} that arrives with a broken seal can be reported the same way.",
        ],
        [
            ("I noticed the damage after {damage_days} days.",
             "Contact us anyway; the product warranty may cover it."),
            ("Do I need to send photos?",
             ("Photos help us claim from the carrier and speed things up, but we do not refuse a report without "
              "them.")),
        ],
    ),
    Article(
        "damaged_item", "Faulty products and the warranty",
        "Items that stop working after a while are covered by the maker's warranty, usually one or two years. "
        "We handle warranty claims for anything you bought from us.",
        [
            "Open Orders and find the item, even if the order is old.",
            "Select Report a problem, then Stopped working.",
            "Describe what happens and what you have already tried.",
            "We may suggest a few checks first; many devices recover after a reset.",
            "If it is faulty, we repair, replace or refund it, depending on its age.",
        ],
        [
            "Damage from drops or water is not covered by the warranty.",
            "Keep the serial number; it is on the box and under the device.",
            "If the item is no longer sold, we offer a similar model or a refund.",
            "A rattle inside a new device usually means something came loose in transit; report it as damaged.",
            "Warranty repairs take about two weeks including delivery.",
        ],
        [
            ("Do I need the receipt?", "No. Your order in the account is the receipt."),
            ("Can I get a refund instead of a repair?",
             "Within {return_days} days of delivery, yes. After that, we repair or replace first."),
        ],
    ),
    Article(
        "wrong_item", "I received the wrong item",
        "Packing mistakes happen. If your parcel has a different product, size or colour than the one you ordered, "
        "we send the right one at no cost and collect the wrong one.",
        [
            "Compare the packing slip with the order page: note what you ordered and what you received.",
            "Open the order and select Report a problem, then Wrong item.",
            "Choose the item that is wrong and add a photo of what arrived.",
            "Choose whether you want the right item sent or a refund.",
            "Use the free return label to send back the wrong item within 30 days.",
        ],
        [
            "We send the right item before the wrong one comes back, when it is in stock.",
            ("If the parcel has someone else's name on the slip, do not open the other items; we arrange a "
             "collection."),
            ("If the item is right but differs from the picture, for example the colour looks different, choose "
             "Not as described instead."),
            "Sizes are checked against the order, not the label on the box.",
            "You do not pay for sending back a wrong item.",
        ],
        [
            ("I got the older version of the {product}.",
             "Report it as a wrong item; we will send the version from the product page."),
            ("Can I keep the wrong item and pay for it?",
             "Yes, tell us in the report and we will charge the difference or refund it."),
        ],
    ),
    Article(
        "wrong_item", "Missing or extra items in a parcel",
        "If something you ordered is missing from a parcel, or you got extra items you did not order, check the "
        "order page first: larger orders often arrive in several parcels.",
        [
            "Open the order and look at the parcels listed under Shipments.",
            "If every parcel is delivered and an item is missing, select Report a problem, then Missing item.",
            "If you got an item you did not order, select Wrong item and tell us what it is.",
            "We send the missing item or refund it, and arrange a collection for anything extra.",
        ],
        [
            "Small items are sometimes packed inside the box of a larger item.",
            "Bundles list their parts on the product page; check that list before reporting.",
            "Extra items are collected free of charge.",
            "If you received the same item twice instead of two different ones, report it as a wrong item.",
        ],
        [
            ("The slip lists an item that is not in the box.",
             "Report it as missing; we check the packing record and send it."),
            ("Do I have to return the extra item?",
             "Yes, please; we send a courier or a free label."),
        ],
    ),
    Article(
        "change_address", "Changing the delivery address of an order",
        "You can change where an order goes until it is packed. After that, the carrier has the parcel and can "
        "usually still redirect it to a pickup point.",
        [
            "Open Orders and choose the order.",
            "If the status is Processing, select Change address and enter the new one.",
            "Check the postcode, house number and flat number before you save.",
            "If the status is Shipped, select Track parcel and use the carrier's Redirect or Hold option.",
            "If neither option is shown, contact us quickly; we try to catch the parcel at the warehouse.",
        ],
        [
            "Changing the address of one order does not change your saved address.",
            "A parcel can be sent to a pickup point if you will not be at home.",
            "Some items, like large furniture, cannot be redirected once shipped.",
            "If the new address is in another country, we cancel and refund the order so you can order again.",
            "Typos in a postcode are the most common reason for late parcels.",
        ],
        [
            ("The address field is greyed out.",
             "The order has been packed. Use the carrier's redirect option or contact us."),
            ("I typed the wrong house number.",
             "Change it on the order page if you can; otherwise contact us with the right address."),
        ],
    ),
    Article(
        "change_address", "Updating your saved addresses",
        "Moving house? Update your saved address so that future orders and subscription deliveries go to the "
        "right place. Your account can hold several delivery addresses and one billing address.",
        [
            "Go to Account, then Addresses.",
            "Select Add address and enter the new one, for example in {city}.",
            "Select Make default so new orders use it.",
            "For a subscription delivery, open Subscription, then Delivery address, and pick the new address.",
            "Delete the old address if you no longer need it.",
        ],
        [
            "Orders already placed keep the address they were placed with; change those on the order page.",
            "Your billing address must match the one your bank has for the card.",
            "A work address is fine; add the company name so the parcel reaches you.",
            "Mixing up billing and delivery addresses at checkout is easy; check the summary before paying.",
            "You can name addresses, like Home or Parents, to pick them faster.",
        ],
        [
            ("Can I ship to a different address each time?",
             "Yes. Choose the address at checkout; the default is only preselected."),
            ("I am moving next week. When should I change it?",
             "Add the new address now and make it the default on the day you move."),
        ],
    ),
    Article(
        "upgrade_plan", "Upgrading your plan",
        "Need more storage, more seats or more features? You can move from {plan} to {plan2} or any higher plan "
        "at any time. The change applies straight away.",
        [
            "Go to Account, then Subscription, and select Change plan.",
            "Compare the plans and choose the one you want.",
            "Choose monthly or yearly billing.",
            "Confirm. We charge the difference for the rest of the current period.",
            "Your new limits and features are available immediately.",
        ],
        [
            "You keep everything you have; upgrading never deletes data.",
            "Yearly billing costs less than twelve monthly payments.",
            "Non-profits and schools can ask for a discount on yearly plans.",
            ("If the Change plan button is greyed out, your plan is managed by an app store or by your account "
             "owner."),
            "If you upgraded but the account still shows the old plan, sign out and in again to refresh it.",
        ],
        [
            ("Can I try a higher plan first?",
             "Yes, most plans have a 14-day trial; you go back to your plan automatically unless you keep it."),
            ("Can I switch from monthly to yearly at the same time?",
             "Yes, pick yearly billing while you change plan."),
        ],
    ),
    Article(
        "upgrade_plan", "Adding seats to a team account",
        "Team and Business plans are billed per seat. Add seats when new people join; each seat gets its own "
        "sign-in and settings.",
        [
            "As account owner, go to Account, then Team.",
            "Select Add seats and choose how many.",
            "Invite people by e-mail; the invitation is valid for {link_days} days.",
            "The extra seats are billed for the rest of the period from today.",
        ],
        [
            "When your team reaches the seat limit of its plan, move to the next plan to add more.",
            "Removing a seat takes effect at the next renewal.",
            "Only the account owner can change seats and billing.",
            "Usage limits, such as exports per month, grow with the plan, not with the number of seats.",
            "Large teams can ask for a quote and a contract.",
        ],
        [
            ("Can I move seats between people?", "Yes. Remove a person and invite another; the seat is reused."),
            ("Do we get an invoice for the extra seats?",
             "Yes, a separate invoice is issued for every change in seats."),
        ],
    ),
    Article(
        "invoice_request", "Downloading invoices",
        "Every payment has an invoice. You can download it as a PDF from your account at any time; we keep "
        "invoices for {invoice_years} years.",
        [
            "Go to Account, then Billing history (for orders, open the order instead).",
            "Select Invoice next to the payment.",
            "Select Download PDF, or Send by e-mail to send it to another address.",
            "For several invoices at once, select a date range and Download all.",
        ],
        [
            "The order confirmation e-mail is a receipt, not an invoice; many employers need the invoice.",
            "Invoices show the tax separately.",
            "If the PDF link shows an error, use Send by e-mail instead.",
            "Invoices for refunded orders come with a credit note that shows the refund.",
            "Finance teams can get every invoice sent to a billing e-mail automatically.",
        ],
        [
            ("I deleted the invoice e-mail.", "Download the invoice again from your account; it never expires."),
            ("I need invoices from a past year for my tax return.",
             "Select the year under Billing history and use Download all."),
        ],
    ),
    Article(
        "invoice_request", "Company details and VAT numbers on invoices",
        "Buying for a business? Add your company name, address and VAT number to your account and every new "
        "invoice will show them. We can also reissue an old invoice with corrected details.",
        [
            "Go to Account, then Billing details.",
            "Enter the company name, the billing address and the VAT or tax number.",
            "Save. New invoices use these details.",
            "For an invoice already issued, open it and select Request a corrected invoice.",
            "We send the corrected invoice within two business days.",
        ],
        [
            "A valid EU VAT number may remove VAT from future invoices.",
            "Corrected invoices keep the original number with a suffix, as tax rules require.",
            "We cannot change the amount on an invoice, only the names, addresses and numbers on it.",
            "Yearly {plan2} plans can be invoiced to a purchase order number; add it under Billing details.",
            "Itemised invoices list every product and its tax rate.",
        ],
        [
            ("Can the invoice go to our finance team?",
             "Yes, add their address as billing e-mail and they receive every invoice."),
            ("The invoice shows my home address.",
             "Update Billing details and request a corrected invoice."),
        ],
    ),
    Article(
        "feature_request", "Suggesting a new feature",
        "Many of our features started as customer suggestions. If the app does not do something you need, tell "
        "us; the product team reads every idea.",
        [
            "Go to Help, then Suggest a feature.",
            "Search the ideas board first: someone may have suggested it already.",
            "If so, vote for it and add a comment about how you would use it.",
            "If not, describe the idea, for example {wish}, and the problem it would solve.",
            "Follow the idea to get an e-mail when its status changes.",
        ],
        [
            "The product team reviews the most-voted ideas every {review_period}.",
            "We cannot promise dates, but the public roadmap shows what is planned.",
            "Ideas about the {feature} are grouped with other ideas for the same screen.",
            "You can join the beta programme to test new features before they are released.",
            "Problems with something that already exists are bugs; report them instead.",
        ],
        [
            ("Is there a roadmap I can see?",
             "Yes, under Help, then What's coming. It lists planned and recently released features."),
            ("Will I be told when my idea is built?",
             "Yes, if you follow it on the ideas board."),
        ],
    ),
    Article(
        "feature_request", "How we decide what to build next",
        "We get many more ideas than we can build. This page explains how the product team chooses, so you know "
        "what happens to your suggestion.",
        [
            "Every idea on the ideas board is read and tagged by topic within a week.",
            "Each {review_period}, the team looks at the ideas with the most votes and comments.",
            "Ideas that fit the product are marked Planned and appear on the roadmap.",
            "When a feature is released, everyone who voted gets an e-mail.",
        ],
        [
            "Votes matter, but so does how many plans and devices an idea affects.",
            "Ideas marked Not planned get a short explanation.",
            "Some ideas, like payment options, depend on partners and take longer.",
            "Business customers can discuss larger requests with their account manager.",
            "Small improvements often ship without appearing on the roadmap first.",
        ],
        [
            ("Can I pay to have a feature built?",
             "No, but tell us how much it matters; it counts in the review."),
            ("Why was my idea marked Not planned?",
             "The comment on the idea explains why; the decision can change later."),
        ],
    ),
    Article(
        "data_export", "Downloading a copy of your data",
        "You can download everything we store about your account: profile, addresses, orders, saved lists, "
        "messages and settings. The export is a ZIP file with CSV and JSON files inside.",
        [
            "Go to Account, then Privacy, then Export my data.",
            "Choose everything, or only some parts such as order history.",
            "Select Request export.",
            "We prepare the file within {export_hours} hours and send a download link by e-mail.",
            "The link works for {link_days} days; after that, request a new export.",
        ],
        [
            "Order history is also available as a single CSV under Orders, then Export.",
            "CSV files open in Excel, Numbers or Google Sheets.",
            "For your security, the link only works when you are signed in.",
            "Team owners can export the data of the whole team.",
            "If the file is empty, the export may still be running; wait for the e-mail.",
        ],
        [
            ("The download link never arrived.",
             "Check your spam folder, then request the export again; a new request replaces the old one."),
            ("Can I export my data before I close my account?",
             "Yes, and we recommend it: closed accounts cannot be exported."),
        ],
    ),
    Article(
        "data_export", "Your data rights and access requests",
        "You have the right to know what personal data we hold about you and to get a copy of it. Under GDPR and "
        "similar laws this is called a subject access request, and it is free.",
        [
            "For most people, the export under Account, Privacy is the fastest way to get their data.",
            "For a formal request, write to our privacy team from the e-mail address on your account.",
            "Say which data you want, for example records of calls and chats.",
            "We confirm your identity and answer within one month.",
        ],
        [
            "We include data from support chats and calls in a formal request.",
            "You can also ask us to correct or delete your data.",
            "Requests for another person need their written permission.",
            "Data we must keep by law, such as invoices, is kept for {invoice_years} years even after deletion.",
            "Our API can give developers a full dump of account data on Business plans.",
        ],
        [
            ("How long does a request take?",
             "The self-service export takes up to {export_hours} hours; a formal request up to one month."),
            ("Is there a fee?", "No."),
        ],
    ),
    Article(
        "bug_report", "Reporting a problem with the app or website",
        "If something in the app or on the website does not work as it should, for example the {feature} shows a "
        "blank screen or a button does nothing, please tell us. A good report helps us fix it faster.",
        [
            "Go to Help, then Report a problem.",
            "Say what you did, what you expected and what happened instead.",
            "Add the device and app version, for example {device}, found under Account, then About.",
            "Attach a screenshot or a short screen recording if you can.",
            "Send. You get a reference number and an e-mail when the problem is fixed.",
        ],
        [
            "Error codes such as Error 500 help our engineers find the cause; copy them exactly.",
            "Our status page shows problems that affect everyone.",
            "If a payment went through but the page showed an error, check Orders before paying again.",
            "Reports from the app include logs automatically; reports by e-mail do not.",
            "Problems that happen only on one device are often fixed by updating the app.",
        ],
        [
            ("The app says I need to update, but the store says I have the latest version.",
             "Store updates can take a few hours to reach everyone. Restart the phone and try again later."),
            ("Do you fix problems in older versions?",
             "We fix problems in the current version; please update first."),
        ],
    ),
    Article(
        "bug_report", "Troubleshooting the app",
        "Most problems with the app, like freezing, crashing when you open a screen or logging you out, go away "
        "after a few simple checks. Try these before reporting a problem.",
        [
            "Update the app to the latest version.",
            "Close the app completely and open it again.",
            "Check your internet connection, or switch between Wi-Fi and mobile data.",
            "On the website, clear the cache and cookies, or try another browser.",
            "Sign out and sign in again.",
            "If it still happens, report it from Help, then Report a problem.",
        ],
        [
            "Dark mode problems, such as unreadable text, are fixed by updating the app.",
            "Photos that upload sideways are rotated by the app from the next version on.",
            "Prices that show strange values in the cart usually come from an outdated app.",
            ("If the app logs you out every time you switch tabs, check that the date and time on the device "
             "are set automatically."),
            "Reinstalling removes saved settings on the device, but not your account data.",
        ],
        [
            ("The page keeps refreshing in a loop.",
             "Clear cookies for our site and disable browser extensions, then try again."),
            ("The app crashes on {device}.",
             ("Update the system software and the app. If it still crashes, report it with the steps that cause "
              "it.")),
        ],
    ),
    Article(
        "general", "Plans and billing at a glance",
        "Every account starts on the free plan. Paid plans, from Basic to Premium, and the Family and Team plans, "
        "add storage, seats and features, and are billed monthly or yearly.",
        [
            "See your plan under Account, then Subscription.",
            "Compare plans under Change plan.",
            "Change, pause or cancel the plan from the same screen.",
            "Find invoices for every payment under Billing history.",
        ],
        [
            "Plans renew automatically; we remind you before every yearly renewal.",
            "Upgrades take effect immediately and are charged for the rest of the period.",
            "Downgrades and cancellations take effect at the end of the period.",
            "The {plan} plan can be paid by card, PayPal or bank transfer on yearly billing.",
            "Prices include tax where it applies.",
        ],
        [
            ("Which plan is right for me?",
             "Start with the trial of a higher plan; you can move down at the end without losing data."),
            ("Can I change the card I pay with?", "Yes, under Account, then Billing, then Payment method."),
        ],
    ),
]


# ---------------------------------------------------------------- rendering


def render_article(article: Article, rng: random.Random, policies: dict[str, str]) -> str:
    """One article as Markdown: title, intro, numbered steps, a few notes, a few questions, a closing."""
    slots = _slots(rng, policies)
    notes = rng.sample(article.notes, min(len(article.notes), rng.randint(*NOTES_PER_ARTICLE)))
    faq = rng.sample(article.faq, min(len(article.faq), rng.randint(*FAQ_PER_ARTICLE)))
    lines = [f"# {article.title}", "", article.intro, "", f"## {rng.choice(STEPS_HEADINGS)}", ""]
    lines += [f"{i}. {step}" for i, step in enumerate(article.steps, start=1)]
    lines += ["", f"## {rng.choice(NOTES_HEADINGS)}", ""]
    lines += [f"- {note}" for note in notes]
    lines += ["", "## Questions", ""]
    for question, answer in faq:
        lines += [f"**{question}**", answer, ""]
    lines += ["## Still need help?", "", rng.choice(CLOSINGS)]
    return "\n".join(lines).format_map(slots) + "\n"


def slug(title: str) -> str:
    """'Where is my order? Tracking a parcel' -> 'where-is-my-order-tracking-a-parcel'."""
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


def documents(seed: int = SEED) -> dict[str, str]:
    """{file name: Markdown} for every article, in a fixed order."""
    rng = random.Random(seed)
    policies = _policies(rng)
    docs = {}
    for number, article in enumerate(ARTICLES, start=1):
        text = render_article(article, rng, policies)
        title = text.splitlines()[0].removeprefix("# ")  # with its slots filled
        docs[f"{number:02d}-{slug(title)}.md"] = text
    return docs


def stats(docs: dict[str, str]) -> str:
    """Counts and lengths, for a human check after editing the articles."""
    words = sorted(len(text.split()) for text in docs.values())
    size = sum(len(text.encode("utf-8")) for text in docs.values())
    topics = sorted({a.topic for a in ARTICLES})
    return (
        f"{len(docs)} articles on {len(topics)} topics, {size / 1024:.1f} KiB; "
        f"words per article: min {words[0]}, median {words[len(words) // 2]}, max {words[-1]}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default: domain/ beside this)")
    parser.add_argument("--seed", type=int, default=SEED, help="random seed (the bundled folder uses the default)")
    parser.add_argument("--stats", action="store_true", help="print counts and length statistics too")
    args = parser.parse_args(argv)
    docs = documents(args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    for old in args.out.iterdir():  # only files this script writes: a renamed article leaves no stale copy
        if FILE_PATTERN.match(old.name) and old.name not in docs:
            old.unlink()
    for name, text in docs.items():
        (args.out / name).write_bytes(text.encode("utf-8"))
    print(f"wrote {len(docs)} articles to {args.out}")
    if args.stats:
        print(stats(docs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
