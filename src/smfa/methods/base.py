"""The method interface: every unlearning method is one registered subclass of :class:`Method`.

A method sees the forget split and ``retain_few`` only, never the full retain set. Its result is
a weight update ΔW per base weight (``delta.safetensors``; W = W_o + ΔW), which is how LoRA
methods, merges (TIES, task arithmetic, SMFA's sculpted MFA) and full fine-tuning all end up,
so that evaluation treats every method the same way.

To add a method: subclass, give it an ``Options`` dataclass, define ``streams`` and ``loss`` (or
override ``run``), and decorate with ``@METHODS.register("name")``. A method whose result is a
function of adapters that another method trains (SMFA's MFA and anchor) declares their tags in
``reuses`` and computes the result in ``from_adapters``; one that trains such adapters declares
them in ``adapter_tags``. A run then trains them once.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch

from smfa.config import TrainConfig
from smfa.data import Sample
from smfa.models.forward import answer_logits
from smfa.train import add_lora, fit


@dataclass
class NoOptions:
    """This method has no options of its own."""


@dataclass
class UnlearnContext:
    """Everything a method may use (and nothing more: no full retain set).

    The seed of every random choice (initialisation, data order, refusal draws, ``retain_few``
    resampling) is ``train.seed``.
    """

    bench: Any
    forget: str
    original: Path
    work: Path
    train: TrainConfig
    retain_few: int | None = None
    device: str = "cpu"
    dtype: str = "float32"
    allow_pickle: bool = False

    @property
    def seed(self) -> int:
        return self.train.seed

    def load_original(self):
        from smfa.models import load

        return load(
            str(self.original), dtype=self.dtype, device=self.device, allow_pickle=self.allow_pickle
        )


@dataclass
class MethodResult:
    """What a method hands back: the update per base weight plus extra artifacts."""

    delta: dict[str, torch.Tensor]
    adapters: dict[str, Path] = dataclasses.field(default_factory=dict)
    info: dict = dataclasses.field(default_factory=dict)


class Method:
    """Base class: trains one adapter (or all weights) on ``streams`` with ``loss``."""

    Options: ClassVar[type] = NoOptions
    main_stream: ClassVar[str] = "forget"
    #: Variants a run adds by default: ``{label: {"options": {...}, "group": "ablation"}}``.
    variants: ClassVar[dict[str, dict]] = {}
    #: Whether :meth:`from_adapters` reads dense full-fine-tuning folders (``delta.safetensors``).
    reads_dense: ClassVar[bool] = False

    def __init__(self, options: Any = None):
        self.opts = options if options is not None else self.Options()

    # -- to override -------------------------------------------------------------------------
    def streams(self, ctx: UnlearnContext) -> dict[str, list[Sample]]:
        raise NotImplementedError

    def loss(self, model, batches: dict[str, dict], ref) -> tuple[torch.Tensor, dict]:
        raise NotImplementedError

    def adapter_tags(self) -> tuple[str, ...]:
        """Tags of the trained adapters other methods may reuse (saved under ``adapters/``)."""
        return ()

    def reuses(self) -> tuple[str, ...]:
        """Tags of the adapters :meth:`from_adapters` computes the result from (``()``: none)."""
        return ()

    def from_adapters(self, adapters: dict[str, Path]) -> MethodResult:
        """The result computed from already-trained adapters ``{tag: folder}`` (no training)."""
        raise NotImplementedError(f"{type(self).__name__} does not reuse adapters")

    def from_trained(self, adapters: dict[str, Path], ctx: UnlearnContext) -> MethodResult:
        """:meth:`from_adapters` for methods that also need the model or data (Model Tailor's
        sensitivity); what ``smfa unlearn --adapters_from`` calls."""
        return self.from_adapters(adapters)

    # -- shared machinery --------------------------------------------------------------------
    def run(self, ctx: UnlearnContext) -> MethodResult:
        delta, adapter, log = train_delta(
            ctx, self.streams(ctx), self.loss, "adapter", main=self.main_stream, desc=self.name
        )
        return MethodResult(
            delta,
            {"adapter": adapter} if adapter else {},
            {"steps": len(log), "final_loss": log[-1]["loss"] if log else None},
        )

    @property
    def name(self) -> str:
        from smfa.registry import METHODS

        return next((n for n, cls in METHODS.items() if cls is type(self)), type(self).__name__)


class Reference:
    """The frozen original model's outputs, for KL and NPO.

    With LoRA the reference is the same model with its adapter disabled (no second copy);
    with full fine-tuning it is a frozen copy taken before training.
    """

    def __init__(self, model, full_copy: torch.nn.Module | None):
        self.model, self.copy = model, full_copy

    @torch.no_grad()
    def __call__(self, batch: dict) -> torch.Tensor:
        """The reference's logits on ``batch``'s answer window (as :func:`answer_logits`)."""
        if self.copy is not None:
            return answer_logits(self.copy, batch)[0]
        with self.model.disable_adapter():
            return answer_logits(self.model, batch)[0]


def train_delta(
    ctx: UnlearnContext,
    streams,
    loss,
    tag: str,
    main: str = "forget",
    desc: str = "",
    train: TrainConfig | None = None,
):
    """Train LoRA (or all weights) on the original model; return (ΔW per weight, adapter, log).

    ``loss(model, batches, ref)`` gets a :class:`Reference` for the frozen original model. The
    adapter is saved (peft format) under ``ctx.work / tag``; full fine-tuning returns
    ΔW = W_trained − W_o for every changed weight and no adapter folder.
    """
    from smfa.adapters import adapter_deltas

    cfg = train or ctx.train
    model, processor = ctx.load_original()
    if cfg.full_finetune:
        before = {k: v.detach().clone() for k, v in model.state_dict().items()}
        ref_copy = copy.deepcopy(model).eval().requires_grad_(False)
    else:
        model = add_lora(model, cfg.lora, cfg.seed)
        ref_copy = None
    ref = Reference(model, ref_copy)
    work = ctx.work / tag
    model, log = fit(
        model,
        processor,
        streams,
        lambda m, b: loss(m, b, ref),
        cfg,
        work,
        main=main,
        desc=desc or tag,
    )
    if cfg.full_finetune:
        after = model.state_dict()
        delta = {
            k: (after[k].float() - before[k].float())
            for k in before
            if after[k].is_floating_point() and not torch.equal(after[k], before[k])
        }
        return delta, None, log
    from smfa import dist

    adapter = work / "peft"
    if dist.is_main():  # several processes (accelerate launch) hold the same weights
        model.save_pretrained(adapter, safe_serialization=True)
    dist.barrier()
    return adapter_deltas(adapter), adapter, log
