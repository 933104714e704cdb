"""SMFA sculpting: mask the Memory Forgetting Adapter where it fights the Retaining Anchor.

Zeng et al., "Towards Benign Memory Forgetting for Selective Multimodal Large Language Model
Unlearning", arXiv 2511.20196, Sec. 3 (SPEC.md §2.3). Per linear layer, element-wise::

    ΔW = scaling · B @ A                                   (LoRA update, float32)
    ρ  = ‖ΔW_f‖_F / (‖ΔW_a‖_F + ε)                         (per layer)
    C  = (ΔW_a ⊙ ΔW_f < 0)                                 (directional conflict)
    R  = (k · ρ · |ΔW_a| < |ΔW_f|)                         (relative magnitude)
    M  = C ∧ R;   ΔW'_f = ΔW_f ⊙ (1 − M);   W = W_o + ΔW'_f

Limits: k = ∞ keeps the raw MFA (M empty); k = 0 gives "C only". Masking is always done on the
dense ΔW, never on the factors A, B (a low-rank update has many factorizations, so signs of
factors mean nothing). All math is float32; results are cast back to the input dtype.

Pure tensor functions only; reading and writing peft adapter folders is :mod:`smfa.adapters`.
See docs/method.md, section "Sculpting", for the nan/inf conventions and SVD re-factoring.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import NamedTuple

import torch

CRITERIA = ("cr", "c", "r", "none")
EPS = 1e-12


def lora_delta(
    A: torch.Tensor, B: torch.Tensor, scaling: float, fan_in_fan_out: bool = False
) -> torch.Tensor:
    """LoRA update ``ΔW = scaling · B @ A`` in float32.

    Args:
        A: ``lora_A.weight``, shape ``[r, in]``, any float dtype.
        B: ``lora_B.weight``, shape ``[out, r]``, any float dtype.
        scaling: ``lora_alpha / r`` (or ``lora_alpha / sqrt(r)`` with rsLoRA).
        fan_in_fan_out: the base layer stores its weight as ``[in, out]`` (GPT-2 ``Conv1D``);
            the result is then transposed, as peft's ``get_delta_weight`` does.

    Returns:
        float32 tensor in the base weight's layout (``[out, in]`` for ``nn.Linear``).
    """
    if A.ndim != 2 or B.ndim != 2 or B.shape[1] != A.shape[0]:
        raise ValueError(f"lora_delta: incompatible factors A {tuple(A.shape)}, B {tuple(B.shape)}")
    delta = (B.float() @ A.float()) * float(scaling)
    return delta.T.contiguous() if fan_in_fan_out else delta


def check_k(k: float) -> float:
    """``k`` as a float; ``ValueError`` unless it is a number ``>= 0`` (``inf`` allowed)."""
    try:
        k = float(k)
    except (TypeError, ValueError):
        raise ValueError(f"k must be a number >= 0, got {k!r}") from None
    if math.isnan(k) or k < 0:
        raise ValueError(f"k must be >= 0 (0 = conflict only, inf = raw MFA), got {k}")
    return k


def check_criteria(criteria: str) -> str:
    """``criteria`` if it is one of :data:`CRITERIA`, else ``ValueError``."""
    if criteria not in CRITERIA:
        raise ValueError(f"criteria must be one of {', '.join(CRITERIA)}; got {criteria!r}")
    return criteria


def rho(delta_f: torch.Tensor, delta_a: torch.Tensor, eps: float = EPS) -> torch.Tensor:
    """Per-layer scale ratio ``ρ = ‖ΔW_f‖_F / (‖ΔW_a‖_F + ε)`` (0-dim float32 tensor).

    An all-zero ``ΔW_f`` gives ``ρ = 0`` (also when ``ΔW_a`` is zero and ``ε = 0``, where the
    formula reads 0/0): there is nothing to delete, and ρ stays finite for the stats.
    """
    if not eps >= 0:
        raise ValueError(f"eps must be >= 0, got {eps}")
    nf = torch.linalg.vector_norm(delta_f.float())
    na = torch.linalg.vector_norm(delta_a.float())
    if nf == 0:
        return torch.zeros((), dtype=torch.float32)
    return nf / (na + eps)


def conflict_mask(delta_f: torch.Tensor, delta_a: torch.Tensor) -> torch.Tensor:
    """Directional conflict ``C = (ΔW_a ⊙ ΔW_f < 0)``: bool tensor, same shape.

    Computed as opposite strict signs, which equals the product test but cannot underflow
    (two tiny float32 values of opposite sign have a product that rounds to -0.0).
    """
    return (torch.sign(delta_f) * torch.sign(delta_a)) < 0


def _magnitude(delta_f: torch.Tensor, delta_a: torch.Tensor, k: float, r: float) -> torch.Tensor:
    # 0·∞ = 0 for the threshold t = k·ρ·|ΔW_a|; k·ρ may be +∞ (see magnitude_mask).
    kr = 0.0 if (k == 0 or r == 0) else k * r
    abs_f, abs_a = delta_f.float().abs(), delta_a.float().abs()
    t = torch.where(abs_a == 0, torch.zeros_like(abs_a), abs_a * kr)
    return t < abs_f


def magnitude_mask(
    delta_f: torch.Tensor, delta_a: torch.Tensor, k: float, eps: float = EPS
) -> torch.Tensor:
    """Relative magnitude ``R = (k · ρ · |ΔW_a| < |ΔW_f|)``: bool tensor, same shape.

    Uses the convention ``0 · ∞ = 0`` for the threshold ``t = k · ρ · |ΔW_a|`` so that the
    limits are exact: ``k = 0`` gives ``R = (ΔW_f ≠ 0)``; ``k = ∞`` gives ``R = (ΔW_a = 0 ∧
    ΔW_f ≠ 0)``, the pointwise limit of ``R(k)`` as ``k → ∞``. A product that overflows
    float32 becomes ``+∞`` and compares False, which is also the limit.
    """
    return _magnitude(delta_f, delta_a, check_k(k), float(rho(delta_f, delta_a, eps)))


class Masks(NamedTuple):
    """The masks of one layer: ``M`` (deleted), ``C``, ``R`` (bool tensors) and ``rho``."""

    M: torch.Tensor
    C: torch.Tensor
    R: torch.Tensor
    rho: float


def masks(
    delta_f: torch.Tensor,
    delta_a: torch.Tensor,
    k: float,
    criteria: str = "cr",
    eps: float = EPS,
) -> Masks:
    """C, R, ρ and the mask ``M`` of MFA entries to delete, computed once (SPEC §2.3).

    ``criteria``: ``"cr"`` → ``M = C ∧ R`` (SMFA), ``"c"`` → ``C``, ``"r"`` → ``R``, ``"none"``
    → nothing masked (raw MFA). Raises ``ValueError`` for ``k < 0`` or nan, an unknown
    criteria, a shape mismatch or non-finite input.
    """
    k = check_k(k)
    check_criteria(criteria)
    if delta_f.shape != delta_a.shape:
        raise ValueError(
            f"ΔW_f and ΔW_a differ in shape: {tuple(delta_f.shape)} vs {tuple(delta_a.shape)}"
        )
    for name, t in (("ΔW_f", delta_f), ("ΔW_a", delta_a)):
        if not torch.isfinite(t).all():
            raise ValueError(f"{name} has non-finite entries (nan/inf); the adapter is broken")
    r = float(rho(delta_f, delta_a, eps))
    C = conflict_mask(delta_f, delta_a)
    R = _magnitude(delta_f, delta_a, k, r)
    M = {"cr": C & R, "c": C, "r": R, "none": torch.zeros_like(C)}[criteria]
    return Masks(M, C, R, r)


def sculpt_mask(
    delta_f: torch.Tensor,
    delta_a: torch.Tensor,
    k: float,
    criteria: str = "cr",
    eps: float = EPS,
) -> torch.Tensor:
    """Mask ``M`` of MFA entries to delete: bool tensor, same shape; True = deleted.

    ``k >= 0`` (``inf`` allowed: raw MFA); ``criteria`` as in :func:`masks`.
    """
    return masks(delta_f, delta_a, k, criteria, eps).M


def layer_stats(
    delta_f: torch.Tensor, delta_a: torch.Tensor, m: Masks, k: float, criteria: str
) -> dict:
    """JSON-ready statistics of one sculpted layer from its masks.

    ``numel, masked, frac_masked, rho, k, criteria, conflict, conflict_frac, dominant,
    dominant_frac, norm_f, norm_a, norm_sculpted, removed_norm_frac``.
    """
    f32 = delta_f.float()
    return _stats(
        numel=f32.numel(),
        masked=int(m.M.sum()),
        conflict=int(m.C.sum()),
        dominant=int(m.R.sum()),
        norm_f=float(torch.linalg.vector_norm(f32)),
        norm_a=float(torch.linalg.vector_norm(delta_a.float())),
        norm_sculpted=float(torch.linalg.vector_norm(f32 * ~m.M)),
        removed=float(torch.linalg.vector_norm(f32 * m.M)),
        rho=m.rho,
        k=k,
        criteria=criteria,
    )


def _stats(
    numel, masked, conflict, dominant, norm_f, norm_a, norm_sculpted, removed, rho, k, criteria
) -> dict:
    return {
        "numel": numel,
        "masked": masked,
        "frac_masked": masked / max(numel, 1),
        "rho": rho,
        "k": float(k),
        "criteria": criteria,
        "conflict": conflict,
        "conflict_frac": conflict / max(numel, 1),
        "dominant": dominant,
        "dominant_frac": dominant / max(numel, 1),
        "norm_f": norm_f,
        "norm_a": norm_a,
        "norm_sculpted": norm_sculpted,
        "removed_norm_frac": removed / norm_f if norm_f > 0 else 0.0,
    }


def sculpt(
    delta_f: torch.Tensor,
    delta_a: torch.Tensor,
    k: float,
    criteria: str = "cr",
    eps: float = EPS,
) -> tuple[torch.Tensor, torch.Tensor, dict]:
    """Sculpt one layer: ``ΔW'_f = ΔW_f ⊙ (1 − M)``.

    Returns:
        ``(delta_sculpted, mask, stats)``: ``delta_sculpted`` has ``delta_f``'s dtype (math in
        float32), ``mask`` is the bool ``M``, ``stats`` is :func:`layer_stats`.
    """
    m = masks(delta_f, delta_a, k, criteria, eps)
    sculpted = delta_f.float() * (~m.M).to(torch.float32)  # (1 − M) as float; M is bool
    return sculpted.to(delta_f.dtype), m.M, layer_stats(delta_f, delta_a, m, k, criteria)


def merge(base_weight: torch.Tensor, delta: torch.Tensor) -> torch.Tensor:
    """Additive merge ``W = W_o + ΔW'_f`` in float32, cast back to ``base_weight.dtype``."""
    if base_weight.shape != delta.shape:
        raise ValueError(
            f"merge: weight {tuple(base_weight.shape)} and delta {tuple(delta.shape)} differ"
        )
    return (base_weight.float() + delta.float().to(base_weight.device)).to(base_weight.dtype)


def combine_deltas(deltas_list, how: str = "mean"):
    """Combine several deltas (``mfa_views="separate"``: image-view and text-view MFAs).

    Args:
        deltas_list: a non-empty list of tensors of one shape, or of dicts
            ``{base_key: tensor}`` with the same keys and shapes.
        how: ``"mean"`` or ``"sum"``.

    Returns:
        A tensor (float32 math, cast to the first input's dtype) or a dict of them.
    """
    if how not in ("mean", "sum"):
        raise ValueError(f"how must be 'mean' or 'sum', got {how!r}")
    if not deltas_list:
        raise ValueError("combine_deltas: empty list")
    first = deltas_list[0]
    if isinstance(first, Mapping):
        keys = list(first)
        for i, d in enumerate(deltas_list[1:], start=1):
            if set(d) != set(keys):
                diff = sorted(set(d) ^ set(keys))[0]
                raise ValueError(f"combine_deltas: delta set {i} differs from set 0 at {diff}")
        return {key: combine_deltas([d[key] for d in deltas_list], how) for key in keys}
    for t in deltas_list[1:]:
        if t.shape != first.shape:
            raise ValueError(
                f"combine_deltas: shapes differ: {tuple(first.shape)} vs {tuple(t.shape)}"
            )
    total = torch.stack([t.float() for t in deltas_list]).sum(0)
    if how == "mean":
        total = total / len(deltas_list)
    return total.to(first.dtype)


def svd_refactor(delta: torch.Tensor, rank: int) -> tuple[torch.Tensor, torch.Tensor, float]:
    """Re-factor a dense update as a rank-``rank`` LoRA by truncated SVD (Eckart–Young).

    With ``ΔW = U S Vᵀ``: ``B = U_r √S_r`` (``[out, rank]``), ``A = √S_r V_rᵀ``
    (``[rank, in]``), so ``B @ A`` is the best rank-``rank`` approximation. A rank above
    ``min(out, in)`` is padded with zero rows/columns (same product), so every layer of an
    adapter can share one ``r``.

    Returns:
        ``(A, B, rel_error)``: float32 factors and ``‖ΔW − B@A‖_F / ‖ΔW‖_F`` measured on the
        actual product (0.0 for an all-zero ΔW).
    """
    if int(rank) != rank or rank < 1:
        raise ValueError(f"rank must be an integer >= 1, got {rank}")
    if delta.ndim != 2:
        raise ValueError(f"svd_refactor: expected a 2-D delta, got shape {tuple(delta.shape)}")
    d = delta.float()
    out_f, in_f = d.shape
    keep = min(rank, out_f, in_f)
    U, S, Vh = torch.linalg.svd(d, full_matrices=False)
    root = S[:keep].sqrt()
    B = torch.zeros(out_f, rank, dtype=torch.float32)
    A = torch.zeros(rank, in_f, dtype=torch.float32)
    B[:, :keep] = U[:, :keep] * root
    A[:keep] = root[:, None] * Vh[:keep]
    norm = float(torch.linalg.vector_norm(d))
    err = float(torch.linalg.vector_norm(d - B @ A)) / norm if norm > 0 else 0.0
    return A, B, err


def mask_stats_table(stats_per_layer: Mapping[str, dict]) -> dict:
    """Aggregate per-layer :func:`layer_stats` per layer, per module type and in total.

    Returns:
        ``{"layers": {base_key: {numel, masked, frac_masked, conflict_frac, rho, ...}},
        "modules": {type: {layers, numel, masked, frac_masked, conflict, conflict_frac,
        mean_rho}}, "total": {layers, numel, masked, frac_masked, conflict, conflict_frac}}``
        where module fractions are entry-weighted (masked / numel over that module type).
    """
    from smfa.names import module_type

    def agg(rows: list[dict]) -> dict:
        numel = sum(r["numel"] for r in rows)
        masked = sum(r["masked"] for r in rows)
        conflict = sum(r["conflict"] for r in rows)
        return {
            "layers": len(rows),
            "numel": numel,
            "masked": masked,
            "frac_masked": masked / numel if numel else 0.0,
            "conflict": conflict,
            "conflict_frac": conflict / numel if numel else 0.0,
            "mean_rho": sum(r["rho"] for r in rows) / len(rows) if rows else 0.0,
        }

    groups: dict[str, list[dict]] = {}
    for key, stats in stats_per_layer.items():
        groups.setdefault(module_type(key), []).append(stats)
    return {
        "layers": {key: dict(stats) for key, stats in stats_per_layer.items()},
        "modules": {name: agg(rows) for name, rows in sorted(groups.items())},
        "total": agg(list(stats_per_layer.values())),
    }


# -- streaming: sculpt + merge from the LoRA factors, row chunk by row chunk --------------------
#
# The dense functions above form each ΔW whole (plus several temporaries of its size). At 7B
# shapes that is 17× the cost of the two low-rank products and one pass over W. The mask is
# element-wise once the per-layer scalar ρ is known, and ρ needs only the Frobenius norms,
# which the factors give exactly: ‖s·L@R‖²_F = s²·tr(LᵀL · RRᵀ) (two r×r Gram matrices). So a
# layer is sculpted in row chunks: each chunk of ΔW_f and ΔW_a is formed, masked and handed to
# a sink (add into W in place, or write to a file), and only chunk-sized buffers ever exist.

CHUNK_ELEMENTS = 1 << 17  # ~512 KiB float32 per buffer: the work buffers stay near L2 cache


def chunk_rows_for(cols: int) -> int:
    """Default rows per chunk for ``cols`` columns: about :data:`CHUNK_ELEMENTS` entries, a
    multiple of 16 (row slices of ``B @ A`` then equal the full product's rows bitwise with
    the BLAS measured here), at least 16."""
    return max(16, CHUNK_ELEMENTS // max(cols, 1) // 16 * 16)


class LowRank(NamedTuple):
    """A LoRA update ``ΔW = scaling · left @ right`` in the base weight's layout.

    ``left``: ``[rows, r]`` float32, ``right``: ``[r, cols]`` float32 (``B`` and ``A`` for
    ``nn.Linear``; ``Aᵀ`` and ``Bᵀ`` for a ``fan_in_fan_out`` layer). Build with :func:`lowrank`.
    """

    left: torch.Tensor
    right: torch.Tensor
    scaling: float

    @property
    def shape(self) -> tuple[int, int]:
        return (self.left.shape[0], self.right.shape[1])


def lowrank(
    A: torch.Tensor, B: torch.Tensor, scaling: float, fan_in_fan_out: bool = False
) -> LowRank:
    """The factors of :func:`lora_delta` as a :class:`LowRank` (float32, nothing multiplied)."""
    if A.ndim != 2 or B.ndim != 2 or B.shape[1] != A.shape[0]:
        raise ValueError(f"lora_delta: incompatible factors A {tuple(A.shape)}, B {tuple(B.shape)}")
    A, B = A.float(), B.float()
    if fan_in_fan_out:
        return LowRank(A.T.contiguous(), B.T.contiguous(), float(scaling))
    return LowRank(B.contiguous(), A.contiguous(), float(scaling))


def lowrank_rows(u: LowRank, start: int, stop: int, out: torch.Tensor | None = None):
    """Rows ``start:stop`` of ``ΔW = scaling · left @ right`` (float32 ``[stop-start, cols]``),
    written into ``out`` when given; the same values as those rows of :func:`lora_delta`."""
    out = torch.mm(u.left[start:stop], u.right, out=out)
    if u.scaling != 1.0:  # x·1.0 = x exactly: skip the pass
        out.mul_(u.scaling)
    return out


def lowrank_norm(u: LowRank) -> float:
    """``‖ΔW‖_F`` from the factors: ``|s|·sqrt(Σ (LᵀL) ⊙ (RRᵀ))``, Gram matrices in float64.

    Costs ``O((rows + cols)·r²)``; ΔW is never formed. Non-finite factors give nan/inf.
    """
    L, R = u.left.double(), u.right.double()
    sq = float(((L.T @ L) * (R @ R.T)).sum())
    return abs(u.scaling) * math.sqrt(max(sq, 0.0)) if math.isfinite(sq) else math.nan


def rho_from_norms(norm_f: float, norm_a: float, eps: float = EPS) -> float:
    """ρ of :func:`rho` from the two Frobenius norms (``ρ = 0`` when ``‖ΔW_f‖ = 0``), rounded
    as :func:`rho` rounds it (float32 division), so hand values such as ``4 / (2 + ε) = 2``
    come out the same."""
    return float(rho(torch.tensor([norm_f]), torch.tensor([norm_a]), eps))


class _Chunk:
    """Chunk-sized float32 work buffers of one layer (allocated once, reused every chunk).

    Masks are kept as float 1.0/0.0 in these buffers: on CPU, float comparisons written in
    place and float sums are vectorised, while float → bool comparisons, bool counts and
    bool-masked fills are several times slower (measured: 250 vs 40 µs per 128 K entries).
    """

    def __init__(self, rows: int, cols: int, views: int, device=None):
        def buf():
            return torch.empty(rows, cols, dtype=torch.float32, device=device)

        self.f = [buf() for _ in range(views)]
        self.a, self.t1, self.t2, self.t3 = buf(), buf(), buf(), buf()


_F32_MAX = 3.0e38  # a little under float32's largest finite value


def _may_overflow(u: LowRank) -> bool:
    """Whether a float32 entry of ``scaling · left @ right`` (or a partial sum of it) could be
    non-finite for finite factors: by Cauchy–Schwarz every partial sum is at most
    ``‖left_i‖ · ‖right_:j‖``."""
    if u.left.numel() == 0 or u.right.numel() == 0:
        return False
    bound = float(torch.linalg.vector_norm(u.left.double(), dim=1).max())
    bound *= float(torch.linalg.vector_norm(u.right.double(), dim=0).max())
    return not (bound < _F32_MAX and abs(u.scaling) * bound < _F32_MAX)


def _finite_or_raise(t: torch.Tensor, name: str) -> None:
    if not bool(torch.isfinite(t).all()):
        raise ValueError(f"{name} has non-finite entries (nan/inf); the adapter is broken")


def sculpt_streamed(
    mfas: LowRank | list[LowRank],
    anchor: LowRank,
    k: float,
    criteria: str = "cr",
    sink=None,
    eps: float = EPS,
    chunk_rows: int | None = None,
    combine: str = "mean",
) -> list[dict]:
    """Sculpt one layer from its LoRA factors, ``chunk_rows`` rows at a time (SPEC §2.3).

    For every chunk of rows ``[i, j)`` (``chunk_rows``, default :func:`chunk_rows_for`),
    ``sink(i, chunk)`` receives ``ΔW'_f[i:j]`` (float32,
    ``[j - i, cols]``): the masks of :func:`masks` applied to that chunk, with ρ from
    :func:`lowrank_norm`. Several MFAs (``mfa_views="separate"``) are each sculpted against
    ``anchor`` with their own ρ, and their chunks combined as :func:`combine_deltas` does
    (``combine`` = mean or sum). ``chunk`` is a reused buffer: the sink must consume it before
    returning (add it into W, write it out). ``sink=None`` only computes the statistics.

    Peak extra memory: ``4 + views`` float32 chunks (masks are float 1.0/0.0 in them), plus
    float32 copies of the factors; ΔW is never formed. The masks equal :func:`masks` on the
    dense ΔW except where an entry sits on the threshold within float32 round-off of ρ (the
    dense ρ is a float32 sum of squares, this one a float64 Gram trace).

    Returns:
        one :func:`layer_stats` dict per MFA (norms from the factors and chunk sums).
    """
    k = check_k(k)
    check_criteria(criteria)
    if combine not in ("mean", "sum"):
        raise ValueError(f"how must be 'mean' or 'sum', got {combine!r}")
    if chunk_rows is not None and (int(chunk_rows) != chunk_rows or chunk_rows < 1):
        raise ValueError(f"chunk_rows must be an integer >= 1, got {chunk_rows}")
    views = [mfas] if isinstance(mfas, LowRank) else list(mfas)
    if not views:
        raise ValueError("sculpt_streamed: no MFA")
    rows, cols = anchor.shape
    for u in views:
        if u.shape != anchor.shape:
            raise ValueError(
                f"ΔW_f and ΔW_a differ in shape: {tuple(u.shape)} vs {tuple(anchor.shape)}"
            )
    for name, group in (("ΔW_f", views), ("ΔW_a", [anchor])):
        for u in group:
            if not (torch.isfinite(u.left).all() and torch.isfinite(u.right).all()):
                raise ValueError(f"{name} has non-finite entries (nan/inf); the adapter is broken")
    norm_a = lowrank_norm(anchor)
    norms_f = [lowrank_norm(u) for u in views]
    rhos = [rho_from_norms(n, norm_a, eps) for n in norms_f]
    # k·ρ as _magnitude forms it (0·∞ = 0); ∞ means R = (ΔW_a = 0 ∧ ΔW_f ≠ 0).
    krs = [0.0 if (k == 0 or r == 0) else k * r for r in rhos]
    check_a = _may_overflow(anchor)
    check_f = [_may_overflow(u) for u in views]
    n_views = len(views)
    acc = [dict(masked=0, conflict=0, dominant=0, kept=0.0, removed=0.0) for _ in views]
    # counts are float sums of 1.0/0.0: exact while a chunk has at most 2^24 entries
    chunk_rows = chunk_rows or chunk_rows_for(cols)
    chunk_rows = max(1, min(chunk_rows, rows, (1 << 24) // max(cols, 1)))
    buf = _Chunk(chunk_rows, cols, n_views, anchor.left.device)  # the factors' device
    for i in range(0, rows, chunk_rows):
        j = min(i + chunk_rows, rows)
        n = j - i
        a = lowrank_rows(anchor, i, j, out=buf.a[:n])
        if check_a:
            _finite_or_raise(a, "ΔW_a")
        t1, t2, t3 = buf.t1[:n], buf.t2[:n], buf.t3[:n]
        kept = []
        for v, (u, kr) in enumerate(zip(views, krs)):
            f = lowrank_rows(u, i, j, out=buf.f[v][:n])
            if check_f[v]:
                _finite_or_raise(f, "ΔW_f")
            # C = (sign(f)·a < 0), the same truth as sign(f)·sign(a) < 0 (conflict_mask):
            # multiplying by ±1 or 0 is exact, so nothing underflows.
            torch.sign(f, out=t1)
            t1.mul_(a).lt_(0)
            # R = (k·ρ·|a| < |f|) with 0·∞ = 0 (_magnitude)
            if math.isinf(kr):  # threshold 0 where a = 0, else ∞
                torch.abs(a, out=t2).eq_(0)
                t2.mul_(torch.abs(f, out=t3).gt_(0))
            elif kr == 0.0:
                torch.abs(f, out=t2).gt_(0)
            else:
                torch.abs(a, out=t2).mul_(kr).lt_(torch.abs(f, out=t3))
            s = acc[v]
            s["conflict"] += int(t1.sum())
            s["dominant"] += int(t2.sum())
            if criteria == "cr":
                M = t1.mul_(t2)
            else:
                M = {"c": t1, "r": t2, "none": None}[criteria]
            masked = int(M.sum()) if M is not None else 0
            s["masked"] += masked
            if masked:
                removed = torch.mul(f, M, out=t3)
                s["removed"] += float(torch.dot(removed.view(-1), removed.view(-1)))
                f.sub_(removed)  # f − f = 0 where masked, f − 0 = f elsewhere: exact
            s["kept"] += float(torch.dot(f.view(-1), f.view(-1)))
            kept.append(f)
        if sink is None:
            continue
        if n_views == 1:
            out = kept[0]
        else:
            out = torch.stack(kept).sum(0)
            if combine == "mean":
                out = out / n_views
        sink(i, out)
    return [
        _stats(
            numel=rows * cols,
            masked=s["masked"],
            conflict=s["conflict"],
            dominant=s["dominant"],
            norm_f=nf,
            norm_a=norm_a,
            norm_sculpted=math.sqrt(s["kept"]),
            removed=math.sqrt(s["removed"]),
            rho=r,
            k=k,
            criteria=criteria,
        )
        for s, nf, r in zip(acc, norms_f, rhos)
    ]
