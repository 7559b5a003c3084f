"""`--format gguf`: the merged model written as one GGUF file per type (by export.gguf), each read back with
transformers and loaded with llama.cpp (llama-cpp-python, when installed), both compared with the merged model
(logits, greedy answers on the same token ids); gguf_check.json keeps the numbers.
"""
from __future__ import annotations

import ctypes
import json
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from transformers import AutoModelForCausalLM

from tunewise.config import load_config
from tunewise.export.gguf import GGUFVocab, gguf_vocab, write_gguf
from tunewise.export.merged import CHECK_PROMPTS, check_prompts, logits, merged_model
from tunewise.export.source import ExportError
from tunewise.models.chat_template import prompt_text
from tunewise.models.load import from_local
from tunewise.models.resolve import resolve_model
from tunewise.progress import note

# A GGUF file read back may differ from the model by this share of its largest logit: f16 rounding, or q8_0's
# 8-bit blocks (SmolLM2's merged demo LoRA: f16 1e-4 of 34, q8_0 1.2 of 34, greedy answers equal on all prompts).
GGUF_TOLERANCE = {"f16": 0.01, "q8_0": 0.1}
NEW_TOKENS = 12  # greedy answer length compared on every prompt
LLAMA_CPP_THREADS = 2
LLAMA_CPP_INSTALL = "pip install llama-cpp-python==0.3.36 (builds from source, ~6 min)"
# Text llama.cpp must split into the tokenizer's ids, besides the check prompts through the chat template: digits,
# punctuation and runs of spaces are where pre-tokenizers differ.
_TOKENIZATION_SAMPLE = "Order 12345 costs $67.89, doesn't it?\n\n  Thanks :)"


def save_gguf(run_dir: Path, source: Path, out: Path, types: list[str], name: str) -> None:
    """One GGUF file per type, each read back with transformers and loaded with llama.cpp, compared with the
    merged model; ExportError when a file differs or llama.cpp cannot load it."""
    model, tokenizer = merged_model(run_dir, source)
    out.mkdir(parents=True, exist_ok=True)
    prompts = check_prompts(tokenizer)
    expected = logits(model, prompts)
    greedy = [_greedy(model, p) for p in prompts]
    vocab = gguf_vocab(tokenizer, model.config.vocab_size, base_gguf(run_dir))
    llama_cpp = llama_cpp_module()
    if llama_cpp is None:
        note(f"llama-cpp-python is not installed: the GGUF files are checked with transformers only, not with "
             f"llama.cpp ({LLAMA_CPP_INSTALL})")
    checks = {}
    for outtype in types:
        path = write_gguf(model, tokenizer, out / f"model-{outtype}.gguf", outtype, name, vocab)
        checks[outtype] = {**_transformers_check(path, outtype, prompts, expected, greedy),
                           "bytes": path.stat().st_size, "tokenizer_pre": _pre_record(vocab),
                           "llama_cpp": (f"not installed ({LLAMA_CPP_INSTALL})" if llama_cpp is None else
                                         _llama_cpp_check(llama_cpp, path, outtype, tokenizer, prompts, expected,
                                                          greedy))}
    (out / "gguf_check.json").write_text(json.dumps(checks, indent=2) + "\n", encoding="utf-8")


def base_gguf(run_dir: Path) -> Path | None:
    """The run's base model file when the base is a GGUF file ('smollm2' or a .gguf path), else None."""
    return resolve_model(load_config(run_dir / "config.yaml").model.name).file


def llama_cpp_module():
    """The llama_cpp module (llama-cpp-python), or None when it is not installed."""
    try:
        import llama_cpp
    except ModuleNotFoundError:
        return None
    return llama_cpp


def _pre_record(vocab: GGUFVocab) -> dict:
    """gguf_check.json's account of the pre-tokenizer name: its value and where it came from."""
    return {"value": vocab.pre, "source": vocab.source, "detail": vocab.detail}


def _transformers_check(path: Path, outtype: str, prompts, expected, greedy) -> dict:
    """The file read back with transformers: its largest logit difference and equal greedy answers."""
    back = from_local(AutoModelForCausalLM, path.parent, gguf_file=path.name, dtype=torch.float32).eval()
    scale = max(float(e.abs().max()) for e in expected)
    gap = max(float((e - b).abs().max()) for e, b in zip(expected, logits(back, prompts)))
    same = sum(_greedy(back, p) == g for p, g in zip(prompts, greedy))
    _check_close(path, "read back with transformers", outtype, gap, scale, same, len(prompts))
    return {"max_logit_difference": gap, "largest_logit": scale, "greedy_equal": same, "prompts": len(prompts)}


def _check_close(path: Path, how: str, outtype: str, gap: float, scale: float, same: int, prompts: int) -> None:
    """ExportError when logits differ by more than the type's tolerance, or greedy answers differ (f16: on any
    prompt; q8_0: on more than one)."""
    limit = GGUF_TOLERANCE[outtype]
    if gap > limit * scale or same < prompts - (outtype != "f16"):
        raise ExportError(f"{path}: {how}, it differs from the model (logits by up to {gap:.3g}, over "
                          f"{limit:.0%} of the largest {scale:.3g}; greedy answers equal on {same} of "
                          f"{prompts} prompts); nothing was kept")


def _llama_cpp_check(llama_cpp, path: Path, outtype: str, tokenizer, prompts, expected, greedy) -> dict:
    """The file loaded with llama.cpp: fed the same token ids, its logits and greedy answers against the merged
    model's; also whether it splits text into the tokenizer's ids. ExportError when it cannot load the file."""
    llm = _load_llama_cpp(llama_cpp, path, max(map(len, prompts)) + NEW_TOKENS)
    try:
        runs = [_llama_cpp_greedy(llm, p, len(g)) for p, g in zip(prompts, greedy)]
        texts = _tokenization_texts(tokenizer)
        tokenized = sum(llm.tokenize(t.encode("utf-8"), add_bos=False, special=True)
                        == tokenizer.encode(t, add_special_tokens=False) for t in texts)
    finally:
        llm.close()
    scale = max(float(e.abs().max()) for e in expected)
    gap = max(float(np.abs(scores - e.numpy()).max()) for (scores, _), e in zip(runs, expected))
    same = sum(answer == g for (_, answer), g in zip(runs, greedy))
    _check_close(path, "loaded with llama.cpp", outtype, gap, scale, same, len(prompts))
    if tokenized < len(texts):
        note(f"{path.name}: llama.cpp splits {len(texts) - tokenized} of {len(texts)} sample texts into other "
             "tokens than the model's tokenizer does (gguf_check.json: tokenizer_pre); text prompts may do worse there")
    return {"loaded": True, "max_logit_difference": gap, "largest_logit": scale, "greedy_equal": same,
            "prompts": len(prompts), "tokenization_equal": tokenized, "texts": len(texts)}


def _load_llama_cpp(llama_cpp, path: Path, n_ctx: int):
    """A llama.cpp model on `path` with all-position logits; ExportError with llama.cpp's own reason if refused."""
    with _llama_cpp_errors(llama_cpp) as errors:
        try:
            return llama_cpp.Llama(model_path=str(path), n_ctx=n_ctx, n_threads=LLAMA_CPP_THREADS,
                                   n_threads_batch=LLAMA_CPP_THREADS, logits_all=True, verbose=False)
        except ValueError as err:
            reason = " ".join(line.strip() for line in errors if line.strip()) or str(err)
            raise ExportError(f"{path}: llama.cpp cannot load it ({reason}); nothing was kept") from None


@contextmanager
def _llama_cpp_errors(llama_cpp):
    """Collect llama.cpp's error log lines (verbose=False hides them) while the block runs."""
    errors: list[str] = []
    # ggml's GGML_LOG_LEVEL_ERROR and _CONT (continues the previous line); llama-cpp-python's own table is older
    error_level, continued = 4, 5
    last = 0

    @llama_cpp.llama_log_callback
    def collect(level, text, user_data):
        nonlocal last
        last = last if level == continued else level
        if last == error_level:
            errors.append(text.decode("utf-8", "replace"))

    llama_cpp.llama_log_set(collect, ctypes.c_void_p(0))
    try:
        yield errors
    finally:  # back to llama-cpp-python's own logger (it prints to stderr by its verbosity)
        from llama_cpp._logger import llama_log_callback

        llama_cpp.llama_log_set(llama_log_callback, ctypes.c_void_p(0))


def _llama_cpp_greedy(llm, prompt: list[int], new_tokens: int) -> tuple[np.ndarray, list[int]]:
    """(llama.cpp's logits on the prompt, (T, vocab); its greedy answer of `new_tokens` tokens)."""
    llm.reset()
    llm.eval(prompt)
    scores = np.array(llm.scores[: len(prompt)], dtype=np.float32)
    answer: list[int] = []
    while len(answer) < new_tokens:
        if answer:
            llm.eval(answer[-1:])
        answer.append(int(np.argmax(llm.scores[llm.n_tokens - 1])))
    return scores, answer


def _tokenization_texts(tokenizer) -> list[str]:
    """Texts llama.cpp must split into the tokenizer's ids: the check prompts through the chat template (special
    tokens included) and a sample with digits, punctuation and spaces."""
    return [prompt_text(tokenizer, [{"role": "user", "content": t}]) for t in CHECK_PROMPTS] + [_TOKENIZATION_SAMPLE]


@torch.inference_mode()
def _greedy(model, prompt: list[int], new_tokens: int = NEW_TOKENS) -> list[int]:
    ids = torch.tensor([prompt])
    return model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=new_tokens,
                          do_sample=False)[0, len(prompt):].tolist()
