"""Stage: ``smfa eval`` — the S-MLLMUn metrics of one model, written to one JSON file.

For each split (forget, retain, unseen, holdout, scenes) and question type it records, per
sample: the greedy answer, ROUGE-L, Fact and Meaningful scores (judge), refusal, multiple-choice
correctness (option log-likelihood) and the truth ratio; then the aggregates of SPEC §5
(:func:`smfa.eval.metrics.summarize`). Definitions: docs/metrics.md.
"""

from __future__ import annotations

import random
from pathlib import Path

from smfa.errors import SmfaError
from smfa.io import read_json, write_json
from smfa.progress import say

EVAL_SPLITS = ("forget", "retain", "unseen", "holdout", "scenes_eval")


def load_evaluated_model(model: str, adapter: str | None, dtype: str, device: str):
    """The original model, plus a method's update: ``delta.safetensors`` or a peft adapter."""
    from smfa.io import load_safetensors
    from smfa.models import load
    from smfa.sculpt import apply_deltas

    net, processor = load(model, dtype=dtype, device=device)
    if adapter is None:
        return net, processor
    a = Path(adapter)
    if (a / "delta.safetensors").is_file():
        apply_deltas(
            net,
            load_safetensors(a / "delta.safetensors", device=str(net.device)),
            source=str(a / "delta.safetensors"),
        )
    elif (a / "adapter_config.json").is_file():
        from peft import PeftModel

        try:
            net = PeftModel.from_pretrained(net, str(a)).merge_and_unload()
        except (ValueError, RuntimeError, KeyError) as e:
            raise SmfaError(f"{a}: adapter does not match the model ({type(e).__name__})") from None
    else:
        raise SmfaError(f"{a}: neither delta.safetensors nor adapter_config.json found")
    return net, processor


def select_rows(rows: list[dict], max_samples: int | None, seed: int) -> list[dict]:
    """A seeded subset of at most ``max_samples`` rows, in table order."""
    if max_samples is None or len(rows) <= max_samples:
        return rows
    keep = sorted(random.Random(seed).sample(range(len(rows)), max_samples))
    return [rows[i] for i in keep]


def option_sentences(row: dict) -> list[str]:
    """Multiple-choice options as full answers: the gold answer with its key value swapped."""
    keys = row["keys"]
    if len(keys) == 1 and keys[0] in row["answer"]:
        return [row["answer"].replace(keys[0], opt) for opt in row["options"]]
    return list(row["options"])


def evaluate(
    model: str,
    bench: str,
    out: str,
    adapter: str | None = None,
    forget: str = "forget10",
    judge: str = "rule",
    judge_options: dict | None = None,
    splits: list[str] | None = None,
    max_samples: int | None = None,
    batch_size: int = 64,
    max_new_tokens: int = 32,
    reference: str | None = None,
    logprob_metrics: bool = True,
    logprob_splits: list[str] | None = None,
    seed: int = 0,
    device: str = "auto",
    dtype: str = "float32",
) -> Path:
    """Evaluate a model (optionally with a method's update) on the benchmark; write JSON.

    Args:
        model: model folder (the original model for unlearning methods).
        bench: benchmark folder.
        out: output JSON file.
        adapter: a method's output folder (``delta.safetensors``) or a peft adapter folder.
        forget: the forget split evaluated as "forget" (forget05, forget10, forget15).
        judge: rule (default, offline), openai or hf.
        judge_options: the judge's settings, e.g. ``{"base_url": ..., "model": ...}``.
        splits: subset of forget, retain, unseen, holdout, scenes_eval (default: all).
        max_samples: at most this many questions per split (seeded subset).
        batch_size: generation / scoring batch size.
        max_new_tokens: generation length limit.
        reference: the retain-only model's eval JSON, for forget quality (KS test).
        logprob_metrics: also compute multiple choice and truth ratio (log-likelihoods).
        logprob_splits: the splits that get them (default: forget and retain; forget quality
            needs only forget; each question costs options + perturbed answers forward passes).
        seed: seed of the subset selection.
        device: auto, cpu, cuda, cuda:N.
        dtype: float32, bfloat16 or float16.
    """
    from smfa import __version__
    from smfa.bench import load_valid as load_bench
    from smfa.eval.generate import generate_answers
    from smfa.eval.metrics import is_refusal, refusal_set, rouge_l, summarize
    from smfa.provenance import git_hash, machine, versions
    from smfa.registry import JUDGES
    from smfa.runtime import resolve_device
    from smfa.train import ImageCache

    splits = list(splits or EVAL_SPLITS)
    bad = [s for s in splits if s not in EVAL_SPLITS]
    if bad:
        raise SmfaError(f"--splits {bad[0]}: unknown split (known: {', '.join(EVAL_SPLITS)})")
    if forget not in ("forget05", "forget10", "forget15"):
        raise SmfaError(f"--forget {forget}: must be forget05, forget10 or forget15")
    ref_records = None
    if reference is not None:
        ref_records = read_json(reference).get("records")
        if ref_records is None:
            raise SmfaError(f"{reference}: field 'records' is missing")
    b = load_bench(bench)
    dev = resolve_device(device)
    net, processor = load_evaluated_model(model, adapter, dtype, dev)
    opts = dict(judge_options or {})
    if judge == "rule":
        opts.setdefault("refusal_pool", b.refusals())
    elif judge == "openai":  # finished scores survive an endpoint failure
        opts.setdefault("cache_dir", str(Path(out).parent / "judge_cache"))
    scorer = JUDGES.get(judge)(**opts)
    refusals = refusal_set(b.refusals())
    attributes = b.attributes()
    images = ImageCache()

    records = []
    for name in splits:
        table = forget if name == "forget" else name
        rows = select_rows(b.split(table), max_samples, seed)
        if not rows:
            continue
        imgs = [images(str(p)) if (p := b.image_path(r)) else None for r in rows]
        say(f"[eval] {table}: {len(rows)} questions")
        answers = generate_answers(
            net,
            processor,
            [(im, r["question"]) for im, r in zip(imgs, rows)],
            batch_size,
            max_new_tokens,
            desc=f"eval {table}",
        )
        scores = scorer.score_many(
            [
                {
                    "question": r["question"],
                    "answer": a,
                    "gold": r["answer"],
                    "keys": r["keys"],
                    "attribute": r["attribute"],
                    "values": attributes.get(r["attribute"], []),
                }
                for r, a in zip(rows, answers)
            ]
        )
        if logprob_metrics and name in (logprob_splits or ("forget", "retain")):
            mc, tr = _logprob_metrics(net, processor, rows, imgs, batch_size)
        else:
            mc, tr = [None] * len(rows), [None] * len(rows)
        for r, a, (fact, meaningful), m, t in zip(rows, answers, scores, mc, tr):
            records.append(
                {
                    "split": table,
                    "qtype": r["qtype"],
                    "id": r["id"],
                    "attribute": r["attribute"],
                    "question": r["question"],
                    "answer": a,
                    "gold": r["answer"],
                    "rouge": rouge_l(a, r["answer"]),
                    "fact": fact,
                    "meaningful": meaningful,
                    "refusal": is_refusal(a, refusals),
                    "mc_correct": m,
                    "truth_ratio": t,
                }
            )
    summary = summarize(records, forget_split=forget, reference=ref_records)
    result = {
        "model": str(Path(model).resolve()),
        "adapter": str(Path(adapter).resolve()) if adapter else None,
        "bench": str(Path(bench).resolve()),
        "forget": forget,
        "judge": judge,
        "summary": summary,
        "records": records,
        "config": {
            "splits": splits,
            "max_samples": max_samples,
            "batch_size": batch_size,
            "max_new_tokens": max_new_tokens,
            "judge_options": _public(judge_options),
            "logprob_metrics": logprob_metrics,
            "logprob_splits": logprob_splits or ["forget", "retain"],
            "dtype": dtype,
            "device": dev,
        },
        "seed": seed,
        "versions": versions(),
        "git": git_hash(),
        "machine": machine(),
        "smfa_version": __version__,
        "bench_manifest_seed": b.manifest.get("seed"),
    }
    write_json(out, result)
    say(f"[eval] wrote {out}")
    return Path(out)


def _public(options: dict | None) -> dict:
    """Judge options without secrets."""
    return {k: v for k, v in (options or {}).items() if "key" not in k.lower()}


def _logprob_metrics(net, processor, rows, imgs, batch_size):
    """Per-row multiple-choice credit and truth ratio from answer log-likelihoods."""
    from smfa.eval.generate import answer_logprobs
    from smfa.eval.metrics import mc_correct, truth_ratio

    items, spans = [], []
    for r, im in zip(rows, imgs):
        opts = option_sentences(r)
        start = len(items)
        items += [(im, r["question"], o) for o in opts]
        items += [(im, r["question"], r["answer"])] + [
            (im, r["question"], p) for p in r["perturbed"]
        ]
        spans.append((start, len(opts), len(r["perturbed"])))
    lp = answer_logprobs(net, processor, items, batch_size)
    mc, tr = [], []
    for r, (s, n_opt, n_pert) in zip(rows, spans):
        mc.append(mc_correct(lp[s : s + n_opt], r["answer_index"]))
        g = s + n_opt
        tr.append(truth_ratio(lp[g], lp[g + 1 : g + 1 + n_pert]))
    return mc, tr
