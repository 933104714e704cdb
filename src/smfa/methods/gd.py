"""``gd`` — gradient difference: ascent on forget, descent on retain (Liu et al., 2022,
"Continual Learning and Private Unlearning"; TOFU, Maini et al., 2024)."""

from __future__ import annotations

from dataclasses import dataclass

from smfa import losses
from smfa.methods.base import Method
from smfa.methods.streams import forget_and_retain
from smfa.models.forward import answer_logits
from smfa.registry import METHODS


@dataclass
class GDOptions:
    """Attributes:
    retain_weight: weight of the retain NLL term.
    """

    retain_weight: float = 1.0


@METHODS.register("gd")
class GradientDifference(Method):
    """Ascent on forget, descent on ``retain_few`` (Liu et al., 2022; TOFU)."""

    Options = GDOptions

    def streams(self, ctx):
        return forget_and_retain(ctx)

    def loss(self, model, batches, ref):
        f, r = batches["forget"], batches["retain"]
        total = losses.gd_loss(
            *answer_logits(model, f), *answer_logits(model, r), self.opts.retain_weight
        )
        return total, {}
