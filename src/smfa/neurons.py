"""MANU's neuron math (Liu et al., 2025, "Modality-Aware Neuron Unlearning for Multimodal Large
Language Models", arXiv 2502.15910) as pure tensor functions.

A *neuron* is one hidden unit of an MLP block: the input to its down-projection. Its importance
on a data set is measured by four statistics of its activations over tokens (MANU §3: absolute
value, frequency of firing, variance, root mean square); a neuron is a forget neuron when it
matters much more on the forget inputs than on the retain inputs of the same modality. The
choices where the paper is silent are in ``docs/method.md`` (MANU).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

IMPORTANCE = ("abs", "freq", "var", "rms")
EPS = 1e-8


class ActivationStats:
    """Running sums of one layer's neuron activations (``[N, D]`` token rows, added in chunks),
    so the importance of :data:`IMPORTANCE` needs no stored activations."""

    def __init__(self, width: int):
        self.n = 0
        self.abs = torch.zeros(width, dtype=torch.float64)
        self.pos = torch.zeros(width, dtype=torch.float64)
        self.sum = torch.zeros(width, dtype=torch.float64)
        self.sq = torch.zeros(width, dtype=torch.float64)

    def add(self, acts: torch.Tensor) -> None:
        """Add activations ``[N, D]`` (N tokens); computed in float64."""
        a = acts.detach().to(torch.float64).reshape(-1, self.abs.numel())
        self.n += a.shape[0]
        self.abs += a.abs().sum(0)
        self.pos += (a > 0).sum(0)
        self.sum += a.sum(0)
        self.sq += (a * a).sum(0)

    def importance(self) -> dict[str, torch.Tensor]:
        """``{abs, freq, var, rms}`` per neuron (float32 ``[D]``): mean |a|, fraction of tokens
        with a > 0, population variance E[a²] − E[a]², and sqrt(E[a²])."""
        if self.n == 0:
            raise ValueError("ActivationStats: no activations were added")
        n = float(self.n)
        mean, sq = self.sum / n, self.sq / n
        out = {
            "abs": self.abs / n,
            "freq": self.pos / n,
            "var": (sq - mean * mean).clamp_min(0),
            "rms": sq.sqrt(),
        }
        return {k: v.float() for k, v in out.items()}


def importance_ratio(
    forget: Mapping[str, torch.Tensor], retain: Mapping[str, torch.Tensor], eps: float = EPS
) -> torch.Tensor:
    """Forget-vs-retain score of each neuron: the mean over the four importance functions of
    ``I_f / (I_r + eps)`` (float32 ``[D]``)."""
    ratios = [forget[g].float() / (retain[g].float() + eps) for g in IMPORTANCE]
    return torch.stack(ratios).mean(0)


def combine_modalities(scores: Sequence[torch.Tensor], how: str = "max") -> torch.Tensor:
    """One score per neuron from the per-modality scores (image-conditioned and text-only
    forget inputs): ``max`` (a neuron serving either modality's memory) or ``mean``."""
    if not scores:
        raise ValueError("combine_modalities: no modality scores")
    if how not in ("max", "mean"):
        raise ValueError(f"combine={how!r}: max or mean")
    s = torch.stack([t.float() for t in scores])
    return s.max(0).values if how == "max" else s.mean(0)


def select_neurons(score: torch.Tensor, ratio: float) -> torch.Tensor:
    """Bool mask ``[D]`` of the ``round(ratio · D)`` highest-scoring neurons (at least one when
    ``ratio > 0``); ties go to the lower index."""
    if not 0 <= ratio <= 1:
        raise ValueError(f"ratio={ratio!r}: must be in [0, 1]")
    d = score.numel()
    n = min(d, max(1, round(ratio * d))) if ratio > 0 else 0
    order = torch.sort(-score.float(), stable=True).indices
    mask = torch.zeros(d, dtype=torch.bool)
    mask[order[:n]] = True
    return mask


def prune_delta(
    ups: Mapping[str, torch.Tensor], down: tuple[str, torch.Tensor], mask: torch.Tensor
) -> dict[str, torch.Tensor]:
    """The dense update that removes the selected neurons of one MLP (W + ΔW = pruned W).

    ``ups``: ``{key: weight [D, H] or bias [D]}`` of the projections that produce the neurons
    (gate/up or fc1): their rows ``mask`` are zeroed. ``down``: ``(key, weight [H, D])``: its
    columns ``mask`` are zeroed. Returns ``{key: ΔW}`` float32 (``−W`` on the pruned entries).
    """
    out = {}
    for key, w in ups.items():
        d = torch.zeros_like(w, dtype=torch.float32)
        d[mask] = -w[mask].float()
        out[key] = d
    key, w = down
    d = torch.zeros_like(w, dtype=torch.float32)
    d[:, mask] = -w[:, mask].float()
    out[key] = d
    return out
