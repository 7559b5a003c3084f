"""`tunewise export` on a finished tiny run: the adapter with its model card opens in PEFT; merged weights give the
adapter model's logits and reload exactly; weights of a rung that has none, unmergeable adapters and existing
folders are refused. (Every kind as a package, served and predicted: test_export_kinds.py; GGUF and llama.cpp:
test_export_gguf.py.)"""
from __future__ import annotations

import pytest
import torch
from conftest import save_tiny_model, write_tiny_run_config
from peft import PeftModel
from transformers import AutoModelForCausalLM

from tunewise import api
from tunewise.cli import main
from tunewise.config import load_config
from tunewise.export import ExportError, export


@pytest.fixture(scope="module")
def finished(tmp_path_factory, tiny_tokenizer):
    folder = tmp_path_factory.mktemp("export")
    model_dir = save_tiny_model(folder / "tiny-model", tiny_tokenizer)
    path = write_tiny_run_config(folder, model_dir, "{lr: 5.0e-3, max_steps: 12, batch_size: 8, precision: fp32}")
    config = load_config(path).model_copy(update={"methods": ["lora", "prompt_tuning"]})
    return api.run(config, log=lambda m: None), model_dir


def test_adapter_export_opens_in_peft_with_a_model_card(finished, tmp_path):
    result, model_dir = finished
    out = export(result.run_dir, "adapter", tmp_path / "adapter", rung="lora")
    card = (out / "README.md").read_text()
    accuracy = next(r for r in result.report["rungs"] if r["name"] == "lora")["metrics"]["accuracy"]
    assert f"| accuracy | {accuracy['value']:.3f} [{accuracy['ci_low']:.3f}, {accuracy['ci_high']:.3f}] |" in card
    assert "PeftModel.from_pretrained" in card and (out / "tunewise_base.json").is_file()
    PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(model_dir), out)


def test_merged_export_gives_the_adapter_models_logits(finished, tmp_path):
    result, model_dir = finished
    out = tmp_path / "merged"
    assert main(["export", str(result.run_dir), "--rung", "lora", "--format", "merged", "--out", str(out),
                 "--dtype", "fp32"]) == 0
    merged = AutoModelForCausalLM.from_pretrained(out)
    adapted = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(model_dir),
                                        result.run_dir / "rungs" / "lora" / "adapter").float()
    ids = torch.tensor([[1, 40, 41, 42, 7, 8, 100]])
    with torch.no_grad():
        gap = (merged(input_ids=ids).logits - adapted(input_ids=ids).logits).abs().max()
    assert gap < 1e-3
    with torch.no_grad():  # the adapter changed the model: the merge is not just the base
        base_gap = (AutoModelForCausalLM.from_pretrained(model_dir)(input_ids=ids).logits
                    - merged(input_ids=ids).logits).abs().max()
    assert base_gap > 1e-3
    assert "chat_template" in (out / "tokenizer_config.json").read_text() or (out / "chat_template.jinja").is_file()
    assert "AutoModelForCausalLM.from_pretrained('THIS_FOLDER')" in (out / "README.md").read_text()


def test_what_cannot_be_exported_is_refused(finished, tmp_path):
    result, _ = finished
    with pytest.raises(ExportError, match="zero_shot: a prompting rung saves no weights.*--format package ships it"):
        export(result.run_dir, "adapter", tmp_path / "a", rung="zero_shot")
    with pytest.raises(ExportError, match="--rung nope: no such rung.*rungs that ran: zero_shot, lora, prompt_tuning"):
        export(result.run_dir, "package", tmp_path / "a", rung="nope")
    with pytest.raises(ExportError, match="PROMPT_TUNING adapter does not fold into the base"):
        export(result.run_dir, "merged", tmp_path / "b", rung="prompt_tuning")
    assert not (tmp_path / "b").exists()  # a failed export leaves nothing
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "mine.txt").write_text("keep me")
    assert main(["export", str(result.run_dir), "--rung", "lora", "--format", "adapter",
                 "--out", str(tmp_path / "taken")]) == 2
    assert (tmp_path / "taken" / "mine.txt").read_text() == "keep me"
