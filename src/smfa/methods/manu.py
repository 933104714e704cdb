"""``manu`` — Modality-Aware Neuron Unlearning (Liu et al., 2025, arXiv 2502.15910).

No training: the MLP neurons of the language model are scored by how much more they fire on the
forget inputs than on the retain inputs (:mod:`smfa.neurons`: abs, freq, var, rms importance,
forget/retain ratio), separately for the image-conditioned and the text-only forget questions
(each against D_r^few of the same modality), the two scores are combined, and the top
``ratio`` of each layer's neurons is pruned: their up/gate rows and down-projection columns are
zeroed, written as a dense ΔW like every other method's result. Choices where the paper is
underspecified: docs/method.md (MANU).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from smfa.data import gold_forget_samples
from smfa.methods.base import Method, MethodResult
from smfa.methods.streams import retain_few
from smfa.neurons import (
    ActivationStats,
    combine_modalities,
    importance_ratio,
    prune_delta,
    select_neurons,
)
from smfa.registry import METHODS

UPS = (("gate_proj", "up_proj"), ("fc1",))  # projections that produce the neurons
DOWNS = ("down_proj", "fc2")


@dataclass
class ManuOptions:
    """Attributes:
    ratio: fraction of each MLP layer's neurons pruned (0–1).
    combine: how the image and text modality scores are combined: max or mean.
    """

    ratio: float = 0.05
    combine: str = "max"

    def __post_init__(self):
        if not 0 < self.ratio <= 1:
            raise ValueError(f"ratio={self.ratio!r}: must be in (0, 1]")
        if self.combine not in ("max", "mean"):
            raise ValueError(f"combine={self.combine!r}: max or mean")


def mlp_blocks(model) -> dict[str, tuple[list[str], str]]:
    """``{mlp_name: (up projection names, down projection name)}`` for the language model's
    MLP blocks (Llama-style gate/up/down or fc1/fc2; the vision tower — ``vision_*`` or
    Qwen's ``visual`` — is left out)."""
    out = {}
    for name, mod in model.named_modules():
        if "vision" in name or "visual" in name or not name.endswith("mlp"):
            continue
        down = next((d for d in DOWNS if isinstance(getattr(mod, d, None), torch.nn.Linear)), None)
        ups = next((u for u in UPS if all(hasattr(mod, x) for x in u)), None)
        if down and ups:
            out[name] = ([f"{name}.{u}" for u in ups], f"{name}.{down}")
    return out


@torch.no_grad()
def neuron_stats(model, processor, samples, downs: dict[str, str], batch_size: int) -> dict:
    """``{mlp_name: ActivationStats}`` of the inputs of each down projection over every
    non-padding token (question and answer) of ``samples``."""
    from smfa.data import ImageCache
    from smfa.models.format import train_batch

    modules = dict(model.named_modules())
    stats: dict[str, ActivationStats] = {}
    mask_box = {}

    def hook(mlp):
        def pre(_mod, args):
            a = args[0]
            keep = mask_box["m"].reshape(-1).bool()
            flat = a.reshape(-1, a.shape[-1])
            if flat.shape[0] != keep.shape[0]:  # not one row per text token: not the LM
                return
            rows = flat[keep]
            stats.setdefault(mlp, ActivationStats(a.shape[-1])).add(rows)

        return pre

    handles = [modules[d].register_forward_pre_hook(hook(m)) for m, d in downs.items()]
    images = ImageCache()
    try:
        for i in range(0, len(samples), batch_size):
            chunk = samples[i : i + batch_size]
            batch = train_batch(processor, [(images(s.image), s.question, s.answer) for s in chunk])
            batch.pop("labels")
            mask_box["m"] = batch["attention_mask"]
            model(**{k: v.to(model.device) for k, v in batch.items()})
    finally:
        for h in handles:
            h.remove()
    return stats


@METHODS.register("manu")
class MANU(Method):
    """Modality-Aware Neuron Unlearning (Liu et al., 2025): prune forget-specific MLP neurons."""

    Options = ManuOptions

    def run(self, ctx):
        model, processor = ctx.load_original()
        model.eval()
        blocks = mlp_blocks(model)
        if not blocks:
            raise ValueError("manu: the model has no MLP blocks with gate/up/down or fc1/fc2")
        downs = {m: d for m, (_, d) in blocks.items()}
        bs = ctx.train.batch_size
        retain = retain_few(ctx)
        scores = []
        for view, has_image in (("image_memory", True), ("text_memory", False)):
            forget = gold_forget_samples(ctx.bench, ctx.forget, (view,))
            ret = [s for s in retain if (s.image is not None) == has_image]
            if not forget or not ret:
                continue
            f = neuron_stats(model, processor, forget, downs, bs)
            r = neuron_stats(model, processor, ret, downs, bs)
            scores.append({m: importance_ratio(f[m].importance(), r[m].importance()) for m in f})
        if not scores:
            raise ValueError("manu: no forget and retain_few questions of the same view")
        params = dict(model.named_parameters())
        delta, pruned = {}, {}
        for mlp, (ups, down) in blocks.items():
            mask = select_neurons(
                combine_modalities([s[mlp] for s in scores], self.opts.combine), self.opts.ratio
            )
            up_w = {
                f"{u}.{p}": params[f"{u}.{p}"]
                for u in ups
                for p in ("weight", "bias")
                if f"{u}.{p}" in params
            }
            delta.update(prune_delta(up_w, (f"{down}.weight", params[f"{down}.weight"]), mask))
            pruned[mlp] = int(mask.sum())
        delta = {k: v.cpu() for k, v in delta.items()}
        return MethodResult(delta, {}, {"pruned_neurons": pruned, "views": len(scores)})
