"""Stage: ``smfa eval`` — the S-MLLMUn metrics of one model, written to one JSON file.

For each split (forget, retain, unseen, holdout, scenes) and question type it records, per
sample: the greedy answer and every registered metric (:mod:`smfa.eval.per_sample`: ROUGE-L,
Fact and Meaningful scores from the judge, refusal, multiple-choice correctness and the truth
ratio); then the aggregates of SPEC §5 (:func:`smfa.eval.summary.summarize`). Definitions:
docs/metrics.md.
"""

from __future__ import annotations

import inspect
import json
import os
from pathlib import Path

from smfa import dist
from smfa.errors import SmfaError
from smfa.io import check_output, output_lock, read_json, write_json
from smfa.progress import say
from smfa.splits import check_eval_splits, check_forget

LOGPROB_SPLITS = ("forget", "retain")


def load_evaluated_model(
    model: str, adapter: str | None, dtype: str, device: str, allow_pickle: bool = False
):
    """The model, plus a method's update (``delta.safetensors`` or a peft adapter folder)."""
    from smfa.adapters import apply_update
    from smfa.models import load

    net, processor = load(model, dtype=dtype, device=device, allow_pickle=allow_pickle)
    if adapter is not None:
        net = apply_update(net, adapter, allow_pickle=allow_pickle)
    return net, processor


def relative_to_output(path: str | Path, out: str | Path) -> str:
    """``path`` relative to the folder of ``out`` (results do not depend on where the
    checkout lives: two clones give byte-identical JSONs)."""
    return Path(os.path.relpath(Path(path).resolve(), Path(out).resolve().parent)).as_posix()


def is_eval_result(path: str | Path) -> bool:
    """Whether ``path`` holds an eval JSON that ``smfa eval`` wrote (so it may be replaced)."""
    p = Path(path)
    if not p.is_file():
        return False
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and {"summary", "records", "smfa_version"} <= set(data)


def make_scoring(bench, judge: str, judge_options: dict | None, out: Path):
    """The judge (with the bench's refusal pool for ``rule``) and the bench's vocabularies."""
    from smfa.eval.metrics import refusal_set
    from smfa.eval.runner import Scoring
    from smfa.registry import JUDGES

    if judge_options is not None and not isinstance(judge_options, dict):
        raise SmfaError(f"--judge_options {judge_options!r}: expected a mapping")
    opts = dict(judge_options or {})
    cls = JUDGES.get(judge)
    known = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
    unknown = sorted(set(opts) - set(known))
    if unknown:
        raise SmfaError(
            f"--judge_options: unknown option '{unknown[0]}' of judge {judge} "
            f"(known: {', '.join(known)})"
        )
    if judge == "rule":
        opts.setdefault("refusal_pool", bench.refusals())
    elif judge == "openai":  # finished scores survive an endpoint failure
        opts.setdefault("cache_dir", str(Path(out).parent / "judge_cache"))
    return Scoring(cls(**opts), refusal_set(bench.refusals()), bench.attributes())


def read_reference(reference: str | None) -> list | None:
    """The per-sample records of a reference eval JSON (the retain-only model)."""
    if reference is None:
        return None
    data = read_json(reference)
    records = data.get("records") if isinstance(data, dict) else None
    if not isinstance(records, list):
        raise SmfaError(f"{reference}: field 'records' is missing (not an smfa eval JSON)")
    return records


def provenance() -> dict:
    """Versions, git commit and machine, recorded in every result JSON."""
    from smfa import __version__
    from smfa.provenance import git_hash, machine, versions

    return {
        "versions": versions(),
        "git": git_hash(),
        "machine": machine(),
        "smfa_version": __version__,
    }


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
    overwrite: bool = False,
    allow_pickle: bool = False,
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
        overwrite: replace an existing ``out`` that is not an earlier ``smfa eval`` result.
        allow_pickle: accept pickle weights of a trusted model or adapter (weights-only).
    """
    from smfa.bench import load_valid as load_bench
    from smfa.eval.per_sample import registered
    from smfa.eval.runner import evaluate_rows, select_rows
    from smfa.eval.summary import summarize
    from smfa.runtime import resolve_device

    splits = check_eval_splits(splits)
    check_forget(forget)
    check_output(
        out,
        "eval",
        overwrite,
        [model, bench, adapter, reference],
        is_file=True,
        owned=is_eval_result(out),
    )
    with dist.main_only(output_lock(out)):  # accelerate launch: the main process writes
        ref_records = read_reference(reference)
        b = load_bench(bench)
        dev = resolve_device(device)
        net, processor = load_evaluated_model(model, adapter, dtype, dev, allow_pickle)
        scoring = make_scoring(b, judge, judge_options, Path(out))
        lp_splits = list(logprob_splits or LOGPROB_SPLITS)

        records = []
        for name in splits:
            table = forget if name == "forget" else name
            rows = select_rows(b.split(table), max_samples, seed)
            if rows:
                say(f"[eval] {table}: {len(rows)} questions")
            part = evaluate_rows(  # this process's blocks of batch_size questions
                net,
                processor,
                b,
                dist.shard_blocks(rows, batch_size),
                table,
                scoring,
                batch_size,
                max_new_tokens,
                logprobs=logprob_metrics and name in lp_splits,
            )
            records += dist.gather_blocks(part, batch_size, len(rows))
        result = {
            "smfa_output": "eval",
            "model": relative_to_output(model, out),
            "adapter": relative_to_output(adapter, out) if adapter else None,
            "bench": relative_to_output(bench, out),
            "forget": forget,
            "judge": judge,
            "summary": summarize(records, forget_split=forget, reference=ref_records),
            "metrics": {m.name: m.describe() for m in registered()},
            "records": records,
            "config": {
                "splits": splits,
                "max_samples": max_samples,
                "batch_size": batch_size,
                "max_new_tokens": max_new_tokens,
                "judge_options": _public(judge_options),
                "logprob_metrics": logprob_metrics,
                "logprob_splits": lp_splits,
                "dtype": dtype,
                "device": dev,
                "processes": dist.world(),
            },
            "seed": seed,
            **provenance(),
            "bench_manifest_seed": b.manifest.get("seed"),
        }
        if dist.is_main():
            write_json(out, result)
            say(f"[eval] wrote {out}")
        dist.barrier()
        return Path(out)


def _public(options: dict | None) -> dict:
    """Judge options without secrets."""
    return {k: v for k, v in (options or {}).items() if "key" not in k.lower()}
