"""The feature-based rungs: a frozen tiny llama (decoder) or the bundled MiniLM (encoder) + logistic regression.

They classify a separable toy task, leave the model's weights untouched, save a classifier that reloads to identical
predictions, and skip generation tasks.
"""
import itertools
import json

import numpy as np
import pytest
import torch
from safetensors.numpy import load_file
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from transformers import AutoModelForCausalLM

from tunewise.config import config_from_dict
from tunewise.errors import ModelError, TrainingError
from tunewise.methods.features import (
    CONFIG_FILE,
    WEIGHTS_FILE,
    FeatureRung,
    fit_classifier,
    load_classifier,
)
from tunewise.models.embed import embed_sequences
from tunewise.records import Example
from tunewise.task import Task, default_instruction

WORDS = {"red": "colour", "blue": "colour", "green": "colour", "cat": "animal", "dog": "animal", "horse": "animal"}
LABELS = ["animal", "colour"]
TRAIN_TEMPLATES = ["I saw a {} today", "the {} was there", "look at that {}", "my favourite is {}"]
TEST_TEMPLATES = ["there is a {} near the house", "she talked about the {}"]  # held out: sentences never trained on


def _examples(templates: list[str], prefix: str) -> list[Example]:
    pairs = itertools.product(templates, sorted(WORDS))
    return [
        Example(id=f"{prefix}{i}", messages=({"role": "user", "content": t.format(w)},), answer=WORDS[w], label=WORDS[w])
        for i, (t, w) in enumerate(pairs)
    ]


TRAIN, TEST = _examples(TRAIN_TEMPLATES, "train"), _examples(TEST_TEMPLATES, "test")


def _task(task_type: str = "classification") -> Task:
    if task_type == "generation":
        return Task("generation", None, "token_f1", None)
    return Task("classification", LABELS, "accuracy", default_instruction(LABELS))


def _config(model_dir="smollm2", precision: str = "fp32", **features):
    return config_from_dict({
        "task": {"type": "classification"},
        "data": {"path": "unused.jsonl"},
        "model": {"name": str(model_dir), "encoder": "minilm"},
        "train": {"precision": precision},
        "eval": {"batch_size": 4},
        "features": features,
    })


def _accuracy(predictions, examples) -> float:
    return sum(p.output == e.answer for p, e in zip(predictions, examples)) / len(examples)


@pytest.fixture
def fitted_decoder(tiny_model_dir, tmp_path):
    """(rung, FitInfo): the decoder rung fitted on TRAIN with the tiny llama in fp32."""
    rung = FeatureRung(_task(), _config(tiny_model_dir), "decoder")
    return rung, rung.fit(TRAIN, [], tmp_path / "rung")


# ---------------------------------------------------------------- decoder (tiny random llama)


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_decoder_rung_predicts_one_label_per_test_example(tiny_model_dir, tmp_path, precision):
    rung = FeatureRung(_task(), _config(tiny_model_dir, precision), "decoder")
    assert (rung.name, rung.kind, rung.skip_reason) == ("features", "fine-tuning", None)
    assert "mean-pooled" in rung.description and "logistic regression" in rung.description

    info = rung.fit(TRAIN, [], tmp_path)
    predictions = rung.predict(TEST)

    expected_dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    assert next(rung.model.parameters()).dtype == expected_dtype
    assert [p.id for p in predictions] == [e.id for e in TEST]
    for p in predictions:
        assert p.output in LABELS and set(p.scores) == set(LABELS)
        assert p.prompt_tokens == len(rung._conversation_ids([next(e for e in TEST if e.id == p.id)])[0])
        assert p.output == max(p.scores, key=p.scores.get)
        assert np.isclose(sum(np.exp(list(p.scores.values()))), 1.0)  # log-probabilities of a distribution
    assert info.artifact_dir == tmp_path / "classifier"
    training = info.training
    assert training["n_features"] == 64 and training["train_examples"] == len(TRAIN)
    assert training["train_accuracy"] == 1.0  # 24 points in 64 dimensions: linearly separable
    assert training["examples_per_s"] > 0 and training["tokens_per_s"] > 0 and training["converged"]


def test_fit_leaves_the_decoder_weights_unchanged(fitted_decoder, tiny_model_dir):
    rung, _ = fitted_decoder
    rung.predict(TEST)
    on_disk = dict(AutoModelForCausalLM.from_pretrained(tiny_model_dir).named_parameters())
    for name, param in rung.model.named_parameters():
        assert torch.equal(param, on_disk[name]), f"{name} changed"
        assert not param.requires_grad
    trainable, total = rung.parameters()
    assert trainable == 64 + 1  # binary: one weight row + one bias
    assert total == sum(p.numel() for p in on_disk.values()) + trainable


def test_saved_classifier_reloads_and_predicts_identically(fitted_decoder, tiny_model_dir):
    rung, info = fitted_decoder
    before = rung.predict(TEST)
    files = sorted(p.name for p in info.artifact_dir.iterdir())
    assert files == [CONFIG_FILE, WEIGHTS_FILE]  # safetensors + JSON only: nothing pickled
    tensors = load_file(str(info.artifact_dir / WEIGHTS_FILE))
    assert tensors["coef"].shape == (1, 64) and tensors["intercept"].shape == (1,)
    meta = json.loads((info.artifact_dir / CONFIG_FILE).read_text())
    assert meta["labels"] == LABELS and meta["source"] == "decoder" and meta["model"] == str(tiny_model_dir)

    again = FeatureRung(_task(), _config(tiny_model_dir), "decoder")
    again.restore([], info.artifact_dir)
    assert again.predict(TEST) == before  # outputs and every score, bit for bit


def test_restore_refuses_a_classifier_from_another_model(fitted_decoder, tiny_model_dir):
    _, info = fitted_decoder
    encoder_rung = FeatureRung(_task(), _config(tiny_model_dir), "encoder")
    with pytest.raises(ModelError, match="model.encoder"):
        encoder_rung.restore([], info.artifact_dir)


def test_load_classifier_names_the_missing_file(fitted_decoder, tmp_path):
    _, info = fitted_decoder
    (info.artifact_dir / WEIGHTS_FILE).unlink()
    with pytest.raises(ModelError, match=WEIGHTS_FILE):
        load_classifier(info.artifact_dir)
    with pytest.raises(ModelError, match=CONFIG_FILE):
        load_classifier(tmp_path / "nowhere")


def test_padding_does_not_change_an_embedding(tiny_model_dir):
    rung = FeatureRung(_task(), _config(tiny_model_dir), "decoder")
    _, tokenizer = rung._load()
    short, long = rung._token_ids([TRAIN[0]]).seqs[0], rung._token_ids([TEST[0]]).seqs[0] + [5] * 7
    device = torch.device("cpu")
    alone = embed_sequences(rung._forward, [short], tokenizer.pad_token_id, device, batch_size=4)
    batched = embed_sequences(rung._forward, [long, short], tokenizer.pad_token_id, device, batch_size=4)
    assert len(long) > len(short)
    np.testing.assert_allclose(batched[1], alone[0], rtol=1e-5, atol=1e-6)
    assert not np.allclose(batched[0], alone[0])


def test_decoder_input_is_cut_from_the_left_to_max_length(tiny_model_dir):
    rung = FeatureRung(_task(), _config(tiny_model_dir, max_length=8), "decoder")
    full = FeatureRung(_task(), _config(tiny_model_dir), "decoder")
    rung._load(), full._load()
    cut, whole = rung._token_ids(TRAIN[:1]).seqs[0], full._token_ids(TRAIN[:1]).seqs[0]
    assert len(whole) > 8 and cut == whole[-8:]  # the end (user text + generation prompt) is kept


def test_cached_prefix_features_equal_one_forward_pooled_after_the_prefix(tiny_model_dir):
    """The shared instruction runs once (KV cache); each example's features are the mean of its hidden states after
    it, exactly as one forward of prefix + remainder pooled over the remainder's positions."""
    rung = FeatureRung(_task(), _config(tiny_model_dir), "decoder")
    _, tokenizer = rung._load()
    inputs = rung._token_ids(TEST)
    P = len(inputs.prefix)
    assert all(inputs.after_prefix) and "Classify the user's message" in tokenizer.decode(inputs.prefix)
    features, tokens = rung.embed(TEST)
    assert tokens == P + sum(len(s) for s in inputs.seqs)  # the prefix is run once
    for row, rest in zip(features, inputs.seqs):
        with torch.no_grad():
            hidden = rung.model.get_decoder()(input_ids=torch.tensor([inputs.prefix + rest])).last_hidden_state
        np.testing.assert_allclose(row, hidden[0, P:].mean(dim=0).numpy(), rtol=1e-5, atol=1e-5)


def test_example_with_its_own_system_message_is_embedded_whole(tiny_model_dir):
    rung = FeatureRung(_task(), _config(tiny_model_dir), "decoder")
    _, tokenizer = rung._load()
    own = Example(id="own", messages=({"role": "system", "content": "Be brief."}, *TEST[0].messages),
                  answer=TEST[0].answer, label=TEST[0].label)
    inputs = rung._token_ids([TEST[1], own])
    assert inputs.after_prefix == [True, False]
    features, _ = rung.embed([TEST[1], own])
    alone = embed_sequences(rung._forward, [inputs.seqs[1]], tokenizer.pad_token_id, torch.device("cpu"), 4)
    np.testing.assert_allclose(features[1], alone[0], rtol=1e-5, atol=1e-5)


def test_estimate_fit_leaves_a_rung_that_predicts(tiny_model_dir, tmp_path):
    rung = FeatureRung(_task(), _config(tiny_model_dir), "decoder")
    seconds = rung.estimate_fit(TRAIN, [], tmp_path)
    assert seconds > 0
    assert len(rung.predict(TEST[:3])) == 3  # the dry run times predict right after estimate_fit
    assert not (tmp_path / "classifier").exists()  # a dry run writes nothing


def test_a_training_split_with_one_label_is_an_error(tiny_model_dir, tmp_path):
    rung = FeatureRung(_task(), _config(tiny_model_dir), "decoder")
    one_label = [e for e in TRAIN if e.label == "colour"]
    with pytest.raises(TrainingError, match="at least two labels"):
        rung.fit(one_label, [], tmp_path)


# ---------------------------------------------------------------- the classifier alone


@pytest.mark.parametrize("n_labels", [2, 3])
def test_fit_classifier_matches_sklearn_on_standardised_features(n_labels):
    rng = np.random.default_rng(0)
    features = rng.normal(size=(60, 5)) * np.array([1.0, 100.0, 0.01, 3.0, 0.0])  # uneven scales, one constant
    targets = np.arange(60) % n_labels
    features[:, 0] += targets  # label-dependent
    labels = [f"l{i}" for i in range(n_labels)]

    classifier, solver = fit_classifier(features, targets, labels, C=0.5, max_iter=500, seed=0)

    reference = make_pipeline(StandardScaler(), LogisticRegression(C=0.5, max_iter=500, random_state=0))
    reference.fit(features, targets)
    np.testing.assert_allclose(classifier.log_proba(features), reference.predict_log_proba(features), atol=1e-8)
    assert classifier.n_parameters() == (1 if n_labels == 2 else n_labels) * 6
    assert solver["converged"]


# ---------------------------------------------------------------- encoder (bundled MiniLM)


def test_encoder_rung_beats_chance_on_held_out_sentences(tmp_path):
    rung = FeatureRung(_task(), _config(), "encoder")
    assert rung.name == "encoder_features" and "all-MiniLM-L6-v2" in rung.description

    model_before = {n: p.clone() for n, p in rung._load()[0].named_parameters()}
    info = rung.fit(TRAIN, [], tmp_path)
    predictions = rung.predict(TEST)

    assert _accuracy(predictions, TEST) >= 0.9  # chance is 0.5
    assert info.training["n_features"] == 384
    features, _ = rung.embed(TEST[:3])
    np.testing.assert_allclose(np.linalg.norm(features, axis=1), 1.0, rtol=1e-5)  # L2-normalised
    assert all(torch.equal(p, model_before[n]) for n, p in rung.model.named_parameters())
    again = FeatureRung(_task(), _config(), "encoder")
    again.restore([], info.artifact_dir)
    assert again.predict(TEST) == predictions


# ---------------------------------------------------------------- generation tasks


@pytest.mark.parametrize("source", ["decoder", "encoder"])
def test_generation_task_is_skipped_without_loading_a_model(source):
    rung = FeatureRung(_task("generation"), _config("/no/such/model"), source)
    assert "classification" in rung.skip_reason
    assert rung.model is None  # nothing loaded (the model path does not even exist)


def test_a_prefix_that_leaves_no_room_is_not_used(tiny_model_dir):
    """features.max_length near the context (512 positions here): no shared prefix; conversations embedded whole."""
    rung = FeatureRung(_task(), _config(tiny_model_dir, max_length=510), "decoder")
    rung._load()
    inputs = rung._token_ids(TEST[:2])
    assert inputs.prefix == [] and inputs.after_prefix == [False, False]
    assert inputs.seqs == rung._conversation_ids(TEST[:2])
    assert rung.embed(TEST[:2])[0].shape == (2, 64)
