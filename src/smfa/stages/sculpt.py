"""Stage ``smfa sculpt``: re-sculpt saved MFA/RA adapters with no training (k sweeps)."""

from __future__ import annotations

from pathlib import Path

from smfa.config import Real
from smfa.errors import SmfaError
from smfa.io import check_output, output_lock, staged_dir, write_json, write_yaml


def sculpt(
    mfa: str,
    anchor: str,
    out: str,
    k: Real = 5.0,
    criteria: str = "cr",
    combine: str = "mean",
    merge_into: str | None = None,
    svd_rank: int | None = None,
    overwrite: bool = False,
) -> Path:
    """Sculpt saved MFA adapter(s) with a saved retaining anchor (SMFA §3, no training).

    Writes ``delta.safetensors`` (ΔW'_f per base weight), ``mask_stats.json`` (fraction deleted
    per layer and module type), ``config.yaml``; optionally the merged model and a LoRA of
    rank ``svd_rank`` re-factored by truncated SVD (``lora/``, with its relative error in
    ``svd.json``).

    Args:
        mfa: MFA adapter folder (peft format); several, one per view, separated by commas
            (sculpted separately, then combined).
        anchor: retaining-anchor adapter folder (peft format).
        out: output folder.
        k: relative-magnitude threshold, >= 0 (inf = raw MFA).
        criteria: cr (paper), c (directional conflict only), r (magnitude only), none.
        combine: mean or sum, for several MFA folders.
        merge_into: original model folder: also write W_o + ΔW'_f to ``out/merged``.
        svd_rank: also write the sculpted delta as a LoRA of this rank (``out/lora``).
        overwrite: replace an existing ``out`` that is not an earlier ``smfa sculpt`` output.
    """
    from smfa.adapters import (
        check_delta_matches,
        mask_stats_file,
        sculpt_saved,
        write_delta,
        write_lora_adapter,
        write_merged,
    )
    from smfa.methods.smfa import SMFAOptions

    mfas = [m for m in mfa.split(",") if m] if isinstance(mfa, str) else list(mfa)
    try:
        opts = SMFAOptions(k=k, criteria=criteria, combine=combine)
    except ValueError as e:
        raise SmfaError(f"sculpt: {e}") from None
    for d in [*mfas, anchor]:
        if not (Path(d) / "adapter_config.json").is_file():
            raise SmfaError(f"{d}: adapter folder not found (no adapter_config.json)")
    inputs = [*mfas, anchor, merge_into]
    check_output(out, "sculpt", overwrite, inputs)
    with output_lock(out):
        delta, stats = sculpt_saved(
            [Path(m) for m in mfas], Path(anchor), opts.k, opts.criteria, opts.combine
        )
        if merge_into:
            check_delta_matches(delta, merge_into, source=f"{mfas[0]} (sculpted)")
        with staged_dir(out, "sculpt", overwrite, inputs) as tmp:
            write_delta(tmp, delta, "smfa")
            mask_stats_file(tmp, stats)
            write_yaml(
                tmp / "config.yaml",
                {
                    "mfa": [str(Path(m).resolve()) for m in mfas],
                    "anchor": str(Path(anchor).resolve()),
                    "k": opts.k,
                    "criteria": opts.criteria,
                    "combine": opts.combine,
                    "svd_rank": svd_rank,
                },
            )
            if svd_rank:
                write_json(tmp / "svd.json", write_lora_adapter(tmp / "lora", delta, svd_rank))
            if merge_into:
                write_merged(Path(merge_into), delta, tmp / "merged")
        return Path(out)
