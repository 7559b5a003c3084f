"""`tunewise export --format gguf`: the files read back with transformers as the merged model, and llama.cpp itself
(llama-cpp-python, in the dev extra) loads them and answers the check prompts' token ids as the merged model does; a
file llama.cpp refuses fails the export; without llama-cpp-python the export says so. The tokenizer keys come from
the base GGUF file when the base is one (the bundled SmolLM2, e2e)."""
from __future__ import annotations

import json

import gguf
import llama_cpp
import pytest
import torch
from conftest import (
    build_tiny_llama,
    build_tiny_tokenizer,
    save_tiny_model,
    write_tiny_run_config,
)
from tokenizers import pre_tokenizers
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    LlamaConfig,
    LlamaForCausalLM,
)

from tunewise import api
from tunewise.config import load_config
from tunewise.export import ExportError, export, gguf_check
from tunewise.export.gguf import (
    BASE_METADATA,
    FALLBACK,
    GGUFVocab,
    gguf_vocab,
    write_gguf,
)


@pytest.fixture(scope="module")
def finished(tmp_path_factory, tiny_tokenizer):
    """A finished tiny run with a trained LoRA rung (the tiny ChatML tokenizer: byte-level BPE, GPT-2 split)."""
    folder = tmp_path_factory.mktemp("gguf-llama-cpp")
    model_dir = save_tiny_model(folder / "tiny-model", tiny_tokenizer)
    path = write_tiny_run_config(folder, model_dir, "{lr: 5.0e-3, max_steps: 12, batch_size: 8, precision: fp32}",
                                 methods="[lora]", forgetting_items=4)
    return api.run(load_config(path), log=lambda m: None), model_dir


def llama_cpp_greedy(llm, prompt: list[int], new_tokens: int) -> list[int]:
    """llama.cpp's greedy answer to token ids, one argmax at a time (written here, not taken from gguf_check)."""
    llm.reset()
    llm.eval(prompt)
    answer = []
    for _ in range(new_tokens):
        answer.append(int(llm.scores[llm.n_tokens - 1].argmax()))
        llm.eval(answer[-1:])
    return answer


@torch.inference_mode()
def transformers_greedy(model, prompt: list[int], new_tokens: int) -> list[int]:
    """The transformers model's greedy answer, one full forward and argmax per token (no stop at eos)."""
    ids = list(prompt)
    for _ in range(new_tokens):
        ids.append(int(model(input_ids=torch.tensor([ids])).logits[0, -1].argmax()))
    return ids[len(prompt):]


def test_gguf_export_reads_back_as_the_merged_model(finished, tmp_path):
    result, model_dir = finished
    out = export(result.run_dir, "gguf", tmp_path / "gguf", rung="lora")
    checks = json.loads((out / "gguf_check.json").read_text())
    assert set(checks) == {"f16", "q8_0"} and checks["q8_0"]["bytes"] < checks["f16"]["bytes"]
    assert checks["f16"]["greedy_equal"] == checks["f16"]["prompts"]
    assert checks["f16"]["max_logit_difference"] < 0.01 * checks["f16"]["largest_logit"]
    tokenizer = AutoTokenizer.from_pretrained(out, gguf_file="model-f16.gguf")
    assert tokenizer.chat_template and tokenizer("the cat is red")["input_ids"] == \
        AutoTokenizer.from_pretrained(model_dir)("the cat is red")["input_ids"]
    merged = export(result.run_dir, "merged", tmp_path / "merged", rung="lora", dtype="fp32")
    ids = torch.tensor([[1, 40, 41, 42, 7, 8, 100]])
    with torch.no_grad():
        a = AutoModelForCausalLM.from_pretrained(merged)(input_ids=ids).logits
        b = AutoModelForCausalLM.from_pretrained(out, gguf_file="model-f16.gguf", dtype=torch.float32)(
            input_ids=ids).logits
    assert (a - b).abs().max() < 0.01 * a.abs().max()



def test_llama_cpp_loads_the_export_and_answers_as_the_merged_model(finished, tmp_path):
    out = export(finished[0].run_dir, "gguf", tmp_path / "gguf", rung="lora")
    checks = json.loads((out / "gguf_check.json").read_text())
    for outtype in ("f16", "q8_0"):
        check = checks[outtype]["llama_cpp"]
        assert check["loaded"] and check["greedy_equal"] >= check["prompts"] - (outtype != "f16")
        assert check["tokenization_equal"] == check["texts"]  # 'gpt-2' splits text as the tokenizer does
        assert checks[outtype]["tokenizer_pre"]["value"] == "gpt-2"
        assert checks[outtype]["tokenizer_pre"]["source"] == FALLBACK  # the base is an HF folder
    assert checks["f16"]["llama_cpp"]["max_logit_difference"] < 0.01 * checks["f16"]["llama_cpp"]["largest_logit"]
    # Independently of gguf_check: llama.cpp's greedy tokens equal the merged model's.
    merged = AutoModelForCausalLM.from_pretrained(
        export(finished[0].run_dir, "merged", tmp_path / "merged", rung="lora", dtype="fp32")).eval()
    llm = llama_cpp.Llama(model_path=str(out / "model-f16.gguf"), n_ctx=64, n_threads=2, logits_all=True,
                          verbose=False)
    try:
        for prompt in ([1, 40, 41, 42, 7, 8, 100], [1, 300, 12, 250, 2, 1, 77]):
            assert llama_cpp_greedy(llm, prompt, 8) == transformers_greedy(merged, prompt, 8)
    finally:
        llm.close()


def test_a_file_llama_cpp_refuses_fails_the_export(finished, tmp_path, monkeypatch):

    def unknown_pre(tokenizer, vocab_size, base_gguf=None):  # what the writer used to write: llama.cpp says no
        vocab = gguf_vocab(tokenizer, vocab_size, base_gguf)
        fields = {**vocab.fields, "tokenizer.ggml.pre": gguf.GGUFValue("gpt2", gguf.GGUFValueType.STRING)}
        return GGUFVocab(fields, vocab.source, vocab.detail)

    monkeypatch.setattr(gguf_check, "gguf_vocab", unknown_pre)
    with pytest.raises(ExportError, match=r"model-f16.gguf: llama.cpp cannot load it \(.*unknown pre-tokenizer "
                                          r"type: 'gpt2'.*nothing was kept"):
        export(finished[0].run_dir, "gguf", tmp_path / "gguf", rung="lora", gguf_types=["f16"])
    assert not (tmp_path / "gguf").exists()


def test_without_llama_cpp_the_export_works_and_says_so(finished, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(gguf_check, "llama_cpp_module", lambda: None)
    out = export(finished[0].run_dir, "gguf", tmp_path / "gguf", rung="lora", gguf_types=["f16"])
    check = json.loads((out / "gguf_check.json").read_text())["f16"]
    assert check["llama_cpp"].startswith("not installed (pip install llama-cpp-python==0.3.36")
    assert check["greedy_equal"] == check["prompts"]  # the transformers read-back still ran
    said = [line for line in capsys.readouterr().err.splitlines() if "llama-cpp-python is not installed" in line]
    assert len(said) == 1 and "transformers only" in said[0]


def test_digits_then_gpt2_split_is_named_smollm_for_llama_cpp():
    tokenizer = build_tiny_tokenizer()
    tokenizer.backend_tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False)])
    vocab = gguf_vocab(tokenizer, len(tokenizer))
    assert (vocab.pre, vocab.source) == ("smollm", FALLBACK) and "digits one by one" in vocab.detail


@pytest.fixture(scope="module")
def bundled_vocab_file(tmp_path_factory):
    """(file, tokenizer, model, base file): the bundled SmolLM2 tokenizer on a tiny random llama of its vocabulary
    (49,152 tokens, hidden 64), written as f16 with the tokenizer keys taken from the bundled GGUF."""
    from tunewise.models.load import load_tokenizer
    from tunewise.models.resolve import bundled_smollm2_path

    base, tokenizer = bundled_smollm2_path(), load_tokenizer("smollm2")
    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(vocab_size=49152, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                                         tie_word_embeddings=True, bos_token_id=1, eos_token_id=2)).eval()
    path = tmp_path_factory.mktemp("bundled-vocab") / "model-f16.gguf"
    write_gguf(model, tokenizer, path, "f16", vocab=gguf_vocab(tokenizer, 49152, base))
    return path, tokenizer, model, base


@pytest.mark.e2e
def test_tokenizer_keys_come_from_the_bundled_base_gguf(bundled_vocab_file):
    path, tokenizer, _, base = bundled_vocab_file
    assert gguf_vocab(tokenizer, 49152, base).source == BASE_METADATA
    written, original = gguf.GGUFReader(str(path)).fields, gguf.GGUFReader(str(base)).fields
    assert written["tokenizer.ggml.pre"].contents() == original["tokenizer.ggml.pre"].contents() == "smollm"
    for key in ("tokenizer.ggml.token_type", "tokenizer.ggml.eos_token_id", "tokenizer.ggml.add_bos_token"):
        assert written[key].contents() == original[key].contents(), key


@pytest.mark.e2e
def test_llama_cpp_splits_text_and_answers_as_the_model_with_the_bundled_tokenizer(bundled_vocab_file):
    path, tokenizer, model, _ = bundled_vocab_file
    text = "Order 12345 arrived broken, didn't it?"
    prompt = tokenizer.encode(f"<|im_start|>user\n{text}<|im_end|>\n<|im_start|>assistant\n", add_special_tokens=False)
    llm = llama_cpp.Llama(model_path=str(path), n_ctx=64, n_threads=2, logits_all=True, verbose=False)
    try:
        assert llm.tokenize(text.encode(), add_bos=False, special=True) == \
            tokenizer.encode(text, add_special_tokens=False)
        assert llama_cpp_greedy(llm, prompt, 6) == transformers_greedy(model, prompt, 6)
    finally:
        llm.close()


def test_default_vocab_builds_from_the_tokenizer_alone(tmp_path):
    tokenizer = build_tiny_tokenizer()
    path = write_gguf(build_tiny_llama(len(tokenizer)), tokenizer, tmp_path / "m.gguf", "f16")
    fields = gguf.GGUFReader(str(path)).fields
    assert fields["tokenizer.ggml.pre"].contents() == "gpt-2"
    assert fields["tokenizer.ggml.token_type"].contents()[:4] == [3, 3, 3, 1]  # ChatML specials are CONTROL
    assert fields["tokenizer.ggml.add_bos_token"].contents() is False
