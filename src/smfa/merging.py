"""Weight-space baselines on dense LoRA updates ΔW (SPEC §3): task arithmetic and TIES.

Pure tensor functions, float32 math, results cast back to the first input's dtype. They act on
one layer's ΔW at a time; callers map them over ``{base_key: ΔW}`` dicts (see
:mod:`smfa.sculpt` for reading adapters).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


def task_arithmetic(delta: torch.Tensor, lam: float) -> torch.Tensor:
    """Forgetting by negation (Ilharco et al. 2023, "Editing Models with Task Arithmetic").

    The task vector ``ΔW`` of a fine-tune on the forget answers is subtracted:
    returns ``-lam · ΔW`` (to be added to the base weight), same shape and dtype as ``delta``.
    """
    return (-float(lam) * delta.float()).to(delta.dtype)


def trim(delta: torch.Tensor, density: float) -> torch.Tensor:
    """TIES step 1: keep the top ``density`` fraction of entries by magnitude, zero the rest.

    Keeps ``int(density · numel)`` entries (peft's ``magnitude_based_pruning`` count); ties in
    magnitude are broken by position (earlier entry first), so the result is deterministic.
    Returns float32, same shape.
    """
    if not 0.0 <= density <= 1.0:
        raise ValueError(f"density must be in [0, 1], got {density}")
    flat = delta.float().reshape(-1)
    n_keep = int(density * flat.numel())
    keep = torch.zeros_like(flat, dtype=torch.bool)
    if n_keep > 0:
        order = torch.sort(flat.abs(), descending=True, stable=True).indices
        keep[order[:n_keep]] = True
    return torch.where(keep, flat, torch.zeros_like(flat)).reshape(delta.shape)


def ties_merge(
    deltas: Sequence[torch.Tensor],
    density: float,
    weights: Sequence[float] | None = None,
) -> torch.Tensor:
    """TIES-Merging (Yadav et al. 2023, "TIES-Merging: Resolving Interference When Merging
    Models", Alg. 1) of ``T`` same-shape updates.

    1. Trim: ``τ̂_t = trim(τ_t, density)`` (top-``density`` by magnitude, per tensor).
    2. Elect sign: ``γ = sgn(Σ_t τ̂_t)``, with ``γ = +1`` where the sum is 0 (peft's rule).
    3. Disjoint mean: ``τ_m = Σ_{t∈A} w_t τ̂_t / |A|`` with ``A = {t : sgn(τ̂_t) = γ}``
       (zero entries never agree), and ``τ_m = 0`` where ``A`` is empty.

    ``weights`` (default all 1) scale each trimmed tensor after the sign election, as in
    peft's ``merge_utils.ties``; the paper's global λ is a weight applied to all. Returns the
    merged update, shape and dtype of ``deltas[0]``.
    """
    if not deltas:
        raise ValueError("ties_merge: empty list of deltas")
    shape = deltas[0].shape
    for t in deltas[1:]:
        if t.shape != shape:
            raise ValueError(f"ties_merge: shapes differ: {tuple(shape)} vs {tuple(t.shape)}")
    if weights is None:
        weights = [1.0] * len(deltas)
    if len(weights) != len(deltas):
        raise ValueError(f"ties_merge: {len(weights)} weights for {len(deltas)} deltas")
    trimmed = torch.stack([trim(t, density) for t in deltas])  # [T, ...]
    elected = torch.where(trimmed.sum(0) >= 0, 1.0, -1.0)
    agree = torch.sign(trimmed) == elected  # zero entries have sign 0: never agree
    w = torch.tensor([float(x) for x in weights], dtype=torch.float32)
    w = w.reshape(-1, *([1] * len(shape)))
    total = (trimmed * w * agree).sum(0)
    count = agree.sum(0).clamp(min=1)
    return (total / count).to(deltas[0].dtype)
