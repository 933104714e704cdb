"""The demo's result tables as a summary (docs/results/demo.json) for docs/results.md.

Reads a finished run folder (``smfa demo`` → ``runs/demo``) the way the report does (the same
table builders, so report and docs agree) and copies its plots to docs/img/. Tables: main_<metric>,
main_<metric>_by_domain (portrait / fundus), main_forgetting, the same for ablation_*, sweep and
sweep_by_domain; values ``<label>.<score>.<key>`` and ``<label>.<domain>.<score>.<key>``.

    python benchmarks/demo_results.py --run runs/demo [--name demo]
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from _summary import save

ROOT = Path(__file__).resolve().parents[1]


def as_json(table) -> dict:
    """A report Table as a summary table: best cells in bold, reference rows in italics."""
    rows = []
    for i, row in enumerate(table.rows):
        cells = [f"**{c}**" if (i, j) in table.bold else c for j, c in enumerate(row)]
        if i in table.ref_rows:
            cells[0] = f"*{cells[0]}*"
        rows.append(cells)
    return {"caption": table.title, "headers": list(table.headers), "rows": rows}


def attack_values(run, tables: dict, values: dict, times: dict) -> None:
    """The attack table (issue 11) and per model: ``<label>.attack.<attack>`` = recovery in
    percentage points, ``<label>.attack_max`` = the largest, ``<label>.attack_over_control``
    = the largest recovery minus the control's for the same attack; the attack stages'
    seconds (the demo time the suite adds)."""
    from smfa.report.attacks import attack_entries, attack_names, attack_table, recovery

    table = attack_table(run)
    if table is None:
        return
    tables["attacks"] = as_json(table)
    entries = attack_entries(run)
    names, _ = attack_names(entries)
    control = {n: recovery(entries[0], n)[0] for n in names} if entries else {}
    for e in entries:
        rec = {n: recovery(e, n)[0] for n in names}
        for n, v in rec.items():
            values[f"{e.label}.attack.{n}"] = v
        known = [v for v in rec.values() if v is not None]
        values[f"{e.label}.attack_max"] = max(known) if known else None
        over = [
            v - control[n] for n, v in rec.items() if v is not None and control.get(n) is not None
        ]
        values[f"{e.label}.attack_over_control"] = max(over) if over else None
    secs = [v for k, v in times.items() if k.split("/")[-1].startswith("attack ") and v]
    values["attack_seconds_total"] = round(sum(secs), 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", default="runs/demo")
    ap.add_argument("--name", default="demo")
    args = ap.parse_args()

    from smfa.report import load_run
    from smfa.report.doc import Table
    from smfa.report.tables import (
        ablation_section,
        main_metrics,
        main_section,
        run_domains,
        sweep_domain_table,
        sweep_table,
    )

    run = load_run(args.run)
    tables: dict[str, dict] = {}
    domains = run_domains(run)
    # the order result_tables builds them in: metrics, metrics by image domain, forgetting
    by_domain = [f"{m}_by_domain" for m in main_metrics(run)] if domains else []
    ids = [*main_metrics(run), *by_domain, "forgetting"]
    for prefix, blocks in (("main", main_section(run)), ("ablation", ablation_section(run))):
        for key, t in zip(ids, (b for b in blocks if isinstance(b, Table))):
            tables[f"{prefix}_{key}"] = as_json(t)
    if run.sweep:
        tables["sweep"] = as_json(sweep_table(run))
        if domains:
            tables["sweep_by_domain"] = as_json(sweep_domain_table(run))
    values = {}
    for e in run.models + run.sweep:
        s = e.summaries[0]
        for score in main_metrics(run):
            for key, v in ((s.get("main") or {}).get(score) or {}).items():
                values[f"{e.label}.{score}.{key}"] = v
            for dom, scores in (s.get("domains") or {}).items():
                for key, v in (scores.get(score) or {}).items():
                    values[f"{e.label}.{dom}.{score}.{key}"] = v
        values[f"{e.label}.forget_quality"] = s.get("forget_quality")
    times = run.manifest.get("times") or {}
    values["stage_seconds_total"] = round(sum(v for v in times.values() if v), 1)
    attack_values(run, tables, values, times)
    img = ROOT / "docs" / "img"
    for png in (Path(args.run) / "plots").glob("*.png"):
        shutil.copy(png, img / png.name)
    save(
        args.name,
        f"smfa demo ({run.root.name})",
        tables,
        values,
        seed=int(run.seeds[0]) if run.seeds and run.seeds[0].isdigit() else None,
        notes=[f"forget split {run.forget}", f"tables: {', '.join(tables)}"],
    )


if __name__ == "__main__":
    main()
