"""Gradient-ascent family: GA, GD, KL, NPO.

- ``ga``  — gradient ascent on the forget answers (Jang et al., 2023, "Knowledge Unlearning for
  Mitigating Privacy Risks in Language Models"; Thudi et al., 2022).
- ``gd``  — gradient difference: ascent on forget, descent on retain (Liu et al., 2022,
  "Continual Learning and Private Unlearning"; TOFU, Maini et al., 2024).
- ``kl``  — ascent on forget + KL(original ‖ current) on retain (TOFU, Maini et al., 2024).
- ``npo`` — Negative Preference Optimization + retain NLL (Zhang et al., 2024,
  arXiv 2404.05868).
"""

from __future__ import annotations

from dataclasses import dataclass

from smfa.data import gold_forget_samples
from smfa.methods import losses
from smfa.methods.base import Method, retain_few_samples
from smfa.models.forward import answer_logits
from smfa.registry import METHODS


def _forget_and_retain(ctx):
    return {"forget": gold_forget_samples(ctx.bench, ctx.forget), "retain": retain_few_samples(ctx)}


@METHODS.register("ga")
class GradientAscent(Method):
    """Gradient ascent on the forget set's real answers (Jang et al., 2023)."""

    def streams(self, ctx):
        return {"forget": gold_forget_samples(ctx.bench, ctx.forget)}

    def loss(self, model, batches, ref):
        return losses.ga_loss(*answer_logits(model, batches["forget"])), {}


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
        return _forget_and_retain(ctx)

    def loss(self, model, batches, ref):
        f, r = batches["forget"], batches["retain"]
        total = losses.gd_loss(
            *answer_logits(model, f), *answer_logits(model, r), self.opts.retain_weight
        )
        return total, {}


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
        return _forget_and_retain(ctx)

    def loss(self, model, batches, ref):
        f, r = batches["forget"], batches["retain"]
        ga = losses.ga_loss(*answer_logits(model, f))
        logits, labels = answer_logits(model, r)
        kl = losses.kl_loss(logits, ref(r), labels)
        return ga + self.opts.kl_weight * kl, {"kl": float(kl.detach())}


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
        return _forget_and_retain(ctx)

    def loss(self, model, batches, ref):
        f, r = batches["forget"], batches["retain"]
        logits, labels = answer_logits(model, f)
        logp = losses.sequence_logprob_sum(logits, labels)
        ref_logp = losses.sequence_logprob_sum(ref(f), labels)
        npo = losses.npo_loss(logp, ref_logp, self.opts.beta)
        nll = losses.nll_loss(*answer_logits(model, r))
        return npo + self.opts.retain_weight * nll, {"npo": float(npo.detach())}
