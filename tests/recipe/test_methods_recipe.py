"""Every causal-LM fine-tuning method as a rung on a tiny random llama: it learns, touches only its own weights,
and what it saves loads back to the same logits."""
import pytest
import torch
from peft import PeftModel
from transformers import AutoModelForCausalLM

from tunewise.config import config_from_dict
from tunewise.ladder.plan import method_rungs
from tunewise.methods import bottleneck, freeze, qlora
from tunewise.methods.tuned import TunedRung
from tunewise.records import Example
from tunewise.task import Task, default_instruction

LABELS = ["colour", "animal", "tree"]
WORDS = {"red": "colour", "blue": "colour", "cat": "animal", "dog": "animal", "oak": "tree", "elm": "tree"}

# method -> what its trainable parameter names contain (every other parameter must stay frozen)
TRAINABLE = {
    "lora_attention": ("lora_",),
    "rslora": ("lora_",),
    "dora": ("lora_",),
    "ia3": ("ia3_l",),
    "prompt_tuning": ("prompt_encoder",),
    "prefix_tuning": ("prompt_encoder",),
    "p_tuning": ("prompt_encoder",),
    "bottleneck": ("bottleneck",),
    "freeze": ("lm_head", "layers.1.", "model.norm"),
    "full": ("",),
}


def _examples(n: int, offset: int = 0) -> list[Example]:
    words = sorted(WORDS)
    out = []
    for i in range(offset, offset + n):
        word = words[i % len(words)]
        out.append(Example(id=f"x{i}", messages=({"role": "user", "content": f"{word} {i}"},),
                           answer=WORDS[word], label=WORDS[word]))
    return out


def _rung(name: str, model_dir, lr_scale: float = 1.0) -> TunedRung:
    config = config_from_dict({
        "task": {"type": "classification"},
        "data": {"path": "unused.jsonl", "max_length": 64},
        "model": {"name": str(model_dir)},
        "train": {"max_steps": 12, "batch_size": 8, "eval_every": 6, "patience": None, "precision": "fp32",
                  "warmup_ratio": 0.0, "log_every": 6, "lr": 1e-2},
        "lora": {"r": 4, "alpha": 8},
        "full": {"lr": 1e-3}, "freeze": {"trainable_layers": 1, "lr": 1e-3},
        "prompt_learning": {"num_virtual_tokens": 4, "lr": 3e-2}, "ia3": {"lr": 3e-2},
        "bottleneck": {"size": 8, "lr": 1e-2},
    })
    task = Task("classification", LABELS, "accuracy", default_instruction(LABELS))
    (rung,) = method_rungs(name, config, task)
    assert isinstance(rung, TunedRung)
    return rung


def _base_name(name: str, base: dict) -> str | None:
    """The base model's name for a parameter of the adapted model (PEFT prefixes it), or None for new ones."""
    name = name.replace(".base_layer", "")
    for prefix in ("base_model.model.", "base_model.", ""):
        if name.startswith(prefix) and name[len(prefix):] in base:
            return name[len(prefix):]
    return None


def _load_saved(name: str, model_dir, artifact):
    if name == "full":
        return AutoModelForCausalLM.from_pretrained(artifact)
    base = AutoModelForCausalLM.from_pretrained(model_dir)
    if name == "freeze":
        return freeze.load(base, artifact)
    if name == "bottleneck":
        return bottleneck.load(base, artifact)
    return PeftModel.from_pretrained(base, artifact)


@pytest.mark.parametrize("name", sorted(TRAINABLE))
def test_method_learns_only_its_weights_and_reloads(name, tiny_model_dir, tmp_path):
    rung = _rung(name, tiny_model_dir)
    info = rung.fit(_examples(96), _examples(16, offset=96), tmp_path / name)

    curve = info.training["curve"]
    val = [p["val_loss"] for p in curve if p.get("val_loss") is not None]
    first_train = next(p["loss"] for p in curve if p.get("loss") is not None)
    assert min(val) < first_train, (name, first_train, val)  # it learned: validation ends below the start

    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir).state_dict()
    marks, compared = TRAINABLE[name], 0
    for param_name, param in rung.model.named_parameters():
        intended = any(mark in param_name for mark in marks)
        assert param.requires_grad == intended, param_name
        short = _base_name(param_name, base)
        if not intended and short is not None:
            assert torch.equal(param.detach().float().cpu(), base[short].float()), f"{param_name} moved"
            compared += 1
    assert compared > 0 or name == "full"  # every frozen base weight was compared
    trainable, total = rung.parameters()
    assert 0 < trainable <= total

    device = next(rung.model.parameters()).device  # the GPU where there is one: compare on the same device
    saved = _load_saved(name, tiny_model_dir, info.artifact_dir).eval().to(device)
    ids = torch.tensor([[1, 5, 9, 12, 7, 2]], device=device)
    with torch.no_grad():
        torch.testing.assert_close(saved(input_ids=ids).logits, rung.model(input_ids=ids).logits, atol=0, rtol=0)

    predictions = rung.predict(_examples(6, offset=200))
    assert [p.output in LABELS for p in predictions] == [True] * 6


def test_a_rung_without_a_rate_checks_rates_and_records_the_pick(tiny_model_dir, tmp_path):
    """No train.lr (and the LoRA family has no rate of its own): the rung checks its centre rate x
    lr_check_factors from the same start, trains at the lowest validation loss, and records the check; the dry run
    times the same probes."""
    rung = _rung("lora_attention", tiny_model_dir)
    train = rung.config.train.model_copy(update={"lr": None, "lr_check_factors": [0.005, 50.0]})  # 1e-6, 1e-2
    rung.config = rung.config.model_copy(update={"train": train})
    info = rung.fit(_examples(96), _examples(16, offset=96), tmp_path / "fit")

    check = info.training["lr_check"]
    assert check["rates"] == pytest.approx([1e-6, 1e-2]) and check["picked"] == pytest.approx(1e-2)
    assert check["val_losses"][1] < check["val_losses"][0] and check["seconds"] > 0
    assert info.training["lr"] == check["picked"] and info.training["stop_reason"] == "max_steps"
    assert (tmp_path / "fit" / "lr_check.json").is_file()
    assert rung.estimate_fit(_examples(96), _examples(16, offset=96), tmp_path / "estimate") > 0


QUANTIZED = {4: ("Linear4bit", torch.uint8), 8: ("Linear8bitLt", torch.int8)}


@pytest.mark.parametrize("bits", sorted(QUANTIZED))
def test_qlora_trains_only_lora_on_a_quantized_base_here(bits, tiny_model_dir, tmp_path):
    """bitsandbytes' CPU backend (or CUDA where there is one): the seven projections of both layers load 4-bit
    (or 8-bit), only the LoRA weights train, and validation loss ends below the first training loss."""
    import bitsandbytes as bnb

    config = _rung("lora_attention", tiny_model_dir).config
    config = config.model_copy(update={"qlora": config.qlora.model_copy(update={"bits": bits})})
    (rung,) = method_rungs("qlora", config, Task("classification", LABELS, "accuracy", default_instruction(LABELS)))
    assert rung.skip_reason is None and f"{bits}-bit base" in rung.description
    info = rung.fit(_examples(96), _examples(16, offset=96), tmp_path / "qlora")

    layer, packed = QUANTIZED[bits]
    quantized = [m for m in rung.model.modules() if isinstance(m, getattr(bnb.nn, layer))]
    assert len(quantized) == 2 * 7 and {m.weight.dtype for m in quantized} == {packed}
    trainable = [n for n, p in rung.model.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n for n in trainable), trainable
    assert len(trainable) == 2 * 7 * 2  # lora_A and lora_B on every projection
    curve = info.training["curve"]
    first_train = next(p["loss"] for p in curve if p.get("loss") is not None)
    assert min(p["val_loss"] for p in curve if p.get("val_loss") is not None) < first_train
    predictions = rung.predict(_examples(6, offset=200))
    assert [p.output in LABELS for p in predictions] == [True] * 6
    # After validation and prediction passes, the base weights still pass gradients back to the layers below.
    if bits == 4:
        layer = quantized[0].base_layer if hasattr(quantized[0], "base_layer") else quantized[0]
        weight = bnb.functional.dequantize_4bit(layer.weight.data, layer.weight.quant_state).float()
        x = torch.randn(3, weight.shape[1], dtype=torch.bfloat16, requires_grad=True)
        layer.train()
        layer(x).float().sum().backward()
        torch.testing.assert_close(x.grad.float(), weight.sum(0).expand(3, -1), atol=0.05, rtol=0.02)


def test_qlora_is_skipped_with_bitsandbytes_own_error_when_its_backend_fails(tiny_model_dir, monkeypatch):
    import bitsandbytes as bnb

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: QLoRA runs there without the CPU probe")

    def no_cpu_kernel(*args, **kwargs):  # what an older bitsandbytes without a CPU backend does
        raise RuntimeError("no kernel for cpu")

    monkeypatch.setattr(bnb.nn, "Params4bit", no_cpu_kernel)
    qlora._cpu_failure.cache_clear()
    try:
        (rung,) = method_rungs("qlora", _rung("ia3", tiny_model_dir).config, None)
    finally:
        qlora._cpu_failure.cache_clear()
    assert rung.skip_reason == ("QLoRA's 4-bit base does not train on this CPU and there is no CUDA GPU: "
                                "bitsandbytes' CPU backend failed (RuntimeError: no kernel for cpu)")


def test_rank_sweep_gives_one_rung_per_rank_with_alpha_scaled(tiny_model_dir):
    config = _rung("ia3", tiny_model_dir).config
    methods = method_rungs("lora_ranks", config.model_copy(update={"lora": config.lora.model_copy(
        update={"sweep_ranks": [2, 8]})}), None)
    assert [m.name for m in methods] == ["lora_r2", "lora_r8"]
    assert "r=2 alpha=4" in methods[0].description and "r=8 alpha=16" in methods[1].description


@pytest.mark.parametrize("kind", ["prompt_tuning", "prefix_tuning", "p_tuning"])
def test_prompt_learning_loss_equals_full_logits_loss(kind, tiny_llama):
    import torch.nn.functional as F

    from tunewise.methods import prompt_learning
    from tunewise.methods.prompt_learning import PromptLearningConfig
    from tunewise.train.batching import IGNORE_INDEX, Encoded, collate
    from tunewise.train.loss import answer_loss_sum

    model, _ = tiny_llama
    model = prompt_learning.apply(model, PromptLearningConfig(num_virtual_tokens=3, prompt_tuning_init="random"), kind)
    rows = [[1, 5, 9, 12, 7, 2], [1, 8, 4, 2], [1, 6, 6, 6, 6, 6, 3, 2]]
    batch = collate([Encoded(r, [IGNORE_INDEX] * (len(r) - 2) + r[-2:]) for r in rows], pad_id=2)
    total, count = answer_loss_sum(model, batch)
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    logits = logits[:, -batch["input_ids"].shape[1]:]  # prompt tuning / P-tuning return virtual positions first
    targets = batch["labels"][:, 1:]
    reference = F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), targets.reshape(-1),
                                ignore_index=IGNORE_INDEX, reduction="sum")
    assert count == 6
    torch.testing.assert_close(total, reference, atol=1e-4, rtol=1e-5)


@pytest.mark.parametrize("name", ["prompt_tuning", "ia3"])
def test_method_trains_and_generates_on_a_generation_task_without_instruction(name, tiny_model_dir, tmp_path):
    rung = _rung(name, tiny_model_dir)
    rung.task = Task("generation", None, "token_f1", None)  # no instruction: prompt tuning starts at random
    rung.method = method_rungs(name, rung.config, rung.task)[0].method
    rung.config = rung.config.model_copy(update={"eval": rung.config.eval.model_copy(update={"max_new_tokens": 4})})
    examples = [Example(id=f"g{i}", messages=({"role": "user", "content": f"say {w}"},), answer=w)
                for i, w in enumerate(["red", "cat", "oak", "elm"] * 6)]
    info = rung.fit(examples[:20], examples[20:], tmp_path / name)
    assert info.training["steps"] == 12
    predictions = rung.predict(examples[20:])
    assert [p.id for p in predictions] == [e.id for e in examples[20:]]
    assert all(isinstance(p.output, str) for p in predictions)
