"""Quantization (Zhang et al., ICLR 2025, arXiv 2410.16454: 4-bit quantization restores much
"unlearned" knowledge). A copy of the model gets every ``nn.Linear`` weight except the LM head
replaced by its round-to-nearest quantize → dequantize round trip, on CPU in float32:

- ``quant_int8``: symmetric int8, one scale per output channel (row): ``s = max|w_row| / 127``;
- ``quant_4bit``: symmetric 4-bit, one scale per group of ``GROUP`` consecutive input weights of
  a row (as bitsandbytes / GPTQ store them): ``s = max|w_group| / 7``, ``q ∈ [−8, 7]``.

``q = clamp(round(w / s))``, ``ŵ = q · s``; so ``|w − ŵ| ≤ s / 2`` for every weight. On a GPU
with bitsandbytes installed, ``quant_4bit`` uses its NF4 round trip instead
(``bitsandbytes.functional.quantize_4bit``), which is what a user loading in 4-bit would get.
"""

from __future__ import annotations

import copy

import torch

from smfa.eval.attacks.base import Attack, Attacked, Target, unchanged
from smfa.registry import ATTACKS

GROUP = 64


def quantize_rtn(w: torch.Tensor, bits: int, group_size: int | None = None) -> torch.Tensor:
    """Round-to-nearest symmetric quantize → dequantize of a 2-D weight ``[out, in]``.

    ``group_size=None``: one scale per output row; else per ``group_size`` input columns (the
    last group may be shorter). Float32 math; returns the dtype of ``w``. All-zero groups stay 0.
    """
    if w.ndim != 2:
        raise ValueError(f"quantize_rtn: need a 2-D weight, got shape {tuple(w.shape)}")
    if bits < 2:
        raise ValueError(f"quantize_rtn: bits must be >= 2, got {bits}")
    qmax = 2 ** (bits - 1) - 1
    x = w.detach().float()
    n_out, n_in = x.shape
    g = n_in if group_size is None else group_size
    pad = (-n_in) % g
    xp = torch.nn.functional.pad(x, (0, pad)).reshape(n_out, -1, g)
    scale = xp.abs().amax(dim=-1, keepdim=True) / qmax
    safe = torch.where(scale > 0, scale, torch.ones_like(scale))
    q = torch.clamp(torch.round(xp / safe), -qmax - 1, qmax)
    deq = (q * scale).reshape(n_out, -1)[:, :n_in]
    return deq.to(w.dtype)


def step_sizes(w: torch.Tensor, bits: int, group_size: int | None = None) -> torch.Tensor:
    """The quantization step ``s`` of every entry of ``w`` (same shape), for tests and reports."""
    qmax = 2 ** (bits - 1) - 1
    n_out, n_in = w.shape
    g = n_in if group_size is None else group_size
    pad = (-n_in) % g
    xp = torch.nn.functional.pad(w.detach().float(), (0, pad)).reshape(n_out, -1, g)
    s = (xp.abs().amax(dim=-1, keepdim=True) / qmax).expand_as(xp)
    return s.reshape(n_out, -1)[:, :n_in]


def _bnb_roundtrip(w: torch.Tensor) -> torch.Tensor | None:
    if not w.is_cuda:
        return None
    try:
        import bitsandbytes.functional as bnbf
    except ImportError:
        return None
    q, state = bnbf.quantize_4bit(w.detach().half().contiguous(), quant_type="nf4")
    return bnbf.dequantize_4bit(q, state).to(w.dtype)


def quantized_copy(net, bits: int, group_size: int | None, use_bnb: bool = False):
    """A deep copy of ``net`` with every Linear weight but the output embedding round-tripped.
    Returns ``(copy, backend)`` with backend ``"rtn"`` or ``"bitsandbytes-nf4"``."""
    model = copy.deepcopy(net)
    head = model.get_output_embeddings()
    backend = "rtn"
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.Linear) and module is not head:
                new = _bnb_roundtrip(module.weight) if use_bnb else None
                if new is None:
                    new = quantize_rtn(module.weight, bits, group_size)
                else:
                    backend = "bitsandbytes-nf4"
                module.weight.copy_(new)
    return model, backend


class Quantize(Attack):
    bits, group_size, use_bnb = 8, None, False

    def apply(self, t: Target) -> Attacked:
        out = unchanged(t)
        out.net, backend = quantized_copy(t.net, self.bits, self.group_size, self.use_bnb)
        out.details = {"bits": self.bits, "group_size": self.group_size, "backend": backend}
        return out


@ATTACKS.register("quant_int8")
class QuantInt8(Quantize):
    title = "Quantization int8"
    default = False  # int8 round-to-nearest rarely moves a greedy answer; 4-bit is the test
    bits, group_size = 8, None


@ATTACKS.register("quant_4bit")
class Quant4bit(Quantize):
    title = "Quantization 4-bit"
    bits, group_size, use_bnb = 4, GROUP, True
