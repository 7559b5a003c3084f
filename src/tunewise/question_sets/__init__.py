"""Multiple-choice question sets (benchmarks): the file shapes tunewise reads, and the bundled files with their generators.

Each bundled file is committed next to its generator and is byte-identical to what that generator writes.
"""
from pathlib import Path

# Scored by base and fine-tuned models alike to catch catastrophic forgetting; see generate_general_knowledge.py.
GENERAL_KNOWLEDGE = Path(__file__).with_name("general_knowledge.jsonl")
BUNDLED_BENCHMARK = "general_knowledge"  # how configs and `tunewise eval --benchmark` name that file

# The JSONL shapes `evaluate.multiple_choice` reads (lm-evaluation-harness's tasks of the same names).
FORMAT_SHAPES = {
    "arc": '{"question": str, "choices": {"text": [str], "label": [str]}, "answerKey": str} (or ARC\'s original '
           '{"question": {"stem", "choices": [{"text", "label"}]}, "answerKey"})',
    "hellaswag": '{"ctx": str (or "ctx_a" + "ctx_b"), "endings": [str], "label": int, "activity_label": str?}',
    "mmlu": '{"question": str, "choices": [str], "answer": int or letter, "subject": str?}',
    "truthfulqa_mc1": '{"question": str, "mc1_targets": {"choices": [str], "labels": [0/1]}}',
    "truthfulqa_mc2": '{"question": str, "mc2_targets": {"choices": [str], "labels": [0/1]}}',
}
FORMATS = tuple(FORMAT_SHAPES)


def benchmark_file(name: str | Path) -> Path:
    """The file a benchmark name stands for: the bundled set for 'general_knowledge', else the path itself."""
    return GENERAL_KNOWLEDGE if str(name) == BUNDLED_BENCHMARK else Path(name)
