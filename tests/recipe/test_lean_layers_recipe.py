"""A whole training run leaves the model's modules as they were: the lean forwards come and go with train().

transformers 5.25 kernelized every `from_pretrained` model and re-kernelized it on each train()/eval() switch, which
silently dropped the lean forwards mid-run and then broke their restore (issue 18). The model here is loaded by the
ladder's own loader from a saved folder, as a run loads it, so a loader that lets kernels in fails this test.
"""
import torch

from tunewise.models.load import load_causal_lm
from tunewise.sections import TrainConfig
from tunewise.train.batching import IGNORE_INDEX, Encoded, collate
from tunewise.train.fused import _lean_forward_for
from tunewise.train.loop import train
from tunewise.train.loss import answer_loss_sum


def _random_examples(n: int, vocab: int, seed: int) -> list[Encoded]:
    g = torch.Generator().manual_seed(seed)
    data = []
    for _ in range(n):
        ids = torch.randint(3, vocab, (12,), generator=g).tolist()
        data.append(Encoded(ids, [IGNORE_INDEX] * 8 + ids[8:]))
    return data


def test_train_leaves_no_lean_forward_behind_and_the_model_computes_as_before(tiny_model_dir, tmp_path):
    model, tokenizer = load_causal_lm(str(tiny_model_dir))
    model.requires_grad_(True)  # full fine-tuning: every weight moves, so a wrong forward shows in the gradients
    lean = [m for m in model.modules() if _lean_forward_for(m) is not None]
    attributes_before = [set(vars(m)) for m in lean]
    vocab = len(tokenizer)
    # Validation on other random tokens than training: the model overfits, validation loss rises, patience runs out
    # and the best checkpoint is loaded back.
    train_data, val_data = _random_examples(16, vocab, seed=0), _random_examples(8, vocab, seed=1)
    lean_at_each_loss = []

    def loss_recording_lean(model, batch):
        lean_at_each_loss.append(all("forward" in vars(m) for m in lean))
        return answer_loss_sum(model, batch)

    cfg = TrainConfig(lr=3e-2, max_steps=40, batch_size=4, eval_every=2, patience=2, checkpoint_every=2,
                      gradient_checkpointing=True, lean_layers=True, warmup_ratio=0.0, precision="fp32",
                      log_every=100)
    result = train(model, train_data, val_data, cfg, tmp_path / "out", tokenizer.pad_token_id,
                   loss_fn=loss_recording_lean)

    assert result.stopped_early and result.best_step < result.steps  # early stop, then the best weights restored
    assert lean_at_each_loss and all(lean_at_each_loss)  # lean forwards in place at every training and val batch
    assert all("forward" not in vars(m) for m in model.modules())  # no instance forward remains anywhere
    assert [set(vars(m)) for m in lean] == attributes_before
    untouched, _ = load_causal_lm(str(tiny_model_dir))
    untouched.load_state_dict(model.state_dict())
    batch = collate(val_data, tokenizer.pad_token_id)
    with torch.no_grad():
        assert torch.equal(model(input_ids=batch["input_ids"]).logits, untouched(input_ids=batch["input_ids"]).logits)
