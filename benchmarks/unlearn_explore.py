"""Unlearning settings on a trained tiny original: one row of Fact Scores per (method, setting).

Used to choose the tiny model's unlearning configs (configs/unlearn/tiny/); the numbers are in
docs/results.md. Evaluation: 150 questions per split, no log-prob metrics (fast).

    python benchmarks/unlearn_explore.py --original runs/train_bench/original \
        --bench runs/b200 --out runs/explore
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import yaml

LORA = {"r": 8, "alpha": 16, "dropout": 0.0, "target": "language"}


def cfg(**train) -> dict:
    return {"train": {"batch_size": 8, "lr": 0.001, "lora": LORA, **train}}


E2 = cfg(epochs=2)
# (label, method, config, extra unlearn() arguments); "@smfa" = reuse smfa_e2's adapters.
RUNS = [
    ("smfa_e2_k5", "smfa", E2, {"options": {"k": 5.0}}),
    ("idk_e2", "idk", E2, {"adapters_from": "@smfa"}),
    ("smfa_e2_k10", "smfa", E2, {"adapters_from": "@smfa", "options": {"k": 10.0}}),
    ("smfa_e2_k2", "smfa", E2, {"adapters_from": "@smfa", "options": {"k": 2.0}}),
    ("smfa_e2_k1", "smfa", E2, {"adapters_from": "@smfa", "options": {"k": 1.0}}),
    ("smfa_e2_c", "smfa", E2, {"adapters_from": "@smfa", "options": {"criteria": "c"}}),
    (
        "smfa_e2_r_k5",
        "smfa",
        E2,
        {"adapters_from": "@smfa", "options": {"criteria": "r", "k": 5.0}},
    ),
    ("ties_e2", "ties", E2, {"adapters_from": "@smfa"}),
    ("ga_e2", "ga", E2, {}),
    ("gd_e2", "gd", E2, {}),
    ("kl_e2", "kl", E2, {}),
    ("npo_e2", "npo", E2, {}),
    ("task_arithmetic_e2", "task_arithmetic", E2, {}),
    ("ga_30steps", "ga", cfg(max_steps=30), {}),
    ("gd_60steps", "gd", cfg(max_steps=60), {}),
    ("kl_60steps", "kl", cfg(max_steps=60), {}),
    ("npo_60steps", "npo", cfg(max_steps=60), {}),
]
COLS = ("forget_mem", "retain_mem", "forget_und", "retain_und", "scenes", "meaningful")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--original", required=True)
    ap.add_argument("--bench", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--forget", default="forget10")
    args = ap.parse_args()

    from smfa.progress import set_quiet
    from smfa.stages.evaluate import evaluate
    from smfa.stages.unlearn import unlearn

    set_quiet(True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    ev = {
        "max_samples": 150,
        "logprob_metrics": False,
        "forget": args.forget,
        "splits": ["forget", "retain", "scenes_eval"],
    }

    def row(label: str, path: Path) -> str:
        s = json.loads(path.read_text())["summary"]["main"]["fact"]
        return f"| {label} | " + " | ".join(f"{s[c]:.2f}" for c in COLS) + " |"

    print("| setting | " + " | ".join(COLS) + " |\n|---|" + "---:|" * len(COLS))
    evaluate(args.original, args.bench, str(out / "original.json"), **ev)
    print(row("original", out / "original.json"), flush=True)
    for label, method, conf, extra in RUNS:
        extra = dict(extra)
        if extra.get("adapters_from") == "@smfa":
            extra["adapters_from"] = str(out / "smfa_e2_k5")
        path = out / f"{label}.yaml"
        path.write_text(yaml.safe_dump(conf))
        unlearn(
            method,
            args.original,
            args.bench,
            str(out / label),
            forget=args.forget,
            method_config=str(path),
            **extra,
        )
        evaluate(
            args.original, args.bench, str(out / f"{label}.json"), adapter=str(out / label), **ev
        )
        print(row(label, out / f"{label}.json"), flush=True)


if __name__ == "__main__":
    main()
