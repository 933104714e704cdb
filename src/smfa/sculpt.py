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

The first half of this file is pure tensor math; the second half reads and writes peft LoRA
adapter folders (``adapter_config.json`` + ``adapter_model.safetensors``, never pickle).
See docs/method.md, section "Sculpting", for the nan/inf conventions and SVD re-factoring.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

import torch

from smfa.errors import SmfaError
from smfa.io import read_json, save_safetensors, staged_dir

CRITERIA = ("cr", "c", "r", "none")
EPS = 1e-12
ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_WEIGHTS = "adapter_model.safetensors"
PREFIX = "base_model.model."

# ---------------------------------------------------------------------------------------------
# Pure tensor math
# ---------------------------------------------------------------------------------------------


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


def _check_k(k: float) -> float:
    try:
        k = float(k)
    except (TypeError, ValueError):
        raise ValueError(f"k must be a number >= 0, got {k!r}") from None
    if math.isnan(k) or k < 0:
        raise ValueError(f"k must be >= 0 (0 = conflict only, inf = raw MFA), got {k}")
    return k


def _check_pair(delta_f: torch.Tensor, delta_a: torch.Tensor, criteria: str) -> None:
    if criteria not in CRITERIA:
        raise ValueError(f"criteria must be one of {', '.join(CRITERIA)}; got {criteria!r}")
    if delta_f.shape != delta_a.shape:
        raise ValueError(
            f"ΔW_f and ΔW_a differ in shape: {tuple(delta_f.shape)} vs {tuple(delta_a.shape)}"
        )
    for name, t in (("ΔW_f", delta_f), ("ΔW_a", delta_a)):
        if not torch.isfinite(t).all():
            raise ValueError(f"{name} has non-finite entries (nan/inf); the adapter is broken")


def conflict_mask(delta_f: torch.Tensor, delta_a: torch.Tensor) -> torch.Tensor:
    """Directional conflict ``C = (ΔW_a ⊙ ΔW_f < 0)``: bool tensor, same shape.

    Computed as opposite strict signs, which equals the product test but cannot underflow
    (two tiny float32 values of opposite sign have a product that rounds to -0.0).
    """
    sf, sa = torch.sign(delta_f), torch.sign(delta_a)
    return (sf * sa) < 0


def magnitude_mask(
    delta_f: torch.Tensor, delta_a: torch.Tensor, k: float, eps: float = EPS
) -> torch.Tensor:
    """Relative magnitude ``R = (k · ρ · |ΔW_a| < |ΔW_f|)``: bool tensor, same shape.

    Uses the convention ``0 · ∞ = 0`` for the threshold ``t = k · ρ · |ΔW_a|`` so that the
    limits are exact: ``k = 0`` gives ``R = (ΔW_f ≠ 0)``; ``k = ∞`` gives ``R = (ΔW_a = 0 ∧
    ΔW_f ≠ 0)``, the pointwise limit of ``R(k)`` as ``k → ∞``. A product that overflows
    float32 becomes ``+∞`` and compares False, which is also the limit.
    """
    k = _check_k(k)
    r = float(rho(delta_f, delta_a, eps))
    kr = 0.0 if (k == 0 or r == 0) else k * r  # 0·∞ = 0; k·ρ may be +∞
    abs_f, abs_a = delta_f.float().abs(), delta_a.float().abs()
    t = torch.where(abs_a == 0, torch.zeros_like(abs_a), abs_a * kr)
    return t < abs_f


def sculpt_mask(
    delta_f: torch.Tensor,
    delta_a: torch.Tensor,
    k: float,
    criteria: str = "cr",
    eps: float = EPS,
) -> torch.Tensor:
    """Mask ``M`` of MFA entries to delete (SMFA Eq. for C, R and M; SPEC §2.3).

    Args:
        delta_f: MFA update ``ΔW_f``, any shape, any float dtype.
        delta_a: Retaining Anchor update ``ΔW_a``, same shape.
        k: relative-magnitude factor, ``>= 0``; ``float('inf')`` allowed (raw MFA).
        criteria: ``"cr"`` → ``C ∧ R`` (SMFA), ``"c"`` → ``C``, ``"r"`` → ``R``,
            ``"none"`` → nothing masked (raw MFA).
        eps: ε in ρ.

    Returns:
        bool tensor, same shape as ``delta_f``; True = entry is deleted.

    Raises:
        ValueError: ``k < 0`` or nan, unknown ``criteria``, shape mismatch, non-finite input.
    """
    k = _check_k(k)
    _check_pair(delta_f, delta_a, criteria)
    if criteria == "none":
        return torch.zeros(delta_f.shape, dtype=torch.bool, device=delta_f.device)
    if criteria == "c":
        return conflict_mask(delta_f, delta_a)
    R = magnitude_mask(delta_f, delta_a, k, eps)
    if criteria == "r":
        return R
    return conflict_mask(delta_f, delta_a) & R


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
        float32), ``mask`` is the bool ``M``, and ``stats`` is a JSON-ready dict with
        ``numel, masked, frac_masked, rho, k, criteria, conflict, conflict_frac, dominant,
        dominant_frac, norm_f, norm_a, norm_sculpted, removed_norm_frac``.
    """
    k = _check_k(k)
    _check_pair(delta_f, delta_a, criteria)
    f32 = delta_f.float()
    C = conflict_mask(delta_f, delta_a)
    R = magnitude_mask(delta_f, delta_a, k, eps)
    M = {"cr": C & R, "c": C, "r": R, "none": torch.zeros_like(C)}[criteria]
    sculpted = f32 * (~M).to(torch.float32)  # (1 − M) as float; M is bool
    numel = f32.numel()
    norm_f = float(torch.linalg.vector_norm(f32))
    removed = float(torch.linalg.vector_norm(f32 * M.to(torch.float32)))
    stats = {
        "numel": numel,
        "masked": int(M.sum()),
        "frac_masked": float(M.sum()) / max(numel, 1),
        "rho": float(rho(delta_f, delta_a, eps)),
        "k": k,
        "criteria": criteria,
        "conflict": int(C.sum()),
        "conflict_frac": float(C.sum()) / max(numel, 1),
        "dominant": int(R.sum()),
        "dominant_frac": float(R.sum()) / max(numel, 1),
        "norm_f": norm_f,
        "norm_a": float(torch.linalg.vector_norm(delta_a.float())),
        "norm_sculpted": float(torch.linalg.vector_norm(sculpted)),
        "removed_norm_frac": removed / norm_f if norm_f > 0 else 0.0,
    }
    return sculpted.to(delta_f.dtype), M, stats


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


# ---------------------------------------------------------------------------------------------
# peft adapter folders
# ---------------------------------------------------------------------------------------------


def _base_key(key: str) -> str:
    """``base_model.model.X.lora_A.weight`` → ``X.weight``."""
    body = key[len(PREFIX) :] if key.startswith(PREFIX) else key
    for part in (".lora_A.weight", ".lora_B.weight"):
        if body.endswith(part):
            return body[: -len(part)] + ".weight"
    return body


def _alpha_for(module: str, cfg: dict) -> float:
    """peft's rule (``get_pattern_key``): the first ``alpha_pattern`` key that matches the end
    of the module name as a regex, else ``lora_alpha``."""
    import re

    for pattern, alpha in (cfg.get("alpha_pattern") or {}).items():
        if re.match(rf"(.*\.)?({pattern})$", module):
            return float(alpha)
    return float(cfg.get("lora_alpha", 8))


def _read_config(adapter_dir: Path) -> dict:
    cfg_path = adapter_dir / ADAPTER_CONFIG
    if not adapter_dir.is_dir():
        raise SmfaError(f"{adapter_dir}: adapter folder not found")
    cfg = read_json(cfg_path)
    if not isinstance(cfg, dict):
        raise SmfaError(f"{cfg_path}: expected a JSON object")
    ptype = cfg.get("peft_type", "LORA")
    if str(ptype).upper() != "LORA":
        raise SmfaError(f"{cfg_path}: field 'peft_type' is {ptype!r}; only LoRA adapters sculpt")
    for field in ("use_dora", "target_parameters", "lora_bias"):
        if cfg.get(field):
            raise SmfaError(
                f"{cfg_path}: field '{field}' is set; its update is not scaling·B@A, "
                "so SMFA cannot sculpt it"
            )
    return cfg


def _weights_path(adapter_dir: Path) -> Path:
    path = adapter_dir / ADAPTER_WEIGHTS
    if not path.is_file():
        if (adapter_dir / "adapter_model.bin").is_file():
            raise SmfaError(
                f"{adapter_dir / 'adapter_model.bin'}: pickle weights are refused; "
                "re-save the adapter with safetensors"
            )
        raise SmfaError(f"{path}: file not found")
    return path


def adapter_layers(adapter_dir: str | os.PathLike) -> dict[str, dict]:
    """Index a saved peft LoRA adapter without loading tensors.

    Returns:
        ``{base_key: {"a": key_A, "b": key_B, "scaling": s, "fan_in_fan_out": bool}}`` in
        file order, with ``s = alpha / r`` or ``alpha / sqrt(r)`` under ``use_rslora``; ``r``
        is read from the ``lora_A`` shape (which is what ``rank_pattern`` sets) and alpha from
        ``alpha_pattern`` / ``lora_alpha`` with peft's matching rule.
    """
    from safetensors import safe_open

    adapter_dir = Path(adapter_dir)
    cfg = _read_config(adapter_dir)
    path = _weights_path(adapter_dir)
    try:
        with safe_open(str(path), framework="pt") as f:
            shapes = {key: f.get_slice(key).get_shape() for key in f.keys()}
    except Exception as e:
        raise SmfaError(f"{path}: not a valid safetensors file ({type(e).__name__})") from None
    layers: dict[str, dict] = {}
    for key, shape in shapes.items():
        if not key.endswith((".lora_A.weight", ".lora_B.weight")):
            raise SmfaError(
                f"{path}: tensor '{key}' is not a LoRA factor (modules_to_save, embeddings or "
                "bias are not supported by sculpting)"
            )
        base = _base_key(key)
        entry = layers.setdefault(base, {})
        entry["a" if ".lora_A." in key else "b"] = key
        if ".lora_A." in key:
            entry["r"] = shape[0]
        if len(shape) != 2:
            raise SmfaError(f"{path}: layer '{base}': factor {key} has shape {shape}; need 2-D")
    use_rslora = bool(cfg.get("use_rslora", False))
    for base, entry in layers.items():
        if "a" not in entry or "b" not in entry:
            missing = "lora_B" if "b" not in entry else "lora_A"
            raise SmfaError(f"{path}: layer '{base}': {missing} factor is missing")
        r = entry.pop("r")
        alpha = _alpha_for(base[: -len(".weight")], cfg)
        entry["scaling"] = alpha / math.sqrt(r) if use_rslora else alpha / r
        entry["fan_in_fan_out"] = bool(cfg.get("fan_in_fan_out", False))
    if not layers:
        raise SmfaError(f"{path}: the adapter holds no LoRA layers")
    return layers


def iter_adapter_deltas(adapter_dir: str | os.PathLike) -> Iterator[tuple[str, torch.Tensor]]:
    """Yield ``(base_key, ΔW)`` one layer at a time (float32, base weight layout).

    Only the two factors of the current layer are read (``safe_open``), so peak extra memory
    is about one layer's ΔW.
    """
    from safetensors import safe_open

    adapter_dir = Path(adapter_dir)
    layers = adapter_layers(adapter_dir)
    path = _weights_path(adapter_dir)
    with safe_open(str(path), framework="pt") as f:
        for base, e in layers.items():
            A, B = f.get_tensor(e["a"]), f.get_tensor(e["b"])
            if B.shape[1] != A.shape[0]:
                raise SmfaError(
                    f"{path}: layer '{base}': lora_A {tuple(A.shape)} and lora_B "
                    f"{tuple(B.shape)} do not multiply"
                )
            yield base, lora_delta(A, B, e["scaling"], e["fan_in_fan_out"])


def adapter_deltas(adapter_dir: str | os.PathLike) -> dict[str, torch.Tensor]:
    """All layers' ``ΔW`` of a saved peft LoRA adapter: ``{base_key: float32 tensor}``."""
    return dict(iter_adapter_deltas(adapter_dir))


def _pair_error(where_: str, base: str, detail: str) -> SmfaError:
    return SmfaError(
        f"{where_}: layer '{base}': {detail}; MFA and anchor must cover the same layers"
    )


def sculpt_deltas(
    deltas_f: Mapping[str, torch.Tensor] | Iterable[tuple[str, torch.Tensor]],
    deltas_a: Mapping[str, torch.Tensor],
    k: float,
    criteria: str = "cr",
    eps: float = EPS,
    names: tuple[str, str] = ("mfa", "anchor"),
) -> Iterator[tuple[str, torch.Tensor, dict]]:
    """Sculpt every layer: yields ``(base_key, ΔW'_f, stats)`` in ``deltas_f`` order.

    ``deltas_f`` may be a dict or a stream of pairs; ``deltas_a`` is looked up by key. Layers
    present in only one of them, or with different shapes, raise :class:`SmfaError` naming
    ``names`` (the files) and the layer.
    """
    k = _check_k(k)
    if criteria not in CRITERIA:
        raise ValueError(f"criteria must be one of {', '.join(CRITERIA)}; got {criteria!r}")
    items = deltas_f.items() if isinstance(deltas_f, Mapping) else deltas_f
    seen = set()
    for base, df in items:
        seen.add(base)
        if base not in deltas_a:
            raise _pair_error(names[1], base, f"missing (present in {names[0]})")
        da = deltas_a[base]
        if da.shape != df.shape:
            raise _pair_error(
                names[1], base, f"shape {tuple(da.shape)} != {tuple(df.shape)} in {names[0]}"
            )
        sculpted, _, stats = sculpt(df, da, k, criteria, eps)
        yield base, sculpted, stats
    extra = [key for key in deltas_a if key not in seen]
    if extra:
        raise _pair_error(names[0], extra[0], f"missing (present in {names[1]})")


class _LazyDeltas(Mapping):
    """Read-on-demand ``{base_key: ΔW}`` view of an adapter folder (one layer per lookup)."""

    def __init__(self, adapter_dir: Path):
        self.dir = Path(adapter_dir)
        self.layers = adapter_layers(self.dir)
        self.path = _weights_path(self.dir)

    def __getitem__(self, base: str) -> torch.Tensor:
        from safetensors import safe_open

        e = self.layers[base]
        with safe_open(str(self.path), framework="pt") as f:
            A, B = f.get_tensor(e["a"]), f.get_tensor(e["b"])
        return lora_delta(A, B, e["scaling"], e["fan_in_fan_out"])

    def __iter__(self):
        return iter(self.layers)

    def __len__(self) -> int:
        return len(self.layers)


def sculpt_adapters(
    mfa_dir: str | os.PathLike,
    anchor_dir: str | os.PathLike,
    k: float,
    criteria: str = "cr",
    eps: float = EPS,
) -> Iterator[tuple[str, torch.Tensor, dict]]:
    """Stream SMFA over two saved peft adapters: yields ``(base_key, ΔW'_f, stats)``.

    Layer pairing is checked before any tensor is read, so a mismatch raises
    :class:`SmfaError` (naming the adapter file and the layer) before the first yield.
    Peak extra memory is about two layers' ΔW.
    """
    k = _check_k(k)
    mfa = _LazyDeltas(Path(mfa_dir))
    anchor = _LazyDeltas(Path(anchor_dir))
    names = (str(mfa.path), str(anchor.path))
    shapes_f = _layer_shapes(mfa)
    shapes_a = _layer_shapes(anchor)
    for base, shape in shapes_f.items():
        if base not in shapes_a:
            raise _pair_error(names[1], base, f"missing (present in {names[0]})")
        if shapes_a[base] != shape:
            raise _pair_error(names[1], base, f"shape {shapes_a[base]} != {shape} in {names[0]}")
    for base in shapes_a:
        if base not in shapes_f:
            raise _pair_error(names[0], base, f"missing (present in {names[1]})")
    stream = ((base, mfa[base]) for base in mfa)
    yield from sculpt_deltas(stream, anchor, k, criteria, eps, names)


def _layer_shapes(lazy: _LazyDeltas) -> dict[str, tuple[int, int]]:
    from safetensors import safe_open

    out = {}
    with safe_open(str(lazy.path), framework="pt") as f:
        for base, e in lazy.layers.items():
            b_shape = f.get_slice(e["b"]).get_shape()
            a_shape = f.get_slice(e["a"]).get_shape()
            shape = (b_shape[0], a_shape[1])
            out[base] = shape[::-1] if e["fan_in_fan_out"] else shape
    return out


def module_type(base_key: str) -> str:
    """``model.layers.0.self_attn.q_proj.weight`` → ``q_proj``.

    A suffix after ``@`` (e.g. ``...q_proj.weight@view0`` for per-view stats) is ignored.
    """
    parts = base_key.split("@", 1)[0].split(".")
    return parts[-2] if len(parts) >= 2 and parts[-1] == "weight" else parts[-1]


def mask_stats_table(stats_per_layer: Mapping[str, dict]) -> dict:
    """Aggregate per-layer ``sculpt`` stats per layer, per module type and in total.

    Returns:
        ``{"layers": {base_key: {numel, masked, frac_masked, conflict_frac, rho, ...}},
        "modules": {type: {layers, numel, masked, frac_masked, conflict, conflict_frac,
        mean_rho}}, "total": {layers, numel, masked, frac_masked, conflict, conflict_frac}}``
        where module fractions are entry-weighted (masked / numel over that module type).
    """

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


def write_lora_adapter(
    out_dir: str | os.PathLike,
    deltas: Mapping[str, torch.Tensor] | Iterable[tuple[str, torch.Tensor]],
    rank: int,
    base_model_name_or_path: str | None = None,
    task_type: str | None = None,
    dtype: torch.dtype = torch.float32,
) -> dict[str, float]:
    """Write dense deltas as a peft-loadable LoRA adapter of rank ``rank`` (truncated SVD).

    The folder gets ``adapter_config.json`` (``r = lora_alpha = rank``, so scaling is 1;
    ``target_modules`` = the explicit module names) and ``adapter_model.safetensors`` with
    ``base_model.model.X.lora_A.weight`` / ``lora_B.weight``. ``rank >= min(out, in)`` of a
    layer reproduces it up to float32 round-off. Written atomically (no partial folder).

    Returns:
        ``{base_key: relative Frobenius reconstruction error}``.
    """
    from peft import LoraConfig

    items = deltas.items() if isinstance(deltas, Mapping) else deltas
    tensors: dict[str, torch.Tensor] = {}
    errors: dict[str, float] = {}
    modules: list[str] = []
    for base, delta in items:
        if not base.endswith(".weight"):
            raise ValueError(f"write_lora_adapter: key {base!r} does not end in '.weight'")
        module = base[: -len(".weight")]
        A, B, err = svd_refactor(delta, rank)
        tensors[f"{PREFIX}{module}.lora_A.weight"] = A.to(dtype)
        tensors[f"{PREFIX}{module}.lora_B.weight"] = B.to(dtype)
        errors[base] = err
        modules.append(module)
    if not modules:
        raise ValueError("write_lora_adapter: no deltas to write")
    cfg = LoraConfig(
        r=rank,
        lora_alpha=rank,
        lora_dropout=0.0,
        target_modules=modules,
        bias="none",
        base_model_name_or_path=base_model_name_or_path,
        task_type=task_type,
    )
    with staged_dir(out_dir) as tmp:
        cfg.save_pretrained(str(tmp))
        save_safetensors(tmp / ADAPTER_WEIGHTS, tensors, metadata={"format": "pt"})
    return errors


def apply_deltas(
    model: torch.nn.Module, deltas: Mapping[str, torch.Tensor], source: str = "delta"
) -> None:
    """In place ``W += ΔW'`` for every ``{base_key: ΔW'}`` on a plain (non-peft) model.

    Every key and shape is checked before any weight changes, so a mismatch leaves the model
    untouched and raises :class:`SmfaError` ("adapter does not match the model: ..."),
    naming ``source``. Math in float32, cast back to each weight's dtype.
    """
    params = dict(model.named_parameters())
    for base, delta in deltas.items():
        if base not in params:
            hint = (
                " (a peft model? merge or unwrap it first)"
                if any(".base_layer." in n for n in params)
                else ""
            )
            raise SmfaError(
                f"{source}: adapter does not match the model: layer '{base}' not in the model"
                + hint
            )
        if tuple(params[base].shape) != tuple(delta.shape):
            raise SmfaError(
                f"{source}: adapter does not match the model: layer '{base}' shape "
                f"{tuple(delta.shape)} vs model {tuple(params[base].shape)}"
            )
    with torch.no_grad():
        for base, delta in deltas.items():
            p = params[base]
            p.copy_(merge(p, delta))


__all__ = [
    "CRITERIA",
    "adapter_deltas",
    "adapter_layers",
    "apply_deltas",
    "combine_deltas",
    "conflict_mask",
    "iter_adapter_deltas",
    "lora_delta",
    "magnitude_mask",
    "mask_stats_table",
    "merge",
    "module_type",
    "rho",
    "sculpt",
    "sculpt_adapters",
    "sculpt_deltas",
    "sculpt_mask",
    "svd_refactor",
    "write_lora_adapter",
]
