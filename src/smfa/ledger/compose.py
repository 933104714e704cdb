"""Composition of deletion requests on one base model: pure tensor functions, no files.

A request's result is a sculpted delta ``{base_key: ΔW'_i}`` (SMFA, SPEC §2). The ledger
composes the active requests on the base ``W_o`` (docs/ledger.md):

- :func:`sum_deltas`: ``ΔW = Σ_i ΔW'_i`` (independent mode; dropping one term is an exact undo);
- :func:`union_mask` / :func:`resculpt`: the re-sculpting option. The sum ``U = Σ_{j<i} ΔW'_j``
  of the earlier requests' deltas is a second anchor of request ``i``'s MFA: an entry of
  ``ΔW_f`` is deleted when it is deleted against the retaining anchor (SMFA's ``M_a = C_a ∧
  R_a``) *or* against ``U`` (``M_u = C_u ∧ R_u`` with ``C_u = (ΔW_f·U < 0)``, ``R_u = (k·ρ_u·|U|
  < |ΔW_f|)``, ``ρ_u = ‖ΔW_f‖_F / (‖U‖_F + ε)``); ``ΔW'_f = ΔW_f·(1 − (M_a ∨ M_u))``. With
  ``U = 0`` (the first request) it is plain SMFA.

All math in float32; results keep the first input's dtype.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

from smfa.sculpt import EPS, masks


def sum_deltas(deltas: Sequence[Mapping[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """``{key: Σ_i ΔW_i}`` over the keys of any delta (a key missing in one counts as 0).

    Keys come out in first-seen order; the sum is in float32, cast to the first tensor's dtype.
    Raises ``ValueError`` when two deltas give one key different shapes.
    """
    total: dict[str, torch.Tensor] = {}
    dtypes: dict[str, torch.dtype] = {}
    for i, delta in enumerate(deltas):
        for key, d in delta.items():
            if key not in total:
                total[key] = d.detach().float().clone()
                dtypes[key] = d.dtype
            elif tuple(total[key].shape) != tuple(d.shape):
                raise ValueError(
                    f"request {i}: layer '{key}' shape {tuple(d.shape)} != "
                    f"{tuple(total[key].shape)} of an earlier request"
                )
            else:
                total[key] += d.float()
    return {k: v.to(dtypes[k]) for k, v in total.items()}


def union_mask(
    delta_f: torch.Tensor, union: torch.Tensor, k: float, criteria: str = "cr", eps: float = EPS
) -> torch.Tensor:
    """``M_u``: entries of the new MFA ``delta_f`` that fight the earlier deltas ``union``.

    The SMFA mask with ``union`` in the anchor's place (``criteria`` as in
    :func:`smfa.sculpt.masks`); an all-zero ``union`` masks nothing under ``cr`` and ``c``.
    Bool tensor, ``delta_f``'s shape.
    """
    return masks(delta_f, union, k, criteria, eps).M


def resculpt(
    delta_f: torch.Tensor,
    delta_a: torch.Tensor,
    union: torch.Tensor | None,
    k: float,
    criteria: str = "cr",
    eps: float = EPS,
) -> tuple[torch.Tensor, dict]:
    """One layer of request ``i``: ``ΔW'_f = ΔW_f·(1 − (M_a ∨ M_u))`` (module docstring).

    ``union=None`` (or all zeros) means no earlier request here: plain SMFA. Returns
    ``(ΔW'_f, stats)`` with the counts ``masked`` (deleted in all), ``masked_anchor``
    (by ``M_a``), ``masked_union`` (by ``M_u``) and ``numel``.
    """
    m_a = masks(delta_f, delta_a, k, criteria, eps).M
    if union is None or not bool(union.any()):  # nothing earlier here: plain SMFA
        m_u = torch.zeros_like(m_a)
    else:
        if union.shape != delta_f.shape:
            raise ValueError(
                f"earlier deltas' shape {tuple(union.shape)} != MFA {tuple(delta_f.shape)}"
            )
        m_u = union_mask(delta_f, union, k, criteria, eps)
    m = m_a | m_u
    out = (delta_f.float() * (~m).to(torch.float32)).to(delta_f.dtype)
    stats = {
        "numel": int(m.numel()),
        "masked": int(m.sum()),
        "masked_anchor": int(m_a.sum()),
        "masked_union": int(m_u.sum()),
    }
    return out, stats
