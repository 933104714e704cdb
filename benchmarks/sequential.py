"""Deletion requests over time on the tiny testbed: docs/results/sequential.json.

Runs (or resumes: finished stages are cached) ``smfa run configs/run/sequential.yaml`` and
summarises its ``sequential/summary.json``: after each of the 4 requests, for the independent,
resculpt and sequential ledgers and for re-unlearning everything at once, the Fact score of the
forgotten requests' memory questions, the rebound of earlier requests, retain memory, scenes
and model utility (definitions: docs/ledger.md).

Usage: ``python benchmarks/sequential.py [--out runs] [--config configs/run/sequential.yaml]``
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _summary import save  # noqa: E402

from smfa.report.sequential import COLUMNS, HEADERS  # noqa: E402  (the report's table)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="configs/run/sequential.yaml")
    ap.add_argument("--out", default="runs")
    args = ap.parse_args()

    from smfa.pipeline.config import load_run_config
    from smfa.pipeline.run import run

    run(args.config, out=args.out)
    cfg = load_run_config(args.config)
    root = Path(args.out) / cfg.name
    summary = json.loads((root / "sequential" / "summary.json").read_text())
    manifest = json.loads((root / "manifest.json").read_text())

    def r2(v):
        return None if v is None else round(float(v), 2)

    rows, values = [], {}
    base = summary["base"]
    facts = [v for v in base["per_request"] if v is not None]
    values["base.facts"] = r2(sum(facts) / len(facts))
    for k in COLUMNS[2:]:
        values[f"base.{k}"] = r2(base.get(k))
    rows.append(
        ["base", 0, values["base.facts"], None, *[values[f"base.{k}"] for k in COLUMNS[2:]]]
    )
    order = ["independent", "resculpt", "sequential", "all_at_once"]
    modes = sorted(summary["modes"], key=lambda m: order.index(m) if m in order else 99)
    for mode in modes:
        steps = summary["modes"][mode]
        for s in steps:
            rows.append([mode, s["n"], *[r2(s.get(k)) for k in COLUMNS]])
        last = steps[-1]
        for k in COLUMNS:
            values[f"{mode}.{k}"] = r2(last.get(k))
        values[f"{mode}.max_rebound"] = r2(max(s["rebound"] or 0.0 for s in steps))
    per_request = []
    for mode in modes:
        last = summary["modes"][mode][-1]
        per_request.append([mode, *[r2(v) for v in last["per_request"]]])
    per_request.insert(0, ["base", *[r2(v) for v in base["per_request"]]])
    times = manifest.get("times") or {}
    values["minutes_total"] = round(sum(v for v in times.values() if v) / 60, 1)
    values["minutes_protocol"] = round(
        sum(v for k, v in times.items() if v and "sequential" in k) / 60, 1
    )
    values["requests"] = len(summary["requests"])
    values["profiles"] = sum(len(r) for r in summary["requests"])
    save(
        "sequential",
        "Deletion requests over time (ledger)",
        tables={
            "steps": {
                "caption": "After each request (Fact scores, 0–10)",
                "headers": HEADERS,
                "rows": rows,
            },
            "per_request": {
                "caption": "Memory Fact of each request's profiles after the last request",
                "headers": [
                    "Mode",
                    *[f"r{j + 1} ({', '.join(r)})" for j, r in enumerate(summary["requests"])],
                ],
                "rows": per_request,
            },
        },
        values=values,
        notes=[
            f"forget split {summary['forget']} dealt into {len(summary['requests'])} requests",
            f"method {summary['method']} options {summary['options'] or 'of its config'}",
            f"run folder {root}; stage times from its manifest.json",
        ],
        seed=cfg.seeds[0],
    )


if __name__ == "__main__":
    main()
