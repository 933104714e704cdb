"""``smfa`` — the Sculpted Memory Forgetting Adapter (Zeng et al., 2025, arXiv 2511.20196).

1. MFA: LoRA fine-tuned on D_f^idk ∪ D_r^few (forget questions → refusals, both views);
2. RA: a second, independent LoRA on D_r^few alone;
3. sculpting per layer on ΔW = scaling·B@A (float32): M = C & R with C = (ΔW_a·ΔW_f < 0) and
   R = (k·ρ·|ΔW_a| < |ΔW_f|), ρ = ‖ΔW_f‖_F / (‖ΔW_a‖_F + ε); ΔW'_f = ΔW_f·(1 − M);
4. W = W_o + ΔW'_f.

``mfa_views="separate"`` trains one MFA per view (image, text), sculpts each against the same
RA and combines them (``combine="mean"|"sum"``). Ablations: ``criteria`` "c", "r", "none".
Re-sculpting saved adapters needs no training (:func:`sculpt_saved`, ``smfa sculpt``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from smfa.methods.base import Method, MethodResult, train_delta
from smfa.methods.refusal import anchor_streams, idk_streams, nll
from smfa.registry import METHODS

CRITERIA = ("cr", "c", "r", "none")
VIEWS = {"image": ("image_memory",), "text": ("text_memory",)}


@dataclass
class SMFAOptions:
    """Attributes:
    k: relative-magnitude threshold (k → ∞: raw MFA; k = 0: directional conflict only).
    criteria: which masks delete entries: cr (C & R, the paper), c, r, or none (raw MFA).
    mfa_views: joint (one MFA on both views) or separate (one MFA per view, then combined).
    combine: how separate per-view sculpted MFAs are combined: mean or sum.
    """

    k: float = 5.0
    criteria: str = "cr"
    mfa_views: str = "joint"
    combine: str = "mean"

    def __post_init__(self):
        if not self.k >= 0:
            raise ValueError(f"k={self.k!r}: must be >= 0")
        if self.criteria not in CRITERIA:
            raise ValueError(f"criteria={self.criteria!r}: one of {', '.join(CRITERIA)}")
        if self.mfa_views not in ("joint", "separate"):
            raise ValueError(f"mfa_views={self.mfa_views!r}: joint or separate")
        if self.combine not in ("mean", "sum"):
            raise ValueError(f"combine={self.combine!r}: mean or sum")


def sculpt_saved(
    mfa_dirs: list[Path], anchor_dir: Path, k: float, criteria: str, combine: str = "mean"
):
    """Sculpt saved MFA adapter(s) against a saved RA, one layer at a time.

    Returns (ΔW'_f per base weight, per-layer mask statistics). Several MFA folders (one per
    view) are sculpted separately and combined with ``combine``.
    """
    from smfa.sculpt import combine_deltas, sculpt_adapters

    per_view, stats = [], {}
    for i, mfa in enumerate(mfa_dirs):
        view = {}
        for key, delta, st in sculpt_adapters(mfa, anchor_dir, k, criteria):
            view[key] = delta
            stats[key if len(mfa_dirs) == 1 else f"{key}@view{i}"] = st
        per_view.append(view)
    if len(per_view) == 1:
        return per_view[0], stats
    return {k_: combine_deltas([v[k_] for v in per_view], combine) for k_ in per_view[0]}, stats


@METHODS.register("smfa")
class SMFA(Method):
    """Sculpted Memory Forgetting Adapter (Zeng et al., 2025): MFA sculpted by the RA."""

    Options = SMFAOptions

    def run(self, ctx):
        o = self.opts
        if o.mfa_views == "joint":
            view_streams = {"mfa": idk_streams(ctx)}
        else:
            view_streams = {f"mfa_{v}": idk_streams(ctx, q) for v, q in VIEWS.items()}
        if ctx.train.full_finetune:
            raise ValueError("smfa: full_finetune is not supported (sculpting needs adapters)")
        adapters = {}
        for tag, streams in view_streams.items():
            _, adapters[tag], _ = train_delta(ctx, streams, nll, tag, main="train", desc=tag)
        _, adapters["anchor"], _ = train_delta(
            ctx, anchor_streams(ctx), nll, "anchor", main="train", desc="anchor"
        )
        mfas = [adapters[t] for t in view_streams]
        delta, stats = sculpt_saved(mfas, adapters["anchor"], o.k, o.criteria, o.combine)
        return MethodResult(delta, adapters, {"mask_stats": stats})

    def from_adapters(self, adapters):
        o = self.opts
        if o.mfa_views != "joint" or "mfa" not in adapters:
            return None
        delta, stats = sculpt_saved([adapters["mfa"]], adapters["anchor"], o.k, o.criteria)
        return MethodResult(delta, {}, {"mask_stats": stats})
