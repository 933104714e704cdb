"""Stage ``smfa sculpt``: re-sculpt saved MFA/RA adapters with no training (k sweeps)."""

from __future__ import annotations

from pathlib import Path

from smfa.config import Real
from smfa.errors import SmfaError
from smfa.io import check_output, output_lock, staged_dir, write_json, write_yaml

DTYPES = ("float32", "bfloat16", "float16")


def sculpt(
    mfa: str,
    anchor: str,
    out: str,
    k: Real = 5.0,
    criteria: str = "cr",
    combine: str = "mean",
    merge_into: str | None = None,
    svd_rank: int | None = None,
    dtype: str | None = None,
    overwrite: bool = False,
) -> Path:
    """Sculpt saved MFA adapter(s) with a saved retaining anchor (SMFA §3, no training).

    Writes ``delta.safetensors`` (ΔW'_f per base weight), ``mask_stats.json`` (fraction deleted
    per layer and module type), ``config.yaml``; optionally the merged model and a LoRA of
    rank ``svd_rank`` re-factored by truncated SVD (``lora/``, with its relative error in
    ``svd.json``). Every layer is sculpted from its LoRA factors in row chunks and streamed to
    the files, so memory stays at about one chunk (plus one shard of the model with
    ``merge_into``, one layer with ``svd_rank``).

    Args:
        mfa: MFA adapter folder (peft format); several, one per view, separated by commas
            (sculpted separately, then combined).
        anchor: retaining-anchor adapter folder (peft format). Full fine-tuning folders
            (``delta.safetensors`` of ``smfa unlearn smfa --full_finetune``, no peft config)
            are sculpted too, as dense deltas held in memory (no ``svd_rank`` for them).
        out: output folder.
        k: relative-magnitude threshold, >= 0 (inf = raw MFA).
        criteria: cr (paper), c (directional conflict only), r (magnitude only), none.
        combine: mean or sum, for several MFA folders.
        merge_into: original model folder: also write W_o + ΔW'_f to ``out/merged``, shard
            by shard.
        svd_rank: also write the sculpted delta as a LoRA of this rank (``out/lora``).
        dtype: float32, bfloat16 or float16 for the written tensors; default: the adapter's
            dtype for the delta and the LoRA, the base's dtype for the merged model (the math
            is float32 either way).
        overwrite: replace an existing ``out`` that is not an earlier ``smfa sculpt`` output.
    """
    import torch

    from smfa.adapters import (
        SavedSculpt,
        check_shapes_match,
        is_dense,
        mask_stats_file,
        merge_sculpted,
        model_shapes,
        write_lora_adapter,
        write_sculpted_delta,
    )
    from smfa.methods.smfa import SMFAOptions

    mfas = [m for m in mfa.split(",") if m] if isinstance(mfa, str) else list(mfa)
    try:
        opts = SMFAOptions(k=k, criteria=criteria, combine=combine)
    except ValueError as e:
        raise SmfaError(f"sculpt: {e}") from None
    if dtype is not None and dtype not in DTYPES:
        raise SmfaError(f"sculpt: dtype={dtype!r}: one of {', '.join(DTYPES)}")
    out_dtype = getattr(torch, dtype) if dtype else None
    dense = [is_dense(d) for d in [*mfas, anchor]]
    if any(dense) and not all(dense):
        raise SmfaError(f"{anchor}: mixes LoRA and full fine-tuning folders; sculpt one kind")
    if all(dense):
        if svd_rank:
            raise SmfaError("svd_rank: a full fine-tuning delta has no LoRA form; leave it out")
        return _sculpt_dense(mfas, anchor, out, opts, merge_into, dtype, overwrite)
    for d in [*mfas, anchor]:
        if not (Path(d) / "adapter_config.json").is_file():
            raise SmfaError(f"{d}: adapter folder not found (no adapter_config.json)")
    inputs = [*mfas, anchor, merge_into]
    check_output(out, "sculpt", overwrite, inputs)
    with output_lock(out):
        plan = SavedSculpt(
            [Path(m) for m in mfas], Path(anchor), opts.k, opts.criteria, opts.combine
        )
        if merge_into:
            check_shapes_match(
                model_shapes(merge_into), plan.shapes, source=f"{mfas[0]} (sculpted)"
            )
        with staged_dir(out, "sculpt", overwrite, inputs) as tmp:
            write_sculpted_delta(tmp, plan, out_dtype)
            mask_stats_file(tmp, plan.stats)
            write_yaml(
                tmp / "config.yaml", _record(mfas, anchor, opts, svd_rank=svd_rank, dtype=dtype)
            )
            if svd_rank:
                layers = ((base, plan.dense(base)) for base in plan.keys())
                lora_dtype = out_dtype or plan.dtype(plan.keys()[0])
                errors = write_lora_adapter(tmp / "lora", layers, svd_rank, dtype=lora_dtype)
                write_json(tmp / "svd.json", errors)
            if merge_into:
                merge_sculpted(Path(merge_into), plan, tmp / "merged", out_dtype)
        return Path(out)


def _sculpt_dense(mfas, anchor, out, opts, merge_into, dtype, overwrite) -> Path:
    """``smfa sculpt`` on full fine-tuning folders: the dense path (every ΔW in memory)."""
    import torch

    from smfa.adapters import (
        check_shapes_match,
        mask_stats_file,
        model_shapes,
        sculpt_saved,
        write_delta,
        write_merged,
    )

    inputs = [*mfas, anchor, merge_into]
    check_output(out, "sculpt", overwrite, inputs)
    with output_lock(out):
        delta, stats = sculpt_saved(
            [Path(m) for m in mfas], Path(anchor), opts.k, opts.criteria, opts.combine
        )
        if merge_into:
            shapes = {key: tuple(v.shape) for key, v in delta.items()}
            check_shapes_match(model_shapes(merge_into), shapes, source=f"{mfas[0]} (sculpted)")
        with staged_dir(out, "sculpt", overwrite, inputs) as tmp:
            cast = getattr(torch, dtype) if dtype else None
            write_delta(tmp, {k: v.to(cast) if cast else v for k, v in delta.items()}, "smfa")
            mask_stats_file(tmp, stats)
            write_yaml(tmp / "config.yaml", _record(mfas, anchor, opts, dense=True, dtype=dtype))
            if merge_into:
                write_merged(Path(merge_into), delta, tmp / "merged", dtype or "float32")
        return Path(out)


def _record(mfas: list[str], anchor: str, opts, **extra) -> dict:
    """What ``config.yaml`` of an ``smfa sculpt`` output records (inputs resolved)."""
    return {
        "mfa": [str(Path(m).resolve()) for m in mfas],
        "anchor": str(Path(anchor).resolve()),
        "k": opts.k,
        "criteria": opts.criteria,
        "combine": opts.combine,
        **extra,
    }
