"""The data every method trains on, built from the context (SMFA eqs. 1–2; SPEC §2–3).

- :func:`idk_streams`: D_f^idk ∪ D_r^few — forget memory questions (both views) answered with
  refusals from the pool, plus ``retain_few`` with real answers (the MFA; IDK tuning);
- :func:`anchor_streams`: D_r^few alone (the Retaining Anchor);
- :func:`forget_and_retain`: the forget set's real answers (ascent targets) and D_r^few.
"""

from __future__ import annotations

from smfa.data import MEMORY_QTYPES, gold_forget_samples, refusal_samples, retain_few_samples
from smfa.losses import nll_loss
from smfa.models.forward import answer_logits


def retain_few(ctx) -> list:
    """D_r^few of this run (:func:`smfa.data.retain_few_samples` with the context's size)."""
    return retain_few_samples(ctx.bench, ctx.retain_few, ctx.seed)


def idk_streams(ctx, views=MEMORY_QTYPES) -> dict:
    """One stream: D_f^idk ∪ D_r^few (plain next-token cross-entropy on the union)."""
    return {"train": refusal_samples(ctx.bench, ctx.forget, ctx.seed, views) + retain_few(ctx)}


def anchor_streams(ctx) -> dict:
    """The retaining anchor's data: D_r^few alone (SMFA eq. 2)."""
    return {"train": retain_few(ctx)}


def forget_and_retain(ctx) -> dict:
    """The forget set's real answers and D_r^few, as two streams."""
    return {"forget": gold_forget_samples(ctx.bench, ctx.forget), "retain": retain_few(ctx)}


def nll(model, batches, ref):
    """Next-token cross-entropy on the ``train`` stream (the loss of MFA, RA and IDK)."""
    return nll_loss(*answer_logits(model, batches["train"])), {}
