"""Membership-inference scores from per-token log-probs (definitions: docs/metrics.md §8).

Convention: for every attack a **higher score means "more likely a member"** (the LOSS score is
the negated NLL, and so on), so :func:`auc` of members vs non-members is above 0.5 when the
attack works. The privacy score ``1 - 2|AUC - 0.5|`` is 1 at chance level (ideal after
unlearning: forget set indistinguishable from the never-seen holdout set).
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence

import numpy as np

ArrayLike = Sequence[float] | np.ndarray


def _logp(token_logprobs: ArrayLike) -> np.ndarray:
    lp = np.asarray(token_logprobs, dtype=np.float64)
    if lp.ndim != 1 or lp.size == 0:
        raise ValueError(f"need a non-empty 1-D array of token log-probs, got shape {lp.shape}")
    return lp


def loss_score(token_logprobs: ArrayLike) -> float:
    """LOSS attack (Yeom et al. 2018): mean token log-prob, i.e. ``-NLL``."""
    return float(_logp(token_logprobs).mean())


def zlib_length(text: str) -> int:
    """Bytes of ``zlib.compress(text.encode("utf-8"))`` (default level 6)."""
    return len(zlib.compress(text.encode("utf-8")))


def zlib_score(token_logprobs: ArrayLike, text: str) -> float:
    """zlib attack (Carlini et al. 2021): ``-NLL / zlib_length(text)``, NLL = mean token NLL."""
    return float(_logp(token_logprobs).mean()) / zlib_length(text)


def _lowest_k_mean(values: np.ndarray, k: float) -> float:
    if not 0.0 < k <= 1.0:
        raise ValueError(f"k must be in (0, 1], got {k}")
    m = max(1, math.floor(k * values.size))
    return float(np.sort(values)[:m].mean())


def min_k_score(token_logprobs: ArrayLike, k: float = 0.2) -> float:
    """Min-K% (Shi et al. 2024): mean of the lowest ``max(1, floor(k·T))`` token log-probs."""
    return _lowest_k_mean(_logp(token_logprobs), k)


def min_k_plus_plus_score(
    token_logprobs: ArrayLike, mu: ArrayLike, sigma: ArrayLike, k: float = 0.2
) -> float:
    """Min-K%++ (Zhang et al. 2025): mean of the lowest k% of ``(logp - mu) / sigma``.

    ``mu[t] = E_{z~p(.|x<t)} log p(z|x<t)`` and ``sigma[t]`` its standard deviation over the full
    next-token distribution (see :func:`token_stats`); ``sigma`` is floored at 1e-12.
    """
    lp = _logp(token_logprobs)
    mu_, sd = np.asarray(mu, dtype=np.float64), np.asarray(sigma, dtype=np.float64)
    if mu_.shape != lp.shape or sd.shape != lp.shape:
        raise ValueError(f"logp {lp.shape}, mu {mu_.shape} and sigma {sd.shape} must match")
    return _lowest_k_mean((lp - mu_) / np.maximum(sd, 1e-12), k)


def token_stats(logits, labels):
    """Per-token ``(logp, mu, sigma)`` as float64 numpy arrays from aligned logits and labels.

    ``logits``: tensor ``[T, V]`` predicting ``labels`` ``[T]`` (already shifted; drop ignored
    positions first). Computed in float32: ``logp[t] = log_softmax(logits[t])[labels[t]]``,
    ``mu[t] = Σ_z p(z) log p(z)``, ``sigma[t] = sqrt(Σ_z p(z) log p(z)² - mu[t]²)``.
    """
    import torch

    logprobs = torch.log_softmax(logits.detach().float(), dim=-1)
    probs = logprobs.exp()
    lp = logprobs.gather(-1, labels.long().unsqueeze(-1)).squeeze(-1)
    mu = (probs * logprobs).sum(-1)
    var = (probs * logprobs.square()).sum(-1) - mu.square()
    sigma = var.clamp_min(0).sqrt()
    return tuple(t.cpu().double().numpy() for t in (lp, mu, sigma))


def auc(scores_members: ArrayLike, scores_nonmembers: ArrayLike) -> float:
    """ROC AUC = Mann–Whitney ``U / (n1·n0)``: P(member > non-member), ties count 1/2.

    Computed from average ranks of the pooled scores (pure numpy, O(n log n)).
    """
    pos = np.asarray(scores_members, dtype=np.float64).ravel()
    neg = np.asarray(scores_nonmembers, dtype=np.float64).ravel()
    if pos.size == 0 or neg.size == 0:
        raise ValueError("auc: members and non-members must both be non-empty")
    both = np.concatenate([pos, neg])
    if np.isnan(both).any():
        raise ValueError("auc: scores contain NaN")
    _, inverse, counts = np.unique(both, return_inverse=True, return_counts=True)
    first_rank = np.cumsum(counts) - counts + 1  # 1-based rank of each tie group's first member
    avg_rank = first_rank + (counts - 1) / 2.0
    ranks = avg_rank[inverse]
    u = ranks[: pos.size].sum() - pos.size * (pos.size + 1) / 2.0
    return float(u / (pos.size * neg.size))


def mia_privacy_score(auc_value: float) -> float:
    """Privacy score ``1 - 2|AUC - 0.5|``: 1 at chance, 0 for a perfect attack."""
    if not 0.0 <= auc_value <= 1.0:
        raise ValueError(f"auc must be in [0, 1], got {auc_value}")
    return 1.0 - 2.0 * abs(auc_value - 0.5)
