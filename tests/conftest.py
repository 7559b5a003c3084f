"""Shared test fixtures: a tiny random llama with a real ChatML tokenizer, built in memory in milliseconds.

Nothing here downloads: HF_HUB_OFFLINE is forced on. The bundled SmolLM2 conversion (e2e tests only) goes to the
user's cache (~/.cache/tunewise, or $TUNEWISE_HOME) so it happens once per machine; other tests use tmp dirs.
"""
from __future__ import annotations

import atexit
import importlib.util
import json
import os
import random
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

os.environ["HF_HUB_OFFLINE"] = "1"  # before transformers is imported anywhere
# Runs record into a scratch registry, never the user's. Set here, at import, because module-scoped fixtures run
# before function-scoped ones and test modules copy os.environ into subprocess ENV dicts when imported; the
# autouse `private_run_registry` then gives each test a file of its own.
_SCRATCH_REGISTRY = tempfile.mkdtemp(prefix="tunewise-test-registry-")
atexit.register(shutil.rmtree, _SCRATCH_REGISTRY, ignore_errors=True)
os.environ["TUNEWISE_REGISTRY"] = os.path.join(_SCRATCH_REGISTRY, "registry.sqlite")

import pytest
import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]  # ids 0, 1, 2, as in SmolLM2
# ChatML, shaped like SmolLM2's template, including its default system prompt when none is given.
CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a tiny built-in default<|im_end|>\n' }}{% endif %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
_CORPUS = [
    "You are a helpful assistant. Classify the support ticket as billing, bug, bug report or other.",
    "My invoice is wrong and I was charged twice for the same order.",
    "The app crashes when I open settings. Please fix this bug.",
    "What is the capital of France? Paris is the capital of France.",
    "system user assistant the a an of to and in is it for on with",
]


def build_tiny_tokenizer() -> PreTrainedTokenizerFast:
    """A byte-level BPE tokenizer (about 400 tokens) with ChatML special tokens and chat template."""
    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400, special_tokens=SPECIAL_TOKENS, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    backend.train_from_iterator(_CORPUS, trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token="<|im_start|>",
        eos_token="<|im_end|>",
        pad_token="<|im_end|>",
        unk_token="<|endoftext|>",
        chat_template=CHATML_TEMPLATE,
    )


def build_tiny_llama(vocab_size: int, seed: int = 0) -> LlamaForCausalLM:
    """A 2-layer random llama (hidden 64, 4 heads, 2 KV heads, tied embeddings like SmolLM2), fp32, eval mode."""
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        tie_word_embeddings=True,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=2,
    )
    return LlamaForCausalLM(config).eval()


@pytest.fixture(autouse=True)
def private_run_registry(tmp_path_factory, monkeypatch) -> Path:
    """Every test records its runs in a registry file of its own (subprocesses inherit it), never the user's; kept
    out of tmp_path so tests that list their folder see only their own files."""
    path = tmp_path_factory.mktemp("registry") / "registry.sqlite"
    monkeypatch.setenv("TUNEWISE_REGISTRY", str(path))
    return path


def save_tiny_model(path: Path, tokenizer: PreTrainedTokenizerFast, seed: int = 0) -> Path:
    """The tiny llama and `tokenizer` saved at `path` as a local Hugging Face folder (safetensors), as a user's model."""
    build_tiny_llama(len(tokenizer), seed).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def tiny_tokenizer() -> PreTrainedTokenizerFast:
    """The tiny ChatML tokenizer (shared by the session: do not modify it in a test)."""
    return build_tiny_tokenizer()


@pytest.fixture
def tiny_llama(tiny_tokenizer) -> tuple[LlamaForCausalLM, PreTrainedTokenizerFast]:
    """(model, tokenizer): a fresh seeded 2-layer random llama per test plus the session's tiny tokenizer.

    The model is in eval mode and fp32; call `model.train()` to train it. Token ids: 0 <|endoftext|> (unk),
    1 <|im_start|> (bos), 2 <|im_end|> (eos, pad, end of turn).
    """
    return build_tiny_llama(len(tiny_tokenizer)), tiny_tokenizer


@pytest.fixture(scope="module")
def module_model_dir(tmp_path_factory, tiny_tokenizer) -> Path:
    """The tiny llama saved once for a test module (for module-scoped runs; do not modify it in a test)."""
    return save_tiny_model(tmp_path_factory.mktemp("model") / "tiny-model", tiny_tokenizer)


@pytest.fixture
def tiny_model_dir(tiny_llama, tmp_path):
    """The tiny llama and its tokenizer saved as a local Hugging Face directory (safetensors), as a user's model."""
    model, tokenizer = tiny_llama
    path = tmp_path / "tiny-model"
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@contextmanager
def example_script(path: Path) -> Iterator[ModuleType]:
    """Import a bundled example's generator script (not a package) for the duration of a test module."""
    spec = importlib.util.spec_from_file_location(f"example_{path.parent.name}_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the file executes
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(spec.name, None)


# A tiny classification task: a word (and a random number) -> the word's class.
WORD_LABELS = {"red": "colour", "blue": "colour", "cat": "animal", "dog": "animal", "oak": "tree", "elm": "tree"}


# A second task for multi-task tests: say whether a thing is large or little (a generation task).
SIZES = {"big": "large", "huge": "large", "small": "little", "tiny": "little"}
SIZE_INSTRUCTION = "Say how large the thing is."


def write_sizes(path: Path, n: int = 60, seed: int = 1) -> Path:
    """A prompt/completion JSONL of `n` records {"id", "prompt", "completion"}: "a big thing number 12" -> large."""
    rng = random.Random(seed)
    with open(path, "w") as f:
        for i in range(n):
            word = rng.choice(sorted(SIZES))
            prompt = f"a {word} thing number {rng.randint(0, 999)}"
            f.write(json.dumps({"id": f"s{i}", "prompt": prompt, "completion": SIZES[word]}) + "\n")
    return path


def write_two_task_config(folder: Path, model_dir: Path, methods: str, train: str, lora: str = "{r: 4, alpha: 8}",
                          temperature: float = 1.0, extra: str = "") -> Path:
    """tunewise.yaml for a multi-task run on the tiny model: word labels (this run's task) and sizes (task `size`),
    with `methods`, `train` and `lora` (YAML flow values) and `extra` YAML lines; runs go to folder/runs."""
    write_word_labels(folder / "main.jsonl")
    write_sizes(folder / "size.jsonl")
    path = folder / "tunewise.yaml"
    path.write_text(
        "task: {type: classification}\n"
        "data: {path: main.jsonl, max_length: 64}\n"
        f"model: {{name: {model_dir}}}\n"
        "rungs: [zero_shot]\n"
        f"methods: {methods}\n"
        "multitask:\n"
        f"  temperature: {temperature}\n"
        "  tasks:\n"
        "    - name: size\n"
        "      data: {path: size.jsonl, format: prompt_completion, max_length: 64}\n"
        f"      task: {{type: generation, metric: exact_match, instruction: {SIZE_INSTRUCTION}}}\n"
        f"train: {train}\n"
        f"lora: {lora}\n"
        "eval: {bootstrap_samples: 200, max_new_tokens: 4}\n"
        f"{extra}"
        f"output_dir: {folder / 'runs'}\n"
    )
    return path


def write_word_labels(path: Path, n: int = 90, seed: int = 0) -> Path:
    """A JSONL classification file of `n` records {"id", "text", "label"} cycling through WORD_LABELS."""
    rng = random.Random(seed)
    words = sorted(WORD_LABELS)
    with open(path, "w") as f:
        for i in range(n):
            word = words[i % len(words)]
            record = {"id": f"x{i}", "text": f"{word} {rng.randint(0, 999)}", "label": WORD_LABELS[word]}
            f.write(json.dumps(record) + "\n")
    return path


def write_tiny_run_config(folder: Path, model_dir: Path, train: str, lora: str = "{r: 4, alpha: 8}",
                          forgetting_items: int = 8, examples: int = 90, methods: str | None = None,
                          eval: str = "{bootstrap_samples: 100}") -> Path:
    """tunewise.yaml for a quick ladder on the tiny model: `examples` word labels, zero_shot and `methods` (a YAML
    list; the default plan when None) with `train` and `lora` settings and `eval` (YAML flow mappings), few forgetting
    questions; runs go to folder/runs."""
    write_word_labels(folder / "data.jsonl", n=examples)
    path = folder / "tunewise.yaml"
    path.write_text(
        "task: {type: classification}\n"
        "data: {path: data.jsonl, max_length: 64}\n"
        f"model: {{name: {model_dir}}}\n"
        "rungs: [zero_shot]\n"
        + (f"methods: {methods}\n" if methods else "")
        + f"train: {train}\n"
        f"lora: {lora}\n"
        f"eval: {eval}\n"
        f"forgetting: {{max_items: {forgetting_items}}}\n"
        f"output_dir: {folder / 'runs'}\n"
    )
    return path
