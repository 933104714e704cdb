"""``ga`` — gradient ascent on the forget answers (Jang et al., 2023, "Knowledge Unlearning for
Mitigating Privacy Risks in Language Models"; Thudi et al., 2022)."""

from __future__ import annotations

from smfa import losses
from smfa.data import gold_forget_samples
from smfa.methods.base import Method
from smfa.models.forward import answer_logits
from smfa.registry import METHODS


@METHODS.register("ga")
class GradientAscent(Method):
    """Gradient ascent on the forget set's real answers (Jang et al., 2023)."""

    def streams(self, ctx):
        return {"forget": gold_forget_samples(ctx.bench, ctx.forget)}

    def loss(self, model, batches, ref):
        return losses.ga_loss(*answer_logits(model, batches["forget"])), {}
