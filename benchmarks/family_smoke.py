"""Time the five-family smoke pipeline of tests/test_families_e2e.py, one family at a time.

Builds the shared tiny bench and each tiny family (tests/tiny_families.py) once, then runs the
same ``smfa run`` as the test (original + retain-only, idk and smfa, k sweep [0], eval, report)
``--runs`` times per family in fresh folders, round-robin over the families so that a change of
machine load hits all of them alike. Reports the median wall time per family, split into the
two training children (wall time not in a cached stage) and the in-process stages (manifest
``times``). Writes docs/results/family_smoke.json.

Usage: ``python benchmarks/family_smoke.py [--runs 3]``
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _summary import save  # noqa: E402
from tiny_families import FAMILIES, SMOKE_BENCH, run_smoke, smoke_setup  # noqa: E402


def n_params(model_dir: Path) -> int:
    from safetensors import safe_open

    with safe_open(model_dir / "model.safetensors", "pt") as f:
        return sum(_numel(f, k) for k in f.keys())


def _numel(f, key) -> int:
    n = 1
    for d in f.get_slice(key).get_shape():
        n *= d
    return n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root, bench, corpus = smoke_setup(Path(tmp))
        models = {f: build(root / "models" / f, corpus=corpus) for f, build in FAMILIES.items()}
        times: dict[str, list[float]] = {f: [] for f in FAMILIES}
        stages: dict[str, list[float]] = {f: [] for f in FAMILIES}
        for i in range(args.runs):
            for fam, model in models.items():
                name = f"{fam}_{i}"
                t0 = time.perf_counter()
                out = run_smoke(name, model, root, bench)
                times[fam].append(time.perf_counter() - t0)
                manifest = json.loads((out / "manifest.json").read_text())
                stages[fam].append(sum(v or 0 for v in manifest["times"].values()))
                shutil.rmtree(out)
        load = os.getloadavg()[0]
        rows = []
        for fam, model in models.items():
            cfg = json.loads((model / "config.json").read_text())
            total, inproc = statistics.median(times[fam]), statistics.median(stages[fam])
            rows.append([fam, cfg["model_type"], n_params(model), total, total - inproc, inproc])
        fastest = min(r[3] for r in rows)
        rows = [[*r, f"{r[3] / fastest:.2f}x"] for r in rows]
        sum_total = sum(r[3] for r in rows)
    save(
        "family_smoke",
        "Five-family smoke pipeline: time per family",
        tables={
            "times": {
                "caption": f"Median of {args.runs} runs per family (seconds).",
                "headers": [
                    "family",
                    "model_type",
                    "parameters",
                    "whole run s",
                    "training children s",
                    "other stages s",
                    "vs fastest",
                ],
                "rows": rows,
            }
        },
        values={
            "total_s": sum_total,
            "runs": args.runs,
            "profiles": SMOKE_BENCH["profiles"],
            "load_avg": round(load, 1),
            "cores": os.cpu_count(),
        },
        notes=[
            f"load average at the end: {load:.1f} on {os.cpu_count()} cores "
            "(the machine was shared: compare the ratios, not the seconds)",
        ]
        + [f"{r[0]}: runs {', '.join(f'{t:.1f}' for t in times[r[0]])} s" for r in rows],
        seed=SMOKE_BENCH["seed"],
    )


if __name__ == "__main__":
    main()
