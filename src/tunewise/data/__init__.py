"""Data sets: load JSONL/CSV in four formats, validate (all problems at once), split, and report leakage,
near-duplicates and label noise (hygiene.py; `data.dedup` drops near-duplicates before training).

`check_data` reports; `prepare_data` returns the split, task and reports for a run or raises DataError.
"""
from tunewise.data.formats import FORMATS, detect_format
from tunewise.data.hygiene import (
    find_label_noise,
    find_near_duplicates,
    write_label_noise,
)
from tunewise.data.leakage import (
    LeakageReport,
    find_leakage,
    normalised_text,
    prompt_text,
)
from tunewise.data.load import LoadedFile, load_file
from tunewise.data.prepare import PreparedData, check_data, check_file, prepare_data
from tunewise.data.split import Split, own_split, split_examples
from tunewise.data.validate import CountTokens, DataReport

__all__ = [
    "FORMATS",
    "CountTokens",
    "DataReport",
    "LeakageReport",
    "LoadedFile",
    "PreparedData",
    "Split",
    "check_data",
    "check_file",
    "detect_format",
    "find_label_noise",
    "find_leakage",
    "find_near_duplicates",
    "load_file",
    "normalised_text",
    "own_split",
    "prepare_data",
    "prompt_text",
    "split_examples",
    "write_label_noise",
]
