"""Embeddings: mean-pooled hidden states of token sequences, and an encoder (MiniLM by default) that embeds text.

Shared by the feature-based rungs (frozen decoder or encoder + logistic regression) and retrieval (RAG).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

from tunewise.models.forward import context_length, padded
from tunewise.models.load import load_encoder
from tunewise.progress import progress_printer


def length_batches(lengths: list[int], batch_size: int) -> list[list[int]]:
    """Indices grouped into batches of similar length (less padding); the caller puts results back in order."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    return [order[start : start + batch_size] for start in range(0, len(order), batch_size)]


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(B, H) fp32 mean of hidden (B, T, H) over the positions where mask (B, T) is 1."""
    weights = mask.unsqueeze(-1).float()  # (B, T, 1)
    return (hidden.float() * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)


def embed_sequences(
    forward: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    seqs: list[list[int]],
    pad_id: int,
    device: torch.device,
    batch_size: int,
    progress: Callable[[int], None] | None = None,
) -> np.ndarray:
    """(N, H) fp32 mean-pooled embeddings of token sequences; `forward(ids, mask)` returns (B, T, H) states."""
    if not seqs:
        return np.zeros((0, 0), dtype=np.float32)
    if any(len(s) == 0 for s in seqs):
        raise ValueError("every sequence needs at least one token")
    rows: list[np.ndarray | None] = [None] * len(seqs)
    done = 0
    with torch.inference_mode():
        for batch in length_batches([len(s) for s in seqs], batch_size):
            ids, mask = padded([seqs[i] for i in batch], "right", device, pad_id)
            pooled = mean_pool(forward(ids, mask), mask).cpu().numpy()
            for row, i in zip(pooled, batch):
                rows[i] = row
            done += len(batch)
            if progress is not None:
                progress(done)
    return np.stack(rows).astype(np.float32)


def l2_normalised(rows: np.ndarray) -> np.ndarray:
    """Each row scaled to unit length (zero rows stay zero): dot products are then cosine similarities."""
    return rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)


class TextEncoder:
    """A sentence encoder: texts in, (N, H) fp32 unit-length mean-pooled embeddings out. Loaded on first use."""

    def __init__(self, name: str = "minilm", max_length: int = 256, batch_size: int = 32):
        self.name, self.max_length, self.batch_size = name, max_length, batch_size
        self.model = self.tokenizer = None

    def load(self):
        """(model, tokenizer), frozen."""
        if self.model is None:
            self.model, self.tokenizer = load_encoder(self.name)
            self.model.requires_grad_(False)
        return self.model, self.tokenizer

    def token_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """Each text's token ids as the encoder sees them (special tokens included, cut at max_length)."""
        _, tokenizer = self.load()
        limit = min(self.max_length, context_length(self.model))
        return [list(ids) for ids in tokenizer(list(texts), truncation=True, max_length=limit)["input_ids"]]

    def embed_ids(self, seqs: list[list[int]], what: str = "embed") -> np.ndarray:
        """(N, H) unit-length embeddings of token sequences (from `token_ids`)."""
        model, tokenizer = self.load()
        device = next(model.parameters()).device
        progress = progress_printer(what, len(seqs)) if len(seqs) > self.batch_size else None
        rows = embed_sequences(self.forward, seqs, tokenizer.pad_token_id or 0, device, self.batch_size, progress)
        return l2_normalised(rows) if len(rows) else rows

    def embed(self, texts: Sequence[str], what: str = "embed") -> np.ndarray:
        """(N, H) unit-length embeddings of the texts, in their order."""
        return self.embed_ids(self.token_ids(texts), what)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """(B, T, H) last hidden states."""
        return self.model(input_ids=ids, attention_mask=mask).last_hidden_state
