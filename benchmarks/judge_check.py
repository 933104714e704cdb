"""The rule judge after issue 13 (item 5) against the pre-change per-token algorithm.

1. Speed: Fact of every evaluated question of a generated benchmark answered with its gold
   answer, each perturbed answer and one refusal (several thousand items), median of several
   runs for the new judge (``RuleJudge.fact`` and the full ``score_many``) and the legacy
   ``fact`` (tests/legacy_rule_judge.py), in one process on the same items.
2. Agreement on those items (the tiny model's own wording): how often old and new Fact differ.
3. The golden file: how many hand-labelled cases each judge scores as labelled (``--embed``
   adds the optional embed judge).
4. With ``--run DIR`` (a finished ``smfa run``/``smfa demo`` folder, read only): the recorded
   Fact of every per-sample record in ``DIR/eval/*.json`` against the new judge's Fact.

    python benchmarks/judge_check.py [--profiles 100] [--runs 5] [--embed] [--run runs/demo]

Writes docs/results/judge_check.json.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the legacy algorithm lives with the tests
SPLITS = ("forget10", "retain", "unseen", "holdout", "scenes_eval")
GOLDEN = ROOT / "tests" / "data" / "judge_golden.jsonl"


def synthetic_items(bench) -> list[dict]:
    """Every evaluated row answered with its gold, each perturbed answer and a refusal."""
    from smfa.eval.runner import judge_items

    rnd = random.Random(0)
    refusals = bench.refusals()
    rows, answers, kinds = [], [], []
    for split in SPLITS:
        for r in bench.split(split):
            for kind, a in [("gold", r["answer"])] + [("perturbed", p) for p in r["perturbed"]]:
                rows.append(r)
                answers.append(a)
                kinds.append(kind)
            rows.append(r)
            answers.append(rnd.choice(refusals))
            kinds.append("refusal")
    items = judge_items(rows, answers, bench.attributes())
    for it, kind in zip(items, kinds):
        it["kind"] = kind
    return items


def timed(fns: list, runs: int) -> list[float]:
    """Median seconds of each function; the runs are interleaved (a, b, c, a, b, c, ...) so that
    load from other jobs on a shared machine falls on all of them alike."""
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(runs):
        for k, fn in enumerate(fns):
            t = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t)
    return [statistics.median(t) for t in times]


def run_agreement(run: Path, judge) -> tuple[list[list], list[str]]:
    """Per eval file: records, how many Fact scores change, mean Fact before and after."""
    from smfa.bench import load

    bench = load(run / "bench")
    attrs = bench.attributes()
    by_id = {}
    for split in ("forget05", "forget10", "forget15", "retain", "unseen", "holdout",
                  "scenes_eval"):  # fmt: skip
        for r in bench.split(split):
            by_id[(split, r["id"])] = r
    rows, examples, shown = [], [], {}
    for path in sorted((run / "eval").glob("*.json")):
        records = json.loads(path.read_text("utf-8"))["records"]
        old, new = [], []
        for rec in records:
            r = by_id[(rec["split"], rec["id"])]
            f = judge.fact(
                rec["answer"], r["answer"], r["keys"], attrs.get(r["attribute"], []),
                question=r["question"],
            )  # fmt: skip
            old.append(rec["fact"])
            new.append(f)
            if abs(f - rec["fact"]) > 1e-9 and shown.get(path.stem, 0) < 2:
                shown[path.stem] = shown.get(path.stem, 0) + 1
                examples.append(
                    f"{path.stem} {rec['id']}: {rec['answer']!r} (gold {r['answer']!r}) "
                    f"old {rec['fact']:.2f} new {f:.2f}"
                )
        changed = sum(abs(a - b) > 1e-9 for a, b in zip(old, new))
        rows.append([path.stem, len(records), changed, statistics.mean(old), statistics.mean(new)])
    return rows, examples


def golden_agreement(judges: dict) -> list[list]:
    """How many golden cases (tests/data/judge_golden.jsonl) each judge scores as labelled."""
    from smfa.bench.write import attributes

    all_values = attributes([])
    cases = [json.loads(x) for x in GOLDEN.read_text("utf-8").splitlines() if x.strip()]
    items = [
        {
            "question": c["question"], "answer": c["answer"], "gold": c["gold"],
            "keys": c["keys"], "attribute": c["attribute"],
            "values": all_values[c["attribute"]] if c["values"] == "*" else c["values"],
        }
        for c in cases
    ]  # fmt: skip
    rows = []
    for name, score in judges.items():
        t = time.perf_counter()
        facts = score(items)
        seconds = time.perf_counter() - t
        exact = sum(abs(f - c["expected_fact"]) < 1e-3 for f, c in zip(facts, cases))
        side = sum((f >= 5) == (c["expected_fact"] >= 5) for f, c in zip(facts, cases))
        rows.append([name, len(cases), exact, side, seconds])
    return rows


def machine() -> str:
    try:
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
        ram_text = f"{ram:.0f} GiB RAM"
    except (ValueError, OSError):
        ram_text = "RAM unknown"
    return (
        f"{os.cpu_count()} CPU cores, {ram_text}, no GPU; {platform.system()} "
        f"{platform.machine()}; Python {platform.python_version()}; shared with other jobs"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bench", help="an existing benchmark folder (default: build one)")
    ap.add_argument("--profiles", type=int, default=100)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--run", help="a finished run folder whose eval/*.json to re-score")
    ap.add_argument("--embed", action="store_true", help="also score the golden file with embed")
    ap.add_argument("--out", default=str(ROOT / "docs" / "results" / "judge_check.json"))
    args = ap.parse_args()

    from legacy_rule_judge import legacy_fact

    from smfa.bench import build, load
    from smfa.eval.judges import RuleJudge
    from smfa.io import write_json

    with tempfile.TemporaryDirectory() as tmp:
        path = args.bench or build(Path(tmp) / "bench", profiles=args.profiles, quiet=True)
        bench = load(path)
        items = synthetic_items(bench)
        pool = bench.refusals()
    judge = RuleJudge(refusal_pool=pool)
    legacy_pool = frozenset(judge.pool)

    def new_fact():
        return [
            judge.fact(i["answer"], i["gold"], i["keys"], i["values"], question=i["question"])
            for i in items
        ]

    def old_fact():
        return [
            legacy_fact(i["answer"], i["gold"], i["keys"], i["values"], legacy_pool) for i in items
        ]

    new_fact()  # build the value lexicons once, as the first batch of an evaluation does
    t_new, t_old, t_many = timed([new_fact, old_fact, lambda: judge.score_many(items)], args.runs)
    n = len(items)
    print(f"items: {n}  runs: {args.runs}")
    print(f"new fact: {t_new:.3f} s ({1e6 * t_new / n:.0f} us/item)")
    print(f"legacy fact: {t_old:.3f} s ({1e6 * t_old / n:.0f} us/item)")
    print(f"new score_many (fact + meaningful): {t_many:.3f} s")

    new, old = new_fact(), old_fact()
    agree_rows = []
    for kind in ("gold", "perturbed", "refusal"):
        idx = [k for k, it in enumerate(items) if it["kind"] == kind]
        same = sum(abs(new[k] - old[k]) < 1e-9 for k in idx)
        agree_rows.append(
            [kind, len(idx), same, statistics.mean(old[k] for k in idx),
             statistics.mean(new[k] for k in idx)]
        )  # fmt: skip
        print(f"{kind}: {same}/{len(idx)} identical")

    tables = {
        "speed": {
            "caption": f"Fact of {n} answers, median of {args.runs} runs (seconds)",
            "headers": ["judge", "seconds", "µs per answer"],
            "rows": [
                ["legacy fact (per-token)", t_old, f"{1e6 * t_old / n:.0f}"],
                ["new fact", t_new, f"{1e6 * t_new / n:.0f}"],
                ["new score_many (fact + meaningful)", t_many, f"{1e6 * t_many / n:.0f}"],
            ],
        },
        "agreement": {
            "caption": "The benchmark's own wording: answers whose Fact is the same old and new",
            "headers": ["answer", "answers", "same Fact", "mean Fact old", "mean Fact new"],
            "rows": agree_rows,
        },
    }
    golden = {
        "legacy (per-token)": lambda its: [
            legacy_fact(i["answer"], i["gold"], i["keys"], i["values"]) for i in its
        ],
        "rule": lambda its: [f for f, _ in RuleJudge().score_many(its)],
    }
    if args.embed:
        from smfa.eval.judges.embed import EmbedJudge

        embed = EmbedJudge()
        golden["embed"] = lambda its: [f for f, _ in embed.score_many(its)]
    tables["golden"] = {
        "caption": "Golden cases (tests/data/judge_golden.jsonl) scored as labelled",
        "headers": ["judge", "cases", "exact Fact", "same side of 5", "seconds"],
        "rows": golden_agreement(golden),
    }
    for r in tables["golden"]["rows"]:
        print(f"golden {r[0]}: {r[2]}/{r[1]} exact, {r[3]}/{r[1]} same side, {r[4]:.1f} s")
    notes = [f"benchmark: {args.bench or f'{args.profiles} profiles, seed 0'}; splits {SPLITS}"]
    if args.run:
        rows, examples = run_agreement(Path(args.run), judge)
        tables["run"] = {
            "caption": f"Recorded Fact of {args.run}/eval/*.json re-scored by the new judge",
            "headers": ["eval", "records", "Fact changed", "mean Fact old", "mean Fact new"],
            "rows": rows,
        }
        notes += examples
        for r in rows:
            print(f"{r[0]}: {r[2]}/{r[1]} changed, mean {r[3]:.3f} -> {r[4]:.3f}")
    summary = {
        "title": "Rule judge: speed and agreement with the pre-change algorithm",
        "command": "python " + " ".join(["benchmarks/judge_check.py", *sys.argv[1:]]),
        "machine": machine(),
        "date": datetime.date.today().isoformat(),
        "seed": 0,
        "tables": tables,
        "values": {
            "items": n,
            "runs": args.runs,
            "new_fact_s": t_new,
            "legacy_fact_s": t_old,
            "new_score_many_s": t_many,
            "new_us_per_item": 1e6 * t_new / n,
            "speed_ratio_legacy_over_new": t_old / t_new,
        },
        "notes": notes,
    }
    write_json(Path(args.out), summary)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
