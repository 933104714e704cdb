"""Wall time of `make demo` from nothing (median of several runs) and of a cached re-run.

Each run deletes the run folder (not the venv), times `smfa demo`, then times a second
`smfa demo` that should reuse every stage.

    python benchmarks/demo_time.py --runs 3
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path


def timed(cmd: list[str], env: dict) -> float:
    t = time.monotonic()
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL)
    return time.monotonic() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--out", default="runs")
    args = ap.parse_args()
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", SMFA_QUIET="1")
    cmd = [sys.executable, "-m", "smfa", "demo", "--out", args.out]
    fresh, cached = [], []
    for i in range(args.runs):
        shutil.rmtree(Path(args.out) / "demo", ignore_errors=True)
        fresh.append(timed(cmd, env))
        cached.append(timed(cmd, env))
        print(f"run {i + 1}: fresh {fresh[-1]:.0f} s, cached re-run {cached[-1]:.1f} s", flush=True)
    print(
        f"median fresh: {statistics.median(fresh) / 60:.2f} min  "
        f"median cached: {statistics.median(cached):.1f} s  (cpus: {os.cpu_count()})"
    )


if __name__ == "__main__":
    main()
