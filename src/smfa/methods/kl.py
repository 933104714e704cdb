"""``kl`` — gradient ascent on forget + KL(original ‖ current) on retain (TOFU, Maini et al.,
2024)."""

from __future__ import annotations

from dataclasses import dataclass

from smfa import losses
from smfa.methods.base import Method
from smfa.methods.streams import forget_and_retain
from smfa.models.forward import answer_logits
from smfa.registry import METHODS


@dataclass
class KLOptions:
    """Attributes:
    kl_weight: weight of KL(original ‖ current) on ``retain_few`` answer tokens.
    """

    kl_weight: float = 1.0


@METHODS.register("kl")
class KLMinimization(Method):
    """Ascent on forget + KL to the original model on ``retain_few`` (TOFU, Maini et al. 2024)."""

    Options = KLOptions

    def streams(self, ctx):
        return forget_and_retain(ctx)

    def loss(self, model, batches, ref):
        f, r = batches["forget"], batches["retain"]
        ga = losses.ga_loss(*answer_logits(model, f))
        logits, labels = answer_logits(model, r)
        kl = losses.kl_loss(logits, ref(r), labels)
        return ga + self.opts.kl_weight * kl, {"kl": float(kl.detach())}
