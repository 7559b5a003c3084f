"""Data hygiene: near-duplicates within and across splits, data.dedup's counts, and the label-noise finder."""
from __future__ import annotations

import json
import random

import pytest

from tunewise.cli import main
from tunewise.data import check_data, prepare_data
from tunewise.data.hygiene import (
    find_label_noise,
    find_near_duplicates,
    write_label_noise,
)
from tunewise.records import Example
from tunewise.sections import DataConfig, TaskConfig

THRESHOLD = DataConfig.model_fields["near_duplicate_threshold"].default
NOISE_THRESHOLD = DataConfig.model_fields["label_noise_threshold"].default

TEST_SENTENCES = [
    "My card was charged twice for the same order last week",
    "I cannot log in to my account since the password reset",
    "The parcel arrived damaged and the box was completely soaked",
    "How do I change the delivery address on an open order",
    "The mobile app crashes every time I open the settings page",
    "Please cancel my subscription before the next billing cycle",
    "I was promised a refund ten days ago but nothing came back",
    "Where can I download the invoice for my company records",
    "The discount code from your newsletter is not accepted at checkout",
    "Your courier left the package at the wrong house yesterday",
    "Two factor authentication codes never reach my phone",
    "Can I upgrade my plan without losing my saved projects",
    "The website shows an error when I try to pay with PayPal",
    "I would like to return a jacket that does not fit",
    "Tracking has said out for delivery for three whole days",
    "The export to spreadsheet button produces an empty file",
    "Why was I billed in euros when I live in Canada",
    "My order history disappeared after the latest update",
    "Is there a student discount for the annual membership",
    "The search bar returns results for the wrong language",
    "I received someone else's order with a different name on it",
    "Notifications keep arriving at three in the morning",
    "Please merge my two accounts into a single profile",
    "The printer driver you recommended will not install on Windows",
    "How long does an international shipment to Japan usually take",
    "The dark mode setting resets whenever I restart the program",
    "I need a copy of the warranty for my washing machine",
    "Gift card balance shows zero although I never used it",
    "The chat assistant keeps disconnecting in the middle of a question",
    "Can you deliver to a parcel locker instead of my home",
    "My premium features vanished even though I paid this month",
    "Sync between the laptop and tablet stopped working on Monday",
    "The assembly instructions are missing from the bookshelf box",
    "I want to delete all of my personal data from your servers",
    "Audio is out of sync with the video in every stream",
    "The bank declined the payment but your site says it went through",
    "Could you send a replacement charger for the headphones",
    "Emails from support land in my spam folder every time",
    "The calendar integration duplicates each meeting twice",
    "What is the weight limit for the free shipping offer",
]
OTHER_SENTENCES = [
    "Our team account needs five more seats before Friday",
    "The receipt lists a product I never ordered",
    "Is the blue version of this kettle back in stock soon",
    "The coupon expired while my cart was still open",
    "Password rules reject every symbol I try to use",
    "A driver rang the bell but did not leave any note",
    "The stream buffers constantly on my fibre connection",
    "Can I pause deliveries while I am on holiday in August",
    "The loyalty points from March never showed up",
    "The keyboard shortcut for undo stopped responding",
    "Which plan includes priority phone support",
    "The size chart for children's shoes seems wrong",
    "Photos uploaded from my camera appear rotated sideways",
    "I was logged out on all devices without warning",
    "The tent poles in my order were the wrong length",
    "Why does checkout ask for my birth date",
    "A subscription renewal email arrived for a plan I cancelled",
    "The map in your app shows my town in the ocean",
    "Please confirm whether the sofa fits through a narrow door",
    "My voucher was applied to the wrong item in the basket",
]


def ex(example_id: str, text: str, label: str = "x", line: int = 1) -> Example:
    return Example(example_id, ({"role": "user", "content": text},), label, label=label, file="d.jsonl", line=line)


def paraphrase(sentence: str, k: int) -> str:
    """A light edit: two words swapped, one replaced, one added or one dropped, then new casing and punctuation."""
    words = sentence.split()
    if k % 4 == 0:
        words[1], words[2] = words[2], words[1]
    elif k % 4 == 1:
        words[3] = "really"
    elif k % 4 == 2:
        words.insert(4, "honestly")
    else:
        del words[2]
    if k % 3 == 0:
        words[-1] = words[-1] + "s"
    text = " ".join(words)
    return (text.upper() + "!!") if k % 2 else (text.lower() + "...")


def planted_splits() -> tuple[dict[str, list[Example]], set[tuple[str, str]]]:
    """40 test sentences, 10 of them paraphrased into train among 20 different ones; (train id, test id) planted."""
    test = [ex(f"s{i}", s, line=i + 1) for i, s in enumerate(TEST_SENTENCES)]
    copies = [ex(f"p{k}", paraphrase(TEST_SENTENCES[4 * k], k), line=k + 1) for k in range(10)]
    others = [ex(f"o{i}", s, line=11 + i) for i, s in enumerate(OTHER_SENTENCES)]
    planted = {(f"p{k}", f"s{4 * k}") for k in range(10)}
    return {"train": copies + others, "val": [], "test": test}, planted


def test_planted_paraphrases_of_test_items_are_found_and_nothing_else():
    splits, planted = planted_splits()
    report = find_near_duplicates(splits, THRESHOLD)
    found = {(p["other_id"], p["id"]) for p in report.across_pairs if p["split"] == "test"}
    assert len(found & planted) / len(planted) >= 0.9, found
    assert found <= planted and report.across["test-train"] == len(found)
    assert report.within == {"train": 0, "val": 0, "test": 0}
    pair = report.across_pairs[0]
    assert pair["where"].startswith("d.jsonl:") and pair["other_where"].startswith("d.jsonl:")
    assert THRESHOLD <= pair["similarity"] <= 1
    assert json.loads(json.dumps(report.to_dict()))["across"]["test-train"] == len(found)


def test_within_split_duplicates_are_found():
    train = [ex("a", "Where is my parcel? It was due on Monday"), ex("b", "The app crashes on start"),
             ex("c", "where is my PARCEL!!! it was due on monday"), ex("d", "Where is my parcel, it was due Monday")]
    report = find_near_duplicates({"train": train, "val": [], "test": [ex("t", "Refund for a broken kettle")]},
                                  THRESHOLD)
    pairs = {tuple(sorted((p["id"], p["other_id"]))) for p in report.within_pairs}
    assert pairs == {("a", "c"), ("a", "d"), ("c", "d")} and report.within["train"] == 3
    assert report.across == {"val-train": 0, "test-train": 0, "test-val": 0}


def write_jsonl(path, records) -> bytes:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path.read_bytes()


def dedup_files(tmp_path):
    """train.jsonl: 10 paraphrased test items, 20 others and 3 near-copies of those others; test.jsonl: 40 items."""
    train = [{"id": f"p{k}", "text": paraphrase(TEST_SENTENCES[4 * k], k), "label": "x"} for k in range(10)]
    train += [{"id": f"o{i}", "text": s, "label": "x"} for i, s in enumerate(OTHER_SENTENCES)]
    train += [{"id": f"w{i}", "text": paraphrase(OTHER_SENTENCES[i], i + 1), "label": "x"} for i in range(3)]
    test = [{"id": f"s{i}", "text": s, "label": "x"} for i, s in enumerate(TEST_SENTENCES)]
    return tmp_path / "train.jsonl", write_jsonl(tmp_path / "train.jsonl", train), tmp_path / "test.jsonl", \
        write_jsonl(tmp_path / "test.jsonl", test)


def test_dedup_counts_add_up_test_is_unchanged_and_files_are_untouched(tmp_path):
    train_path, train_bytes, test_path, test_bytes = dedup_files(tmp_path)
    plain = prepare_data(DataConfig(train=train_path, test=test_path), TaskConfig(type="generation"))
    deduped = prepare_data(DataConfig(train=train_path, test=test_path, dedup=True), TaskConfig(type="generation"))
    counts = deduped.dedup.counts
    for name in ("train", "val", "test"):
        before, after = getattr(plain.split, name), getattr(deduped.split, name)
        c = counts[name]
        assert c["before"] == len(before) and c["kept"] == len(after)
        assert c["before"] == c["near_test"] + c["within"] + c["kept"]
        assert {e.id for e in after} <= {e.id for e in before}
    assert counts["train"]["near_test"] + counts["val"]["near_test"] >= 9  # the planted test copies
    assert counts["train"]["within"] + counts["val"]["within"] == 3  # the three near-copies of other items
    assert [e.id for e in deduped.split.test] == [e.id for e in plain.split.test]
    kept = {e.id for e in deduped.split.train + deduped.split.val}
    assert not kept & {f"w{i}" for i in range(3)} and {f"o{i}" for i in range(3)} <= kept  # the first one stays
    assert train_path.read_bytes() == train_bytes and test_path.read_bytes() == test_bytes
    summary = json.loads(json.dumps(deduped.summary()))
    assert summary["dedup"]["counts"] == counts and summary["counts"]["splits"] == deduped.split.counts()
    assert "dedup" not in plain.summary()  # off by default: a run's data.json stays as it was


def noisy_task(seed: int = 7) -> tuple[list[Example], set[str]]:
    """300 examples of 3 separable labels (3 label words + 5 shared words each); 15 labels flipped."""
    vocab = {
        "billing": "charge refund invoice payment card price bill subscription fee receipt".split(),
        "login": "password account login reset code email username locked signin verify".split(),
        "shipping": "parcel delivery courier tracking package address shipment box arrived driver".split(),
    }
    filler = "the my i please help today again still not with and is was can you".split()
    rng = random.Random(seed)
    rows = []
    for i in range(300):
        label = list(vocab)[i % 3]
        words = rng.sample(vocab[label], 3) + rng.sample(filler, 5)
        rng.shuffle(words)
        rows.append([f"x{i}", " ".join(words), label])
    flipped = rng.sample(range(300), 15)
    for i in flipped:
        rows[i][2] = rng.choice([name for name in vocab if name != rows[i][2]])
    examples = [ex(example_id, text, label, line=n + 1) for n, (example_id, text, label) in enumerate(rows)]
    return examples, {f"x{i}" for i in flipped}


def test_noise_finder_flags_flipped_labels_and_few_clean_ones(tmp_path):
    train, flipped = noisy_task()
    report = find_label_noise(train, NOISE_THRESHOLD, seed=0)
    flagged = {item["id"] for item in report.items}
    assert len(flagged & flipped) >= 0.8 * len(flipped)
    assert len(flagged - flipped) <= 0.03 * (len(train) - len(flipped))
    item = report.items[0]
    assert item["suggested"] != item["given"] and item["confidence"] >= NOISE_THRESHOLD
    assert item["given_probability"] <= 1 - NOISE_THRESHOLD + 1e-6 and item["where"].startswith("d.jsonl:")
    assert find_label_noise(train, NOISE_THRESHOLD, seed=0).items == report.items  # deterministic under its seed
    path = tmp_path / "noise.jsonl"
    write_label_noise(report, path)
    assert [json.loads(line) for line in path.read_text().splitlines()] == report.items


def test_noise_finder_skips_with_a_reason_when_labels_are_too_small():
    train = [ex(f"a{i}", f"alpha text {i}", "a") for i in range(8)] + [ex(f"b{i}", f"beta {i}", "b") for i in range(3)]
    report = find_label_noise(train, NOISE_THRESHOLD, seed=0)
    assert report.items == [] and "'b' has 3" in report.skipped and "5-fold" in report.skipped
    assert "skipped" in report.lines()[0]


@pytest.fixture
def tickets(tmp_path):
    """A classification file: the noisy task plus a near-copy of one example."""
    train, _ = noisy_task()
    records = [{"id": e.id, "text": e.messages[0]["content"], "label": e.label} for e in train]
    records.append({"id": "copy", "text": records[0]["text"].upper() + "!", "label": records[0]["label"]})
    path = tmp_path / "tickets.jsonl"
    write_jsonl(path, records)
    return path


def test_data_check_prints_the_hygiene_sections(tickets, tmp_path, capsys):
    out_path = tmp_path / "noise.jsonl"
    code = main(["data", "check", str(tickets), "--no-length-check", "--label-noise-out", str(out_path)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "near-duplicates (inputs with TF-IDF cosine >= 0.6)" in out and "label noise (5-fold" in out
    assert f"flagged example(s) in {out_path}" in out and out_path.is_file()
    flagged = len(out_path.read_text().splitlines())
    assert f"{flagged} of " in out and flagged >= 1
    config = tmp_path / "tunewise.yaml"
    config.write_text(f"task: {{type: classification}}\ndata: {{path: {tickets}, dedup: true}}\n")
    assert main(["data", "check", str(config), "--no-length-check", "--label-noise-out", str(out_path)]) == 0
    assert "dedup (data.dedup, " in capsys.readouterr().out


def test_check_data_reports_hygiene_as_json(tickets):
    report = check_data(DataConfig(path=tickets), TaskConfig(type="classification"))
    data = json.loads(json.dumps(report.to_dict()))
    assert data["near_duplicates"]["threshold"] == THRESHOLD and data["label_noise"]["checked"] > 0
    assert data["dedup"] is None
