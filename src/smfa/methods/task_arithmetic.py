"""``task_arithmetic`` — fine-tune an adapter on the forget set's real answers and subtract it:
ΔW = −λ·ΔW_forget (Ilharco et al., 2023, "Editing Models with Task Arithmetic", forgetting via
negation)."""

from __future__ import annotations

from dataclasses import dataclass

from smfa.data import gold_forget_samples
from smfa.merging import task_arithmetic
from smfa.methods.base import Method, MethodResult, train_delta
from smfa.methods.streams import nll
from smfa.registry import METHODS


@dataclass
class TaskArithmeticOptions:
    """Attributes:
    lam: scale λ of the negated forget task vector.
    """

    lam: float = 1.0

    def __post_init__(self):
        if not self.lam > 0:
            raise ValueError(f"lam={self.lam!r}: must be > 0")


@METHODS.register("task_arithmetic")
class TaskArithmetic(Method):
    """Negate a task vector fine-tuned on the forget answers (Ilharco et al., 2023)."""

    Options = TaskArithmeticOptions

    def run(self, ctx):
        streams = {"train": gold_forget_samples(ctx.bench, ctx.forget)}
        delta, adapter, log = train_delta(
            ctx, streams, nll, "forget_task", main="train", desc="task vector"
        )
        neg = {k: task_arithmetic(v, self.opts.lam) for k, v in delta.items()}
        return MethodResult(neg, {"forget_task": adapter} if adapter else {}, {"steps": len(log)})
