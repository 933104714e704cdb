"""Merge-based baselines on ΔW: task arithmetic (negation) and TIES.

- ``task_arithmetic`` — fine-tune an adapter on the forget set's real answers and subtract it:
  ΔW = −λ·ΔW_forget (Ilharco et al., 2023, "Editing Models with Task Arithmetic", §forgetting
  via negation).
- ``ties`` — TIES-merge (trim, elect sign, disjoint mean; Yadav et al., 2023) of SMFA's MFA
  and retaining anchor, applied to W_o.
"""

from __future__ import annotations

from dataclasses import dataclass

from smfa.data import gold_forget_samples
from smfa.merging import task_arithmetic, ties_merge
from smfa.methods.base import Method, MethodResult, train_delta
from smfa.methods.refusal import anchor_streams, idk_streams, nll
from smfa.registry import METHODS


@dataclass
class TaskArithmeticOptions:
    """Attributes:
    lam: scale λ of the negated forget task vector.
    """

    lam: float = 1.0

    def __post_init__(self):
        if self.lam <= 0:
            raise ValueError(f"lam={self.lam!r}: must be > 0")


@METHODS.register("task_arithmetic")
class TaskArithmetic(Method):
    """Negate a task vector fine-tuned on the forget answers (Ilharco et al., 2023)."""

    Options = TaskArithmeticOptions

    def run(self, ctx):
        streams = {"train": gold_forget_samples(ctx.bench, ctx.forget)}
        delta, adapter, log = train_delta(
            ctx, streams, nll, "forget_task", main="train", desc="task vector"
        )
        neg = {k: task_arithmetic(v, self.opts.lam) for k, v in delta.items()}
        return MethodResult(neg, {"forget_task": adapter} if adapter else {}, {"steps": len(log)})


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

    def run(self, ctx):
        df, fa, _ = train_delta(ctx, idk_streams(ctx), nll, "mfa", main="train", desc="MFA")
        da, aa, _ = train_delta(
            ctx, anchor_streams(ctx), nll, "anchor", main="train", desc="anchor"
        )
        merged = {k: ties_merge([df[k], da[k]], self.opts.density) for k in df}
        adapters = {k: v for k, v in (("mfa", fa), ("anchor", aa)) if v}
        return MethodResult(merged, adapters, {})

    def from_adapters(self, adapters):
        from smfa.sculpt import adapter_deltas

        if not {"mfa", "anchor"} <= set(adapters):
            return None
        df, da = adapter_deltas(adapters["mfa"]), adapter_deltas(adapters["anchor"])
        return MethodResult({k: ties_merge([df[k], da[k]], self.opts.density) for k in df})
