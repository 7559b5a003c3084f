"""The forgetting section: a significant drop against the base is flagged, an unchanged rung is not."""
from __future__ import annotations

from tunewise.config import Config
from tunewise.evaluate.forgetting import forgetting_markdown, forgetting_section
from tunewise.evaluate.multiple_choice import BenchmarkScores, ChoiceItem, item_metrics
from tunewise.sections import DataConfig

ITEMS = [ChoiceItem(f"q{i}", "Question: ?\nAnswer:", (" yes", " no"), (0,), "even" if i % 2 else "odd")
         for i in range(40)]


def scores(right: int) -> BenchmarkScores:
    """The first `right` items answered correctly, the rest wrong."""
    lls = [[0.0, -1.0] if i < right else [-1.0, 0.0] for i in range(len(ITEMS))]
    return BenchmarkScores("arc", ITEMS, lls, item_metrics(ITEMS, lls, "arc"))


def test_a_significant_drop_is_flagged_and_no_change_is_not():
    config = Config(data=DataConfig(path="x.jsonl"))
    section = forgetting_section(scores(36), {"forgot": scores(16), "same": scores(36), "slight": scores(35)}, config)
    rows = {r["rung"]: r for r in section["rungs"]}
    assert section["base"]["metrics"]["acc_norm"]["value"] == 0.9
    assert rows["forgot"]["change"]["difference"] == -0.5 and rows["forgot"]["flag"] == "drop"
    assert rows["forgot"]["p_value"] < 0.001  # 20 discordant items, all one way
    assert rows["same"]["flag"] is None and rows["same"]["p_value"] == 1.0
    assert rows["slight"]["flag"] is None and rows["slight"]["p_value"] == 1.0  # one item: not significant
    assert rows["forgot"]["groups"]["odd"]["items"] == 20
    text = "\n".join(forgetting_markdown(section))
    assert "⚠ drop" in text and text.count("⚠ drop") == 1 and "| forgot | 0.400" in text
