"""Batched vs one-at-a-time greedy generation on the tiny model (issue 5).

Prints the median time of several runs for each and their ratio, measured in one process on the
same questions, plus whether the answers are identical.

    python benchmarks/generation_speed.py --model runs/demo/original --bench runs/demo/bench

Writes docs/results/generation.json.
"""

from __future__ import annotations

import argparse
import statistics
import time

from _summary import save


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--bench", required=True)
    ap.add_argument("--questions", type=int, default=256)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()

    from smfa.bench import load
    from smfa.data import ImageCache
    from smfa.eval.generate import generate_answers
    from smfa.models import load as load_model
    from smfa.progress import set_quiet

    set_quiet(True)
    b = load(args.bench)
    rows = (b.split("forget10") + b.split("retain") + b.split("scenes_eval"))[: args.questions]
    img = ImageCache()
    items = [(img.of(b, r), r["question"]) for r in rows]
    model, proc = load_model(args.model)

    def timed(fn):
        times, out = [], None
        for _ in range(args.runs):
            t = time.perf_counter()
            out = fn()
            times.append(time.perf_counter() - t)
        return statistics.median(times), out

    t_batch, batched = timed(lambda: generate_answers(model, proc, items, args.batch_size))
    t_single, single = timed(lambda: [generate_answers(model, proc, [it], 1)[0] for it in items])
    print(f"questions: {len(items)}  batch size: {args.batch_size}  runs: {args.runs}")
    print(f"one at a time: {t_single:.2f} s  ({len(items) / t_single:.1f} q/s)")
    print(f"batched:       {t_batch:.2f} s  ({len(items) / t_batch:.1f} q/s)")
    print(f"speed-up (median one-at-a-time / median batched): {t_single / t_batch:.1f}x")
    print(f"identical answers: {batched == single}")
    save(
        "generation",
        "Batched vs one-at-a-time greedy generation",
        values={
            "questions": len(items),
            "batch_size": args.batch_size,
            "runs": args.runs,
            "single_s": t_single,
            "batched_s": t_batch,
            "single_qps": len(items) / t_single,
            "batched_qps": len(items) / t_batch,
            "speedup": t_single / t_batch,
            "identical": str(batched == single).lower(),
        },
    )


if __name__ == "__main__":
    main()
