"""Wall time of `smfa demo` from nothing (median of the runs) and of a cached re-run.

Each run removes the run folder it made itself (only when it holds an smfa run manifest),
times `smfa demo`, then times a second `smfa demo` that should reuse every stage. Writes
docs/results/demo_time.json. The last run's folder stays for `benchmarks/demo_results.py`.

    python benchmarks/demo_time.py --runs 1 --out runs      # -> runs/demo
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _summary import save


def timed(cmd: list[str], env: dict) -> float:
    t = time.monotonic()
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL)
    return time.monotonic() - t


def remove_run(folder: Path) -> None:
    """Remove an earlier demo run; refuse anything that is not one."""
    if not folder.exists():
        return
    manifest = folder / "manifest.json"
    try:
        ok = "stages" in json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        ok = False
    if not ok:
        sys.exit(f"error: {folder}: exists and is not an smfa run folder; choose another --out")
    shutil.rmtree(folder)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--out", default="runs/demo-time")
    args = ap.parse_args()
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", SMFA_QUIET="1")
    cmd = [sys.executable, "-m", "smfa", "demo", "--out", args.out]
    fresh, cached = [], []
    for i in range(args.runs):
        remove_run(Path(args.out) / "demo")
        fresh.append(timed(cmd, env))
        cached.append(timed(cmd, env))
        print(f"run {i + 1}: fresh {fresh[-1]:.0f} s, cached re-run {cached[-1]:.1f} s", flush=True)
    values = {
        "runs": args.runs,
        "fresh_min": statistics.median(fresh) / 60,
        "cached_s": statistics.median(cached),
        "fresh_times_s": ", ".join(f"{t:.0f}" for t in fresh),
    }
    print(f"median fresh: {values['fresh_min']:.2f} min  median cached: {values['cached_s']:.1f} s")
    save("demo_time", "Demo wall time", values=values, seed=None)


if __name__ == "__main__":
    main()
