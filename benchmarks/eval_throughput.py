"""Evaluation throughput: generation and log-likelihood metrics, old vs new path (issue 14).

Log-likelihood metrics (multiple choice, truth ratio) score every option, the gold answer and
every perturbed answer of a question (about 9 continuations). The old path runs each
(question, answer) as its own full sequence (image encoded each time); the new one runs the
prompt and image once and scores every continuation from its KV cache. Prints questions/s of
generation, of the log-likelihood metrics old and new, and of a whole evaluation (generation +
judge + log-likelihoods) old and new, medians of several runs measured in one process on the
same questions, and the largest difference between the two paths' values.

    python benchmarks/eval_throughput.py --model runs/demo/original --bench runs/demo/bench

Writes docs/results/eval_throughput.json.
"""

from __future__ import annotations

import argparse
import statistics
import time

from _summary import save


def _timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--bench", required=True)
    ap.add_argument("--questions", type=int, default=256)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--dtype", default="float32")
    args = ap.parse_args()

    from smfa.bench import load
    from smfa.data import ImageCache
    from smfa.eval.generate import generate_answers
    from smfa.eval.metrics import refusal_set
    from smfa.eval.runner import Scoring, evaluate_rows, logprob_evidence, row_images
    from smfa.models import load as load_model
    from smfa.progress import set_quiet
    from smfa.registry import JUDGES
    from smfa.runtime import resolve_device

    set_quiet(True)
    b = load(args.bench)
    rows = (b.split("forget10") + b.split("retain"))[: args.questions]
    imgs = row_images(b, rows, ImageCache())
    items = [(im, r["question"]) for r, im in zip(rows, imgs)]
    conts = sum(len(r["options"]) + 1 + len(r["perturbed"]) for r in rows)
    device = resolve_device(args.device)
    model, proc = load_model(args.model, dtype=args.dtype, device=device)
    judge = JUDGES.get("rule")(refusal_pool=b.refusals())
    scoring = Scoring(judge, refusal_set(b.refusals()), b.attributes())
    bs = args.batch_size

    def timed_pair(old_fn, new_fn):
        """Median times of old and new, run alternately (load drift hits both alike), and
        their last results."""
        old_fn(), new_fn()  # warm-up (first-call allocations, lazy imports)
        times = {old_fn: [], new_fn: []}
        out = {}
        for _ in range(args.runs):
            for fn in (old_fn, new_fn):
                t = time.perf_counter()
                out[fn] = fn()
                times[fn].append(time.perf_counter() - t)
        med = {fn: statistics.median(ts) for fn, ts in times.items()}
        return med[old_fn], out[old_fn], med[new_fn], out[new_fn]

    def lp(shared):
        return lambda: logprob_evidence(model, proc, rows, imgs, bs, shared_prefix=shared)

    def full(shared):
        return lambda: evaluate_rows(
            model, proc, b, rows, "forget", scoring, bs, logprobs=True, shared_prefix=shared
        )

    t_gen = statistics.median(
        [_timed(lambda: generate_answers(model, proc, items, bs)) for _ in range(args.runs)]
    )
    t_lp_old, old, t_lp_new, new = timed_pair(lp(False), lp(True))
    t_ev_old, rec_old, t_ev_new, rec_new = timed_pair(full(False), full(True))
    diff = 0.0
    for o, n in zip(old, new):
        a = [*o["option_logprobs"], o["gold_logprob"], *o["perturbed_logprobs"]]
        c = [*n["option_logprobs"], n["gold_logprob"], *n["perturbed_logprobs"]]
        diff = max([diff, *(abs(x - y) for x, y in zip(a, c))])
    same_records = all(
        {k: v for k, v in x.items() if k != "truth_ratio"}
        == {k: v for k, v in y.items() if k != "truth_ratio"}
        for x, y in zip(rec_old, rec_new)
    )
    q = len(rows)
    print(f"questions: {q} ({conts} continuations)  batch size: {bs}  runs: {args.runs}")
    print(f"device: {device}  dtype: {args.dtype}")
    print(f"generation:               {q / t_gen:8.1f} q/s")
    print(f"log-likelihood old / new: {q / t_lp_old:8.1f} / {q / t_lp_new:.1f} q/s")
    print(f"  speed-up:               {t_lp_old / t_lp_new:8.2f}x")
    print(f"whole eval old / new:     {q / t_ev_old:8.1f} / {q / t_ev_new:.1f} q/s")
    print(f"  speed-up:               {t_ev_old / t_ev_new:8.2f}x")
    print(f"largest |difference| of a log-likelihood: {diff:.2e}")
    print(f"records identical except truth_ratio rounding: {same_records}")
    rows_t = [
        ["generation (greedy, batched)", "—", f"{q / t_gen:.1f}", "—"],
        [
            "log-likelihood metrics",
            f"{q / t_lp_old:.1f}",
            f"{q / t_lp_new:.1f}",
            f"{t_lp_old / t_lp_new:.2f}×",
        ],
        [
            "whole evaluation (generation + judge + log-likelihoods)",
            f"{q / t_ev_old:.1f}",
            f"{q / t_ev_new:.1f}",
            f"{t_ev_old / t_ev_new:.2f}×",
        ],
    ]
    save(
        "eval_throughput",
        "Evaluation throughput: shared-prompt log-likelihoods vs one sequence per answer",
        tables={
            "speed": {
                "headers": ["what", "old q/s", "new q/s", "speed-up"],
                "rows": rows_t,
            }
        },
        values={
            "questions": q,
            "continuations": conts,
            "batch_size": bs,
            "runs": args.runs,
            "generation_qps": q / t_gen,
            "logprob_old_qps": q / t_lp_old,
            "logprob_new_qps": q / t_lp_new,
            "logprob_speedup": t_lp_old / t_lp_new,
            "eval_old_qps": q / t_ev_old,
            "eval_new_qps": q / t_ev_new,
            "eval_speedup": t_ev_old / t_ev_new,
            "max_abs_diff": diff,
            "device": device,
            "dtype": args.dtype,
        },
        notes=[
            "Medians of the runs after one warm-up, old and new run alternately in one process "
            "on the same questions (forget10 then retain rows).",
            "old: every (question, answer) pair is its own full sequence; new: the prompt and "
            "image run once, every continuation is scored from the prompt's KV cache.",
        ],
    )


if __name__ == "__main__":
    main()
