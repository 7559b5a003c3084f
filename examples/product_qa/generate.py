"""Generate the bundled product-QA data set: a help center for a made-up product plus questions on its facts.

`python generate.py [--out-dir DIR] [--seed 29] [--stats]`; the same seed gives byte-identical output.
"""
from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

SEED = 29
HERE = Path(__file__).resolve().parent
DOC_FILE = re.compile(r"^d\d{2}-[a-z0-9-]+\.md$")  # what this script writes (and may delete when rewriting)
FACT = re.compile(r"\[\[([a-z0-9-]+)\|([^\]\n]+)\]\]")  # [[fact-id|answer span]], on one source line
WORDS_PER_DOC = (80, 250)
QUESTIONS_PER_FACT = (2, 4)
ANSWER_WORDS = (1, 6)


@dataclass(frozen=True)
class Doc:
    """One help-center article. Facts are marked `[[fact-id|answer span]]` in `body`; the markers are dropped."""

    slug: str  # the document id is d<NN>-<slug>
    title: str
    body: str
    questions: dict[str, list[str]]  # fact id -> differently worded questions whose answer is the marked span


# ---------------------------------------------------------------- the help center of the Marrowick Fernhold 3
#
# Every value below is invented. Each marked span occurs in its own article only (main() refuses to write
# otherwise), while neighbouring articles share topics and vocabulary (three families of error codes, many
# menu paths under Me > Devices, several durations for holding the Leaf button, the Mini beside the standard
# cabinet) so that retrieval has to tell near neighbours apart.

DOCS: list[Doc] = [
    Doc(
        "whats-in-the-box", "What's in the box",
        """Thank you for choosing the Fernhold 3, the countertop herb garden from Marrowick Home. Before you recycle
the packaging, check that everything below is there.

- The cabinet itself. Its full model code, [[model-code|FH3-220]], is printed on the silver label under the base.
- The lamp arm, folded flat in the top tray of the box.
- Starter seeds: [[starter-pods|nine Sproutlet pods]] (three basil, three curly parsley, three chives).
- A [[tonic-bottle|50 ml]] bottle of Root Tonic nutrient.
- The [[adapter-voltage|24 V]] power adapter with a 1.8 m cable.
- A narrow cleaning brush and a quick-start card with a QR code for the Fernhold app.

If anything is missing or damaged, do not set the cabinet up yet. Take a photo of the open box and contact
us from the Help section of the app; missing parts are sent free of charge.""",
        {
            "model-code": [
                "What model code is printed under the base of the standard Fernhold 3 cabinet?",
                "Which model number identifies the regular Fernhold 3 herb garden?",
                "Support asked me for my Fernhold 3's model code. What does the silver label on the standard cabinet say?",
                "If I am asked for the model code of a full-size Fernhold 3, what should I give?",
            ],
            "starter-pods": [
                "How many starter seed pods come in the box with a new Fernhold 3?",
                "What starter seeds are packed with the Fernhold 3 when you buy it?",
            ],
            "tonic-bottle": [
                "How big is the bottle of Root Tonic that ships with a Fernhold 3?",
                "What volume of Root Tonic nutrient is included in the Fernhold 3 box?",
                "The Fernhold 3 comes with a small nutrient bottle. How much Root Tonic does it hold?",
                "How many millilitres are in the starter bottle of Root Tonic packed with a new cabinet?",
            ],
            "adapter-voltage": [
                "What voltage is the power adapter supplied with the Fernhold 3?",
                "What is the output voltage of the Fernhold 3's bundled power supply?",
            ],
        },
    ),
    Doc(
        "choosing-a-spot", "Choosing a spot for your Fernhold 3",
        """The Fernhold 3 brings its own light, so it does not need a window. In fact, strong afternoon sun through
glass can overheat the water and confuse the light sensor. A kitchen counter, a sideboard or a sturdy shelf all
work well.

A few things to keep in mind:

- Leave at least [[wall-clearance|15 cm]] between the back of the cabinet and the wall. The fan draws its air
  in at the rear.
- The garden grows best in a room kept [[room-temperature|between 16 and 28 °C]]. Colder than that, basil
  sulks; warmer, the water heats up too quickly.
- With a full tank and mature plants the cabinet weighs about [[full-weight|7.4 kg]], so avoid floating
  shelves and wobbly stands.
- Place it within reach of a socket. Extension leads are fine, but do not run the cable under a rug.

If you plan to add a Fernhold Tower later, pick a spot with room above the lamp arm for the extra height.""",
        {
            "wall-clearance": [
                "How much space should I leave between the back of the Fernhold 3 and the wall?",
                "What is the minimum gap behind a Fernhold 3 so its fan can breathe?",
                "How far from the wall does the Fernhold 3 need to stand?",
                "Can my Fernhold 3 stand flat against the wall, or how much room does it need behind it?",
            ],
            "room-temperature": [
                "What room temperature does the Fernhold 3 garden grow best in?",
                "How warm or cold should the room be for a Fernhold 3?",
                "Which temperature range does Marrowick recommend for the room a Fernhold 3 stands in?",
                "My kitchen gets cold in winter. What temperatures does a Fernhold 3 want in its room?",
            ],
            "full-weight": [
                "How heavy is a Fernhold 3 with a full tank and grown plants?",
                "What does a fully loaded Fernhold 3 weigh?",
            ],
        },
    ),
    Doc(
        "first-setup", "Setting up your Fernhold 3 for the first time",
        """Setup takes a few minutes and needs the Fernhold app on your phone.

1. Unfold the lamp arm and push it into the socket at the back until it clicks.
2. Fill the tank with room-temperature tap water up to the line marked FULL.
3. Plug in the power adapter. The status ring lights up white for a moment.
4. Press and hold the Leaf button on the front for [[setup-hold|five seconds]]. The ring starts a
   [[setup-colour|slow lilac pulse]], which means the cabinet is ready to pair.
5. Open the app, tap Add a garden and follow the prompts.

The cabinet stays in pairing mode for [[setup-window|12 minutes]]. If the ring stops pulsing before you finish,
hold the Leaf button again to start over; nothing is lost. Planting can wait until the app says the garden is
online.""",
        {
            "setup-hold": [
                "How long do I hold the Leaf button to put a new Fernhold 3 into pairing mode?",
                "To start pairing a Fernhold 3 with the app, for how long must the Leaf button be pressed?",
                "During first setup of the Fernhold 3, how long is the Leaf button held down?",
                "What press duration on the Leaf button starts setup on a brand-new Fernhold 3?",
            ],
            "setup-colour": [
                "What does the Fernhold 3 status ring do when the cabinet is ready to pair?",
                "Which light pattern on the Fernhold 3 ring shows that pairing mode is active?",
            ],
            "setup-window": [
                "How long does a Fernhold 3 stay in pairing mode?",
                "After I start pairing, how much time do I have to finish setting up the Fernhold 3 in the app?",
                "When does the Fernhold 3 give up waiting for the app during setup?",
            ],
        },
    ),
    Doc(
        "connecting-to-wifi", "Connecting the Fernhold 3 to Wi-Fi",
        """The cabinet joins your home network during setup. It only uses 2.4 GHz Wi-Fi; if your router offers both
bands under one name, that is fine, the cabinet picks the right one.

While pairing, the cabinet opens a temporary network of its own. On Android the app joins it automatically; on
an iPhone you may be asked to join it from the Wi-Fi settings:

- network name: [[hotspot-name|FERN-SETUP]] followed by the last four characters of the serial number
- password: [[hotspot-password|growgreen22]]

Once the phone is connected, choose your home network in the app and type its password. If the app then shows
W-03, the cabinet found your router but [[w03-meaning|the password was refused]]. Check capital letters and
try again; the cabinet keeps nothing until a join succeeds.""",
        {
            "hotspot-name": [
                "What is the name of the temporary network a Fernhold 3 creates while pairing?",
                "On an iPhone, which Wi-Fi network do I join during Fernhold 3 setup?",
                "How does the Fernhold 3's setup hotspot name begin?",
                "What SSID prefix does the Fernhold 3 broadcast during setup?",
            ],
            "hotspot-password": [
                "What password does the Fernhold 3 pairing network use?",
                "My iPhone asks for a password when I join the Fernhold 3 setup network. What is it?",
            ],
            "w03-meaning": [
                "What does error W-03 mean when connecting a Fernhold 3 to Wi-Fi?",
                "The Fernhold app showed W-03 while I was joining my home network. What went wrong?",
            ],
        },
    ),
    Doc(
        "wifi-troubleshooting", "When the Fernhold 3 drops off Wi-Fi",
        """Your garden keeps growing without Wi-Fi: the light schedule and pump timings are stored on the cabinet.
Without a connection you only lose the live view in the app and the notifications.

After losing the connection, the cabinet tries to rejoin [[wifi-retry|every 90 seconds]] for the first hour,
then every quarter of an hour.

Things to check:

- Signal strength. In the app, open Me > Devices > Network. The cabinet needs a signal of at least
  [[min-signal|-72 dBm]]; anything weaker causes dropouts. Move the router or add a repeater.
- W-07 means [[w07-meaning|the router did not answer]]. Restart the router first, then the cabinet.
- W-09 means [[w09-meaning|the network name was not found]], often because the router was renamed or
  switched to 5 GHz only.

If none of this helps, set the cabinet up again with the pairing steps; your plants and schedule are kept.""",
        {
            "wifi-retry": [
                "How often does a Fernhold 3 try to reconnect after losing Wi-Fi?",
                "When the Fernhold 3 drops its network connection, at what interval does it retry during the first hour?",
                "How frequently does the Fernhold 3 attempt to rejoin Wi-Fi right after a dropout?",
            ],
            "min-signal": [
                "What is the weakest Wi-Fi signal the Fernhold 3 can work with?",
                "What minimum signal strength does a Fernhold 3 need to stay connected?",
                "Below which signal level will my Fernhold 3 start dropping off the network?",
                "In dBm, how strong must the Wi-Fi be where a Fernhold 3 stands?",
            ],
            "w07-meaning": [
                "What does the Fernhold 3 Wi-Fi error W-07 mean?",
                "My Fernhold 3 reports W-07. What is the problem?",
            ],
            "w09-meaning": [
                "What does W-09 indicate on a Fernhold 3?",
                "Why would a Fernhold 3 show the code W-09?",
                "Explain the Fernhold 3 network error W-09.",
            ],
        },
    ),
    Doc(
        "the-fernhold-app", "The Fernhold app",
        """The free Fernhold app is where you watch your garden, change settings and order pods. It runs on phones
with iOS 16 or later and [[min-android|Android 11]] or later. Tablets work too, though the layout is
simply stretched.

Four tabs run along the bottom of the screen:

- Garden: the live state of each cabinet, its lamp, water and pods.
- Pods: what is planted in each slot and how far along it is.
- Club: your Pod Club membership and deliveries.
- Me: account, household, devices, notifications and privacy.

The pictures your cabinet takes are collected in the [[diary-screen|Growth Diary]], which you open from the
Pods tab. Swipe left and right to watch your herbs change from day to day.

One account can be used on as many phones as you like; sign in with the same e-mail address on each.""",
        {
            "min-android": [
                "What Android version is required to run the Fernhold app?",
                "Will the Fernhold app run on my Android phone? What is the minimum version?",
                "Which Android release is the lowest the Fernhold app supports?",
            ],
            "diary-screen": [
                "Where in the Fernhold app can I see the photos my cabinet has taken?",
                "What is the screen in the Fernhold app that collects the cabinet's pictures called?",
                "Which part of the Fernhold app lets me swipe through my herbs day by day?",
                "What is the Fernhold app feature called that shows a timeline of photos of my plants?",
            ],
        },
    ),
    Doc(
        "sharing-your-garden", "Sharing your garden with your household",
        """Everyone at home can follow the herbs and receive the low-water alerts. One person owns the garden; the
others are household members.

To invite someone, open [[invite-path|Me > Household > Invite]] and send the link by message or e-mail. The link
works for [[invite-expiry|72 hours]]; after that, send a new one.

A garden can have [[household-size|up to six members]] besides the owner. Members can change the light
schedule, snooze alerts and add notes to pods, but only the owner can reset the cabinet, change its Wi-Fi or
manage Pod Club.

To remove a member, open the same Household screen, tap their name and choose Remove. They are not notified;
the garden simply disappears from their app.""",
        {
            "invite-path": [
                "Where in the Fernhold app do I invite someone to share my garden?",
                "Which menu path sends a household invitation for a Fernhold garden?",
                "How do I add my partner to our Fernhold garden in the app?",
                "How do I send a household invite link from the Fernhold app?",
            ],
            "invite-expiry": [
                "How long is a Fernhold household invitation link valid?",
                "When does an invite link to a Fernhold garden expire?",
            ],
            "household-size": [
                "How many household members can a Fernhold garden have besides its owner?",
                "Is there a limit on how many people I can share my Fernhold garden with?",
                "What is the maximum number of members in a Fernhold household, not counting the owner?",
            ],
        },
    ),
    Doc(
        "status-ring-colours", "What the status ring colours mean",
        """The ring of light around the Leaf button tells you how the garden is doing without opening the app.
Steady white means all is well; at night the ring switches off together with the lamp.

| Ring | Meaning |
|---|---|
| [[ring-low-water|Blinking amber]] | The tank is low; top it up soon |
| [[ring-offline|Solid magenta]] | The cabinet is not connected to Wi-Fi |
| [[ring-update|Breathing cyan]] | A firmware update is being installed; do not unplug |
| Fast red | An error; the app shows its code |

While the child lock is on, the ring shows only errors. Pairing has its own pattern, described in the setup
article. If the ring stays dark in daytime, check that the adapter is plugged in.""",
        {
            "ring-low-water": [
                "What colour does the Fernhold 3 status ring show when the tank is running low?",
                "How does the ring on the Fernhold 3 warn me that it needs water?",
                "Which ring signal means the Fernhold 3 water level is low?",
                "My Fernhold 3 ring is flashing. Which pattern means the water needs topping up?",
            ],
            "ring-offline": [
                "What does the Fernhold 3 ring look like when the cabinet has no Wi-Fi connection?",
                "Which status ring colour means my Fernhold 3 is offline?",
            ],
            "ring-update": [
                "How does the Fernhold 3 status ring look while a firmware update installs?",
                "Which ring colour tells me not to unplug the Fernhold 3 because it is updating?",
                "What light does the Fernhold 3 show during a software update?",
            ],
        },
    ),
    Doc(
        "filling-the-tank", "Filling and topping up the water tank",
        """The tank of the standard Fernhold 3 holds [[tank-capacity|3.2 litres]] when filled to the FULL line. You
fill it through the leaf-shaped flap at the back; there is no need to lift the lid or move the
lamp.

Use tap water at room temperature. Filtered water is fine, but do not use softened water, distilled water or
water from a dehumidifier: the plants need the minerals, and softened water contains salt.

The cabinet measures the level all the time. When fewer than [[low-water-level|600 ml]] remain, the app sends
a reminder and the status ring changes. In a warm room with mature plants that point comes quickly, so many
owners top up every few days instead of waiting for the warning.

Never fill above the FULL line: extra water floods the pod sockets and can rot the roots.""",
        {
            "tank-capacity": [
                "How much water does the tank of the standard Fernhold 3 hold?",
                "What is the water capacity of a regular Fernhold 3?",
                "How many litres fit in the Fernhold 3 tank when it is filled to the FULL line?",
                "What volume of water fits into a full-size Fernhold 3?",
            ],
            "low-water-level": [
                "At what water level does the Fernhold 3 send a low-water reminder?",
                "How little water must be left before the Fernhold app warns me to refill?",
                "When does the Fernhold 3 consider its tank low?",
                "How much water is left in the Fernhold 3 when the refill reminder goes off?",
            ],
        },
    ),
    Doc(
        "root-tonic", "Feeding your herbs with Root Tonic",
        """Root Tonic is the liquid nutrient made for the Fernhold 3. Water alone carries no food, so plants that
never get Root Tonic turn pale after a few weeks.

How much: [[tonic-dose|eight drops per litre]] of water in the tank. The app works out the total from the
current water level when you tap Garden > Water > Feed.

How often: [[tonic-interval|every 11 days]]. The app reminds you, counting from the last feed you confirmed,
not from the last refill.

An opened bottle keeps for [[tonic-shelf-life|nine months]] if it is closed and out of the sun. If it turns
cloudy, throw it away.

Too much Root Tonic burns the roots: leaf tips go brown and crisp. If that happens, drain the tank, rinse it
and refill with plain water before feeding again at the normal dose.""",
        {
            "tonic-dose": [
                "How much Root Tonic should I add to the Fernhold 3 tank?",
                "What is the correct Root Tonic dose per litre of water?",
                "How many drops of Root Tonic go into each litre in a Fernhold 3?",
                "How do I dose Root Tonic for the water in my Fernhold 3?",
            ],
            "tonic-interval": [
                "How often should I feed my Fernhold 3 herbs with Root Tonic?",
                "How many days apart are Root Tonic feeds in a Fernhold 3?",
            ],
            "tonic-shelf-life": [
                "How long does an opened bottle of Root Tonic keep?",
                "Once opened, for how long can Root Tonic be used?",
                "What is the shelf life of Root Tonic after the bottle has been opened?",
            ],
        },
    ),
    Doc(
        "planting-sproutlets", "Planting Sproutlets",
        """Sproutlets are the seed pods for the Fernhold 3: a plug of coconut fibre with the seeds already inside.
The standard cabinet has [[pod-slots|twelve slots]] in three rows of four.

1. Lift the cover off the slot you want to use.
2. Peel the foil label off the top of the Sproutlet; keep it if you want to remember what you planted.
3. Push the pod into the slot until its rim sits flat.
4. Put a [[dome-name|Sprout Cap]] over the pod. These small clear domes keep the seeds moist while they
   sprout.
5. In the app, open Pods, tap the slot and choose the variety, so that the app can plan the harvests.

Take the dome off once the seedling touches it, or at the latest after [[dome-days|three weeks]]. Empty slots
should keep their covers on, or algae will grow in the light that falls into them.""",
        {
            "pod-slots": [
                "How many pods can the standard Fernhold 3 grow at once?",
                "How many Sproutlet slots does a regular Fernhold 3 cabinet have?",
            ],
            "dome-name": [
                "What is the small clear dome that goes over a newly planted Sproutlet called?",
                "What do I put on top of a Sproutlet after planting it in the Fernhold 3?",
                "Which cover keeps Sproutlet seeds moist while they germinate?",
                "What are the clear covers for freshly planted Fernhold seed pods called?",
            ],
            "dome-days": [
                "What is the longest a germination dome should stay on a Sproutlet?",
                "When must the dome come off a Sproutlet at the latest?",
                "After how long should I remove the clear dome from a planted Sproutlet even if the seedling is small?",
            ],
        },
    ),
    Doc(
        "germination-times", "How long until my Sproutlets sprout?",
        """Germination time depends on the herb. Under the Fernhold 3 lamp, with the dome on, expect the first green
after:

- basil: [[basil-germination|4 to 7 days]]
- chives: [[chives-germination|8 to 12 days]]
- curly parsley: [[parsley-germination|15 to 24 days]]
- mint and coriander: about two weeks

Parsley is famously slow, so do not give up on it too soon. Warm rooms speed everything up a little, cold ones
slow it down.

If nothing has appeared after [[germination-promise|35 days]], the pod is covered by our germination promise.
Report it in the app (Pods, tap the slot, Report a problem) and we send a free replacement Sproutlet with the
next delivery, or by post if you are not a Pod Club member.""",
        {
            "basil-germination": [
                "How long do basil Sproutlets take to germinate in a Fernhold 3?",
                "When should I expect the first basil sprouts in my Fernhold 3?",
                "How many days does basil need to come up under the Fernhold lamp?",
                "How soon do basil pods come up in a Fernhold 3?",
            ],
            "chives-germination": [
                "How long until chives Sproutlets sprout?",
                "What is the germination time of chives in the Fernhold 3?",
            ],
            "parsley-germination": [
                "How long does curly parsley take to sprout in a Fernhold 3?",
                "My parsley Sproutlet shows nothing yet. How long does parsley normally need to germinate?",
                "What germination time should I expect for parsley pods?",
            ],
            "germination-promise": [
                "After how many days without sprouts is a Sproutlet replaced for free?",
                "When does the Marrowick germination promise apply to a pod that has not come up?",
            ],
        },
    ),
    Doc(
        "the-lamp-arm", "The lamp arm",
        """The lamp sits on a telescoping arm so that it can rise with your plants. Keep the panel about a hand's
width above the tallest leaves: closer and the leaves bleach, further away and the stems stretch.

The arm has [[arm-positions|five click-stops]]. At the lowest stop the panel is 14 cm above the pods; at the
highest it reaches [[arm-max-height|46 cm]]. To raise it, hold the arm with both hands and pull until you hear
the next click. To lower it, press the grey release tab on the back.

The panel carries [[led-count|96 LEDs]] in white and deep red. It is sealed, so single LEDs cannot be replaced;
a faulty panel is swapped as a whole.

If the arm is not pushed fully into its socket, the lamp will not switch on and the app reports an error.""",
        {
            "arm-positions": [
                "How many height settings does the Fernhold 3 lamp arm have?",
                "How many positions can the telescoping lamp arm of the Fernhold 3 lock into?",
            ],
            "arm-max-height": [
                "How high above the pods can the Fernhold 3 lamp be raised?",
                "What is the maximum height of the Fernhold 3 lamp panel?",
                "At its top setting, how far is the Fernhold 3 lamp from the pods?",
                "How far up does the Fernhold 3 telescoping lamp arm extend at most?",
            ],
            "led-count": [
                "How many LEDs are in the Fernhold 3 lamp panel?",
                "How many light-emitting diodes does the Fernhold 3 grow light contain?",
            ],
        },
    ),
    Doc(
        "light-schedule", "Setting the light schedule",
        """Plants need a night too. Out of the box the Fernhold 3 lamp is on for [[light-hours|16 hours]] a day and
off for the rest, starting at [[light-start|06:30]].

To change this, open [[schedule-path|Garden > Light > Schedule]]. You can move the start time, lengthen or
shorten the day in half-hour steps, and choose a gentle sunrise that brightens the lamp over twenty minutes.

Herbs grow fastest with long days, but few need more than the default. A day shorter than twelve hours slows
growth noticeably; mint and chives tolerate it best.

If the lamp comes on at a time you do not expect, check the time zone under Me > Devices > Time zone. A
cabinet moved to another home keeps its old zone until you change it.""",
        {
            "light-hours": [
                "How many hours a day is the Fernhold 3 lamp on by default?",
                "What is the default length of the lamp's day on a new Fernhold 3?",
                "Out of the box, for how long does the Fernhold 3 light shine each day?",
                "If I never touch the Fernhold 3 light schedule, how long is the lamp on per day?",
            ],
            "light-start": [
                "At what time does the Fernhold 3 lamp switch on with the factory schedule?",
                "When does the default light day of a Fernhold 3 begin?",
            ],
            "schedule-path": [
                "Where in the Fernhold app do I change the light schedule?",
                "Which menu path lets me move the Fernhold 3 lamp's on and off times?",
                "How do I get to the lamp timing settings in the Fernhold app?",
            ],
        },
    ),
    Doc(
        "night-mode", "Night mode: dimming the lamp in the evening",
        """A bright grow light in a living room can be a lot in the evening. Night mode dims the Fernhold 3 lamp to
[[night-brightness|12 %]] of its full output from [[night-start|20:00]] (or a time you choose) until the light
schedule ends the day.

Turn it on from Garden > Light > Night mode, or on the cabinet itself:
[[night-gesture|double-tap the Leaf button]]. Do the same again to return to full brightness until the next
day.

Plants keep growing in dim light, only more slowly, and the app adds the dimmed time to its harvest estimates.
An hour or two a day makes little difference; whole evenings can push the first harvest back by a few days.

Night mode does not change when the lamp switches off. To move that, change the schedule instead.""",
        {
            "night-brightness": [
                "How far does night mode dim the Fernhold 3 lamp?",
                "What brightness does the Fernhold 3 lamp drop to in night mode?",
                "In night mode, what share of full output does the Fernhold 3 light keep?",
                "To what percentage does night mode turn the Fernhold 3 lamp down in the evening?",
            ],
            "night-start": [
                "At what time does Fernhold 3 night mode begin by default?",
                "When does the Fernhold 3 lamp start dimming for the evening unless I change it?",
            ],
            "night-gesture": [
                "How do I switch on night mode from the Fernhold 3 cabinet itself, without the app?",
                "Which gesture on the cabinet dims the Fernhold 3 lamp for the evening?",
                "Is there a shortcut on the device to turn Fernhold 3 night mode on and off?",
                "What do I do on the cabinet to dim the Fernhold 3 lamp for the evening?",
            ],
        },
    ),
    Doc(
        "the-pump", "How the pump waters your plants",
        """The Fernhold 3 does not spray or drip. A small pump under the tank lifts water into a channel that runs
beneath the pods, and the roots drink from the thin film of water in the channel.

By default the pump runs for [[pump-run|4 minutes]] in every half hour while the lamp is on, and once an hour at
night. You can hear it as a soft trickle; at a distance of 30 cm it measures about [[pump-noise|28 dB]], which
is quieter than a whisper.

If you want silence at night, turn on Quiet pump in Garden > Water. The pump then rests completely for the
first six hours of the lamp's night, which the plants tolerate well.

A pump that hums but moves no water is usually clogged by a root or a piece of coconut fibre; see the article
on cleaning the pump filter.""",
        {
            "pump-run": [
                "For how long does the Fernhold 3 pump run in each half hour during the day?",
                "How long is each daytime watering cycle of the Fernhold 3 pump?",
                "In lamp-on hours, how many minutes per half hour does the Fernhold 3 pump water the plants?",
            ],
            "pump-noise": [
                "How loud is the Fernhold 3 pump?",
                "What noise level does the Fernhold 3 pump produce at 30 cm?",
            ],
        },
    ),
    Doc(
        "water-error-codes", "Error codes E-11 to E-16: water and pump",
        """When something goes wrong with the water, the status ring flashes and the app shows an error code that
starts with E-1.

- E-11: [[e11|the pump is blocked]]. Unplug the cabinet and clean the pump filter.
- E-12: [[e12|the float sensor is stuck]]. Empty the tank, wipe the float, refill.
- E-14: [[e14|water temperature above 32 °C]]. Move the cabinet out of the sun or away from the oven.
- E-16: [[e16|the tank is not seated]]. Lift the tank out and push it back until it clicks.

These codes clear by themselves once the problem is solved. If the same code comes back within a day, write
to support with the code and the serial number of the cabinet; a photo of the tank helps.""",
        {
            "e11": [
                "What does error code E-11 mean on a Fernhold 3?",
                "My Fernhold 3 shows E-11. What is wrong?",
                "What causes the Fernhold 3 error E-11?",
                "E-11 has appeared on my Fernhold 3. What does that code stand for?",
            ],
            "e12": [
                "What does the Fernhold 3 error E-12 indicate?",
                "The Fernhold app reports E-12. What has happened?",
            ],
            "e14": [
                "What does E-14 mean on the Fernhold 3?",
                "Why would a Fernhold 3 show the error E-14?",
                "What condition triggers error E-14 on a Fernhold 3?",
            ],
            "e16": [
                "What is the meaning of error E-16 on a Fernhold 3?",
                "My Fernhold 3 displays E-16. What does that mean?",
            ],
        },
    ),
    Doc(
        "lamp-error-codes", "Error codes E-21 to E-27: lamp and arm",
        """Lamp errors start with E-2. The lamp switches off while any of them is shown, but the pump keeps running,
so your plants are safe for a few days.

- E-21: [[e21|the lamp panel is too hot]]. It cools down by itself; make sure nothing covers the panel.
- E-23: [[e23|the arm is not fully inserted]]. Push the arm into its socket until it clicks.
- E-25: [[e25|the light sensor is dirty]]. Wipe the small window next to the Leaf button with a dry cloth.
- E-27: [[e27|the LED driver has failed]]. This needs a repair; contact support and quote the code.

After E-21 the lamp turns itself back on. After the others, switch it on again from Garden > Light once the
cause is fixed.""",
        {
            "e21": [
                "What does error E-21 mean on a Fernhold 3?",
                "My Fernhold 3 lamp went off and the app shows E-21. Why?",
            ],
            "e23": [
                "What is Fernhold 3 error E-23?",
                "Why does my Fernhold 3 report E-23?",
                "What problem does the code E-23 point to on a Fernhold 3?",
            ],
            "e25": [
                "What does E-25 mean on the Fernhold 3?",
                "The Fernhold app shows lamp error E-25. What is the cause?",
            ],
            "e27": [
                "What does the Fernhold 3 error E-27 mean?",
                "My Fernhold 3 shows E-27. What has gone wrong?",
                "What fault does code E-27 report on a Fernhold 3?",
                "Which component has failed when a Fernhold 3 shows E-27?",
            ],
        },
    ),
    Doc(
        "power-and-sensor-errors", "Error codes E-31 to E-38: power and sensors",
        """Codes in the E-3 range concern the power supply and the sensors. The garden keeps running with most of
them, but the app's readings may be wrong until the code clears.

- E-31: [[e31|supply voltage too low]]. Use the original adapter; phone chargers and USB supplies are not
  strong enough for the lamp.
- E-34: [[e34|the clock has lost the time]]. This follows a long power cut. The cabinet sets its clock again
  as soon as it is back on Wi-Fi.
- E-38: [[e38|the humidity sensor is not responding]]. Restart the cabinet; if the code returns, the sensor
  board needs replacing under warranty.

Write down the code before you unplug anything: after a restart the app only shows the codes that are still
active.""",
        {
            "e31": [
                "What does error E-31 mean on a Fernhold 3?",
                "My Fernhold 3 shows E-31. What is the problem?",
                "Which fault is reported by Fernhold 3 code E-31?",
            ],
            "e34": [
                "What does E-34 mean on a Fernhold 3?",
                "After a power cut my Fernhold 3 displays E-34. What does it mean?",
            ],
            "e38": [
                "What is the meaning of Fernhold 3 error E-38?",
                "Why would the Fernhold app report E-38?",
            ],
        },
    ),
    Doc(
        "cleaning-the-cabinet", "Cleaning the cabinet between crops",
        """Between crops, and at least [[deep-clean-interval|every 10 weeks]], give the Fernhold 3 a proper clean.
Limescale and old roots are the main cause of pump trouble.

1. Unplug the cabinet and lift out all pods.
2. Drain the tank through the drain screw, or lift it out and tip it over the sink.
3. Fill the tank with white vinegar and water mixed 1:4, leave it for an hour, then scrub
   the channel with the narrow brush.
4. Rinse twice with clean water and let everything dry.

The pod tray and the slot covers can go in the dishwasher on the top rack at up to
[[dishwasher-temperature|55 °C]]; hotter programmes warp them. The tank and the lamp arm must never go in the
dishwasher. Wipe the lamp panel with a dry cloth only.""",
        {
            "deep-clean-interval": [
                "How often should the Fernhold 3 be deep-cleaned?",
                "What is the longest I should go between thorough cleans of my Fernhold 3?",
                "How frequently does Marrowick recommend a proper clean of the Fernhold 3 cabinet?",
                "What is the deep-cleaning schedule for a Fernhold 3?",
            ],
            "dishwasher-temperature": [
                "What is the highest dishwasher temperature for the Fernhold 3 pod tray?",
                "How hot can the dishwasher be when washing the Fernhold 3 slot covers?",
                "Up to what temperature can Fernhold 3 trays be washed in a dishwasher?",
            ],
        },
    ),
    Doc(
        "cleaning-the-pump-filter", "Cleaning the pump filter",
        """The pump sits behind a small mesh filter at the bottom of the tank. Roots, coconut fibre and limescale
collect on it over time, and a clogged filter is the most common reason for a silent pump.

Rinse the filter whenever you clean the cabinet. To take it out, twist it
a quarter turn anticlockwise and pull. Rinse it under the tap and brush the mesh with an old
toothbrush; do not use soap, which foams in the pump.

Replace the filter [[filter-life|every six months]], or sooner if the mesh is torn. Replacement filters are
sold in pairs under the part code [[filter-part|FX-40]], in the app and in the Marrowick Home web shop.

Put the filter back with the arrow pointing up and twist until it stops. A filter that is not locked in
rattles when the pump starts.""",
        {
            "filter-life": [
                "How often should the Fernhold 3 pump filter be replaced?",
                "What is the replacement interval for the pump filter of a Fernhold 3?",
                "How long does a Fernhold 3 pump filter last before it should be swapped?",
            ],
            "filter-part": [
                "What is the part code for replacement Fernhold 3 pump filters?",
                "Under which part number can I order new pump filters for a Fernhold 3?",
                "I need spare filters for my Fernhold 3 pump. Which part code do I order?",
                "What code is on the pack of two spare pump filters for a Fernhold 3?",
            ],
        },
    ),
    Doc(
        "replacement-parts", "Replacement parts and prices",
        """Most parts of the Fernhold 3 can be replaced at home without tools. Order them from the Marrowick Home
web shop or in the app under Me > Devices > Parts; Pod Club members pay less.

| Part | Code | Price |
|---|---|---|
| Lamp arm with LED panel | [[arm-part|LA-318]] | [[arm-price|€54.00]] |
| Water tank | [[tank-part|TK-320]] | €22.00 |
| Pod tray with slot covers | PT-312 | [[tray-price|€17.50]] |
| Power adapter | PA-900 | €19.00 |
| Sprout domes, set of 12 | SC-12 | €6.50 |

Parts under warranty are free: report the fault in the app instead of ordering. Prices include tax; delivery
is charged as for any other order.""",
        {
            "arm-part": [
                "What is the part code of a replacement Fernhold 3 lamp arm?",
                "Which code do I use to order a new lamp arm with LED panel for the Fernhold 3?",
            ],
            "arm-price": [
                "How much does a replacement lamp arm for the Fernhold 3 cost?",
                "What is the price of a new Fernhold 3 lamp arm with its LED panel?",
                "If I break the Fernhold 3 grow light arm, what will a spare one cost me?",
                "What does Marrowick charge for a spare Fernhold 3 lamp arm?",
            ],
            "tank-part": [
                "What is the part number of the Fernhold 3 replacement water tank?",
                "Which code identifies a spare tank for the Fernhold 3?",
            ],
            "tray-price": [
                "How much is a replacement pod tray for the Fernhold 3?",
                "What does a new Fernhold 3 pod tray with slot covers cost?",
            ],
        },
    ),
    Doc(
        "pod-club", "Pod Club: Sproutlets by subscription",
        """Pod Club sends fresh Sproutlets so you never run out. Membership costs [[club-price|€11.90 a month]] and
each box holds [[club-box-size|ten Sproutlets]] of your choice, with delivery included.

Boxes leave our warehouse on the [[club-ship-day|3rd of each month]]. Choose the varieties in the app under
Club > Next box; if you do not choose, we pick a mix based on what you have grown and rated.

Members also get 15 % off Root Tonic and replacement parts for as long as the membership lasts.

Going away, or still have pods left? Skip a box from [[club-skip-path|Club > Deliveries > Skip]]. Skipped
months are not charged, and your choices carry over to the next box.""",
        {
            "club-price": [
                "How much does Pod Club membership cost?",
                "What is the monthly fee for the Fernhold Pod Club subscription?",
                "What do I pay for a Pod Club subscription?",
                "What is the cost per month of Pod Club?",
            ],
            "club-box-size": [
                "How many Sproutlets come in each Pod Club box?",
                "What does a monthly Pod Club delivery contain?",
            ],
            "club-ship-day": [
                "On which day are Pod Club boxes shipped?",
                "When in the month does my Pod Club box leave the warehouse?",
                "What is the dispatch date for Pod Club deliveries?",
            ],
            "club-skip-path": [
                "How do I skip a Pod Club box in the Fernhold app?",
                "Where in the app can I skip next month's Pod Club delivery?",
            ],
        },
    ),
    Doc(
        "pausing-or-ending-pod-club", "Pausing or ending Pod Club",
        """You can pause or end your Pod Club membership at any time in the Fernhold app; neither costs a fee.

To pause, open Club > Plan > Pause and choose how long. A pause lasts [[club-pause-max|up to three months]];
the membership then restarts by itself and you get a reminder a week before.

To end the membership, go to [[club-end-path|Club > Plan > End membership]] and confirm. Only the owner of the
garden can do this.

Timing matters: a change made before [[club-cutoff|the 25th]] applies to the next box. After that date the
next box is already being packed, so it is still sent and charged, and the pause or cancellation starts with
the box after it. Your member discount ends together with the membership.""",
        {
            "club-pause-max": [
                "How long can I pause my Pod Club membership?",
                "What is the maximum length of a Pod Club pause?",
                "For how many months can a Pod Club subscription be put on hold?",
                "How long can a Pod Club pause last at most?",
            ],
            "club-end-path": [
                "Where in the app do I cancel Pod Club?",
                "Which menu path ends a Pod Club membership?",
            ],
            "club-cutoff": [
                "By what date must I cancel Pod Club so that the next box is not sent?",
                "What is the monthly deadline for pausing Pod Club before the next delivery?",
                "Until which day of the month do Pod Club changes still apply to the coming box?",
            ],
        },
    ),
    Doc(
        "warranty", "Warranty",
        """Every Fernhold 3 comes with a [[warranty-cabinet|two-year warranty]] from the day of delivery. It covers
faults in materials and workmanship: a pump that stops, a sensor that fails, a tank that cracks without being
dropped.

The LED panel carries a longer promise of [[warranty-led|five years]], because a panel that fades early is a
defect, not wear.

Register your cabinet within [[warranty-register|60 days]] of delivery, under Me > Devices > Register, and we
add one more year to the cabinet warranty.

Not covered: damage from softened or distilled water, drops and knocks, repairs by anyone else, and
consumables such as Sproutlets, Root Tonic and pump filters. To make a claim, report the fault in the app; we
may ask for a short video.""",
        {
            "warranty-cabinet": [
                "How long is the standard warranty on the Fernhold 3 cabinet?",
                "What warranty period does Marrowick give on a new Fernhold 3?",
            ],
            "warranty-led": [
                "How long is the LED panel of the Fernhold 3 under warranty?",
                "For how many years is the Fernhold 3 grow light panel covered?",
                "What warranty does the Fernhold 3 lamp panel have?",
                "How many years of warranty cover the LEDs of a Fernhold 3?",
            ],
            "warranty-register": [
                "Within how many days must I register my Fernhold 3 to get the extra warranty year?",
                "What is the deadline for registering a Fernhold 3 to extend its warranty?",
            ],
        },
    ),
    Doc(
        "returns-and-refunds", "Returning a Fernhold 3",
        """Changed your mind? You can return a Fernhold 3 bought directly from Marrowick Home within
[[return-window|45 days]] of delivery, even if you have used it.

1. Open Me > Orders in the app and choose Return.
2. Drain the tank, remove all pods and let the cabinet dry.
3. Pack it in the original box if you still have it, and drop it off with the label we e-mail you.

Return postage is free. If the cabinet comes back with water or soil inside, we charge a
[[cleaning-fee|€9 cleaning fee]], so please empty it carefully.

Refunds reach your account within [[refund-time|seven working days]] of the parcel arriving at our warehouse.
Pod Club boxes and opened Root Tonic cannot be returned; cabinets bought from other shops are returned through
that shop.""",
        {
            "return-window": [
                "How many days do I have to return a Fernhold 3 bought from Marrowick Home?",
                "What is the return period for the Fernhold 3?",
                "Until when after delivery can I send a Fernhold 3 back?",
                "What is the deadline for returning a Fernhold 3 purchased from Marrowick?",
            ],
            "cleaning-fee": [
                "What does Marrowick charge if a returned Fernhold 3 still has water or soil in it?",
                "Is there a fee for returning a dirty Fernhold 3?",
            ],
            "refund-time": [
                "How long does a Fernhold 3 refund take after the return arrives?",
                "When will I get my money back for a returned Fernhold 3?",
            ],
        },
    ),
    Doc(
        "delivery", "Delivery times and costs",
        """We send the Fernhold 3, Pod Club boxes and spare parts with our delivery partner
[[carrier|Parcelwing]]. You get a tracking link by e-mail as soon as the parcel leaves the warehouse.

Standard delivery takes [[delivery-time|3 to 5 working days]]. Orders placed before noon on a working day
usually leave the same day.

Delivery is free for orders over [[free-delivery|€60]]; below that it costs €4.95. Pod Club boxes always travel
free.

If you are not at home, the driver leaves a card and tries once more the next working day. After the second
attempt the parcel waits at a pick-up point for a week, then comes back to us and we refund the order minus
the delivery cost.""",
        {
            "carrier": [
                "Which delivery company ships Fernhold 3 orders?",
                "Who delivers parcels from Marrowick Home?",
            ],
            "delivery-time": [
                "How long does standard delivery of a Fernhold 3 take?",
                "How many working days until a Marrowick Home order arrives with standard shipping?",
                "What is the usual delivery time for Fernhold orders?",
                "How quickly does standard shipping from Marrowick Home arrive?",
            ],
            "free-delivery": [
                "Above what order value is delivery from Marrowick Home free?",
                "How much do I need to spend on Fernhold products to get free shipping?",
            ],
        },
    ),
    Doc(
        "firmware-updates", "Firmware updates",
        """The Fernhold 3 updates itself. Every night it checks for new firmware and installs it at
[[update-time|03:00]] local time, when the lamp is off and nobody is watching.

An update takes about seven minutes. The pump pauses during that time and the status ring
shows the update colour; do not unplug the cabinet until the ring returns to normal.

To see which version you have, open Me > Devices > About. At the time of writing the current release is
[[firmware-version|4.2.7]].

Updates cannot be switched off, because some of them fix safety issues, but you can postpone one by up to a
week from the notification that announces it. If an update fails, the cabinet goes back to the previous
version and tries again the following night.""",
        {
            "update-time": [
                "At what time of night does the Fernhold 3 install firmware updates?",
                "When do Fernhold 3 software updates get installed?",
                "What time are firmware updates applied on a Fernhold 3?",
                "When at night does a Fernhold 3 apply new firmware?",
            ],
            "firmware-version": [
                "What is the current Fernhold 3 firmware version?",
                "Which firmware release is the latest for the Fernhold 3 according to the help center?",
            ],
        },
    ),
    Doc(
        "factory-reset", "Factory reset",
        """A factory reset erases the Wi-Fi details, the light schedule, the list of pods and the link to your
account. Photos already in the app are kept. Reset a cabinet before you sell it or give it away.

From the app, the garden's owner opens [[reset-path|Me > Devices > Erase garden]] and confirms twice.

On the cabinet itself:

1. Unplug the power adapter.
2. Hold the Leaf button down and plug the adapter back in.
3. Keep holding for [[reset-hold|20 seconds]], until the ring gives [[reset-confirm|three red flashes]].
4. Release the button. The cabinet restarts as if it were new.

After a reset, set the cabinet up again as on the first day. Pods that are growing are not harmed, but the app
no longer knows what is in each slot.""",
        {
            "reset-path": [
                "Where in the Fernhold app do I factory-reset my cabinet?",
                "Which app menu erases a Fernhold 3 before I sell it?",
            ],
            "reset-hold": [
                "How long do I hold the Leaf button to factory-reset a Fernhold 3?",
                "For a factory reset on the Fernhold 3 cabinet, how long must the button stay pressed?",
                "How many seconds does the Leaf button need to be held to wipe a Fernhold 3?",
            ],
            "reset-confirm": [
                "How does the Fernhold 3 show that a factory reset has worked?",
                "What does the status ring do to confirm a Fernhold 3 factory reset?",
            ],
        },
    ),
    Doc(
        "restarting-the-cabinet", "Restarting the cabinet",
        """A restart clears most glitches: an app that shows old readings, a lamp that ignores the schedule, a code
that should have cleared. Unlike a reset, a restart keeps all your settings and pods.

From the app, choose [[restart-path|Me > Devices > Restart]]. Household members can do this as well as the
owner.

On the cabinet, hold the Leaf button for [[restart-hold|eight seconds]] and let go when the ring goes dark.
Holding it much longer starts something else, so count calmly.

The cabinet is back in about [[restart-duration|40 seconds]]. The lamp returns to the brightness it should
have at that time of day, and the pump runs one short cycle to check itself. Restarting once a day or more
often is never needed; if you find yourself doing that, contact support.""",
        {
            "restart-path": [
                "Where in the Fernhold app can I restart the cabinet?",
                "Which menu path reboots a Fernhold 3 from the app?",
            ],
            "restart-hold": [
                "How long should I hold the Leaf button to restart a Fernhold 3?",
                "To reboot the Fernhold 3 on the device, how long is the button pressed?",
                "How many seconds of holding the Leaf button restarts the Fernhold 3?",
                "What Leaf button hold time reboots the Fernhold 3 while keeping its settings?",
            ],
            "restart-duration": [
                "How long does a Fernhold 3 take to come back after a restart?",
                "After rebooting, when is the Fernhold 3 running again?",
            ],
        },
    ),
    Doc(
        "child-lock", "Child lock",
        """Small hands love the glowing Leaf button. The child lock makes the cabinet ignore it, so nobody can dim
the lamp, snooze an alert or start a reset by accident.

Turn the lock on or off in [[childlock-path|Garden > Safety > Child lock]]. While it is on, the status ring
shows only errors.

To use the button while the lock is on, hold it for [[childlock-hold|three seconds]], then tap it once. The
button then works normally for [[childlock-window|a quarter of an hour]] and locks itself again afterwards.

The child lock does not lock the lamp arm or the tank flap. If your children are very young, keep the cabinet
out of their reach as well; the safety article lists what else to keep in mind.""",
        {
            "childlock-path": [
                "Where do I turn on the Fernhold 3 child lock in the app?",
                "Which menu path controls the child lock on a Fernhold garden?",
            ],
            "childlock-hold": [
                "With the Fernhold 3 child lock on, how long must I hold the Leaf button before tapping it?",
                "How do I temporarily get past the Fernhold 3 child lock? How long is the first press?",
            ],
            "childlock-window": [
                "After unlocking the Leaf button on a child-locked Fernhold 3, how long does it stay usable?",
                "For how long does the temporary unlock of the Fernhold 3 child lock last?",
                "How soon does a Fernhold 3 lock itself again after an adult bypasses the child lock?",
                "How long does the Leaf button stay usable after the child-lock bypass on a Fernhold 3?",
            ],
        },
    ),
    Doc(
        "away-mode", "Away mode: leaving your garden alone",
        """Going on holiday? Away mode makes a full tank last [[away-days|up to 21 days]]. It shortens the lamp's day
to [[away-light|10 hours]], lowers the brightness a little and waters less often, so the plants grow slowly and
drink less.

Turn it on from [[away-path|Garden > Away]] and enter the day you come back; the cabinet returns to your normal
schedule that morning.

Before you leave:

- top up the tank to the FULL line and give a Root Tonic feed;
- harvest anything that is ready, as bushy plants drink more;
- take the domes off seedlings that have already come up.

Expect lanky stems when you get back. A good harvest and a week on the normal schedule put most herbs right.""",
        {
            "away-days": [
                "How long can a Fernhold 3 look after itself in Away mode?",
                "With Away mode on, how long does a full Fernhold 3 tank last?",
                "What is the longest holiday the Fernhold 3 Away mode is designed for?",
                "If I switch on Away mode, for how many days can I leave my Fernhold 3 alone?",
            ],
            "away-light": [
                "How long is the lamp's day when the Fernhold 3 is in Away mode?",
                "What does Away mode shorten the Fernhold 3 light schedule to?",
            ],
            "away-path": [
                "Where do I switch on Away mode in the Fernhold app?",
                "Which menu path enables the Fernhold 3 holiday setting?",
            ],
        },
    ),
    Doc(
        "fernhold-tower", "The Fernhold Tower extension",
        """The Fernhold Tower stacks on top of a standard Fernhold 3 and adds [[tower-slots|eight more slots]] with a
lamp panel of its own, so you can grow taller herbs below and seedlings above. Its model code is
[[tower-model|FT-08]].

The Tower draws water from the cabinet's tank through a thin hose, so you fill only one tank; in summer, expect
to top up more often. It needs firmware [[tower-firmware|4.1 or later]] on the cabinet; check the version
before you unpack.

Only one Tower fits on a cabinet, and the Mini cannot carry one. The Tower costs [[tower-price|€79]] and comes
with its own mounting clips; no tools are needed.

Once it is mounted, the app shows the Tower's slots as a fourth and fifth row on the Pods tab.""",
        {
            "tower-slots": [
                "How many extra pod slots does the Fernhold Tower add?",
                "If I add a Fernhold Tower, how much more growing space do I get?",
            ],
            "tower-model": [
                "What is the model code of the Fernhold Tower extension?",
                "Which model number does the Fernhold Tower carry?",
            ],
            "tower-firmware": [
                "What firmware does a Fernhold 3 need before a Tower can be added?",
                "Which cabinet software version is required for the Fernhold Tower?",
                "My Fernhold 3 firmware is old. Which version do I need to use a Tower?",
            ],
            "tower-price": [
                "How much does the Fernhold Tower cost?",
                "What is the price of the Tower extension for the Fernhold 3?",
            ],
        },
    ),
    Doc(
        "mist-collar", "The Mist Collar",
        """Seedlings and mint love humid air, and heated homes are dry. The Mist Collar is an accessory ring that
clips around the pod tray and releases a fine, cool mist beside the leaves.

Its reservoir holds [[collar-reservoir|200 ml]] of water, separate from the main tank, and one fill lasts
[[collar-runtime|about four days]]. The collar keeps the air around the plants at
[[collar-humidity|65 %]] relative humidity, measured by the cabinet's own humidity sensor, and pauses when the
room is already humid.

Fill the collar with tap water only: Root Tonic would clog the mist plate. Once a month, rinse the mist plate
with a little vinegar.

The Mist Collar fits the standard Fernhold 3 and the Mini. It appears in the app under Garden > Water as soon
as it is clipped on.""",
        {
            "collar-reservoir": [
                "How much water does the Mist Collar reservoir hold?",
                "What is the capacity of the Fernhold Mist Collar?",
            ],
            "collar-runtime": [
                "How long does one fill of the Mist Collar last?",
                "How often do I need to refill the Fernhold Mist Collar?",
                "How many days does the Mist Collar run on a full reservoir?",
            ],
            "collar-humidity": [
                "What humidity level does the Mist Collar maintain around the plants?",
                "To which relative humidity does the Fernhold Mist Collar keep the air?",
            ],
        },
    ),
    Doc(
        "energy-use", "How much electricity does the Fernhold 3 use?",
        """Almost all of the power goes to the lamp. At full brightness the panel draws [[lamp-power|18 W]]; the
pump, fan and sensors together add only a little on top while they run.

When the lamp is off and the pump is resting, the cabinet sits in standby at [[standby-power|0.6 W]], enough to
keep Wi-Fi and the clock going.

With the factory light schedule, a typical day costs [[daily-energy|0.31 kWh]]. Night mode and Away mode lower
that, the Tower raises it, and the exact figure for your cabinet is shown in the app under Garden > Energy,
with a graph for the past month.

To save power without slowing the plants much, shorten the day by an hour rather than dimming the lamp for the
whole day: herbs cope better with a shorter day than with weak light.""",
        {
            "lamp-power": [
                "How much power does the Fernhold 3 lamp draw at full brightness?",
                "What is the wattage of the Fernhold 3 grow light?",
                "How many watts does the Fernhold 3 lamp panel use?",
                "What is the power draw of the Fernhold 3 LED panel at maximum brightness?",
            ],
            "standby-power": [
                "What is the standby power consumption of a Fernhold 3?",
                "How much electricity does a Fernhold 3 use when the lamp and pump are off?",
            ],
            "daily-energy": [
                "How much energy does a Fernhold 3 use per day on the default schedule?",
                "What is the typical daily electricity consumption of a Fernhold 3?",
                "How many kilowatt-hours does a Fernhold 3 use in a normal day?",
            ],
        },
    ),
    Doc(
        "harvesting", "Harvesting your herbs",
        """Regular harvests keep herbs bushy, so start early and cut often. The app marks a slot with a small
scissors badge on the Pods tab when its plant is ready.

Basil is usually ready for a first cut after [[basil-harvest|four weeks]], parsley and chives take a little
longer.

How to cut:

- use clean scissors and cut just above a pair of leaves, where new shoots will grow;
- never take more than [[harvest-max|one third of a plant]] in one go;
- pinch out basil flower buds as soon as you see them, or the leaves turn bitter.

Harvested herbs keep best in a glass of water on the counter, like cut flowers. Chives and parsley can also go
in the fridge wrapped in a damp towel.""",
        {
            "basil-harvest": [
                "When can I first harvest basil grown in a Fernhold 3?",
                "How long after planting is Fernhold basil ready to cut?",
            ],
            "harvest-max": [
                "How much of a plant may I cut at once when harvesting from a Fernhold 3?",
                "What is the most I should harvest from one Fernhold herb in a single go?",
                "How much can I take off a herb plant in one harvest according to Marrowick?",
            ],
        },
    ),
    Doc(
        "algae-gnats-and-mould", "Algae, fungus gnats and mould",
        """A little trouble is normal in any garden, indoors too. Here is how to tell what you are looking at.

White fuzz on the roots in the first days is root hair, not mould, and goes away by itself.

A green film on the tops of the pods is algae, caused by light falling on wet coconut fibre. It does not harm
the herbs, but it looks untidy: slip [[algae-fix|a black pod ring]] over each affected pod to shade it.

Tiny flies around the cabinet are fungus gnats. Stick a yellow sticky card to the lamp arm and
let the top of the pods dry out for a few days.

Grey, fluffy mould on a stem is a real problem. Remove that pod, then wipe its slot with hydrogen peroxide at
[[peroxide-strength|3 % strength]] before planting again.""",
        {
            "algae-fix": [
                "What stops algae growing on the tops of Sproutlet pods?",
                "There is a green film on my Fernhold pods. What should I put over them?",
            ],
            "peroxide-strength": [
                "What strength of hydrogen peroxide should I use on a Fernhold slot after grey mould?",
                "How concentrated should the peroxide be for cleaning a mouldy Fernhold 3 slot?",
            ],
        },
    ),
    Doc(
        "notifications", "Notifications and quiet hours",
        """The Fernhold app tells you when the garden needs you, and stays out of the way the rest of the time.
Choose what you hear about under Me > Notifications.

- Low water: sent [[alert-cap|at most twice a day]], however long the tank stays low.
- Feeding: a reminder when Root Tonic is due.
- Harvest: when a plant is ready, at most once per slot and week.
- Daily summary: an optional digest of the day, sent at [[summary-time|19:30]].

Quiet hours hold back every notification except errors. By default they run from
[[quiet-hours|22:00 to 07:00]]; you can change both times or turn quiet hours off.

Each household member sets notifications for themselves, so one person can get every alert while the others
receive only the summary.""",
        {
            "alert-cap": [
                "How often does the Fernhold app send low-water notifications?",
                "Is there a limit on how many low-water alerts the Fernhold app sends per day?",
            ],
            "summary-time": [
                "At what time does the Fernhold daily summary arrive?",
                "When is the optional daily digest sent by the Fernhold app?",
            ],
            "quiet-hours": [
                "What are the default quiet hours in the Fernhold app?",
                "During which hours does the Fernhold app hold back notifications by default?",
                "When are Fernhold notifications silenced unless I change the setting?",
            ],
        },
    ),
    Doc(
        "camera-and-privacy", "The camera and your privacy",
        """The Fernhold 3 has a small [[camera-resolution|5-megapixel]] camera in the lamp panel, pointing down at
the pods. It takes one photo a day, at midday, and never records sound or video.

The photos are stored on Marrowick servers in the EU for [[photo-retention|90 days]], unless you save them to
your phone. The app uses them to estimate growth and harvest dates.

You can switch the camera off under Me > Privacy > Camera; growth estimates then rely on the planting date
alone. To get a copy of everything we hold about you and your gardens, open
[[data-export-path|Me > Privacy > Export data]]; the archive is ready within a day.

The Mini has no camera.""",
        {
            "camera-resolution": [
                "What resolution is the camera in the Fernhold 3 lamp panel?",
                "How many megapixels does the Fernhold 3 camera have?",
            ],
            "photo-retention": [
                "How long does Marrowick keep the photos taken by a Fernhold 3?",
                "For how many days are Fernhold 3 camera photos stored on the servers?",
                "When are Fernhold garden photos deleted from Marrowick's servers?",
            ],
            "data-export-path": [
                "Where in the Fernhold app can I download all my data?",
                "How do I request a copy of my personal data from the Fernhold app?",
            ],
        },
    ),
    Doc(
        "contacting-support", "Contacting Marrowick Home support",
        """Most questions are answered fastest in the chat under Me > Help in the Fernhold app, which already knows
your cabinet and its recent codes.

You can also write to [[support-email|care@marrowick-home.example]] or call us
[[support-hours|Monday to Saturday, 8:00 to 18:00]], except on public holidays.

Have the serial number ready. It is printed on the label under the base and always starts with
[[serial-prefix|MWH]], followed by nine digits; the app shows it as well, under Me > Devices > About.

For a fault, please tell us what the status ring shows, any error code, and when it started. A short video
helps with noises and with the lamp. We reply to e-mails within one working day.""",
        {
            "support-email": [
                "What e-mail address reaches Marrowick Home support?",
                "Where can I e-mail about a problem with my Fernhold 3?",
            ],
            "support-hours": [
                "When can I phone Marrowick Home support?",
                "What are the opening hours of the Fernhold support line?",
                "On which days and at what times is Marrowick phone support available?",
                "At what times can I reach Marrowick Home support by phone?",
            ],
            "serial-prefix": [
                "How does a Fernhold 3 serial number begin?",
                "Which letters does every Fernhold 3 serial number start with?",
            ],
        },
    ),
    Doc(
        "safety", "Safety information",
        """Please read this before using the Fernhold 3, and keep it for later.

- The cabinet is for indoor use only. It is splash-resistant to [[ip-rating|IPX2]], which protects against
  drips, not against a tipped glass of water poured over the base.
- The surface of the lamp panel can reach [[panel-temperature|45 °C]] after a long day. Let it cool before
  cleaning or raising the arm.
- Children under eight years should only use the cabinet under supervision, and should not clean
  it.
- Use only the original adapter. Do not open the base; there are no parts inside that you can service.
- Unplug the cabinet before you clean it, move it or take out the tank.

The grow light is bright. Do not stare into the panel from close by, and lower it before looking at the pods
from above.""",
        {
            "ip-rating": [
                "What IP rating does the Fernhold 3 have?",
                "How water-resistant is the Fernhold 3 cabinet according to its rating?",
            ],
            "panel-temperature": [
                "How hot can the Fernhold 3 lamp panel get?",
                "What surface temperature can the Fernhold 3 grow light reach?",
                "Can the Fernhold 3 lamp burn me? How warm does its panel become?",
            ],
        },
    ),
    Doc(
        "moving-and-storing", "Moving and storing the Fernhold 3",
        """Moving house, or putting the garden away for the winter? Empty it first: water sloshing around the base
is the most common cause of damage in transport.

Drain the tank with [[drain-screw|the brass drain screw]] under the front edge. Hold the cabinet over a sink or
a tray, open the screw two turns, and close it finger-tight once the water stops.

Fold the lamp arm down, take out the pods and pack the cabinet upright, ideally in its original box.

For storage, keep it dry and [[storage-temperature|between 2 and 40 °C]]. Before storing it for longer than
[[storage-limit|four months]], clean it as between crops and leave the tank open for a day so that nothing
stays damp. When you unpack it, let the cabinet reach room temperature for an hour before plugging it in.""",
        {
            "drain-screw": [
                "How do I drain the water out of a Fernhold 3 before moving it?",
                "What part of the Fernhold 3 do I open to empty the tank?",
            ],
            "storage-temperature": [
                "At what temperatures can a Fernhold 3 be stored?",
                "What storage temperature range is safe for a Fernhold 3 that is not in use?",
                "Can I keep my Fernhold 3 in an unheated garage? What temperatures are allowed?",
            ],
            "storage-limit": [
                "Beyond what storage period should a Fernhold 3 be cleaned and dried before being put away?",
                "For storage longer than how long does Marrowick ask for a full clean of the Fernhold 3 first?",
            ],
        },
    ),
    Doc(
        "the-leaf-button", "The Leaf button",
        """The Leaf button is the touch-sensitive leaf shape on the front of the Fernhold 3, inside the status ring.
It reacts to a light touch; there is nothing to push in.

- A single tap snoozes the current alert for [[snooze-length|45 minutes]]. With no alert
  showing, a single tap makes the ring show the water level for a moment.
- Longer holds start pairing, restart the cabinet or reset it, and are explained in their own articles.
  Count the seconds: each one does something different.

If the button reacts to a passing sleeve or not at all, change its sensitivity under Me > Devices > Button.
There are three levels, and the factory setting is [[button-sensitivity|Medium]].

Wet fingers confuse the button. Dry your hands after topping up the tank before you touch it.""",
        {
            "snooze-length": [
                "For how long does a tap on the Leaf button snooze a Fernhold 3 alert?",
                "How long is a Fernhold 3 alert silenced after I snooze it on the cabinet?",
                "When does a snoozed alert on the Fernhold 3 come back?",
                "How many minutes does a snooze from the Fernhold 3 Leaf button last?",
            ],
            "button-sensitivity": [
                "What is the default sensitivity of the Fernhold 3 Leaf button?",
                "Which touch sensitivity level is the Leaf button set to from the factory?",
            ],
        },
    ),
    Doc(
        "fernhold-3-mini", "Fernhold 3 Mini: how it differs",
        """The Fernhold 3 Mini is the compact sibling of the standard cabinet, made for windowsills and small
kitchens. Everything in this help center applies to both models, except what is listed here.

- Model code: [[mini-model|FH3-110]], on the label under the base.
- Pods: [[mini-slots|six slots]] in two rows of three.
- Water: the Mini's tank holds [[mini-tank|1.4 litres]], so it needs topping up roughly twice as often as the
  standard tank, and Away mode lasts about a week.
- Lamp: the same panel as the standard cabinet, on a shorter arm.
- No camera, and no Tower: the Mini's lid is not strong enough to carry one.

The Mini uses the same Sproutlets, Root Tonic, Mist Collar and pump filter as the standard cabinet, and the
app treats it the same way.""",
        {
            "mini-model": [
                "What is the model code of the Fernhold 3 Mini?",
                "Which model number is printed under the base of a Fernhold 3 Mini?",
            ],
            "mini-slots": [
                "How many pod slots does the Fernhold 3 Mini have?",
                "How many Sproutlets can grow in a Fernhold 3 Mini at the same time?",
                "How many plants fit in the compact Fernhold 3 Mini?",
                "How many pod positions does the smaller Fernhold 3 Mini offer?",
            ],
            "mini-tank": [
                "How much water does the Fernhold 3 Mini tank hold?",
                "What is the tank capacity of the Fernhold 3 Mini?",
            ],
        },
    ),
]


# ---------------------------------------------------------------- rendering


@dataclass(frozen=True)
class Fact:
    """One marked span: its id, the answer (verbatim in its document) and the document it is in."""

    id: str
    answer: str
    doc_id: str
    questions: list[str]


def doc_id(number: int, doc: Doc) -> str:
    """'d07-sharing-your-garden' for the seventh document."""
    return f"d{number:02d}-{doc.slug}"


def unwrap(body: str) -> str:
    """The body with each paragraph, list item and table row on one line (the source is wrapped to fit the code)."""
    lines: list[str] = []
    for line in body.splitlines():
        starts_block = not line or line.startswith(("- ", "|")) or re.match(r"\d+\. ", line)
        if lines and lines[-1] and not lines[-1].startswith("|") and not starts_block:
            lines[-1] += " " + line.strip()  # an indented list continuation or the next line of a paragraph
        else:
            lines.append(line)
    return "\n".join(lines)


def render_doc(doc: Doc) -> str:
    """One document as Markdown: '# Title', a blank line, the body with the fact markers dropped."""
    return f"# {doc.title}\n\n{FACT.sub(lambda m: m.group(2), unwrap(doc.body))}\n"


def render_docs() -> dict[str, str]:
    """{file name: Markdown} for every document, in document order (the text does not depend on the seed)."""
    return {f"{doc_id(n, doc)}.md": render_doc(doc) for n, doc in enumerate(DOCS, start=1)}


def facts() -> list[Fact]:
    """Every fact in document order; raises ValueError listing every broken rule of the data set."""
    docs = {name.removesuffix(".md"): text for name, text in render_docs().items()}
    flat = {d: " ".join(text.split()) for d, text in docs.items()}  # a span broken across lines still counts
    found: list[Fact] = []
    problems: list[str] = []
    for number, doc in enumerate(DOCS, start=1):
        did = doc_id(number, doc)
        marked = FACT.findall(doc.body)
        if sorted(f for f, _ in marked) != sorted(doc.questions):
            problems.append(f"{did}: marked facts {sorted(f for f, _ in marked)} != questions {sorted(doc.questions)}")
        found += [Fact(fid, answer, did, doc.questions.get(fid, [])) for fid, answer in marked]
        words = len(docs[did].split())
        if not WORDS_PER_DOC[0] <= words <= WORDS_PER_DOC[1]:
            problems.append(f"{did}: {words} words, expected {WORDS_PER_DOC[0]}-{WORDS_PER_DOC[1]}")
    seen: set[str] = set()
    for fact in found:
        if fact.id in seen:
            problems.append(f"{fact.doc_id}: fact id {fact.id!r} is used twice")
        seen.add(fact.id)
        if not QUESTIONS_PER_FACT[0] <= len(fact.questions) <= QUESTIONS_PER_FACT[1]:
            problems.append(f"{fact.id}: {len(fact.questions)} questions, expected {QUESTIONS_PER_FACT}")
        if not ANSWER_WORDS[0] <= len(fact.answer.split()) <= ANSWER_WORDS[1]:
            problems.append(f"{fact.id}: answer {fact.answer!r} is not {ANSWER_WORDS[0]}-{ANSWER_WORDS[1]} words")
        elsewhere = [d for d, text in flat.items() if d != fact.doc_id and fact.answer in text]
        if elsewhere:
            problems.append(f"{fact.id}: answer {fact.answer!r} also occurs in {elsewhere}")
        problems += [f"{fact.id}: question contains the answer: {q!r}"
                     for q in fact.questions if fact.answer.casefold() in q.casefold()]
    questions = [q for fact in found for q in fact.questions]
    if len(set(questions)) != len(questions):
        problems.append("some questions are asked twice")
    if problems:
        raise ValueError(f"{len(problems)} problem(s) in the product-QA data:\n  " + "\n  ".join(problems))
    return found


def records(seed: int = SEED) -> list[dict]:
    """Every question as {"id", "prompt", "completion", "sources", "fact"}, shuffled, ids q0001.. in file order."""
    rows = [(q, fact) for fact in facts() for q in fact.questions]
    random.Random(seed).shuffle(rows)
    return [
        {"id": f"q{i:04d}", "prompt": q, "completion": fact.answer, "sources": [fact.doc_id], "fact": fact.id}
        for i, (q, fact) in enumerate(rows, start=1)
    ]


def render_questions(seed: int = SEED) -> str:
    """The exact content of questions.jsonl: one JSON object per line, UTF-8 text, '\\n' line ends."""
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records(seed))


def stats() -> str:
    """Counts and lengths, for the README and for a human check after editing the documents."""
    words = sorted(len(text.split()) for text in render_docs().values())
    all_facts = facts()
    answer_words = sorted(len(f.answer.split()) for f in all_facts)
    per_doc = Counter(f.doc_id for f in all_facts)
    per_fact = Counter(len(f.questions) for f in all_facts)
    lines = [
        f"{len(words)} documents, {len(all_facts)} facts, {sum(len(f.questions) for f in all_facts)} questions",
        f"words per document: min {words[0]}, median {statistics.median(words):g}, max {words[-1]}, total {sum(words)}",
        "facts per document: " + ", ".join(f"{k}: {v}" for k, v in sorted(Counter(per_doc.values()).items())),
        "questions per fact: " + ", ".join(f"{k}: {v}" for k, v in sorted(per_fact.items())),
        f"words per answer: min {answer_words[0]}, median {statistics.median(answer_words):g}, max {answer_words[-1]}",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", type=Path, default=HERE,
                        help="folder for docs/ and questions.jsonl (default: beside this script)")
    parser.add_argument("--seed", type=int, default=SEED, help="shuffle seed (the bundled file uses the default)")
    parser.add_argument("--stats", action="store_true", help="print counts and length statistics too")
    args = parser.parse_args(argv)
    docs = render_docs()
    questions = render_questions(args.seed)  # checks the data set before anything is written
    docs_dir = args.out_dir / "docs"
    docs_dir.mkdir(parents=True, exist_ok=True)
    for old in docs_dir.iterdir():  # only files this script writes: a renamed document leaves no stale copy
        if DOC_FILE.match(old.name) and old.name not in docs:
            old.unlink()
    for name, text in docs.items():
        (docs_dir / name).write_bytes(text.encode("utf-8"))
    (args.out_dir / "questions.jsonl").write_bytes(questions.encode("utf-8"))
    print(f"wrote {len(docs)} documents to {docs_dir} and {questions.count(chr(10))} questions to "
          f"{args.out_dir / 'questions.jsonl'}")
    if args.stats:
        print(stats())
    return 0


if __name__ == "__main__":
    sys.exit(main())
