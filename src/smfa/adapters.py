"""peft LoRA adapter folders and weight deltas on disk: read, iterate ΔW, sculpt, apply, write.

An adapter folder is peft's standard layout (``adapter_config.json`` +
``adapter_model.safetensors``; pickle weights are refused). A *delta* is ``{base_key: ΔW}``
(``delta.safetensors``, W = W_o + ΔW) — how every unlearning method's result is stored. The
math lives in :mod:`smfa.sculpt` and :mod:`smfa.merging`; this module moves tensors between
that math and files, one layer at a time where it can.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

import torch

from smfa.errors import SmfaError
from smfa.io import read_json, save_safetensors, staged_dir
from smfa.names import PEFT_PREFIX, base_key, module_type  # noqa: F401  (module_type: API)
from smfa.sculpt import (
    EPS,
    LowRank,
    check_criteria,
    check_k,
    combine_deltas,
    lora_delta,
    lowrank,
    merge,
    sculpt,
    sculpt_streamed,
    svd_refactor,
)

ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_WEIGHTS = "adapter_model.safetensors"
DELTA_FILE = "delta.safetensors"


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


def _weights_path(adapter_dir: Path, flag_hint: bool = False) -> Path:
    path = adapter_dir / ADAPTER_WEIGHTS
    if not path.is_file():
        if (adapter_dir / "adapter_model.bin").is_file():
            hint = " (or pass --allow-pickle for a trusted file)" if flag_hint else ""
            raise SmfaError(
                f"{adapter_dir / 'adapter_model.bin'}: pickle weights are refused; "
                f"re-save the adapter with safetensors{hint}"
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
        base = base_key(key)
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


def lazy_adapter_deltas(adapter_dir: str | os.PathLike) -> Mapping[str, torch.Tensor]:
    """``{base_key: ΔW}`` of a saved adapter, each layer read and formed when looked up."""
    return _LazyDeltas(Path(adapter_dir))


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
    k, criteria = check_k(k), check_criteria(criteria)  # argument errors, not layer errors
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
        try:
            sculpted, _, stats = sculpt(df, da, k, criteria, eps)
        except ValueError as e:
            raise SmfaError(f"{names[0]} / {names[1]}: layer '{base}': {e}") from None
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
    :class:`SmfaError` (naming the adapter file and the layer) before the first yield. Each
    layer is sculpted from its factors in row chunks (:func:`smfa.sculpt.sculpt_streamed`);
    the only layer-sized tensor is the yielded float32 ΔW'_f.
    """
    plan = SavedSculpt([Path(mfa_dir)], Path(anchor_dir), k, criteria, eps=eps)
    for base in plan.keys():
        yield base, plan.dense(base), plan.stats[base]


class _LazyFactors(Mapping):
    """Read-on-demand ``{base_key: LowRank}`` view of an adapter folder (factors only)."""

    def __init__(self, adapter_dir: Path):
        self.dir = Path(adapter_dir)
        self.layers = adapter_layers(self.dir)
        self.path = _weights_path(self.dir)

    def __getitem__(self, base: str) -> LowRank:
        from safetensors import safe_open

        e = self.layers[base]
        with safe_open(str(self.path), framework="pt") as f:
            A, B = f.get_tensor(e["a"]), f.get_tensor(e["b"])
        if B.shape[1] != A.shape[0]:
            raise SmfaError(
                f"{self.path}: layer '{base}': lora_A {tuple(A.shape)} and lora_B "
                f"{tuple(B.shape)} do not multiply"
            )
        return lowrank(A, B, e["scaling"], e["fan_in_fan_out"])

    def dtype(self, base: str) -> torch.dtype:
        """The stored dtype of the layer's ``lora_B`` (the adapter's dtype)."""
        from safetensors import safe_open

        with safe_open(str(self.path), framework="pt") as f:
            return getattr(torch, _ST_TORCH[f.get_slice(self.layers[base]["b"]).get_dtype()])

    def __iter__(self):
        return iter(self.layers)

    def __len__(self) -> int:
        return len(self.layers)


_ST_TORCH = {"F32": "float32", "F16": "float16", "BF16": "bfloat16", "F64": "float64"}


class SavedSculpt:
    """SMFA over saved MFA adapter(s) and a saved RA, one layer at a time from the factors.

    Pairing (same layers, same shapes) is checked on construction, before a tensor is read.
    :meth:`run` streams one layer's ΔW'_f to a sink in row chunks; :meth:`dense` returns it
    whole (float32). Several MFAs (``mfa_views="separate"``) are sculpted separately and
    combined chunk by chunk (``combine``); statistics, in :attr:`stats` after a layer ran,
    are keyed ``<base_key>`` (one MFA) or ``<base_key>@view<i>``.
    """

    def __init__(
        self,
        mfa_dirs: list[Path],
        anchor_dir: Path,
        k: float,
        criteria: str = "cr",
        combine: str = "mean",
        eps: float = EPS,
        chunk_rows: int | None = None,
    ):
        self.mfas = [_LazyFactors(Path(d)) for d in mfa_dirs]
        self.anchor = _LazyFactors(Path(anchor_dir))
        self.k, self.criteria, self.combine, self.eps = k, criteria, combine, eps
        self.chunk_rows = chunk_rows
        shapes_a = _layer_shapes(self.anchor)
        names_a = str(self.anchor.path)
        self.shapes = _layer_shapes(self.mfas[0])
        for mfa in self.mfas:
            shapes_f, names_f = _layer_shapes(mfa), str(mfa.path)
            for base, shape in shapes_f.items():
                if base not in shapes_a:
                    raise _pair_error(names_a, base, f"missing (present in {names_f})")
                if shapes_a[base] != shape:
                    raise _pair_error(
                        names_a, base, f"shape {shapes_a[base]} != {shape} in {names_f}"
                    )
            for base in shapes_a:
                if base not in shapes_f:
                    raise _pair_error(names_f, base, f"missing (present in {names_a})")
        self.stats: dict[str, dict] = {}

    def keys(self) -> list[str]:
        """Base weight keys, in the (first) MFA's file order."""
        return list(self.shapes)

    def dtype(self, base: str) -> torch.dtype:
        """The MFA adapter's dtype for this layer."""
        return self.mfas[0].dtype(base)

    def run(self, base: str, sink) -> None:
        """Sculpt layer ``base``: ``sink(row, chunk)`` gets ΔW'_f in float32 row chunks."""
        factors = [mfa[base] for mfa in self.mfas]
        try:
            stats = sculpt_streamed(
                factors,
                self.anchor[base],
                self.k,
                self.criteria,
                sink,
                self.eps,
                self.chunk_rows,
                self.combine,
            )
        except ValueError as e:
            names = f"{self.mfas[0].path} / {self.anchor.path}"
            raise SmfaError(f"{names}: layer '{base}': {e}") from None
        if len(stats) == 1:
            self.stats[base] = stats[0]
        else:
            self.stats.update({f"{base}@view{i}": st for i, st in enumerate(stats)})

    def dense(self, base: str) -> torch.Tensor:
        """Layer ``base``'s whole ΔW'_f (float32, base weight layout)."""
        out = torch.empty(self.shapes[base], dtype=torch.float32)

        def sink(i, chunk):
            out[i : i + chunk.shape[0]] = chunk

        self.run(base, sink)
        return out


def _layer_shapes(lazy) -> dict[str, tuple[int, int]]:
    from safetensors import safe_open

    out = {}
    with safe_open(str(lazy.path), framework="pt") as f:
        for base, e in lazy.layers.items():
            b_shape = f.get_slice(e["b"]).get_shape()
            a_shape = f.get_slice(e["a"]).get_shape()
            shape = (b_shape[0], a_shape[1])
            out[base] = shape[::-1] if e["fan_in_fan_out"] else shape
    return out


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
        tensors[f"{PEFT_PREFIX}{module}.lora_A.weight"] = A.to(dtype)
        tensors[f"{PEFT_PREFIX}{module}.lora_B.weight"] = B.to(dtype)
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


def check_delta_shapes(
    shapes: Mapping[str, tuple], delta: Mapping[str, torch.Tensor], source: str
) -> None:
    """Every ``{base_key: ΔW}`` names a weight of ``shapes`` with the same shape and is finite.

    Raises :class:`SmfaError` naming ``source`` and the first bad layer.
    """
    for base, d in delta.items():
        if base not in shapes:
            hint = (
                " (a peft model? merge or unwrap it first)"
                if any(".base_layer." in n for n in shapes)
                else ""
            )
            raise SmfaError(
                f"{source}: adapter does not match the model: layer '{base}' not in the model"
                + hint
            )
        if tuple(shapes[base]) != tuple(d.shape):
            raise SmfaError(
                f"{source}: adapter does not match the model: layer '{base}' shape "
                f"{tuple(d.shape)} vs model {tuple(shapes[base])}"
            )
        if d.is_floating_point() and not bool(torch.isfinite(d).all()):
            raise SmfaError(f"{source}: layer '{base}': the update has non-finite entries")


def check_shapes_match(
    shapes: Mapping[str, tuple], layers: Mapping[str, tuple], source: str
) -> None:
    """Every ``{base_key: shape}`` of ``layers`` names a weight of ``shapes`` of that shape."""
    for base, shape in layers.items():
        if base not in shapes:
            raise SmfaError(
                f"{source}: adapter does not match the model: layer '{base}' not in the model"
            )
        if tuple(shapes[base]) != tuple(shape):
            raise SmfaError(
                f"{source}: adapter does not match the model: layer '{base}' shape "
                f"{tuple(shape)} vs model {tuple(shapes[base])}"
            )


def model_shapes(model_dir: str | os.PathLike) -> dict[str, tuple]:
    """Parameter shapes of a saved model, built on the meta device (no weights read)."""
    from transformers import AutoConfig, AutoModelForImageTextToText

    config = AutoConfig.from_pretrained(str(model_dir))
    with torch.device("meta"):
        model = AutoModelForImageTextToText.from_config(config)
    return {n: tuple(p.shape) for n, p in model.named_parameters()}


def check_delta_matches(
    delta: Mapping[str, torch.Tensor], model_dir: str | os.PathLike, source: str
) -> None:
    """:func:`check_delta_shapes` against the model saved in ``model_dir`` (shapes only for
    :class:`SculptedDeltas`: their finiteness is checked as they are sculpted)."""
    if isinstance(delta, SculptedDeltas):
        check_shapes_match(model_shapes(model_dir), delta.plan.shapes, source)
        return
    check_delta_shapes(model_shapes(model_dir), delta, source)


def apply_deltas(
    model: torch.nn.Module, deltas: Mapping[str, torch.Tensor], source: str = "delta"
) -> None:
    """In place ``W += ΔW'`` for every ``{base_key: ΔW'}`` on a plain (non-peft) model.

    Every key, shape and value is checked before any weight changes, so a mismatch or a
    non-finite update leaves the model untouched and raises :class:`SmfaError` naming
    ``source``. Math in float32, cast back to each weight's dtype.
    """
    params = dict(model.named_parameters())
    check_delta_shapes({n: tuple(p.shape) for n, p in params.items()}, deltas, source)
    with torch.no_grad():
        for base, delta in deltas.items():
            p = params[base]
            p.copy_(merge(p, delta))


def mask_stats_file(folder: Path, stats: Mapping[str, dict]) -> Path:
    """``folder/mask_stats.json``: :func:`smfa.sculpt.mask_stats_table` of per-layer stats."""
    from smfa.io import write_json
    from smfa.sculpt import mask_stats_table

    path = Path(folder) / "mask_stats.json"
    write_json(path, mask_stats_table(stats))
    return path


def is_dense(folder: str | os.PathLike) -> bool:
    """Whether ``folder`` holds a dense full-fine-tuning delta (``delta.safetensors``, no
    peft adapter): how SMFA saves its MFA and RA when ``full_finetune`` is on."""
    f = Path(folder)
    return (f / DELTA_FILE).is_file() and not (f / ADAPTER_CONFIG).is_file()


def dense_pairs(
    deltas_f: Mapping[str, torch.Tensor], deltas_a: Mapping[str, torch.Tensor]
) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """Full fine-tuning deltas paired on the MFA's keys: a weight the RA run left unchanged
    has ΔW_a = 0 there; weights only the RA changed are dropped (ΔW_f = 0 sculpts to 0)."""
    da = {k: deltas_a[k] if k in deltas_a else torch.zeros_like(v) for k, v in deltas_f.items()}
    return dict(deltas_f), da


def sculpt_dense(
    mfas: list[Mapping[str, torch.Tensor]],
    anchor: Mapping[str, torch.Tensor],
    k: float,
    criteria: str = "cr",
    combine: str = "mean",
) -> tuple[dict[str, torch.Tensor], dict[str, dict]]:
    """SMFA on dense deltas ``W_after − W_o`` (full fine-tuning): the same per-layer math as
    :func:`sculpt_saved` (:func:`sculpt_deltas`), on the MFA's keys (:func:`dense_pairs`)."""
    per_view, stats = [], {}
    for i, mfa in enumerate(mfas):
        df, da = dense_pairs(mfa, anchor)
        view = {}
        for key, delta, st in sculpt_deltas(df, da, k, criteria):
            view[key] = delta
            stats[key if len(mfas) == 1 else f"{key}@view{i}"] = st
        per_view.append(view)
    if len(per_view) == 1:
        return per_view[0], stats
    keys = dict.fromkeys(key for v in per_view for key in v)
    out = {}
    for key in keys:
        like = next(v[key] for v in per_view if key in v)
        out[key] = combine_deltas([v.get(key, torch.zeros_like(like)) for v in per_view], combine)
    return out, stats


def sculpt_saved(
    mfa_dirs: list[Path], anchor_dir: Path, k: float, criteria: str = "cr", combine: str = "mean"
) -> tuple[dict[str, torch.Tensor], dict[str, dict]]:
    """Sculpt saved MFA adapter(s) against a saved RA, one layer at a time.

    Returns ``(ΔW'_f per base weight, per-layer mask statistics)``. Several MFA folders (one
    per view, ``mfa_views="separate"``) are sculpted separately and combined with ``combine``;
    their statistics are keyed ``<base_key>@view<i>``. Dense folders (:func:`is_dense`, full
    fine-tuning) go through :func:`sculpt_dense`. Holds every layer's float32 ΔW'_f;
    :class:`SavedSculpt` with :func:`write_sculpted_delta` / :func:`merge_sculpted` does not.
    """
    if all(is_dense(d) for d in [*mfa_dirs, anchor_dir]):
        from smfa.io import load_safetensors

        mfas = [load_safetensors(Path(d) / DELTA_FILE) for d in mfa_dirs]
        anchor = load_safetensors(Path(anchor_dir) / DELTA_FILE)
        return sculpt_dense(mfas, anchor, k, criteria, combine)
    delta = sculpted_deltas(mfa_dirs, anchor_dir, k, criteria, combine)
    return {base: delta[base] for base in delta}, delta.plan.stats


def sculpted_deltas(
    mfa_dirs: list[Path], anchor_dir: Path, k: float, criteria: str = "cr", combine: str = "mean"
) -> SculptedDeltas:
    """The lazy, streamable form of :func:`sculpt_saved` (pairing checked now)."""
    plan = SavedSculpt([Path(m) for m in mfa_dirs], Path(anchor_dir), k, criteria, combine)
    return SculptedDeltas(plan)


def write_sculpted_delta(
    folder: Path, plan: SavedSculpt, dtype: torch.dtype | None = None, method: str = "smfa"
) -> Path:
    """``folder/delta.safetensors`` streamed chunk by chunk from ``plan`` (no layer held).

    ``dtype``: the file's dtype; default each layer's adapter dtype (float32 math, cast at
    the end, as for every merge).
    """
    from smfa.io import SafetensorsWriter, atomic_path

    path = Path(folder) / DELTA_FILE
    dtypes = {base: dtype or plan.dtype(base) for base in plan.keys()}
    specs = {base: (dtypes[base], plan.shapes[base]) for base in plan.keys()}
    with atomic_path(path) as tmp:
        meta = {"format": "smfa-delta", "method": method}
        with SafetensorsWriter(tmp, specs, metadata=meta) as w:
            for base in plan.keys():
                plan.run(base, lambda i, chunk, base=base: w.write(base, chunk))
    return path


def write_delta(folder: Path, delta: Mapping[str, torch.Tensor], method: str) -> Path:
    """``folder/delta.safetensors`` with the method's name in its metadata."""
    if isinstance(delta, SculptedDeltas):
        return write_sculpted_delta(folder, delta.plan, method=method)
    path = Path(folder) / DELTA_FILE
    save_safetensors(path, dict(delta), metadata={"format": "smfa-delta", "method": method})
    return path


def write_merged(original: Path, delta: Mapping[str, torch.Tensor], dest: Path, dtype="float32"):
    """``W = W_o + ΔW`` saved with ``save_pretrained`` (plus the processor) to ``dest``."""
    if isinstance(delta, SculptedDeltas):
        merge_sculpted(Path(original), delta.plan, Path(dest), getattr(torch, dtype))
        return
    from smfa.models import load

    model, processor = load(str(original), dtype=dtype, device="cpu")
    apply_deltas(model, delta)
    model.save_pretrained(dest, safe_serialization=True)
    processor.save_pretrained(dest)


def _weight_files(model_dir: Path) -> list[Path]:
    """The safetensors weight files of a saved model (one file, or the shards of an index)."""
    index = model_dir / "model.safetensors.index.json"
    if index.is_file():
        names = sorted(set(read_json(index).get("weight_map", {}).values()))
        return [model_dir / n for n in names]
    single = model_dir / "model.safetensors"
    if single.is_file():
        return [single]
    raise SmfaError(f"{model_dir}: no model.safetensors (or index) to merge into")


def merge_sculpted(
    original: Path, plan: SavedSculpt, dest: Path, dtype: torch.dtype | None = None
) -> None:
    """``W = W_o + ΔW'_f`` written shard by shard to ``dest`` (a copy of ``original``).

    Each weight file of ``original`` is loaded alone, every sculpted layer in it gets
    ``W += ΔW'_f`` in place chunk by chunk (float32 math, cast back to W's dtype), and the
    file is written to ``dest``; the other files (config, processor) are copied. ``dtype``:
    the weights' dtype in ``dest`` (default: the base's, as stored). Peak memory: one shard.
    A layer of ``plan`` found in no shard raises :class:`SmfaError` (nothing is written).
    """
    import shutil

    from safetensors import safe_open

    from smfa.io import load_safetensors

    original, dest = Path(original), Path(dest)
    files = _weight_files(original)
    where: dict[str, Path] = {}
    for path in files:
        with safe_open(str(path), framework="pt") as f:
            for key in f.keys():
                where[key] = path
    saved = _saved_keys(original)
    stored = {base: saved.get(base, base) for base in plan.keys()}
    missing = [base for base in plan.keys() if stored[base] not in where]
    if missing:
        raise SmfaError(
            f"{original}: adapter does not match the model: layer '{missing[0]}' not in the "
            "saved weights"
        )
    dest.mkdir(parents=True, exist_ok=True)
    for item in original.iterdir():
        if item.is_file() and not _own_or_weights(item):
            shutil.copy2(item, dest / item.name)
    if dtype is not None and (dest / "config.json").is_file():
        _set_config_dtype(dest / "config.json", dtype)
    for path in files:
        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata()
        tensors = load_safetensors(path)
        for base in plan.keys():
            if where[stored[base]] != path:
                continue
            W = tensors[stored[base]]
            if dtype is not None and torch.finfo(dtype).bits > torch.finfo(W.dtype).bits:
                W = tensors[stored[base]] = W.to(dtype)  # add in the wider precision
            if tuple(W.shape) != tuple(plan.shapes[base]):
                raise SmfaError(
                    f"{path}: adapter does not match the model: layer '{base}' shape "
                    f"{tuple(plan.shapes[base])} vs model {tuple(W.shape)}"
                )
            plan.run(base, lambda i, chunk, W=W: _add_rows(W, i, chunk))
        if dtype is not None:
            tensors = {k: v.to(dtype) if v.is_floating_point() else v for k, v in tensors.items()}
        save_safetensors(dest / path.name, tensors, metadata=metadata)
        del tensors


def _own_or_weights(path: Path) -> bool:
    """Files a merged copy does not take over: weights (rewritten), smfa's own output marker,
    resolved config and training logs (they describe the original's training run)."""
    from smfa.io import MARKER

    own = {MARKER, "config.yaml", "train_summary.json", "manifest.json"}
    return path.suffix in (".safetensors", ".jsonl") or path.name in own


class SculptedDeltas(Mapping):
    """``{base_key: ΔW'_f}`` of a :class:`SavedSculpt`, sculpted when looked up (float32).

    :func:`write_delta`, :func:`write_merged` and :func:`check_delta_matches` recognise it and
    stream from the factors instead (delta in the adapter's dtype, merged model shard by
    shard), so an ``unlearn smfa`` or k-sweep step never holds the model's deltas. The mask
    statistics fill ``plan.stats`` as layers are sculpted.
    """

    def __init__(self, plan: SavedSculpt):
        self.plan = plan

    def __getitem__(self, base: str) -> torch.Tensor:
        if base not in self.plan.shapes:
            raise KeyError(base)
        return self.plan.dense(base)

    def __iter__(self):
        return iter(self.plan.keys())

    def __len__(self) -> int:
        return len(self.plan.shapes)


def _saved_keys(model_dir: Path) -> dict[str, str]:
    """``{parameter name: key in the saved files}``: transformers renames some weights on save
    (LLaVA's ``model.language_model.*`` is stored as ``language_model.model.*``); the renaming
    is read from transformers itself on a meta-device model (no weights)."""
    from transformers import AutoConfig, AutoModelForImageTextToText

    try:
        from transformers.core_model_loading import revert_weight_conversion
    except ImportError:  # an older transformers: keys are saved as named
        return {}
    config = AutoConfig.from_pretrained(str(model_dir))
    with torch.device("meta"):
        model = AutoModelForImageTextToText.from_config(config)
    state = model.state_dict()
    by_id: dict[int, str | None] = {}
    for name, t in state.items():  # tied weights share a tensor: no single name
        by_id[id(t)] = None if id(t) in by_id else name
    out = {}
    for key, t in revert_weight_conversion(model, dict(state)).items():
        name = by_id.get(id(t))
        if name is not None:  # a pure renaming keeps the tensor object
            out[name] = key
    return out


def _add_rows(W: torch.Tensor, start: int, chunk: torch.Tensor) -> None:
    """``W[start:start+n] += chunk`` in float32, cast back to W's dtype (as :func:`merge`)."""
    rows = W[start : start + chunk.shape[0]]
    if W.dtype == torch.float32:
        rows.add_(chunk)
    else:
        rows.copy_(rows.float().add_(chunk))


def _set_config_dtype(path: Path, dtype: torch.dtype) -> None:
    from smfa.io import write_json

    cfg = read_json(path)
    name = str(dtype).removeprefix("torch.")
    for key in ("dtype", "torch_dtype"):
        if key in cfg:
            cfg[key] = name
    for sub in cfg.values():
        if isinstance(sub, dict):
            for key in ("dtype", "torch_dtype"):
                if key in sub:
                    sub[key] = name
    write_json(path, cfg)


def apply_update(model: torch.nn.Module, update: str | os.PathLike, allow_pickle: bool = False):
    """A method's update applied to ``model``: a folder with ``delta.safetensors`` (added in
    place) or a peft adapter folder (merged). Returns the model (a new object for peft).

    Pickle adapter weights (``adapter_model.bin``) are refused unless ``allow_pickle``; then
    peft loads them weights-only (``torch.load(weights_only=True)``)."""
    from smfa.io import load_safetensors

    a = Path(update)
    if (a / DELTA_FILE).is_file():
        delta = load_safetensors(a / DELTA_FILE, device=str(next(model.parameters()).device))
        apply_deltas(model, delta, source=str(a / DELTA_FILE))
        return model
    if (a / ADAPTER_CONFIG).is_file():
        from peft import PeftModel

        if not (allow_pickle and (a / "adapter_model.bin").is_file()):
            _weights_path(a, flag_hint=True)  # safetensors only
        try:
            return PeftModel.from_pretrained(model, str(a)).merge_and_unload()
        except (ValueError, RuntimeError, KeyError) as e:
            raise SmfaError(f"{a}: adapter does not match the model ({type(e).__name__})") from None
    raise SmfaError(f"{a}: neither {DELTA_FILE} nor {ADAPTER_CONFIG} found")
