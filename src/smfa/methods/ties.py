"""``ties`` — TIES-merge (trim, elect sign, disjoint mean; Yadav et al., 2023) of SMFA's MFA and
retaining anchor on ΔW, applied to W_o."""

from __future__ import annotations

from dataclasses import dataclass

from smfa.merging import ties_merge
from smfa.methods.base import Method, MethodResult, train_delta
from smfa.methods.streams import anchor_streams, idk_streams, nll
from smfa.registry import METHODS


@dataclass
class TiesOptions:
    """Attributes:
    density: fraction of entries kept (by magnitude) per tensor in the trim step.
    """

    density: float = 0.2

    def __post_init__(self):
        if not 0 < self.density <= 1:
            raise ValueError(f"density={self.density!r}: must be in (0, 1]")


@METHODS.register("ties")
class Ties(Method):
    """TIES merge of the MFA and the retaining anchor on ΔW (Yadav et al., 2023)."""

    Options = TiesOptions

    def adapter_tags(self):
        return ("mfa", "anchor")

    def reuses(self):
        return ("mfa", "anchor")

    def run(self, ctx):
        df, fa, _ = train_delta(ctx, idk_streams(ctx), nll, "mfa", main="train", desc="MFA")
        da, aa, _ = train_delta(
            ctx, anchor_streams(ctx), nll, "anchor", main="train", desc="anchor"
        )
        adapters = {k: v for k, v in (("mfa", fa), ("anchor", aa)) if v}
        return MethodResult(self.merge(df, da), adapters, {})

    def from_adapters(self, adapters):
        from smfa.adapters import iter_adapter_deltas, lazy_adapter_deltas

        # One layer's two ΔW at a time (the trim step's top-k needs a whole tensor, so TIES
        # cannot go below one layer the way SMFA's element-wise mask does).
        da = lazy_adapter_deltas(adapters["anchor"])
        d = self.opts.density
        return MethodResult(
            {k: ties_merge([df, da[k]], d) for k, df in iter_adapter_deltas(adapters["mfa"])}
        )

    def merge(self, df: dict, da: dict) -> dict:
        """TIES of the two updates, layer by layer."""
        return {k: ties_merge([df[k], da[k]], self.opts.density) for k in df}
