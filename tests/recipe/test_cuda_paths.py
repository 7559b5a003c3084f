"""tunewise on a CUDA GPU, on a tiny random llama: the LoRA rung trains in bf16, QLoRA trains on a real 4-bit NF4
base and its adapter reloads (and serves on the plain base), and the code that branches on CUDA takes its GPU side.

Skipped without CUDA (CI and the CPU development machine); run on a GPU machine with
`pytest tests/recipe/test_cuda_paths.py`.
"""
import pytest
import torch
from peft import PeftModel
from safetensors.torch import load_file

from tunewise.config import config_from_dict
from tunewise.ladder.plan import method_rungs
from tunewise.methods import lora, qlora
from tunewise.methods.lora import LoraConfig
from tunewise.models.adapted import PEFT_CONFIG, PEFT_WEIGHTS
from tunewise.models.load import load_causal_lm
from tunewise.records import Example
from tunewise.sections import TrainConfig
from tunewise.task import Task, default_instruction
from tunewise.train.batching import IGNORE_INDEX, Encoded
from tunewise.train.loop import attention_for, train

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

LABELS = ["colour", "animal", "tree"]
WORDS = {"red": "colour", "blue": "colour", "cat": "animal", "dog": "animal", "oak": "tree", "elm": "tree"}
IDS = [[1, 5, 9, 12, 7, 2]]  # one short row for logit comparisons


def _examples(n: int, offset: int = 0) -> list[Example]:
    words = sorted(WORDS)
    return [Example(id=f"x{i}", messages=({"role": "user", "content": f"{words[i % 6]} {i}"},),
                    answer=WORDS[words[i % 6]], label=WORDS[words[i % 6]]) for i in range(offset, offset + n)]


def _rung(name: str, model_dir):
    # lr, epochs and max_steps set here: the tests must not depend on train's defaults.
    config = config_from_dict({
        "task": {"type": "classification"},
        "data": {"path": "unused.jsonl", "max_length": 64},
        "model": {"name": str(model_dir)},
        "train": {"max_steps": 12, "epochs": 1, "lr": 1e-2, "batch_size": 8, "eval_every": 6, "log_every": 6,
                  "patience": None, "precision": "bf16", "warmup_ratio": 0.0},
        "lora": {"r": 4, "alpha": 8},
    })
    (rung,) = method_rungs(name, config, Task("classification", LABELS, "accuracy", default_instruction(LABELS)))
    return rung


def _learned(info) -> tuple[float, list[float]]:
    curve = info.training["curve"]
    first_train = next(p["loss"] for p in curve if p.get("loss") is not None)
    return first_train, [p["val_loss"] for p in curve if p.get("val_loss") is not None]


def _logits(model) -> torch.Tensor:
    device = next(model.parameters()).device
    with torch.no_grad():
        return model(input_ids=torch.tensor(IDS, device=device)).logits.float()


def _adapter_tensors(model) -> dict[str, torch.Tensor]:
    """The LoRA weights of a PeftModel, named as in adapter_model.safetensors, on the CPU."""
    return {n.replace(".default", ""): p.detach().cpu() for n, p in model.named_parameters() if "lora_" in n}


def test_lora_rung_trains_in_bf16_on_the_gpu(tiny_model_dir, tmp_path):
    rung = _rung("lora", tiny_model_dir)
    info = rung.fit(_examples(96), _examples(16, offset=96), tmp_path / "lora")

    first_train, val = _learned(info)
    assert min(val) < first_train, (first_train, val)
    assert {p.device.type for p in rung.model.parameters()} == {"cuda"}
    predictions = rung.predict(_examples(6, offset=200))
    assert [p.output in LABELS for p in predictions] == [True] * 6

    saved = load_file(str(info.artifact_dir / PEFT_WEIGHTS))
    trained = _adapter_tensors(rung.model)
    assert saved.keys() == trained.keys() and all(torch.equal(saved[k], trained[k]) for k in saved)


def test_qlora_trains_on_a_4bit_nf4_base_and_its_adapter_reloads(tiny_model_dir, tmp_path):
    bnb = pytest.importorskip("bitsandbytes", reason="QLoRA needs bitsandbytes")
    rung = _rung("qlora", tiny_model_dir)
    assert rung.skip_reason is None  # CUDA and bitsandbytes are here: the rung runs

    info = rung.fit(_examples(96), _examples(16, offset=96), tmp_path / "qlora")

    first_train, val = _learned(info)
    assert min(val) < first_train, (first_train, val)
    quantized = [m for m in rung.model.modules() if isinstance(m, bnb.nn.Linear4bit)]
    assert len(quantized) == 2 * 7  # the seven projections of both layers are 4-bit
    assert {m.weight.quant_type for m in quantized} == {"nf4"}
    assert {p.device.type for p in rung.model.parameters()} == {"cuda"}
    # The report's sizes count the 4-bit weights unpacked, as the model's parameters (not bytes).
    assert rung.base_params == load_causal_lm(str(tiny_model_dir))[0].num_parameters()
    assert rung.parameters()[1] > rung.base_params
    predictions = rung.predict(_examples(6, offset=200))
    assert [p.output in LABELS for p in predictions] == [True] * 6

    directory = info.artifact_dir
    assert {PEFT_CONFIG, PEFT_WEIGHTS} <= {p.name for p in directory.iterdir()}
    base, _ = load_causal_lm(str(tiny_model_dir), dtype=torch.bfloat16,
                             quantization_config=qlora.quantization_config(rung.config.qlora))
    plain = _logits(base)
    reloaded = PeftModel.from_pretrained(base, str(directory)).eval().to(torch.bfloat16)
    saved, trained = _adapter_tensors(reloaded), _adapter_tensors(rung.model)
    assert saved.keys() == trained.keys() and all(torch.equal(saved[k], trained[k]) for k in saved)
    got, expected = _logits(reloaded), _logits(rung.model)
    torch.testing.assert_close(got, expected, atol=1e-3, rtol=1e-3)
    assert not torch.allclose(plain, expected, atol=1e-3)  # the adapter really changed the outputs


def test_a_qlora_adapter_serves_on_the_plain_bf16_base_on_the_gpu(tiny_model_dir, tmp_path):
    pytest.importorskip("bitsandbytes", reason="QLoRA needs bitsandbytes")
    from tunewise.serve.adapters import AdapterPool

    rung = _rung("qlora", tiny_model_dir)
    info = rung.fit(_examples(48), _examples(8, offset=48), tmp_path / "qlora")

    pool = AdapterPool(str(tiny_model_dir), [], torch.bfloat16, log=lambda message: None)
    assert pool.device.type == "cuda"
    base = _logits(pool.model)
    pool.add("q", info.artifact_dir)  # the base record ignores how the training base was quantised
    with pool.active(["q"]) as (model, kwargs):
        assert kwargs == {}
        adapted = _logits(model)
    assert torch.isfinite(adapted).all() and not torch.allclose(base, adapted, atol=1e-3)


def test_training_attention_is_sdpa_for_gpu_batches():
    wide = torch.zeros(2, 512, dtype=torch.long)
    short = torch.zeros(2, 16, dtype=torch.long)
    assert attention_for({"input_ids": short.cuda()}, "auto") == "sdpa"
    assert attention_for({"input_ids": wide.cuda()}, "auto") == "sdpa"
    assert attention_for({"input_ids": short}, "auto") == "eager"  # the CPU rule is unchanged
    assert attention_for({"input_ids": short.cuda()}, "eager") == "eager"


def _data(n: int) -> list[Encoded]:
    g = torch.Generator().manual_seed(0)
    rows = []
    for _ in range(n):
        prompt = torch.randint(3, 96, (int(torch.randint(6, 16, (1,), generator=g)),), generator=g).tolist()
        answer = [3 + prompt[0] % 4, 2]
        rows.append(Encoded(prompt + answer, [IGNORE_INDEX] * len(prompt) + answer))
    return rows


def _dropout_lora(model_dir):
    """A fresh LoRA model on the tiny base in bf16, as the rungs load it; its dropout draws from the CUDA generator."""
    model, _ = load_causal_lm(str(model_dir), dtype=torch.bfloat16)
    torch.manual_seed(0)  # the same adapter initialisation each time
    return lora.apply(model, LoraConfig(r=4, alpha=8, dropout=0.1))


class _Stop(Exception):
    pass


def test_resume_on_the_gpu_equals_an_uninterrupted_run(tiny_model_dir, tmp_path):
    # Eager attention: SDPA's backward on CUDA may sum in a different order from run to run.
    cfg = TrainConfig(lr=1e-2, epochs=1, max_steps=12, batch_size=8, eval_every=4, log_every=4, patience=None,
                      warmup_ratio=0.0, precision="bf16", attention="eager", checkpoint_every=6, seed=0)
    data = _data(48)

    whole = _dropout_lora(tiny_model_dir)
    train(whole, data, data[:8], cfg, tmp_path / "whole", pad_id=2)

    def stop_at_8(step, val_loss):
        if step == 8:
            raise _Stop  # after the state saved at step 6
    with pytest.raises(_Stop):
        train(_dropout_lora(tiny_model_dir), data, data[:8], cfg, tmp_path / "cut", pad_id=2, on_eval=stop_at_8)
    torch.rand(1000, device="cuda")  # move the CUDA generator on: the resumed run must restore it
    resumed = _dropout_lora(tiny_model_dir)
    train(resumed, data, data[:8], cfg, tmp_path / "cut", pad_id=2, resume=True)

    a, b = _adapter_tensors(whole), _adapter_tensors(resumed)
    assert a.keys() == b.keys()
    assert [k for k in a if not torch.equal(a[k], b[k])] == []
