"""Stage: run one unlearning method on the original model (``smfa unlearn``)."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

from smfa import __version__
from smfa.config import TrainConfig, from_dict, to_dict
from smfa.errors import SmfaError
from smfa.io import read_yaml, save_safetensors, staged_dir, write_json, write_yaml
from smfa.paths import shipped_config
from smfa.progress import say
from smfa.registry import METHODS
from smfa.runtime import resolve_device, work_dir_for

FORGET_SPLITS = ("forget05", "forget10", "forget15")


def default_config_path(method: str, original: Path) -> Path:
    """Tuned tiny-model config when the original is the tiny model, else the paper's defaults."""
    cfg = original / "config.yaml"
    tiny = cfg.is_file() and (read_yaml(cfg) or {}).get("model") == "tiny"
    if tiny:
        p = shipped_config("unlearn", "tiny", f"{method}.yaml")
        return p if p.is_file() else shipped_config("unlearn", "tiny", "default.yaml")
    return shipped_config("unlearn", "paper.yaml")


def resolve_method_config(
    method: str, original: Path, config: str | None, overrides: dict
) -> tuple[TrainConfig, object, Path]:
    """(TrainConfig, method options, config path) from YAML + command-line overrides."""
    path = Path(config) if config else default_config_path(method, original)
    data = read_yaml(path) or {}
    unknown = sorted(set(data) - {"train", "options", "retain_few"})
    if unknown:
        raise SmfaError(f"{path}: unknown field '{unknown[0]}' (known: train, options, retain_few)")
    cls = METHODS.get(method)
    train = dict(data.get("train") or {})
    opts = dict(data.get("options") or {})
    for key, val in overrides.items():
        if val is None:
            continue
        if key in ("full_finetune", "max_steps", "lr", "epochs", "batch_size", "seed"):
            train[key] = val
        elif key != "retain_few":
            opts[key] = val
    try:
        tcfg = from_dict(TrainConfig, train, "train")
        ocfg = from_dict(cls.Options, opts, f"options of {method}")
    except (TypeError, ValueError) as e:
        raise SmfaError(f"{path}: {e}") from None
    return tcfg, ocfg, path


def unlearn(
    method: str,
    original: str,
    bench: str,
    out: str,
    forget: str = "forget10",
    method_config: str | None = None,
    seed: int | None = None,
    retain_few: int | None = None,
    k: float | None = None,
    criteria: str | None = None,
    mfa_views: str | None = None,
    combine: str | None = None,
    options: dict | None = None,
    full_finetune: bool | None = None,
    max_steps: int | None = None,
    merge: bool = False,
    adapters_from: str | None = None,
    device: str = "auto",
    dtype: str = "float32",
) -> Path:
    """Unlearn the forget split from the original model with one method.

    Writes ``delta.safetensors`` (ΔW per base weight: W = W_o + ΔW), the trained peft adapters
    under ``adapters/``, ``mask_stats.json`` (smfa), ``config.yaml`` and ``summary.json``.

    Args:
        method: a registered method (idk, ga, gd, kl, npo, task_arithmetic, ties, smfa, ...).
        original: the original model folder (``smfa train``).
        bench: benchmark folder.
        out: output folder.
        forget: forget05, forget10 or forget15.
        method_config: YAML with ``train:`` (TrainConfig) and ``options:`` (the method's options);
            default: the tuned tiny config for the tiny model, else the paper's settings.
        seed: overrides ``train.seed``.
        retain_few: number of retain profiles in D_r^few (default: the bench's retain_few).
        k: smfa relative-magnitude threshold (>= 0).
        criteria: smfa masks: cr, c, r, none.
        mfa_views: smfa: joint or separate.
        combine: smfa with separate views: mean or sum.
        options: other method options as a mapping, e.g. ``{"beta": 0.1}``.
        full_finetune: train all weights instead of LoRA.
        max_steps: overrides the number of training steps.
        merge: also write the merged model (``save_pretrained``) to ``out/merged``.
        adapters_from: an smfa output folder whose ``adapters/mfa`` and ``adapters/anchor``
            are reused (no training) by methods that can (smfa joint, idk, ties).
        device: auto, cpu, cuda, cuda:N.
        dtype: float32, bfloat16 or float16.
    """
    from smfa.bench import load_valid as load_bench
    from smfa.methods.base import UnlearnContext

    if forget not in FORGET_SPLITS:
        raise SmfaError(f"--forget {forget}: must be one of {', '.join(FORGET_SPLITS)}")
    orig = Path(original)
    if not (orig / "config.json").is_file():
        raise SmfaError(f"{orig}: original model folder not found (no config.json)")
    overrides = {
        "k": k,
        "criteria": criteria,
        "mfa_views": mfa_views,
        "combine": combine,
        "full_finetune": full_finetune,
        "max_steps": max_steps,
        "seed": seed,
        **(options or {}),
    }
    tcfg, ocfg, cfg_path = resolve_method_config(method, orig, method_config, overrides)
    cfg_yaml = read_yaml(cfg_path) or {}
    rf = retain_few if retain_few is not None else cfg_yaml.get("retain_few")
    b = load_bench(bench)
    out = Path(out)
    work = work_dir_for(out)
    ctx = UnlearnContext(
        bench=b,
        forget=forget,
        original=orig,
        work=work,
        train=tcfg,
        seed=tcfg.seed,
        retain_few=rf,
        device=resolve_device(device),
        dtype=dtype,
    )
    m = METHODS.get(method)(ocfg)
    say(f"[unlearn] {method} on {forget} ({'full' if tcfg.full_finetune else 'LoRA'})")
    try:
        result = None
        if adapters_from is not None:
            found = {
                t: p
                for t in ("mfa", "anchor")
                if (p := Path(adapters_from) / "adapters" / t).is_dir()
            }
            result = m.from_adapters(found)
        if result is None:
            result = m.run(ctx)
    except ValueError as e:
        raise SmfaError(f"{method}: {e}") from None
    resolved = {
        "method": method,
        "original": str(orig.resolve()),
        "bench": str(Path(bench).resolve()),
        "forget": forget,
        "retain_few": rf,
        "train": to_dict(tcfg),
        "options": dataclasses.asdict(ocfg),
        "config_file": str(cfg_path),
        "smfa_version": __version__,
    }
    with staged_dir(out) as tmp:
        write_deltas(tmp, result.delta, method)
        for tag, adir in result.adapters.items():
            shutil.copytree(adir, tmp / "adapters" / tag)
            log = adir.parent / "train_log.jsonl"
            if log.is_file():
                shutil.copy(log, tmp / "adapters" / tag / "train_log.jsonl")
        stats = result.info.pop("mask_stats", None)
        if stats is not None:
            from smfa.sculpt import mask_stats_table

            write_json(tmp / "mask_stats.json", mask_stats_table(stats))
        write_json(tmp / "summary.json", result.info)
        write_yaml(tmp / "config.yaml", resolved)
        if merge:
            write_merged(orig, result.delta, tmp / "merged", dtype)
    shutil.rmtree(work, ignore_errors=True)
    say(f"[unlearn] wrote {out}")
    return out


def write_deltas(folder: Path, delta: dict, method: str) -> None:
    save_safetensors(
        folder / "delta.safetensors", delta, metadata={"format": "smfa-delta", "method": method}
    )


def write_merged(original: Path, delta: dict, dest: Path, dtype: str = "float32") -> None:
    """W = W_o + ΔW, saved with ``save_pretrained`` (plus the processor)."""
    from smfa.models import load
    from smfa.sculpt import apply_deltas

    model, processor = load(str(original), dtype=dtype, device="cpu")
    apply_deltas(model, delta)
    model.save_pretrained(dest, safe_serialization=True)
    processor.save_pretrained(dest)
