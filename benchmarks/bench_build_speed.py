"""Time `smfa.bench.build` for a 1,000-profile benchmark (target: under 2 minutes on 2 cores).

Usage: python benchmarks/bench_build_speed.py [--profiles 1000] [--runs 3] [--image-size 64]
Prints the seconds of each run and their median; writes docs/results/bench_build.json.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from _summary import save

from smfa.bench import build
from smfa.bench.load import load


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profiles", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--image-size", type=int, default=64)
    args = ap.parse_args()
    times, files, counts = [], 0, {}
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
        b = load(Path(tmp) / "bench0")
        files = len(b.manifest.get("files", {}))
        counts = {s: len(b.split(s)) for s in b.splits}
    median = statistics.median(times)
    print(f"median of {args.runs}: {median:.1f} s for {args.profiles} profiles")
    rows = [[name, n] for name, n in counts.items()]
    save(
        "bench_build",
        "Benchmark generation",
        {
            "splits": {
                "caption": "Questions per table",
                "headers": ["table", "questions"],
                "rows": rows,
            }
        },
        {
            "profiles": args.profiles,
            "runs": args.runs,
            "median_s": median,
            "times_s": ", ".join(f"{t:.1f}" for t in times),
            "files": files,
        },
        seed=0,
    )


if __name__ == "__main__":
    main()
