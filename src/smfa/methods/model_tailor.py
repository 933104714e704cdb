"""``model_tailor`` — Model Tailor (Zhu et al., ICML 2024) applied, as SMFA's paper does, to the
refusal fine-tune: the MFA / IDK update ΔW (reused from a run's ``mfa`` adapter, not retrained)
is cut to a sparse patch chosen by salience |ΔW| and sensitivity ½·F·ΔW² (F: mean squared
gradient of the refusal loss on the forget questions, at the fine-tuned weights), and the kept
entries of each linear layer are compensated for the reset ones (OBS with H = XᵀX of the
layer's inputs on the same questions). Math: :mod:`smfa.tailor`; the choices where the paper is
underspecified: docs/method.md (Model Tailor).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from smfa.data import refusal_samples
from smfa.methods.base import Method, MethodResult, train_delta
from smfa.methods.streams import idk_streams, nll
from smfa.registry import METHODS
from smfa.tailor import compensate, patch_mask, patch_scores


@dataclass
class TailorOptions:
    """Attributes:
    density: fraction of each layer's ΔW entries kept in the patch, in (0, 1].
    alpha: weight of salience |ΔW| against sensitivity ½·F·ΔW² in the fused score (0–1).
    damp: Hessian damping for the compensation, as a fraction of mean(diag H).
    """

    density: float = 0.1
    alpha: float = 0.5
    damp: float = 0.01

    def __post_init__(self):
        if not 0 < self.density <= 1:
            raise ValueError(f"density={self.density!r}: must be in (0, 1]")
        if not 0 <= self.alpha <= 1:
            raise ValueError(f"alpha={self.alpha!r}: must be in [0, 1]")
        if not self.damp >= 0:
            raise ValueError(f"damp={self.damp!r}: must be >= 0")


def fisher_and_hessian(model, processor, samples, keys, batch_size: int):
    """``(F, H)``: mean squared batch gradient of the NLL per weight in ``keys`` and, for each
    linear layer among them, ``H = XᵀX`` of its inputs over the non-padding tokens."""
    from smfa.data import ImageCache
    from smfa.losses import nll_loss
    from smfa.models.format import train_batch
    from smfa.models.forward import answer_logits

    params = dict(model.named_parameters())
    modules = dict(model.named_modules())
    for p in model.parameters():
        p.requires_grad_(False)
    for k in keys:
        params[k].requires_grad_(True)
    fisher = {k: torch.zeros_like(params[k], dtype=torch.float32) for k in keys}
    hess, box = {}, {}

    def hook(key):
        def pre(_mod, args):
            x = args[0].detach().float().reshape(-1, args[0].shape[-1])
            x = x[box["mask"].reshape(-1).bool()] if x.shape[0] == box["mask"].numel() else x
            hess[key] = hess.get(key, 0) + x.T @ x

        return pre

    linear = [k for k in keys if isinstance(modules.get(k[: -len(".weight")]), torch.nn.Linear)]
    handles = [modules[k[: -len(".weight")]].register_forward_pre_hook(hook(k)) for k in linear]
    images, n = ImageCache(), 0
    try:
        for i in range(0, len(samples), batch_size):
            chunk = samples[i : i + batch_size]
            batch = train_batch(processor, [(images(s.image), s.question, s.answer) for s in chunk])
            batch = {k: v.to(model.device) for k, v in batch.items()}
            box["mask"] = batch["attention_mask"]
            model.zero_grad(set_to_none=True)
            nll_loss(*answer_logits(model, batch)).backward()
            for k in keys:
                if params[k].grad is not None:
                    fisher[k] += params[k].grad.float() ** 2
            n += 1
    finally:
        for h in handles:
            h.remove()
    return {k: (v / max(n, 1)).cpu() for k, v in fisher.items()}, {
        k: v.cpu() for k, v in hess.items()
    }


@METHODS.register("model_tailor")
class ModelTailor(Method):
    """Model Tailor (Zhu et al., 2024) on the refusal fine-tune: a compensated sparse patch."""

    Options = TailorOptions

    def adapter_tags(self):
        return ("mfa",)

    def reuses(self):
        return ("mfa",)

    def run(self, ctx):
        delta, adapter, log = train_delta(ctx, idk_streams(ctx), nll, "mfa", main="train")
        result = self.tailor(ctx, delta)
        result.info["steps"] = len(log)
        return MethodResult(result.delta, {"mfa": adapter} if adapter else {}, result.info)

    def from_trained(self, adapters, ctx):
        from smfa.adapters import adapter_deltas

        return self.tailor(ctx, adapter_deltas(adapters["mfa"]))

    def from_adapters(self, adapters):
        raise ValueError("model_tailor needs the model and the forget data (from_trained)")

    def tailor(self, ctx, delta: dict) -> MethodResult:
        """The compensated patch of ``delta`` (ΔW of the refusal fine-tune) per weight."""
        from smfa.adapters import apply_deltas

        o = self.opts
        model, processor = ctx.load_original()
        apply_deltas(model, {k: v.to(model.device) for k, v in delta.items()}, "mfa")
        samples = refusal_samples(ctx.bench, ctx.forget, ctx.seed)
        fisher, hess = fisher_and_hessian(
            model, processor, samples, list(delta), ctx.train.batch_size
        )
        out, kept = {}, {}
        for k, d in delta.items():
            keep = patch_mask(patch_scores(d, fisher[k], o.alpha), o.density)
            if k in hess and d.ndim == 2:
                out[k] = compensate(d, keep, hess[k], o.damp)
            else:
                out[k] = torch.where(keep, d.float(), torch.zeros_like(d, dtype=torch.float32))
            kept[k] = float(keep.float().mean())
        return MethodResult(out, {}, {"kept_fraction": kept})
