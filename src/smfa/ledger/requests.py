"""Training one deletion request, and re-sculpting saved adapters against earlier requests.

A request is unlearned with a registered method exactly as ``smfa unlearn`` does, on a view
of the benchmark whose forget split holds the request's profiles
(:class:`smfa.ledger.store.RequestBench`). The model it trains on is the base (independent
mode) or base + the earlier active deltas (sequential mode, a merged copy in the work folder).
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import torch

from smfa.errors import SmfaError
from smfa.ledger.compose import resculpt
from smfa.ledger.store import RequestBench
from smfa.registry import METHODS

RESCULPT_METHOD = "smfa"


def check_resculpt(method: str, options, train=None) -> None:
    """Re-sculpting needs SMFA's two LoRA adapters with one joint MFA."""
    if method != RESCULPT_METHOD:
        raise SmfaError(f"--method {method}: a resculpt ledger takes smfa requests only")
    if options.mfa_views != "joint":
        raise SmfaError("options.mfa_views: a resculpt ledger needs mfa_views joint")
    if train is not None and getattr(train, "full_finetune", False):
        raise SmfaError("full_finetune: a resculpt ledger needs LoRA requests (set it false)")


def resculpted(
    mfa_dir: Path, anchor_dir: Path, union: dict[str, torch.Tensor] | None, options
) -> tuple[dict[str, torch.Tensor], dict]:
    """``ΔW'_f`` of one request from its saved MFA and anchor, masked against the retaining
    anchor and against ``union`` (the earlier requests' summed deltas;
    :func:`smfa.ledger.compose.resculpt`). Returns ``(delta, {base_key: stats})``."""
    from smfa.adapters import adapter_deltas

    mfa, anchor = adapter_deltas(mfa_dir), adapter_deltas(anchor_dir)
    if set(mfa) != set(anchor):
        raise SmfaError(f"{mfa_dir} / {anchor_dir}: MFA and anchor cover different layers")
    delta, stats = {}, {}
    for key, df in mfa.items():
        u = union.get(key) if union else None
        try:
            delta[key], stats[key] = resculpt(df, anchor[key], u, options.k, options.criteria)
        except ValueError as e:
            raise SmfaError(f"{mfa_dir}: layer '{key}': {e}") from None
    return delta, stats


def train_request(
    bench,
    profiles: set[str],
    forgotten: set[str],
    method: str,
    settings,
    model_dir: Path,
    work: Path,
    device: str,
    dtype: str = "float32",
    union: dict[str, torch.Tensor] | None = None,
    resculpt_on: bool = False,
):
    """Unlearn ``profiles`` from the model in ``model_dir`` with ``method``; returns the
    method's :class:`smfa.methods.base.MethodResult` (with ``resculpt_on``, its delta is
    re-sculpted against ``union``)."""
    from smfa.data import forget_rows
    from smfa.methods.base import MethodResult, UnlearnContext

    view = RequestBench(bench, profiles, forgotten)
    if not forget_rows(view, RequestBench.SPLIT):
        raise SmfaError(f"--forget: profiles {sorted(profiles)} have no memory questions")
    ctx = UnlearnContext(
        bench=view,
        forget=RequestBench.SPLIT,
        original=Path(model_dir),
        work=Path(work),
        train=settings.train,
        retain_few=settings.retain_few,
        device=device,
        dtype=dtype,
    )
    m = METHODS.get(method)(settings.options)
    try:
        result = m.run(ctx)
    except ValueError as e:
        raise SmfaError(f"{method}: {e}") from None
    if resculpt_on:
        delta, stats = resculpted(
            result.adapters["mfa"], result.adapters["anchor"], union, settings.options
        )
        info = {**result.info, "resculpt_stats": stats}
        info.pop("mask_stats", None)
        result = MethodResult(delta, result.adapters, info)
    return result


def write_request(folder: Path, result, method: str, resolved: dict) -> None:
    """A request folder: ``delta.safetensors``, ``adapters/<tag>/``, ``config.yaml``,
    ``summary.json`` (mask statistics included)."""
    from smfa.adapters import write_delta
    from smfa.io import write_json, write_yaml

    folder.mkdir(parents=True, exist_ok=True)
    write_delta(folder, result.delta, method)
    for tag, adir in result.adapters.items():
        shutil.copytree(adir, folder / "adapters" / tag)
    write_json(folder / "summary.json", result.info)
    write_yaml(folder / "config.yaml", resolved)


def settings_record(settings) -> dict:
    """The JSON form of a request's resolved settings (recorded in its add event)."""
    from smfa.config import to_dict

    return {
        "train": to_dict(settings.train),
        "options": dataclasses.asdict(settings.options),
        "retain_few": settings.retain_few,
        "config_file": str(settings.config_file),
    }
