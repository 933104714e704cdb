"""The current model of a ledger: the composed delta of its active requests.

- independent or sequential, without re-sculpting: ``ΔW = Σ_active ΔW'_i``, each read from its
  request folder (in sequential mode every stored delta was trained on base + the active
  deltas before it, and a removal retrains the later ones, so the sum is the current model);
- independent with re-sculpting: every active request is re-sculpted from its saved MFA and
  anchor, in order, against the sum of the active ones before it (cheap: no training), so that
  removing a request also frees the later ones of its mask.
"""

from __future__ import annotations

from pathlib import Path

import torch

from smfa.ledger.compose import sum_deltas
from smfa.ledger.events import State


def request_delta(ledger: Path, req) -> dict[str, torch.Tensor]:
    from smfa.io import load_safetensors

    return load_safetensors(Path(ledger) / req.dir / "delta.safetensors")


def options_of(req):
    from smfa.methods.smfa import SMFAOptions

    return SMFAOptions(**req.event["settings"]["options"])


def composed(ledger: Path, state: State, upto: int | None = None) -> dict[str, torch.Tensor]:
    """The delta of the active requests (the first ``upto`` of them when given)."""
    from smfa.ledger.requests import resculpted

    active = state.active[:upto] if upto is not None else state.active
    if not (state.init["mode"] == "independent" and state.init.get("resculpt")):
        return sum_deltas([request_delta(ledger, r) for r in active])
    union: dict[str, torch.Tensor] = {}
    for r in active:
        folder = Path(ledger) / r.dir / "adapters"
        delta, _ = resculpted(folder / "mfa", folder / "anchor", union or None, options_of(r))
        union = sum_deltas([union, delta])
    return union
