"""What the attack suite costs next to one evaluation of the same model (issue 11).

Runs, in one process and alternating, ``smfa eval`` (``max_samples`` 200, like the demo) and
``smfa attack`` (the given suite, compared with a control JSON written first) on one model,
``--runs`` times each, and prints the median wall times and their ratio (a ratio measured in one
run, so a loaded machine slows both alike). The demo's own stage times are in
``docs/results/demo.json`` (``attack_seconds_total``) after ``benchmarks/demo_results.py``.

    python benchmarks/attack_cost.py --model runs/demo/original --bench runs/demo/bench
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--bench", required=True)
    ap.add_argument("--suite", default="default")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()

    from smfa.progress import set_quiet
    from smfa.stages.attack import attack
    from smfa.stages.evaluate import evaluate

    set_quiet(True)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        control = out / "control.json"
        attack(args.model, args.bench, str(control), suite=args.suite)
        ev, at = [], []
        for i in range(args.runs):
            t = time.monotonic()
            evaluate(args.model, args.bench, str(out / f"e{i}.json"), max_samples=200)
            ev.append(time.monotonic() - t)
            t = time.monotonic()
            attack(args.model, args.bench, str(out / f"a{i}.json"), control=str(control),
                   suite=args.suite)  # fmt: skip
            at.append(time.monotonic() - t)
    e, a = statistics.median(ev), statistics.median(at)
    print(f"eval {e:.1f} s, attack ({args.suite} suite) {a:.1f} s, ratio attack/eval {a / e:.2f}")


if __name__ == "__main__":
    main()
