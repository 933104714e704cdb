"""``idk`` — refusal ("I don't know") tuning: the raw Memory Forgetting Adapter.

Fine-tune on forget questions answered with refusals drawn from the pool, plus ``retain_few``
with real answers (IDK tuning: Maini et al., 2024, TOFU; SMFA's MFA, Zeng et al., 2025,
arXiv 2511.20196, §3 eq. 1). SMFA with ``criteria="none"`` (or k → ∞) equals this method.
"""

from __future__ import annotations

from smfa.data import MEMORY_QTYPES, refusal_samples
from smfa.methods.base import Method, retain_few_samples
from smfa.methods.losses import nll_loss
from smfa.models.forward import answer_logits
from smfa.registry import METHODS


def idk_streams(ctx, views=MEMORY_QTYPES) -> dict:
    """One stream: D_f^idk ∪ D_r^few (plain next-token cross-entropy on the union)."""
    return {
        "train": refusal_samples(ctx.bench, ctx.forget, ctx.seed, views) + retain_few_samples(ctx)
    }


def anchor_streams(ctx) -> dict:
    """The retaining anchor's data: D_r^few alone (SMFA eq. 2)."""
    return {"train": retain_few_samples(ctx)}


def nll(model, batches, ref):
    return nll_loss(*answer_logits(model, batches["train"])), {}


@METHODS.register("idk")
class IDKTuning(Method):
    """Refusal tuning on the forget set + ``retain_few`` (TOFU's IDK; SMFA's raw MFA)."""

    main_stream = "train"

    def streams(self, ctx):
        return idk_streams(ctx)

    def loss(self, model, batches, ref):
        return nll(model, batches, ref)

    def from_adapters(self, adapters):
        from smfa.methods.base import MethodResult
        from smfa.sculpt import adapter_deltas

        return MethodResult(adapter_deltas(adapters["mfa"])) if "mfa" in adapters else None
