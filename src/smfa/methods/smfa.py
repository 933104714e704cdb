"""``smfa`` — the Sculpted Memory Forgetting Adapter (Zeng et al., 2025, arXiv 2511.20196).

1. MFA: LoRA fine-tuned on D_f^idk ∪ D_r^few (forget questions → refusals, both views);
2. RA: a second, independent LoRA on D_r^few alone;
3. sculpting per layer on ΔW = scaling·B@A (float32): M = C & R with C = (ΔW_a·ΔW_f < 0) and
   R = (k·ρ·|ΔW_a| < |ΔW_f|), ρ = ‖ΔW_f‖_F / (‖ΔW_a‖_F + ε); ΔW'_f = ΔW_f·(1 − M);
4. W = W_o + ΔW'_f.

``mfa_views="separate"`` trains one MFA per view (image, text), sculpts each against the same
RA and combines them (``combine="mean"|"sum"``). Ablations: ``criteria`` "c", "r", "none".
Re-sculpting saved adapters needs no training (``from_adapters``, ``smfa sculpt``).
With ``full_finetune`` the MFA and RA are full fine-tunes; their dense deltas W_after − W_o are
saved under ``adapters/<tag>/delta.safetensors`` and sculpted with the same math
(:func:`smfa.adapters.sculpt_dense`).
"""

from __future__ import annotations

from dataclasses import dataclass

from smfa.methods.base import Method, MethodResult, train_delta
from smfa.methods.streams import anchor_streams, idk_streams, nll
from smfa.registry import METHODS
from smfa.sculpt import CRITERIA, check_k

VIEWS = {"image": ("image_memory",), "text": ("text_memory",)}


@dataclass
class SMFAOptions:
    """Attributes:
    k: relative-magnitude threshold, >= 0 (k → ∞ or inf: raw MFA; k = 0: directional
        conflict only).
    criteria: which masks delete entries: cr (C & R, the paper), c, r, or none (raw MFA).
    mfa_views: joint (one MFA on both views) or separate (one MFA per view, then combined).
    combine: how separate per-view sculpted MFAs are combined: mean or sum.
    """

    k: float = 5.0
    criteria: str = "cr"
    mfa_views: str = "joint"
    combine: str = "mean"

    def __post_init__(self):
        try:
            self.k = check_k(self.k)
        except ValueError:
            raise ValueError(f"k={self.k!r}: must be a number >= 0 (inf allowed)") from None
        if self.criteria not in CRITERIA:
            raise ValueError(f"criteria={self.criteria!r}: one of {', '.join(CRITERIA)}")
        if self.mfa_views not in ("joint", "separate"):
            raise ValueError(f"mfa_views={self.mfa_views!r}: joint or separate")
        if self.combine not in ("mean", "sum"):
            raise ValueError(f"combine={self.combine!r}: mean or sum")


@METHODS.register("smfa")
class SMFA(Method):
    """Sculpted Memory Forgetting Adapter (Zeng et al., 2025): MFA sculpted by the RA."""

    Options = SMFAOptions
    reads_dense = True
    variants = {
        "smfa_c": {"options": {"criteria": "c"}, "group": "ablation"},
        "smfa_r": {"options": {"criteria": "r"}, "group": "ablation"},
    }

    def mfa_tags(self) -> tuple[str, ...]:
        return ("mfa",) if self.opts.mfa_views == "joint" else tuple(f"mfa_{v}" for v in VIEWS)

    def adapter_tags(self):
        return (*self.mfa_tags(), "anchor")

    def reuses(self):
        return self.adapter_tags()

    def run(self, ctx):
        if self.opts.mfa_views == "joint":
            view_streams = {"mfa": idk_streams(ctx)}
        else:
            view_streams = {f"mfa_{v}": idk_streams(ctx, q) for v, q in VIEWS.items()}
        view_streams["anchor"] = anchor_streams(ctx)
        adapters = {}
        for tag, streams in view_streams.items():
            delta, adapters[tag], _ = train_delta(ctx, streams, nll, tag, main="train", desc=tag)
            if adapters[tag] is None:  # full fine-tuning: the dense ΔW = W_after − W_o
                from smfa.adapters import write_delta

                adapters[tag] = ctx.work / tag / "dense"
                write_delta(adapters[tag], delta, tag)
        result = self.from_adapters(adapters)
        return MethodResult(result.delta, adapters, result.info)

    def from_adapters(self, adapters):
        from smfa.adapters import is_dense, sculpt_saved, sculpted_deltas

        o = self.opts
        mfas = [adapters[t] for t in self.mfa_tags()]
        if all(is_dense(d) for d in [*mfas, adapters["anchor"]]):  # full fine-tuning deltas
            delta, stats = sculpt_saved(mfas, adapters["anchor"], o.k, o.criteria, o.combine)
            return MethodResult(delta, {}, {"mask_stats": stats})
        # lazy: the unlearn stage streams it to delta.safetensors (and the merged model) from
        # the factors; the statistics fill in as the layers are sculpted
        delta = sculpted_deltas(mfas, adapters["anchor"], o.k, o.criteria, o.combine)
        return MethodResult(delta, {}, {"mask_stats": delta.plan.stats})
