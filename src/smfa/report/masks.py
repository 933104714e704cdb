"""Mask statistics of the smfa-family methods: fraction of ΔW_f entries deleted by sculpting.

Reads ``methods/<label>/mask_stats.json`` as written by :func:`smfa.sculpt.mask_stats_table`:
``{"layers": {base_key: {numel, masked, frac_masked, conflict_frac, rho, ...}},
"modules": {type: {numel, masked, frac_masked, conflict_frac, mean_rho, ...}}, "total": {...}}``.
Per-layer fractions are entry-weighted (masked / numel) over a transformer block's weights of one
module type; several seeds are averaged.
"""

from __future__ import annotations

import re
from statistics import fmean

from smfa.names import module_type
from smfa.report.doc import Table
from smfa.report.tables import format_cell, mean_std

_BLOCK = re.compile(r"^(.*)\.(\d+)\.")


def block_of(base_key: str) -> tuple[str, int]:
    """``model.language_model.layers.3.mlp.up_proj.weight`` -> (``model.language_model.layers``, 3).

    Weights outside a numbered block (a projector) get index -1 and their module path.
    """
    key = base_key.split("@", 1)[0]
    m = _BLOCK.match(key)
    if m:
        return m.group(1), int(m.group(2))
    return key.rsplit(".", 2)[0], -1


def block_name(block: tuple[str, int], towers: list[str]) -> str:
    """A short block name: the index alone when there is one tower, else ``tower.index``."""
    tower, idx = block
    if idx < 0:
        return tower
    return str(idx) if len(towers) == 1 else f"{tower}.{idx}"


def per_layer(stats: dict) -> dict[tuple[str, int], dict[str, float]]:
    """``{block: {module type: fraction deleted}}`` of one mask_stats.json (entry-weighted)."""
    sums: dict[tuple[str, int], dict[str, list[int]]] = {}
    for key, s in stats["layers"].items():
        cell = sums.setdefault(block_of(key), {}).setdefault(module_type(key), [0, 0])
        cell[0] += int(s.get("masked", 0))
        cell[1] += int(s.get("numel", 0))
    return {
        b: {m: (mk / n if n else 0.0) for m, (mk, n) in sorted(mods.items())}
        for b, mods in sorted(sums.items())
    }


def mean_per_layer(seeds: dict[str, dict]) -> dict[tuple[str, int], dict[str, float]]:
    """:func:`per_layer` averaged over seeds (cells a seed lacks are skipped)."""
    cells: dict[tuple[str, int], dict[str, list[float]]] = {}
    for stats in seeds.values():
        for b, mods in per_layer(stats).items():
            for m, v in mods.items():
                cells.setdefault(b, {}).setdefault(m, []).append(v)
    return {b: {m: fmean(v) for m, v in sorted(mods.items())} for b, mods in sorted(cells.items())}


def module_types(mask_stats: dict[str, dict[str, dict]]) -> list[str]:
    """Every module type of every method, sorted."""
    return sorted(
        {
            m
            for seeds in mask_stats.values()
            for s in seeds.values()
            for m in (s.get("modules") or {})
        }
    )


def _pct(values: list[float | None]) -> str:
    """Mean ± std of fractions, as a percentage."""
    mean, std = mean_std([None if v is None else 100.0 * v for v in values])
    return format_cell(mean, std)


def summary_table(mask_stats: dict[str, dict[str, dict]]) -> Table:
    """Rows = methods; deleted % per module type, then deleted % and conflict % overall."""
    mods = module_types(mask_stats)
    rows = []
    for label, seeds in mask_stats.items():
        per_mod = [
            _pct([(s.get("modules") or {}).get(m, {}).get("frac_masked") for s in seeds.values()])
            for m in mods
        ]
        totals = [
            _pct([(s.get("total") or {}).get(f) for s in seeds.values()])
            for f in ("frac_masked", "conflict_frac")
        ]
        rows.append([label, *per_mod, *totals])
    headers = ["Method", *[f"{m} deleted %" for m in mods], "All deleted %", "All conflict %"]
    return Table(
        "Entries of ΔW_f deleted, per module type",
        headers,
        rows,
        [False] + [True] * (len(headers) - 1),
        caption="Entry-weighted over all layers of a module type. Conflict % = share "
        "of entries where ΔW_a and ΔW_f have opposite signs.",
    )


def layer_table(label: str, seeds: dict[str, dict]) -> Table:
    """Rows = blocks (layers), columns = module types; cells = % of entries deleted."""
    layers = mean_per_layer(seeds)
    mods = sorted({m for v in layers.values() for m in v})
    towers = sorted({b[0] for b in layers if b[1] >= 0})
    rows = [[block_name(b, towers)] + [_pct([v.get(m)]) for m in mods] for b, v in layers.items()]
    return Table(
        f"{label}: % of entries deleted per layer",
        ["Layer", *mods],
        rows,
        [False] + [True] * len(mods),
    )
