"""Continued pretraining (domain-adaptive pretraining, DAPT): next-token training on raw domain text.

Before the supervised fine-tuning, the model reads the user's own documents (manuals, help-center articles,
wikis) with the plain language-modelling loss on every token. It helps when the task's vocabulary and facts
are rare in the model's pretraining data (product names, internal jargon, a narrow field) and there is much more
unlabelled text than labelled examples; it helps little when the domain is general web text, or when the
labelled set is already large. It costs one extra training run over the text.

The caller chooses what trains (the `dapt_lora` rung applies LoRA first and keeps training the same adapters on
the labelled examples afterwards); this module only builds the blocks and runs the training loop.
"""
from __future__ import annotations

import random
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import Field
from torch import nn
from transformers import PreTrainedTokenizerBase

from tunewise.data.text import load_domain_text
from tunewise.errors import ModelError, TrainingError
from tunewise.methods.lora import lora_method
from tunewise.methods.spec import MethodSpec, SectionSpec
from tunewise.methods.tuned import TunedRung
from tunewise.records import FitInfo
from tunewise.sections import Section, TrainConfig, resolve_file_fields
from tunewise.task import Task
from tunewise.train.batching import Encoded
from tunewise.train.loop import TrainResult, train, training_summary

if TYPE_CHECKING:
    from tunewise.config import Config



class DaptConfig(Section):
    text: Path | None = Field(
        None, description="domain text: a JSONL file with a `text` field per line, or a folder of .txt/.md/.jsonl files"
    )
    block_size: int = Field(256, ge=16, description="tokens per training block cut from the domain text")
    epochs: float = Field(1.0, gt=0, description="passes over the domain text before the supervised LoRA")
    lr: float = Field(1e-4, gt=0, description="learning rate of the continued pretraining (LoRA on the same modules)")


VAL_FRACTION = 0.05  # blocks held out to watch the language-modelling loss (and stop early on it)
MIN_BLOCKS_FOR_VAL = 10  # fewer blocks than this: all of them train, no validation


def text_blocks(tokenizer: PreTrainedTokenizerBase, texts: list[str], block_size: int) -> list[Encoded]:
    """The documents as one token stream cut into blocks of `block_size` tokens; every token is a label.

    Each document is tokenised without special tokens or chat template and followed by the eos token, so the
    model sees where one document ends and the next begins (blocks cross document boundaries). The last, partial
    block is kept when it is at least half full (it is padded in its batch) and dropped otherwise: a few leftover
    tokens are not worth a padded row.
    """
    stream = token_stream(tokenizer, texts)
    blocks = [stream[start : start + block_size] for start in range(0, len(stream), block_size)]
    if blocks and 2 * len(blocks[-1]) < block_size:
        blocks.pop()
    return [Encoded(input_ids=block, labels=list(block)) for block in blocks]


def token_stream(tokenizer: PreTrainedTokenizerBase, texts: list[str]) -> list[int]:
    """Every document's token ids followed by eos, concatenated."""
    eos = tokenizer.eos_token_id
    if eos is None:
        raise ModelError("the tokenizer has no eos token, which continued pretraining puts between documents")
    if not texts:
        return []  # the tokenizer fails on an empty batch
    # verbose=False: documents longer than the model's context are expected here (they are cut into blocks).
    encoded = tokenizer(texts, add_special_tokens=False, verbose=False)["input_ids"]
    return [token for ids in encoded for token in (*ids, eos)]


def held_out_blocks(blocks: list[Encoded], seed: int) -> tuple[list[Encoded], list[Encoded]]:
    """(train, val): VAL_FRACTION of the blocks (at least one) drawn with `seed`; no validation under 10 blocks."""
    if len(blocks) < MIN_BLOCKS_FOR_VAL:
        return list(blocks), []
    n_val = max(1, round(VAL_FRACTION * len(blocks)))
    val_indices = set(random.Random(seed).sample(range(len(blocks)), n_val))
    train_blocks = [b for i, b in enumerate(blocks) if i not in val_indices]
    val_blocks = [b for i, b in enumerate(blocks) if i in val_indices]
    return train_blocks, val_blocks


def continued_pretraining(
    model: nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    texts: list[str],
    cfg: DaptConfig,
    train_cfg: TrainConfig,
    out_dir: Path,
    pad_id: int,
    resume: bool = False,
) -> TrainResult:
    """Train the model's trainable parameters in place on blocks of `texts`; the model ends in eval mode.

    Batching, precision, schedule, clipping, validation and early stopping come from `train_cfg`; the learning
    rate and epochs from `cfg` (max_steps is cleared: it is meant for the supervised run). `out_dir` receives
    the run's train_log.jsonl and checkpoint, so give it a folder of its own.
    """
    blocks = text_blocks(tokenizer, texts, cfg.block_size)
    if not blocks:
        raise TrainingError(
            f"the domain text is shorter than half a block ({cfg.block_size // 2} tokens); add text or lower "
            "dapt.block_size"
        )
    train_blocks, val_blocks = held_out_blocks(blocks, train_cfg.seed)
    print(
        f"[tunewise] dapt: {len(texts)} documents, {sum(len(b.input_ids) for b in blocks)} tokens, "
        f"{len(train_blocks)} training + {len(val_blocks)} validation blocks of {cfg.block_size} tokens",
        file=sys.stderr,
        flush=True,
    )
    dapt_cfg = train_cfg.model_copy(update={"lr": cfg.lr, "epochs": cfg.epochs, "max_steps": None})
    return train(model, train_blocks, val_blocks, dapt_cfg, out_dir, pad_id, resume=resume)


class DaptLoraRung(TunedRung):
    """Continued pretraining on raw domain text (LoRA), then supervised LoRA on the same adapter.

    Reported next to plain `lora`: the difference is what reading the domain text first buys.
    """

    def __init__(self, task: Task, config: Config):
        super().__init__(task, config, lora_method(config, "dapt_lora"))
        self.description = f"continued pretraining on {config.dapt.text}, then {self.description}"
        if config.dapt.text is None:
            self.skip_reason = "dapt_lora needs domain text: set dapt.text to a JSONL file or a folder of .txt/.md"

    def fit(self, train, val, workdir) -> FitInfo:
        texts = load_domain_text(self.config.dapt.text)  # problems surface before the model loads
        self.model, self.tokenizer = self._load()
        pad_id = self.tokenizer.pad_token_id
        domain = continued_pretraining(self.model, self.tokenizer, texts, self.config.dapt, self.config.train,
                                       workdir / "dapt", pad_id, resume=self.resume)
        self.model.train()
        encoded_train, encoded_val = self._training_data(train, val)
        result = self.train_loaded(encoded_train, encoded_val, workdir)  # the check starts from the DAPT weights
        training = training_summary(result, self.lr_check)
        training["dapt"] = training_summary(domain)
        training["wall_s"] = result.wall_s + domain.wall_s
        return FitInfo(artifact_dir=self._save(workdir), training=training)


SECTION = SectionSpec("dapt", DaptConfig, "continued pretraining before LoRA (dapt_lora)",
                      resolve_paths=lambda raw, base: resolve_file_fields(raw, ("text",), base))
METHODS = [MethodSpec("dapt_lora", "continued pretraining on dapt.text, then LoRA on the task",
                      lambda plan: [DaptLoraRung(plan.task, plan.config)])]
