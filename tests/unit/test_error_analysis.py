"""Error analysis: worst examples, slices, what every rung gets wrong, what only fine-tuning gets right."""
import json
import re

import pytest

from tunewise.ladder.result import RungResult
from tunewise.records import Example, Prediction
from tunewise.report.errors import error_analysis, error_analysis_markdown

LONG = " ".join(["awful"] * 60)  # 60 words, 359 characters: cut to 300 in report.json

# id, label, input (last user message), meta
CASES = [
    ("t0", "pos", "great little phone", {"source": "a"}),
    ("t1", "pos", "works well and looks fine", {"source": "a"}),
    ("t2", "pos", "arrived late\nbut works now", {"source": "b"}),
    ("t3", "pos", "battery lasts all day long", {}),
    ("t4", "neg", "screen cracked | refund refused by the seller", {"source": "a"}),
    ("t5", "neg", "one two three four five six seven eight nine ten", {"source": "b"}),
    ("t6", "neg", LONG, {}),
    ("t7", "neg", "not good", {"source": "a"}),
]
# which test examples each rung gets right (1) or wrong (0)
ZERO_SHOT = [1, 0, 0, 1, 0, 1, 0, 0]
RAG_DENSE = [1, 0, 0, 0, 0, 1, 0, 1]  # t7: retrieval alone among the non-tuned rungs
LORA = [1, 1, 0, 1, 0, 1, 1, 0]
FULL = [1, 0, 0, 0, 0, 1, 1, 1]


def _test_set() -> list[Example]:
    test = []
    for i, (id_, label, text, meta) in enumerate(CASES):
        system = ({"role": "system", "content": "Classify the review."},) if i == 0 else ()
        test.append(Example(id=id_, messages=(*system, {"role": "user", "content": text}), answer=label,
                            label=label, meta=meta))
    return test


def _classifier(name, kind, right, test, margins=None, wrong_outputs=None, with_scores=True, **fields):
    """A classification rung: right items predict the label, wrong ones the other label (or `wrong_outputs[i]`);
    a wrong item's predicted label is `margins[i]` (default 1) log-likelihood above the expected one."""
    predictions = []
    for i, (ok, example) in enumerate(zip(right, test)):
        other = "neg" if example.label == "pos" else "pos"
        output = example.label if ok else (wrong_outputs or {}).get(i, other)
        scores = ({example.label: -0.25, other: -1.5} if ok
                  else {output: -0.25, example.label: -0.25 - (margins or {}).get(i, 1.0)})
        predictions.append(Prediction(example.id, output, scores if with_scores else None))
    value = sum(right) / len(right)
    return RungResult(name, kind, "", {"accuracy": {"value": value, "ci_low": 0.0, "ci_high": 1.0}}, {},
                      correct=[bool(ok) for ok in right], item_scores=[float(ok) for ok in right],
                      predictions=predictions, **fields)


def _ladder(test) -> list[RungResult]:
    return [
        _classifier("zero_shot", "prompting", ZERO_SHOT, test, wrong_outputs={4: "mixed"}, with_scores=False),
        _classifier("rag_dense", "retrieval", RAG_DENSE, test),
        _classifier("lora", "fine-tuning", LORA, test, margins={2: 0.5, 4: 3.0, 7: 1.0}),
        _classifier("full", "fine-tuning", FULL, test),
    ]


def _ignored(test) -> list[RungResult]:
    """Rungs that get everything right but must not count: one skipped, one without predictions."""
    skipped = _classifier("rag_lora", "fine-tuning", [1] * len(test), test, skipped="needs a GPU")
    unpredicted = _classifier("few_shot_random_k4", "prompting", [1] * len(test), test)
    unpredicted.predictions = None
    return [skipped, unpredicted]


@pytest.fixture
def section():
    test = _test_set()
    return error_analysis(_ladder(test) + _ignored(test), test, "accuracy", "classification",
                          slice_fields=["source"])


def _family(section, name):
    return next(f for f in section["slices"] if f["family"] == name)


def _rows(family):
    return {row["value"]: (row["examples"], row["scores"]) for row in family["rows"]}


def test_skipped_and_unpredicted_rungs_are_ignored(section):
    test = _test_set()
    assert section["rungs"] == ["zero_shot", "rag_dense", "lora", "full"]
    assert section == error_analysis(_ladder(test), test, "accuracy", "classification", slice_fields=["source"])
    assert section["all_wrong"]["count"] == 2  # would be 0 if the all-right ignored rungs counted


def test_none_when_no_rung_is_scored():
    test = _test_set()
    assert error_analysis(_ignored(test), test, "accuracy", "classification") is None
    assert error_analysis([], test, "accuracy", "classification") is None
    assert error_analysis_markdown(None) == []


def test_section_is_json_serialisable(section):
    assert json.loads(json.dumps(section)) == section


def test_all_wrong_lists_the_most_common_wrong_answer(section):
    all_wrong = section["all_wrong"]
    assert all_wrong["count"] == 2
    assert [e["id"] for e in all_wrong["examples"]] == ["t2", "t4"]
    t2, t4 = all_wrong["examples"]
    assert (t2["expected"], t2["predicted"], t2["predicted_by"]) == ("pos", "neg",
                                                                     ["zero_shot", "rag_dense", "lora", "full"])
    # zero_shot answered "mixed"; the other three agree on "pos"
    assert (t4["expected"], t4["predicted"], t4["predicted_by"]) == ("neg", "pos", ["rag_dense", "lora", "full"])
    assert t4["input"] == "screen cracked | refund refused by the seller"


def test_all_wrong_examples_are_capped_by_listed():
    test = _test_set()
    capped = error_analysis(_ladder(test), test, "accuracy", "classification", listed=1)["all_wrong"]
    assert capped["count"] == 2 and [e["id"] for e in capped["examples"]] == ["t2"]


def test_fine_tuning_only_counts_per_rung(section):
    only = section["fine_tuning_only"]
    assert only["count"] == 2  # not t7: full gets it right, but so does rag_dense
    assert only["by_rung"] == {"lora": 2, "full": 1}
    assert [(e["id"], e["fixed_by"]) for e in only["examples"]] == [("t1", ["lora"]), ("t6", ["lora", "full"])]
    assert only["examples"][1]["expected"] == "neg"


def test_fine_tuning_only_is_none_without_both_sides():
    test = _test_set()
    ladder = _ladder(test)
    prompting_only = [r for r in ladder if r.kind != "fine-tuning"]
    tuned_only = [r for r in ladder if r.kind == "fine-tuning"]
    assert error_analysis(prompting_only, test, "accuracy", "classification")["fine_tuning_only"] is None
    assert error_analysis(tuned_only, test, "accuracy", "classification")["fine_tuning_only"] is None


def test_worst_breaks_classification_ties_by_margin(section):
    lora = section["worst"]["lora"]
    assert [(e["id"], e["margin"]) for e in lora] == [("t4", 3.0), ("t7", 1.0), ("t2", 0.5)]  # test order: t2 t4 t7
    assert all(e["score"] == 0.0 for e in lora)
    assert (lora[0]["expected"], lora[0]["predicted"]) == ("neg", "pos")


def test_worst_without_scores_keeps_test_order_and_has_no_margin(section):
    zero_shot = section["worst"]["zero_shot"]
    assert [e["id"] for e in zero_shot] == ["t1", "t2", "t4", "t6", "t7"]
    assert not any("margin" in e for e in zero_shot)
    long = zero_shot[3]["input"]
    assert len(long) == 300 and long.endswith("…") and long.startswith("awful awful")
    assert section["worst"]["zero_shot"][0]["input"] == "works well and looks fine"


def test_worst_is_capped_and_lowest_item_score_first():
    test = _test_set()[:4]
    rung = _classifier("lora", "fine-tuning", [0, 0, 0, 1], test, margins={0: 2.0, 1: 2.0, 2: 2.0})
    rung.item_scores = [0.5, 0.0, 0.25, 1.0]  # equal margins: the item score alone orders them
    worst = error_analysis([rung], test, "accuracy", "classification", worst=2)["worst"]["lora"]
    assert [(e["id"], e["score"]) for e in worst] == [("t1", 0.0), ("t2", 0.25)]


def test_slices_by_label(section):
    label = _family(section, "label")
    assert label["rungs"] == ["zero_shot", "rag_dense", "lora"]  # best of each kind: lora beats full
    assert label["score_means"] == "accuracy"
    assert _rows(label) == {
        "neg": (4, {"zero_shot": 0.25, "rag_dense": 0.5, "lora": 0.5}),
        "pos": (4, {"zero_shot": 0.5, "rag_dense": 0.25, "lora": 0.75}),
    }


def test_slices_by_user_field_with_missing_values(section):
    source = _family(section, "source")
    assert [row["value"] for row in source["rows"]] == ["a", "(missing)", "b"]  # most examples first, then by value
    assert _rows(source) == {
        "a": (4, {"zero_shot": 0.25, "rag_dense": 0.5, "lora": 0.5}),
        "b": (2, {"zero_shot": 0.5, "rag_dense": 0.5, "lora": 0.5}),
        "(missing)": (2, {"zero_shot": 0.5, "rag_dense": 0.0, "lora": 1.0}),
    }


def test_slices_keep_the_most_common_values_and_sum_the_rest():
    values = ["v00"] * 3 + [f"v{k:02d}" for k in range(1, 22)]  # 22 distinct values on 24 examples
    test = [Example(f"t{i}", ({"role": "user", "content": "x"},), "pos", "pos", meta={"shop": v})
            for i, v in enumerate(values)]
    right = [0] * 22 + [1, 1]  # only v20 and v21, the two values that do not make the top 20, are right
    section = error_analysis([_classifier("lora", "fine-tuning", right, test)], test, "accuracy", "classification",
                             slice_fields=["shop"])
    rows = _family(section, "shop")["rows"]
    assert len(rows) == 21 and sum(row["examples"] for row in rows) == 24
    assert (rows[0]["value"], rows[0]["examples"]) == ("v00", 3)
    assert rows[-1] == {"value": "(other)", "examples": 2, "scores": {"lora": 1.0}}


def test_input_length_buckets_cover_every_example_once(section):
    lengths = _family(section, "input_length")
    # word counts 3 5 5 5 8 10 60 2: quartiles at 3, 5, 8, 60
    assert [(row["value"], row["examples"]) for row in lengths["rows"]] == [
        ("2–3 words", 2), ("4–5 words", 3), ("6–8 words", 1), ("9–60 words", 2)]
    assert sum(row["examples"] for row in lengths["rows"]) == len(CASES)
    assert lengths["rows"][0]["scores"] == {"zero_shot": 0.5, "rag_dense": 1.0, "lora": 0.5}  # t0 and t7


def _lengths(word_counts):
    test = [Example(f"t{i}", ({"role": "user", "content": " ".join(["w"] * n)},), "pos", "pos")
            for i, n in enumerate(word_counts)]
    section = error_analysis([_classifier("lora", "fine-tuning", [1] * len(test), test)], test, "accuracy",
                             "classification")
    return [(row["value"], row["examples"]) for row in _family(section, "input_length")["rows"]]


def test_input_length_buckets_merge_when_quartiles_coincide():
    assert _lengths([1, 1, 1, 1, 1, 1, 2, 9]) == [("1 word", 6), ("2–9 words", 2)]
    assert _lengths([4, 4, 4, 4]) == [("4 words", 4)]


def _generation_rung(name, kind, outputs, item_scores, value, metric):
    return RungResult(name, kind, "", {metric: {"value": value, "ci_low": 0.0, "ci_high": 1.0}}, {},
                      correct=[s == 1.0 for s in item_scores], item_scores=item_scores,
                      predictions=[Prediction(f"g{i}", out) for i, out in enumerate(outputs)])


def _generation(metric="token_f1"):
    test = [Example(f"g{i}", ({"role": "user", "content": f"question {i}"},), f"answer {i}") for i in range(4)]
    results = [
        _generation_rung("zero_shot", "prompting", ["a0", "zs1", "answer 2", "zs3"], [0.5, 0.0, 1.0, 0.25], 0.44,
                         metric),
        _generation_rung("lora", "fine-tuning", ["answer 0", "lo1", "answer 2", "lo3"], [1.0, 0.0, 1.0, 0.5], 0.62,
                         metric),
    ]
    return error_analysis(results, test, metric, "generation")


def test_generation_orders_worst_by_item_score_and_uses_the_best_rungs_answer():
    section = _generation()
    assert [(e["id"], e["score"]) for e in section["worst"]["zero_shot"]] == [("g1", 0.0), ("g3", 0.25), ("g0", 0.5)]
    assert [f["family"] for f in section["slices"]] == ["input_length"]  # no label family
    assert [(e["id"], e["predicted"], e["predicted_by"]) for e in section["all_wrong"]["examples"]] == [
        ("g1", "lo1", ["lora"]), ("g3", "lo3", ["lora"])]
    assert section["fine_tuning_only"]["by_rung"] == {"lora": 1}


@pytest.mark.parametrize("metric, means", [("token_f1", "mean per-item token_f1"), ("rougeL", "mean per-item rougeL"),
                                           ("exact_match", "exact_match"), ("contains", "contains"),
                                           ("macro_f1", "accuracy")])
def test_score_means(metric, means):
    assert {f["score_means"] for f in _generation(metric)["slices"]} == {means}


def test_markdown_has_every_subsection_and_escapes_cells(section):
    lines = error_analysis_markdown(section)
    for heading in ("## Error analysis", "### Worst examples per rung", "### Metric per slice",
                    "### Examples every rung gets wrong", "### Examples only fine-tuning gets right"):
        assert heading in lines
    text = "\n".join(lines)
    assert "screen cracked \\| refund" in text
    assert "arrived late but works now" in text  # the newline in t2's input does not break its row
    assert "likely label noise" in text
    assert "`lora` 2, `full` 1" in text
    # every row of a table has as many unescaped `|` as its header
    table: list[int] = []
    for line in lines + [""]:
        if line.startswith("|"):
            assert line.endswith("|")
            table.append(len(re.findall(r"(?<!\\)\|", line)))
        elif table:
            assert len(set(table)) == 1, table
            table = []


def test_markdown_leaves_out_fine_tuning_only_without_it():
    test = _test_set()
    prompting_only = [r for r in _ladder(test) if r.kind != "fine-tuning"]
    lines = error_analysis_markdown(error_analysis(prompting_only, test, "accuracy", "classification"))
    assert "### Examples every rung gets wrong" in lines
    assert "### Examples only fine-tuning gets right" not in lines
