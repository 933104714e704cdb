"""Time `smfa.bench.build` for a 1,000-profile benchmark (target: under 2 minutes on 2 cores).

Usage: python benchmarks/bench_build_speed.py [--profiles 1000] [--runs 3] [--image-size 64]
Prints the seconds of each run and their median.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from smfa.bench import build


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profiles", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--image-size", type=int, default=64)
    args = ap.parse_args()
    times = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.runs):
            t0 = time.perf_counter()
            build(
                Path(tmp) / f"bench{i}",
                profiles=args.profiles,
                image_size=args.image_size,
                quiet=True,
            )
            times.append(time.perf_counter() - t0)
            print(f"run {i + 1}: {times[-1]:.1f} s")
    print(f"median of {args.runs}: {statistics.median(times):.1f} s for {args.profiles} profiles")


if __name__ == "__main__":
    main()
