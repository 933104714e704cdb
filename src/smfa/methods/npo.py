"""``npo`` — Negative Preference Optimization + retain NLL (Zhang et al., 2024,
arXiv 2404.05868)."""

from __future__ import annotations

from dataclasses import dataclass

from smfa import losses
from smfa.methods.base import Method
from smfa.methods.streams import forget_and_retain
from smfa.models.forward import answer_logits
from smfa.registry import METHODS


@dataclass
class NPOOptions:
    """Attributes:
    beta: NPO inverse temperature β.
    retain_weight: weight of the retain NLL term.
    """

    beta: float = 0.1
    retain_weight: float = 1.0


@METHODS.register("npo")
class NPO(Method):
    """Negative Preference Optimization + retain NLL (Zhang et al., 2024)."""

    Options = NPOOptions

    def streams(self, ctx):
        return forget_and_retain(ctx)

    def loss(self, model, batches, ref):
        f, r = batches["forget"], batches["retain"]
        logits, labels = answer_logits(model, f)
        logp = losses.sequence_logprob_sum(logits, labels)
        ref_logp = losses.sequence_logprob_sum(ref(f), labels)
        npo = losses.npo_loss(logp, ref_logp, self.opts.beta)
        nll = losses.nll_loss(*answer_logits(model, r))
        return npo + self.opts.retain_weight * nll, {"npo": float(npo.detach())}
