"""Generate the bundled general-knowledge benchmark (ARC-shaped multiple choice; deterministic; standard library only).

`python -m tunewise.question_sets.generate_general_knowledge [--out PATH]` writes general_knowledge.jsonl next to this
script by default. Every run gives byte-identical output: one seeded RNG, tables iterated in their written order.

The benchmark checks catastrophic forgetting: a fine-tuned model should still know what its base model knew. So the
facts are everyday, uncontroversial ones and every wrong choice is plainly wrong, so that a drop in score means the
model lost knowledge rather than that a question was disputable.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

SEED = 2026
DEFAULT_OUT = Path(__file__).resolve().with_name("general_knowledge.jsonl")
LABELS = ("A", "B", "C", "D")
CATEGORIES = ("science", "geography", "arithmetic", "language")  # also the order of the records in the file


@dataclass(frozen=True)
class Item:
    """One question before its choices are shuffled: the right answer and exactly three wrong ones."""

    question: str
    answer: str
    wrong: tuple[str, ...]


# ---------------------------------------------------------------- science (hand-written)

# (question, right answer, three wrong answers). Wrong answers are chosen to be clearly wrong to anyone who knows the
# fact, not trick answers: no near-misses such as Fahrenheit values or "pollen" for honey.
SCIENCE = [
    ("What gas do plants take in from the air to make their food?", "carbon dioxide", ("oxygen", "helium", "neon")),
    ("At sea level, at what temperature in degrees Celsius does pure water boil?", "100", ("0", "37", "250")),
    ("At sea level, at what temperature in degrees Celsius does pure water freeze?", "0", ("50", "100", "75")),
    ("How many legs does an insect have?", "six", ("four", "eight", "ten")),
    ("How many legs does a spider have?", "eight", ("four", "six", "two")),
    ("What does the Earth orbit?", "the Sun", ("the Moon", "Mars", "Jupiter")),
    ("In what state of matter is ice?", "solid", ("liquid", "gas", "plasma")),
    ("Which organ pumps blood around the human body?", "the heart", ("the liver", "the stomach", "the lungs")),
    ("Which organs take in oxygen when a person breathes?", "the lungs", ("the kidneys", "the stomach", "the ears")),
    ("Which organs filter waste out of the blood to make urine?", "the kidneys",
     ("the lungs", "the eyes", "the heart")),
    ("What part of the body does the skull protect?", "the brain", ("the liver", "the knees", "the stomach")),
    ("Which sense do people use their ears for?", "hearing", ("sight", "taste", "smell")),
    ("What is the star at the centre of our Solar System?", "the Sun", ("Sirius", "Polaris", "the Moon")),
    ("How many planets are in the Solar System?", "eight", ("three", "twelve", "twenty")),
    ("What is the largest planet in the Solar System?", "Jupiter", ("Mercury", "Mars", "Venus")),
    ("Which planet is closest to the Sun?", "Mercury", ("Neptune", "Jupiter", "Saturn")),
    ("Which planet is known as the Red Planet?", "Mars", ("Neptune", "Uranus", "Saturn")),
    ("What is the name of the Earth's natural satellite?", "the Moon", ("the Sun", "Titan", "Mars")),
    ("About how many days does the Earth take to go once around the Sun?", "365", ("30", "100", "1,000")),
    ("About how long does the Earth take to spin once on its axis?", "24 hours",
     ("1 hour", "7 days", "1 year")),
    ("What is the chemical formula of water?", "H2O", ("CO2", "NaCl", "O2")),
    ("What is the chemical symbol for gold?", "Au", ("Ag", "Fe", "Cu")),
    ("What is the chemical symbol for oxygen?", "O", ("N", "H", "C")),
    ("Which gas do people need to breathe in to stay alive?", "oxygen", ("carbon monoxide", "helium", "neon")),
    ("Which gas makes up most of the air we breathe?", "nitrogen", ("helium", "hydrogen", "neon")),
    ("Which gas do green plants give off into the air when they make food from sunlight?", "oxygen",
     ("carbon monoxide", "helium", "neon")),
    ("What is the process by which green plants make food from sunlight called?", "photosynthesis",
     ("digestion", "erosion", "evaporation")),
    ("What gives plants their green colour?", "chlorophyll", ("haemoglobin", "melanin", "keratin")),
    ("Which part of a plant takes up water from the soil?", "the roots", ("the petals", "the flowers", "the fruit")),
    ("What force makes a dropped ball fall to the ground?", "gravity", ("magnetism", "friction", "sound")),
    ("What force slows down a book sliding across a table?", "friction", ("magnetism", "buoyancy", "electricity")),
    ("What do bees collect from flowers to make honey?", "nectar", ("sand", "mud", "leaves")),
    ("Which of these animals is a mammal?", "a whale", ("a shark", "a trout", "an octopus")),
    ("Which mammal can truly fly?", "the bat", ("the mouse", "the dog", "the horse")),
    ("What is the largest animal living on Earth today?", "the blue whale",
     ("the elephant", "the giraffe", "the great white shark")),
    ("What do tadpoles grow up to become?", "frogs", ("snakes", "lizards", "birds")),
    ("What kind of animal is a frog?", "an amphibian", ("a mammal", "a bird", "an insect")),
    ("What kind of animal is a snake?", "a reptile", ("a mammal", "a bird", "an insect")),
    ("Which animals have feathers?", "birds", ("fish", "insects", "frogs")),
    ("What is a young cat called?", "a kitten", ("a puppy", "a calf", "a foal")),
    ("What do you call an animal that eats only plants?", "a herbivore", ("a carnivore", "an omnivore", "a scavenger")),
    ("How many bones does a typical adult human have?", "206", ("12", "50", "1,000")),
    ("Which blood cells carry oxygen around the body?", "red blood cells",
     ("white blood cells", "nerve cells", "skin cells")),
    ("Which vitamin does human skin make when it is exposed to sunlight?", "vitamin D",
     ("vitamin C", "vitamin B12", "vitamin K")),
    ("What is the centre of an atom called?", "the nucleus", ("the electron", "the photon", "the molecule")),
    ("Which of these is the hardest?", "diamond", ("chalk", "talc", "gold")),
    ("Which metal is a liquid at room temperature?", "mercury", ("iron", "copper", "aluminium")),
    ("What is the name of molten rock that flows out of a volcano?", "lava", ("glacier", "sand", "clay")),
    ("What is the change from liquid water to water vapour called?", "evaporation",
     ("condensation", "freezing", "melting")),
    ("What is the change from a solid to a liquid called?", "melting", ("freezing", "condensation", "evaporation")),
    ("What does a thermometer measure?", "temperature", ("weight", "length", "time")),
    ("In which unit is electric current measured?", "amperes", ("kilograms", "metres", "litres")),
    ("Which of these travels fastest?", "light", ("sound", "a car", "a running cheetah")),
    ("What does a solar panel turn into electricity?", "sunlight", ("wind", "rain", "sound")),
    ("Which of these is a renewable source of energy?", "wind", ("coal", "oil", "natural gas")),
    ("Which gas makes up most of the Sun?", "hydrogen", ("oxygen", "carbon dioxide", "nitrogen")),
    ("What is the largest ocean on Earth?", "the Pacific Ocean",
     ("the Atlantic Ocean", "the Indian Ocean", "the Arctic Ocean")),
]

# ---------------------------------------------------------------- geography (hand-written)

# Countries whose capital is unambiguous today. Left out on purpose: countries with two official capitals or a
# capital being moved (Bolivia, the Netherlands, South Africa, Sri Lanka, Ivory Coast, Tanzania, Indonesia,
# Malaysia), disputed ones (Israel) and recent changes (Myanmar, Kazakhstan). Nigeria, Australia, Canada, Turkey,
# Brazil and Morocco stay in: their capitals are not their biggest cities, which makes them good questions.
# The country is written as it reads after "the capital of" (hence "the United Kingdom").
CAPITALS = [
    ("France", "Paris"), ("Germany", "Berlin"), ("Italy", "Rome"), ("Spain", "Madrid"), ("Portugal", "Lisbon"),
    ("the United Kingdom", "London"), ("Ireland", "Dublin"), ("Belgium", "Brussels"), ("Austria", "Vienna"),
    ("Sweden", "Stockholm"), ("Norway", "Oslo"), ("Denmark", "Copenhagen"), ("Finland", "Helsinki"),
    ("Iceland", "Reykjavik"), ("Poland", "Warsaw"), ("the Czech Republic", "Prague"), ("Hungary", "Budapest"),
    ("Greece", "Athens"), ("Romania", "Bucharest"), ("Bulgaria", "Sofia"), ("Croatia", "Zagreb"),
    ("Serbia", "Belgrade"), ("Ukraine", "Kyiv"), ("Russia", "Moscow"), ("Turkey", "Ankara"), ("Egypt", "Cairo"),
    ("Kenya", "Nairobi"), ("Nigeria", "Abuja"), ("Ethiopia", "Addis Ababa"), ("Ghana", "Accra"),
    ("Morocco", "Rabat"), ("Senegal", "Dakar"), ("Japan", "Tokyo"), ("China", "Beijing"),
    ("South Korea", "Seoul"), ("India", "New Delhi"), ("Pakistan", "Islamabad"), ("Bangladesh", "Dhaka"),
    ("Thailand", "Bangkok"), ("Vietnam", "Hanoi"), ("the Philippines", "Manila"), ("Iran", "Tehran"),
    ("Iraq", "Baghdad"), ("Saudi Arabia", "Riyadh"), ("Nepal", "Kathmandu"), ("Mongolia", "Ulaanbaatar"),
    ("Australia", "Canberra"), ("New Zealand", "Wellington"), ("Canada", "Ottawa"),
    ("the United States", "Washington, D.C."), ("Mexico", "Mexico City"), ("Cuba", "Havana"),
    ("Brazil", "Brasília"), ("Argentina", "Buenos Aires"), ("Chile", "Santiago"), ("Peru", "Lima"),
    ("Colombia", "Bogotá"), ("Venezuela", "Caracas"), ("Uruguay", "Montevideo"), ("Jamaica", "Kingston"),
]

# The seven-continent model as taught in English-language schools. Only countries wholly on one continent, so none
# of Russia, Turkey, Egypt or Australia (continent vs country), and none of Central America or the Caribbean.
CONTINENTS = ("Africa", "Antarctica", "Asia", "Australia", "Europe", "North America", "South America")
COUNTRY_CONTINENTS = [
    ("Kenya", "Africa"), ("Brazil", "South America"), ("Japan", "Asia"), ("Canada", "North America"),
    ("Germany", "Europe"), ("Argentina", "South America"), ("Thailand", "Asia"), ("Ghana", "Africa"),
]

# ---------------------------------------------------------------- arithmetic (generated)

# (operator, how many questions). Small operands so the questions test knowledge a base model has, not long
# arithmetic; a fine-tune that breaks these has damaged something basic.
ARITHMETIC = [("+", 19), ("-", 18), ("×", 18)]
OPERATIONS = {"+": lambda a, b: a + b, "-": lambda a, b: a - b, "×": lambda a, b: a * b}
# Wrong answers sit near the right one (off by one, two or ten: the slips people make) so they are not given away
# by size, yet each is plainly not the result.
NEAR_OFFSETS = (-10, -2, -1, 1, 2, 10)

# ---------------------------------------------------------------- language (hand-written)

# Opposite pairs. Wrong choices are drawn from the other rows' answers, so the table is chosen so that no answer is
# an opposite or synonym of another row's word (no "thick/thin" beside "rich/poor": thin soup is not rich).
OPPOSITES = [
    ("hot", "cold"), ("up", "down"), ("fast", "slow"), ("early", "late"), ("full", "empty"), ("wet", "dry"),
    ("win", "lose"), ("push", "pull"), ("inside", "outside"), ("day", "night"), ("remember", "forget"),
    ("rich", "poor"), ("loud", "quiet"), ("open", "closed"),
]
# Same rule as OPPOSITES: no answer may also mean the same as another row's word (so no "huge" beside "big").
SYNONYMS = [
    ("big", "large"), ("begin", "start"), ("shut", "close"), ("gift", "present"), ("clever", "smart"),
    ("sick", "ill"), ("rock", "stone"), ("correct", "right"), ("purchase", "buy"), ("unhappy", "sad"),
    ("autumn", "fall"), ("couch", "sofa"), ("mistake", "error"), ("happy", "glad"),
]
# Irregular plurals with made-up or over-regular wrong forms. Words with two accepted plurals (fish, cactus,
# person, bus) are left out so that no wrong choice is in fact right.
PLURALS = [
    ("mouse", "mice", ("mouses", "meese", "mousen")),
    ("child", "children", ("childs", "childes", "childrens")),
    ("foot", "feet", ("foots", "feets", "footen")),
    ("tooth", "teeth", ("tooths", "teeths", "toothen")),
    ("goose", "geese", ("gooses", "geeses", "goosen")),
    ("man", "men", ("mans", "mens", "manen")),
    ("woman", "women", ("womans", "womens", "womanes")),
    ("ox", "oxen", ("oxes", "oxs", "oxies")),
    ("leaf", "leaves", ("leafs", "leafes", "leavs")),
    ("knife", "knives", ("knifes", "knifen", "knivs")),
    ("wolf", "wolves", ("wolfs", "wolfes", "wolven")),
    ("city", "cities", ("citys", "cityes", "citis")),
    ("sheep", "sheep", ("sheeps", "sheepen", "sheepes")),
    ("box", "boxes", ("boxs", "boxies", "boxen")),
]
# Strong verbs only, whose past tense has no accepted regular form (so no dream/dreamed, learn/learned). Wrong
# choices are the over-regular -ed form and present forms: never the past participle, which some readers accept, and
# no verb whose -ed form is a real past tense elsewhere (fly/flied in baseball, sing/singed).
PAST_TENSES = [
    ("go", "went", ("goed", "goes", "going")),
    ("eat", "ate", ("eated", "eats", "eating")),
    ("take", "took", ("taked", "takes", "taking")),
    ("write", "wrote", ("writed", "writes", "writing")),
    ("swim", "swam", ("swimmed", "swims", "swimming")),
    ("drink", "drank", ("drinked", "drinks", "drinking")),
    ("run", "ran", ("runned", "runs", "running")),
    ("begin", "began", ("beginned", "begins", "beginning")),
    ("give", "gave", ("gived", "gives", "giving")),
    ("choose", "chose", ("choosed", "chooses", "choosing")),
    ("buy", "bought", ("buyed", "buys", "buying")),
    ("think", "thought", ("thinked", "thinks", "thinking")),
    ("teach", "taught", ("teached", "teaches", "teaching")),
    ("speak", "spoke", ("speaked", "speaks", "speaking")),
]


# ---------------------------------------------------------------- building items


def science_items() -> list[Item]:
    return [Item(question, answer, wrong) for question, answer, wrong in SCIENCE]


def geography_items(rng: random.Random) -> list[Item]:
    """Capital questions (wrong choices: other countries' capitals), then continent questions."""
    capitals = [capital for _, capital in CAPITALS]
    items = []
    for country, capital in CAPITALS:
        others = [c for c in capitals if c != capital]
        items.append(Item(f"What is the capital of {country}?", capital, tuple(rng.sample(others, 3))))
    for country, continent in COUNTRY_CONTINENTS:
        others = [c for c in CONTINENTS if c != continent]
        items.append(Item(f"On which continent is {country}?", continent, tuple(rng.sample(others, 3))))
    return items


def _operands(op: str, rng: random.Random) -> tuple[int, int]:
    """Two-digit + two-digit, two-digit - two-digit with a positive result, one-digit × two-digit."""
    if op == "+":
        return rng.randint(10, 89), rng.randint(10, 89)
    if op == "-":
        a = rng.randint(25, 99)
        return a, rng.randint(10, a - 5)
    return rng.randint(2, 9), rng.randint(11, 30)


def _near_misses(answer: int, a: int, op: str, rng: random.Random) -> tuple[str, ...]:
    """Three distinct positive numbers near the answer, none equal to it."""
    offsets = list(NEAR_OFFSETS)
    if op == "×":
        offsets += [-a, a]  # one row of the times table too many or too few: the classic slip
    candidates = []
    for offset in offsets:  # list, not set, so the draw below does not depend on hash order
        value = answer + offset
        if value > 0 and value != answer and value not in candidates:
            candidates.append(value)
    return tuple(str(v) for v in rng.sample(candidates, 3))


def arithmetic_items(rng: random.Random) -> list[Item]:
    items: list[Item] = []
    seen: set[str] = set()  # membership only; never iterated, so output order does not depend on it
    for op, count in ARITHMETIC:
        made = 0
        while made < count:
            a, b = _operands(op, rng)
            question = f"What is {a} {op} {b}?"
            if question in seen:
                continue
            seen.add(question)
            answer = OPERATIONS[op](a, b)
            items.append(Item(question, str(answer), _near_misses(answer, a, op, rng)))
            made += 1
    return items


def _drawn_from_other_rows(word: str, answer: str, table: list[tuple[str, str]], rng: random.Random,
                           ) -> tuple[str, ...]:
    others = [a for w, a in table if w != word and a != answer]
    return tuple(rng.sample(others, 3))


def language_items(rng: random.Random) -> list[Item]:
    items = []
    for word, answer in OPPOSITES:
        items.append(Item(f"What is the opposite of '{word}'?", answer,
                          _drawn_from_other_rows(word, answer, OPPOSITES, rng)))
    for word, answer, wrong in PLURALS:
        items.append(Item(f"What is the plural of '{word}'?", answer, wrong))
    for word, answer, wrong in PAST_TENSES:
        items.append(Item(f"What is the past tense of '{word}'?", answer, wrong))
    for word, answer in SYNONYMS:
        items.append(Item(f"Which word means the same as '{word}'?", answer,
                          _drawn_from_other_rows(word, answer, SYNONYMS, rng)))
    return items


# ---------------------------------------------------------------- records


def to_records(category: str, items: Sequence[Item], rng: random.Random) -> list[dict]:
    """ARC-shaped records. The right answer's position comes from a shuffled deck holding each of A-D equally often,
    so positions are balanced exactly (a model that favours one letter gains nothing) but not predictable."""
    deck = [n % len(LABELS) for n in range(len(items))]
    rng.shuffle(deck)
    records = []
    for number, (item, position) in enumerate(zip(items, deck, strict=True), start=1):
        texts = list(item.wrong)
        rng.shuffle(texts)
        texts.insert(position, item.answer)
        records.append({
            "id": f"gk-{category}-{number:03d}",
            "question": item.question,
            "choices": {"text": texts, "label": list(LABELS)},
            "answerKey": LABELS[position],
            "category": category,
        })
    return records


def check(records: Sequence[dict]) -> None:
    """Fail loudly on a malformed table rather than write a benchmark with a broken question."""
    questions: set[str] = set()
    for record in records:
        texts = record["choices"]["text"]
        if len(texts) != len(LABELS) or len(set(texts)) != len(texts):
            raise ValueError(f"{record['id']}: need {len(LABELS)} distinct choices, got {texts}")
        if record["question"] in questions:
            raise ValueError(f"{record['id']}: duplicate question {record['question']!r}")
        questions.add(record["question"])


def build(seed: int = SEED) -> list[dict]:
    """Every record, in file order. One RNG threaded through in a fixed order keeps the output reproducible."""
    rng = random.Random(seed)
    items = {
        "science": science_items(),
        "geography": geography_items(rng),
        "arithmetic": arithmetic_items(rng),
        "language": language_items(rng),
    }
    records = [record for category in CATEGORIES for record in to_records(category, items[category], rng)]
    check(records)
    return records


def write(records: Sequence[dict], out: Path) -> None:
    # newline="\n" so the file is byte-identical on every platform.
    with out.open("w", encoding="utf-8", newline="\n") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output JSONL (default: {DEFAULT_OUT.name} "
                                                                      "next to this script)")
    args = parser.parse_args(argv)
    records = build()
    write(records, args.out)
    counts = ", ".join(f"{c} {sum(r['category'] == c for r in records)}" for c in CATEGORIES)
    print(f"wrote {len(records)} questions ({counts}) to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
