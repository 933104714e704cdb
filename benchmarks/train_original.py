"""Issue 3 acceptance: train the tiny original (and retain-only) model on the default bench.

Measures wall time of ``smfa train`` with the shipped config, then scores the trained model on
its *training* questions: ROUGE-L of memory questions per view (image, text), accuracy (rule
judge Fact = 10) of understanding questions and of scene questions (trained and held-out); and
the retain-only model's accuracy on forget-profile memory questions against chance (1/|values|
per attribute) and a majority-value baseline. Writes a JSON with the loss curve.

    python benchmarks/train_original.py --bench runs/b200 --out runs/train_bench [--retain-only]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path


def score(model_dir: Path, bench, rows: list[dict], batch_size: int = 128) -> list[dict]:
    from smfa.data import ImageCache
    from smfa.eval.generate import generate_answers
    from smfa.eval.judges import RuleJudge
    from smfa.eval.metrics import rouge_l
    from smfa.models import load

    net, proc = load(str(model_dir))
    img = ImageCache()
    answers = generate_answers(
        net,
        proc,
        [(img.of(bench, r), r["question"]) for r in rows],
        batch_size,
    )
    judge = RuleJudge(refusal_pool=bench.refusals())
    attrs = bench.attributes()
    out = []
    for r, a in zip(rows, answers):
        fact, _ = judge.score(
            r["question"], a, r["answer"], r["keys"], r["attribute"], attrs.get(r["attribute"], [])
        )
        out.append(
            {
                "qtype": r["qtype"],
                "attribute": r["attribute"],
                "rouge": rouge_l(a, r["answer"]),
                "correct": fact == 10,
                "answer": a,
                "gold": r["answer"],
            }
        )
    return out


def per_attribute(scored: list[dict]) -> dict[str, float]:
    """Accuracy per attribute (which skills are missing)."""
    groups: dict[str, list[bool]] = {}
    for x in scored:
        groups.setdefault(x["attribute"], []).append(x["correct"])
    return {k: mean(v) for k, v in sorted(groups.items())}


def mean(xs):
    xs = list(xs)
    return round(sum(xs) / len(xs), 4) if xs else None


def train(bench: Path, out: Path, exclude: str | None, threads: int | None) -> float:
    cmd = [sys.executable, "-m", "smfa", "--quiet", "train", str(bench), str(out)]
    if exclude:
        cmd += ["--exclude", exclude]
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    t = time.monotonic()
    subprocess.run(cmd, check=True, env=env)
    return time.monotonic() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bench", default="runs/b200")
    ap.add_argument("--out", default="runs/train_bench")
    ap.add_argument("--profiles", type=int, default=200)
    ap.add_argument("--retain-only", action="store_true", help="also train the retain-only model")
    ap.add_argument("--skip-train", action="store_true", help="score existing models only")
    args = ap.parse_args()
    from smfa import bench as benchmod

    bench, out = Path(args.bench), Path(args.out)
    if not (bench / "manifest.json").is_file():
        benchmod.build(str(bench), profiles=args.profiles, quiet=True)
    b = benchmod.load(bench)
    result = {"bench": str(bench), "profiles": args.profiles, "cpus": os.cpu_count()}
    orig = out / "original"
    if not args.skip_train:
        result["train_seconds"] = round(train(bench, orig, None, None), 1)
    log = [json.loads(x) for x in (orig / "train_log.jsonl").read_text().splitlines()]
    result["loss_curve"] = [(r["step"], r["loss"]) for r in log[:: max(1, len(log) // 40)]]
    trained = b.split("forget15") + b.split("retain")
    s = score(orig, b, trained)
    for view in ("image_memory", "text_memory"):
        result[f"train_{view}_rouge"] = mean(x["rouge"] for x in s if x["qtype"] == view)
        result[f"train_{view}_acc"] = mean(x["correct"] for x in s if x["qtype"] == view)
    und = [x for x in s if x["qtype"] == "understanding"]
    result["train_understanding_acc"] = mean(x["correct"] for x in und)
    result["train_understanding_per_attribute"] = per_attribute(und)
    for split in ("scenes_train", "scenes_eval"):
        scenes = score(orig, b, b.split(split))
        result[f"{split}_acc"] = mean(x["correct"] for x in scenes)
        result[f"{split}_per_attribute"] = per_attribute(scenes)
    if args.retain_only:
        ronly = out / "retain_only"
        if not args.skip_train:
            result["retain_only_train_seconds"] = round(train(bench, ronly, "forget10", None), 1)
        rows = [r for r in b.split("forget10") if r["qtype"] in ("image_memory", "text_memory")]
        attrs = b.attributes()
        sr = score(ronly, b, rows)
        result["retain_only_forget10_mem_acc"] = mean(x["correct"] for x in sr)
        result["retain_only_forget10_mem_rouge"] = mean(x["rouge"] for x in sr)
        result["chance_acc"] = mean(1 / max(1, len(attrs.get(r["attribute"], [1]))) for r in rows)
        # Majority baseline: always answer the most frequent trained value of the attribute.
        freq: dict[str, Counter] = {}
        for r in b.split("retain"):
            if r["qtype"] in ("image_memory", "text_memory"):
                freq.setdefault(r["attribute"], Counter()).update(r["keys"][:1])
        result["majority_acc"] = mean(
            (freq.get(r["attribute"], Counter()).most_common(1) or [(None, 0)])[0][0] in r["keys"]
            for r in rows
        )
        result["original_forget10_mem_acc"] = mean(x["correct"] for x in score(orig, b, rows))
    print(json.dumps({k: v for k, v in result.items() if k != "loss_curve"}, indent=2))
    out.mkdir(parents=True, exist_ok=True)
    (out / "train_bench.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
