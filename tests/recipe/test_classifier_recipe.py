"""Classification-head rungs on tiny random models: they learn, train only what they should, save and reload exactly.

Decoder: a 2-layer random llama saved as a local HF directory (with the tiny ChatML tokenizer). Encoder: a 2-layer
random BERT (hidden 32) saved with the bundled MiniLM tokenizer. Each is fitted once per module.
"""
import json
import math
import random

import pytest
import torch
from transformers import (
    AutoModelForSequenceClassification,
    BertConfig,
    BertModel,
    LlamaConfig,
    LlamaForCausalLM,
)

from tunewise.config import config_from_dict
from tunewise.errors import DataError
from tunewise.methods.classifier import (
    DecoderClassifier,
    DecoderClassifierRung,
    EncoderClassifier,
    EncoderClassifierRung,
    class_indices,
    classification_loss_sum,
    last_token_index,
    load_decoder_classifier,
    load_encoder_classifier,
    new_decoder_classifier,
    new_encoder_classifier,
)
from tunewise.models.load import count_parameters, load_causal_lm, load_encoder
from tunewise.records import Example
from tunewise.task import Task, default_instruction
from tunewise.train.batching import IGNORE_INDEX, Encoded, collate

WORDS = {"red": "colour", "blue": "colour", "cat": "animal", "dog": "animal", "oak": "tree", "elm": "tree"}
LABELS = sorted(set(WORDS.values()))  # ["animal", "colour", "tree"]
TASK = Task("classification", LABELS, "accuracy", default_instruction(LABELS))
RUNGS = {"decoder": DecoderClassifierRung, "encoder": EncoderClassifierRung}


def _examples(n: int, seed: int, prefix: str) -> list[Example]:
    """A separable toy task: the label is a function of the message's first word."""
    rng = random.Random(seed)
    words = sorted(WORDS)
    examples = []
    for i in range(n):
        word = words[(i + seed) % len(words)]
        label = WORDS[word]
        text = f"{word} {rng.randint(0, 999)}"
        examples.append(Example(f"{prefix}{i}", ({"role": "user", "content": text},), label, label))
    return examples


TRAIN, VAL, TEST = _examples(48, 0, "tr"), _examples(12, 1, "va"), _examples(9, 2, "te")


def _config(model_dir, encoder_dir, precision: str, max_steps: int = 30, max_length: int = 128):
    return config_from_dict({
        "data": {"path": "unused.jsonl", "max_length": max_length},
        "model": {"name": str(model_dir), "encoder": str(encoder_dir)},
        "train": {"max_steps": max_steps, "batch_size": 8, "eval_every": 10, "log_every": 5, "patience": None,
                  "warmup_ratio": 0.1, "precision": precision, "seed": 0},
        "lora": {"r": 4, "alpha": 8, "target_modules": ["q_proj", "v_proj"]},
        "classifier": {"decoder_lr": 1e-2, "encoder_lr": 1e-2},
        "eval": {"batch_size": 4},
    })


@pytest.fixture(scope="module")
def model_dirs(tmp_path_factory, tiny_tokenizer):
    """(tiny llama dir, tiny BERT dir), each a local HF directory with safetensors weights and a tokenizer."""
    root = tmp_path_factory.mktemp("classifier_models")
    torch.manual_seed(0)
    llama = LlamaForCausalLM(LlamaConfig(
        vocab_size=len(tiny_tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512, tie_word_embeddings=True,
        bos_token_id=1, eos_token_id=2, pad_token_id=2,
        # At the default 0.02 random attention is near uniform over the ~40 prompt tokens, so the last token sees
        # the one word that decides the label only faintly and 30 steps do not learn it (measured: loss 1.11 -> 1.13).
        initializer_range=0.2,
    ))
    llama.save_pretrained(root / "llama")
    tiny_tokenizer.save_pretrained(root / "llama")
    _, minilm_tokenizer = load_encoder("minilm")
    bert = BertModel(BertConfig(
        vocab_size=minilm_tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=128,
        # As for the llama; and no dropout, whose noise swamps so small a model (measured at lr 1e-2, 30 steps:
        # val loss 1.10 -> 0.58 at 0.02 with dropout, 1.10 -> 0.02 here).
        initializer_range=0.2, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
    ))
    bert.save_pretrained(root / "bert")
    minilm_tokenizer.save_pretrained(root / "bert")
    return root / "llama", root / "bert"


def _mean_loss(model, encoded: list[Encoded], pad_id: int) -> float:
    with torch.no_grad():
        loss_sum, n = classification_loss_sum(model.eval(), collate(encoded, pad_id))
    return loss_sum.item() / n


def _fit(source: str, precision: str, model_dirs, workdir) -> dict:
    """Fit a rung and predict the test set; also the untrained model it started from (same seed) and the mean
    train loss before and after."""
    config = _config(*model_dirs, precision)
    rung = RUNGS[source](TASK, config)
    info = rung.fit(TRAIN, VAL, workdir)
    start = RUNGS[source](TASK, config)
    start._load()  # the same seeded initialisation the fit started from
    encoded = rung._encode(TRAIN)
    return {"rung": rung, "info": info, "config": config, "start": start.model, "encoded": encoded,
            "loss_before": _mean_loss(start.model, encoded, rung._pad_id()),
            "loss_after": _mean_loss(rung.model, encoded, rung._pad_id()), "predictions": rung.predict(TEST)}


@pytest.fixture(scope="module")
def decoder_run(model_dirs, tmp_path_factory):
    """The decoder classifier fitted in bf16 (the default precision: bf16 base, fp32 LoRA + head, autocast)."""
    return _fit("decoder", "bf16", model_dirs, tmp_path_factory.mktemp("decoder_rung"))


@pytest.fixture(scope="module")
def encoder_run(model_dirs, tmp_path_factory):
    """The encoder classifier fitted in fp32."""
    return _fit("encoder", "fp32", model_dirs, tmp_path_factory.mktemp("encoder_rung"))


# ---------------------------------------------------------------- tiny pieces


def test_last_token_index_is_the_rightmost_real_token_for_either_padding_side():
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [0, 0, 1, 1, 1], [1, 0, 0, 0, 0]])
    assert last_token_index(mask).tolist() == [2, 4, 4, 0]


def test_loss_is_summed_cross_entropy_of_the_class_at_the_last_real_token():
    class FixedLogits(torch.nn.Module):
        def forward(self, input_ids, attention_mask):
            return torch.tensor([[2.0, 0.0, -1.0], [0.5, 0.5, 3.0]])

    batch = collate([Encoded([5, 6, 7], [IGNORE_INDEX, IGNORE_INDEX, 2]), Encoded([5, 6], [IGNORE_INDEX, 0])], 0)
    loss_sum, count = classification_loss_sum(FixedLogits(), batch)
    expected = torch.nn.functional.cross_entropy(
        torch.tensor([[2.0, 0.0, -1.0], [0.5, 0.5, 3.0]]), torch.tensor([2, 0]), reduction="sum"
    )
    assert count == 2 == int((batch["labels"][:, 1:] != IGNORE_INDEX).sum())  # what the loop divides by
    assert torch.allclose(loss_sum, expected)


def test_unknown_labels_are_all_reported_together():
    bad = [Example("a", ({"role": "user", "content": "x"},), "fish", "fish", "d.jsonl", 3),
           Example("b", ({"role": "user", "content": "y"},), "bird", "bird", "d.jsonl", 4)]
    assert class_indices(LABELS, TRAIN[:3]) == [LABELS.index(e.label) for e in TRAIN[:3]]
    with pytest.raises(DataError) as err:
        class_indices(LABELS, [TRAIN[0], *bad])
    assert [p.line for p in err.value.problems] == [3, 4]


def test_generation_tasks_are_skipped_and_classification_tasks_are_not(model_dirs):
    config = _config(*model_dirs, "fp32")
    generation = Task("generation", None, "token_f1", None)
    for source, name in (("decoder", "classifier"), ("encoder", "encoder_classifier")):
        assert RUNGS[source](TASK, config).skip_reason is None
        skipped = RUNGS[source](generation, config)
        assert skipped.name == name and skipped.kind == "fine-tuning"
        assert "generation" in skipped.skip_reason


@pytest.mark.parametrize("source", ["decoder", "encoder"])
def test_padding_does_not_change_an_examples_logits(model_dirs, source):
    rung = RUNGS[source](TASK, _config(*model_dirs, "fp32", max_length=512))  # nothing cut
    rung._load()
    long_example = Example("long", ({"role": "user", "content": "cat " * 20},), "animal", "animal")
    short, long = rung._encode([TRAIN[0]]), rung._encode([long_example])
    pad = rung._pad_id()
    with torch.inference_mode():
        alone = rung.model.eval()(**_inputs(collate(short, pad)))
        padded = rung.model(**_inputs(collate(short + long, pad)))  # the short row is padded on the right
    assert len(long[0].input_ids) > len(short[0].input_ids)
    assert torch.allclose(padded[0], alone[0], atol=1e-5), (padded[0], alone[0])


def _inputs(batch: dict) -> dict:
    return {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}


# ---------------------------------------------------------------- decoder: LoRA + head


def test_decoder_only_lora_and_head_get_gradients(model_dirs):
    config = _config(*model_dirs, "fp32")
    model, tokenizer = new_decoder_classifier(str(model_dirs[0]), len(LABELS), config.lora, torch.float32, 0)
    rung = DecoderClassifierRung(TASK, config)
    rung.model, rung.tokenizer = model, tokenizer
    loss_sum, _ = classification_loss_sum(model.train(), collate(rung._encode(TRAIN[:8]), tokenizer.pad_token_id))
    loss_sum.backward()

    with_grad = {n for n, p in model.named_parameters() if p.grad is not None}
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert with_grad == trainable
    assert {"head.weight", "head.bias"} <= trainable
    assert all("lora_" in n for n in trainable - {"head.weight", "head.bias"})
    assert any("lora_A" in n for n in trainable) and any("lora_B" in n for n in trainable)
    assert model.head.weight.dtype == torch.float32 and model.head.weight.grad.abs().sum() > 0


def test_decoder_loss_falls(decoder_run):
    assert decoder_run["loss_after"] < 0.5 * decoder_run["loss_before"], decoder_run
    curve = decoder_run["info"].training["curve"]
    train_losses = [e["loss"] for e in curve if e["event"] == "train"]
    assert train_losses[-1] < train_losses[0]
    assert decoder_run["info"].training["steps"] == 30


def test_decoder_base_weights_are_bit_identical_after_training(decoder_run):
    trained, start = decoder_run["rung"].model, decoder_run["start"]
    fresh, _ = load_causal_lm(decoder_run["config"].model.name, dtype=torch.bfloat16)  # what the fit loaded
    fresh_weights = dict(fresh.named_parameters())
    for (name, p), (_, p0) in zip(trained.lm.get_base_model().named_parameters(),
                                  start.lm.get_base_model().named_parameters()):
        if "lora_" in name:
            continue
        plain = name.replace(".base_layer", "")
        assert torch.equal(p, p0) and torch.equal(p, fresh_weights[plain]), f"base weight {name} changed"
    assert not torch.equal(trained.head.weight.float(), start.head.weight.float())  # the head did train


def _assert_labels_in_test_order(rung: DecoderClassifierRung | EncoderClassifierRung, predictions) -> None:
    """One prediction per test example, in test order, each a label with every label's log-probability."""
    assert [p.id for p in predictions] == [e.id for e in TEST]
    for p in predictions:
        assert p.output in LABELS and set(p.scores) == set(LABELS)
        assert p.output == max(p.scores, key=p.scores.get)
        assert sum(torch.tensor(list(p.scores.values())).exp()) == pytest.approx(1.0, abs=1e-2)
    accuracy = sum(p.output == e.label for p, e in zip(predictions, TEST)) / len(TEST)
    assert accuracy > 1 / len(LABELS)
    # Each score belongs to its own example: the reversed test set gets the same scores, reversed
    # (batches are formed by length, so padding can differ: bf16 noise only).
    backwards = rung.predict(TEST[::-1])[::-1]
    assert [p.id for p in backwards] == [e.id for e in TEST]
    for p, q in zip(predictions, backwards):
        assert q.scores == pytest.approx(p.scores, abs=0.05)


def test_decoder_predictions_are_labels_in_test_order(decoder_run):
    _assert_labels_in_test_order(decoder_run["rung"], decoder_run["predictions"])
    assert {p.dtype for p in decoder_run["rung"].model.parameters()} == {torch.bfloat16}  # eval_dtype for bf16
    # the tokens each prediction read: its whole prompt, once
    inputs = decoder_run["rung"]._inputs(TEST)
    assert [p.prompt_tokens for p in decoder_run["predictions"]] == [len(ids) for ids in inputs]


def test_decoder_saves_adapter_and_head_and_reloads_to_identical_logits(decoder_run):
    rung, info = decoder_run["rung"], decoder_run["info"]
    assert info.artifact_dir.name == "adapter"
    files = {p.name for p in info.artifact_dir.iterdir()}
    assert {"adapter_config.json", "adapter_model.safetensors", "head.safetensors", "head_config.json"} <= files
    settings = json.loads((info.artifact_dir / "head_config.json").read_text())
    assert settings["labels"] == LABELS and settings["pooling"] == "last_token"

    loaded, tokenizer, _ = load_decoder_classifier(info.artifact_dir, torch.bfloat16)
    assert isinstance(loaded, DecoderClassifier)
    batch = collate(rung._encode(TEST), tokenizer.pad_token_id)
    with torch.inference_mode():
        assert torch.equal(loaded(batch["input_ids"], batch["attention_mask"]),
                           rung.model(batch["input_ids"], batch["attention_mask"]))

    again = DecoderClassifierRung(TASK, decoder_run["config"])
    again.load(info.artifact_dir)
    assert again.predict(TEST) == decoder_run["predictions"]


def test_decoder_parameters_count_lora_and_head_as_trainable(decoder_run):
    trainable, total = decoder_run["rung"].parameters()
    model = decoder_run["rung"].model
    lora_and_head = sum(p.numel() for n, p in model.named_parameters() if "lora_" in n or n.startswith("head."))
    assert trainable == lora_and_head and 0 < trainable < total
    assert total == count_parameters(model)[1]  # tied output layer: nothing left out here


# ---------------------------------------------------------------- encoder: all weights


def test_encoder_every_parameter_is_trainable_and_gets_a_gradient(model_dirs):
    model, tokenizer = new_encoder_classifier(str(model_dirs[1]), LABELS, 0)
    config = _config(*model_dirs, "fp32")
    rung = EncoderClassifierRung(TASK, config)
    rung.model, rung.tokenizer = model, tokenizer
    loss_sum, _ = classification_loss_sum(model.train(), collate(rung._encode(TRAIN[:8]), tokenizer.pad_token_id))
    loss_sum.backward()
    assert all(p.requires_grad and p.grad is not None for p in model.parameters())
    assert all(p.dtype == torch.float32 for p in model.parameters())


def test_encoder_loss_falls_and_every_weight_moves(encoder_run):
    assert encoder_run["loss_after"] < 0.5 * encoder_run["loss_before"], encoder_run
    trained = dict(encoder_run["rung"].model.named_parameters())
    for name, p0 in encoder_run["start"].named_parameters():
        assert not torch.equal(trained[name], p0), f"{name} did not train"
    trainable, total = encoder_run["rung"].parameters()
    assert trainable == total > 0


def test_encoder_predictions_are_labels_in_test_order(encoder_run):
    _assert_labels_in_test_order(encoder_run["rung"], encoder_run["predictions"])


def test_encoder_saves_a_standard_model_and_reloads_to_identical_logits(encoder_run):
    rung, info = encoder_run["rung"], encoder_run["info"]
    assert info.artifact_dir.name == "model"
    assert (info.artifact_dir / "model.safetensors").is_file() and (info.artifact_dir / "tokenizer.json").is_file()
    saved = json.loads((info.artifact_dir / "config.json").read_text())
    assert saved["id2label"] == {str(i): label for i, label in enumerate(LABELS)}

    loaded, tokenizer, labels = load_encoder_classifier(info.artifact_dir)
    assert isinstance(loaded, EncoderClassifier) and labels == LABELS
    batch = collate(rung._encode(TEST), tokenizer.pad_token_id)
    plain = AutoModelForSequenceClassification.from_pretrained(info.artifact_dir).eval()  # any HF tool
    with torch.inference_mode():
        logits = rung.model(batch["input_ids"], batch["attention_mask"])
        assert torch.equal(loaded(batch["input_ids"], batch["attention_mask"]), logits)
        assert torch.equal(plain(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits, logits)

    again = EncoderClassifierRung(TASK, encoder_run["config"])
    again.load(info.artifact_dir)
    assert again.predict(TEST) == encoder_run["predictions"]


def test_encoder_estimate_fit_times_a_probe(model_dirs, tmp_path):
    rung = EncoderClassifierRung(TASK, _config(*model_dirs, "fp32", max_steps=200))
    seconds = rung.estimate_fit(TRAIN, VAL, tmp_path)
    assert 0 < seconds < 600
    assert len(rung.predict(TEST[:3])) == 3  # the dry run predicts with the probed model
    assert all(p.prompt_tokens > 2 for p in rung.predict(TEST[:3]))  # [CLS] text [SEP]


def test_encoder_without_a_rate_checks_rates_and_trains_at_the_pick(model_dirs, tmp_path):
    """No encoder_lr and no train.lr: the learning-rate check around the encoder's centre picks the rate (here
    between a rate too small to move in 8 steps and a useful one), and the summary records both."""
    config = _config(*model_dirs, "fp32", max_steps=4)
    config = config.model_copy(update={
        "classifier": config.classifier.model_copy(update={"encoder_lr": None}),
        "train": config.train.model_copy(update={"lr_check_factors": [1e-3, 200.0]}),  # 5e-8 and 1e-2
    })
    info = EncoderClassifierRung(TASK, config).fit(TRAIN, VAL, tmp_path)
    check = info.training["lr_check"]
    assert check["rates"] == pytest.approx([5e-8, 1e-2]) and check["picked"] == pytest.approx(1e-2)
    assert info.training["lr"] == check["picked"] and check["val_losses"][1] < check["val_losses"][0]
    assert info.training["stop_reason"] == "max_steps" and isinstance(info.training["undertrained"], bool)


@pytest.mark.parametrize("source", ["decoder", "encoder"])
@pytest.mark.parametrize("attention", ["eager", "sdpa"])
def test_loop_options_that_touch_the_model_work(model_dirs, tmp_path, source, attention):
    """Gradient checkpointing, either attention kernel, lean layers, and packing asked for (padded anyway)."""
    config = _config(*model_dirs, "bf16", max_steps=2)
    config = config.model_copy(update={"train": config.train.model_copy(update={
        "gradient_checkpointing": True, "packing": True, "attention": attention, "lean_layers": True,
    })})
    rung = RUNGS[source](TASK, config)
    info = rung.fit(TRAIN[:16], VAL[:4], tmp_path)
    assert info.training["steps"] == 2 and info.training["real_tokens"] < info.training["padded_tokens"]
    assert all(math.isfinite(e["loss"]) for e in info.training["curve"] if e["event"] == "train")
    assert rung.model.get_base_model().config._attn_implementation == "sdpa"  # the model's own kernel is back
