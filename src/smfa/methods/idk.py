"""``idk`` — refusal ("I don't know") tuning: the raw Memory Forgetting Adapter.

Fine-tune on forget questions answered with refusals drawn from the pool, plus ``retain_few``
with real answers (IDK tuning: Maini et al., 2024, TOFU; SMFA's MFA, Zeng et al., 2025,
arXiv 2511.20196, §3 eq. 1). SMFA with ``criteria="none"`` (or k → ∞) equals this method.
"""

from __future__ import annotations

from smfa.methods.base import Method, MethodResult, train_delta
from smfa.methods.streams import idk_streams, nll
from smfa.registry import METHODS


@METHODS.register("idk")
class IDKTuning(Method):
    """Refusal tuning on the forget set + ``retain_few`` (TOFU's IDK; SMFA's raw MFA)."""

    def run(self, ctx):
        delta, adapter, log = train_delta(ctx, idk_streams(ctx), nll, "mfa", main="train")
        info = {"steps": len(log), "final_loss": log[-1]["loss"] if log else None}
        return MethodResult(delta, {"mfa": adapter} if adapter else {}, info)

    def adapter_tags(self):
        return ("mfa",)

    def reuses(self):
        return ("mfa",)

    def from_adapters(self, adapters):
        from smfa.adapters import adapter_deltas

        return MethodResult(adapter_deltas(adapters["mfa"]))
