"""Model Tailor's patch math (Zhu et al., ICML 2024, "Model Tailor: Mitigating Catastrophic
Forgetting in Multi-modal Large Language Models") as pure tensor functions.

Given a fine-tune's update ΔW of one layer, Model Tailor keeps a sparse *patch* of it: the
entries that matter for the fine-tuned task by **salience** (|ΔW|) and **sensitivity** (the
loss increase if the entry were reset: the second-order Taylor term ½·F·ΔW², F the first-order
Fisher, mean squared gradient of the task loss), then **compensates** the kept entries for the
reset ones (OBS, Hassibi & Stork 1993) with the layer's input Hessian H = XᵀX, so that the
patched layer reproduces the fine-tuned layer's outputs on the task inputs as closely as
possible. Choices where the paper is underspecified: docs/method.md (Model Tailor).
"""

from __future__ import annotations

import torch


def _unit(t: torch.Tensor) -> torch.Tensor:
    m = t.max()
    return t / m if m > 0 else torch.zeros_like(t)


def patch_scores(delta: torch.Tensor, fisher: torch.Tensor, alpha: float = 0.5) -> torch.Tensor:
    """Fused score per entry: ``alpha · |ΔW| / max|ΔW| + (1 − alpha) · S / max S`` with the
    sensitivity ``S = ½ · F · ΔW²`` (float32, same shape as ``delta``)."""
    if not 0 <= alpha <= 1:
        raise ValueError(f"alpha={alpha!r}: must be in [0, 1]")
    d = delta.float()
    salience = d.abs()
    sensitivity = 0.5 * fisher.float() * d * d
    return alpha * _unit(salience) + (1 - alpha) * _unit(sensitivity)


def patch_mask(score: torch.Tensor, density: float) -> torch.Tensor:
    """Bool mask of the ``round(density · numel)`` highest scores (at least one entry when
    ``density > 0``); ties go to the earlier entry (row-major)."""
    if not 0 < density <= 1:
        raise ValueError(f"density={density!r}: must be in (0, 1]")
    flat = score.float().reshape(-1)
    n = min(flat.numel(), max(1, round(density * flat.numel())))
    keep = torch.zeros(flat.numel(), dtype=torch.bool)
    keep[torch.sort(-flat, stable=True).indices[:n]] = True
    return keep.reshape(score.shape)


def compensate(
    delta: torch.Tensor, keep: torch.Tensor, hessian: torch.Tensor, damp: float = 0.01
) -> torch.Tensor:
    """The patch ΔW' of a linear layer (``delta`` ``[out, in]``): zero where ``keep`` is False,
    and on each row's kept entries K the OBS correction for the reset ones Q,

        ΔW'[i, K] = ΔW[i, K] + H_KK⁻¹ · H_KQ · ΔW[i, Q],

    which minimises ``(ΔW'[i] − ΔW[i]) · H · (ΔW'[i] − ΔW[i])ᵀ``, the squared output error on
    the inputs X with ``H = XᵀX`` (``[in, in]``). ``damp · mean(diag H)`` is added to the
    diagonal (as SparseGPT). A diagonal H gives no correction. Float32 result.
    """
    d = delta.float()
    if d.ndim != 2 or hessian.shape != (d.shape[1], d.shape[1]):
        raise ValueError(f"compensate: ΔW {tuple(d.shape)} and H {tuple(hessian.shape)} mismatch")
    h = hessian.float()
    h = h + damp * h.diagonal().mean().clamp_min(1e-12) * torch.eye(h.shape[0])
    out = torch.where(keep, d, torch.zeros_like(d))
    for i in range(d.shape[0]):
        k, q = keep[i], ~keep[i]
        if not k.any() or not q.any():
            continue
        hkk, hkq = h[k][:, k], h[k][:, q]
        out[i, k] += torch.linalg.solve(hkk, hkq @ d[i, q])
    return out
