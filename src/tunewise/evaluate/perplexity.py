"""Perplexity on held-out text: exp of the mean negative log-likelihood per token, with a bootstrap interval over
documents (a document's tokens are not independent of each other, so documents are what gets resampled).

A document longer than the model's context is cut into consecutive windows; each window's first token is context
only (it has nothing before it in the window), the rest are scored.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tunewise.evaluate.likelihood import score_pairs
from tunewise.evaluate.stats import percentile_interval, resample_indices
from tunewise.progress import progress_printer


def document_nll(model, tokenizer, texts: Sequence[str], window: int, batch_size: int = 8,
                 precision: str = "bf16") -> tuple[np.ndarray, np.ndarray]:
    """(negative log-likelihood summed over each document's scored tokens, number of scored tokens), each (D,)."""
    if window < 2:
        raise ValueError(f"a perplexity window needs at least 2 tokens, got {window}")
    pairs, owners = [], []
    for n, text in enumerate(texts):
        ids = tokenizer(text)["input_ids"]  # with the tokenizer's own start token, as the model saw text in training
        for start in range(0, len(ids), window):
            chunk = ids[start : start + window]
            if len(chunk) >= 2:
                pairs.append((chunk[:1], chunk[1:]))
                owners.append(n)
    progress = progress_printer("perplexity", len(pairs), unit="windows")
    log_likelihoods = score_pairs(model, pairs, batch_size=batch_size, precision=precision, progress=progress)
    nll, tokens = np.zeros(len(texts)), np.zeros(len(texts), dtype=int)
    for owner, (_, continuation), value in zip(owners, pairs, log_likelihoods):
        nll[owner] -= value
        tokens[owner] += len(continuation)
    return nll, tokens


def perplexity_with_ci(nll: np.ndarray, tokens: np.ndarray, n_resamples: int = 1000, confidence: float = 0.95,
                       seed: int = 0) -> dict[str, float]:
    """{perplexity, ci_low, ci_high, nll_per_token, tokens, documents}: exp(total NLL / total tokens), its interval
    from resampling documents."""
    keep = tokens > 0
    nll, tokens = nll[keep], tokens[keep]
    if not len(tokens):
        raise ValueError("no document has two or more tokens to score")
    idx = resample_indices(len(tokens), n_resamples, seed)  # (R, D)
    low, high = percentile_interval(np.exp(nll[idx].sum(axis=1) / tokens[idx].sum(axis=1)), confidence)
    per_token = float(nll.sum() / tokens.sum())
    return {"perplexity": float(np.exp(per_token)), "ci_low": low, "ci_high": high, "nll_per_token": per_token,
            "tokens": int(tokens.sum()), "documents": len(tokens)}
