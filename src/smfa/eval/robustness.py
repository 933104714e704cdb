"""The robustness suite: every attack of :data:`smfa.registry.ATTACKS` against one model on
the forget set (docs/metrics.md §10). For an ``inputs`` attack the attacked answers are scored
like ``smfa eval`` scores answers (the same judge and metrics) and compared, question by
question, with the unattacked answers to the same questions: Fact Score and leak rate
attacked vs unattacked, ``recovery = attacked − unattacked``. A ``probe`` attack reports its
own pair of values. Each result's ``score`` is its headline value in [0, 1] (leak rate, logit
lens hit rate, membership advantage), the one the report's attack table shows.
"""

from __future__ import annotations

import gc
from collections.abc import Sequence
from statistics import fmean

from smfa.errors import SmfaError
from smfa.eval.attacks.base import Target
from smfa.eval.classify import class_shares
from smfa.eval.metrics import MEMORY_QTYPES
from smfa.eval.runner import Scoring, evaluate_rows, row_images, select_rows
from smfa.progress import say
from smfa.registry import ATTACKS

SUITES = ("default", "full")
#: Report order of the shipped attacks (name prefixes): the question rewrites, then the model
#: changes, then the probes; other (plugin) attacks follow in registration order.
ORDER = ("prompt_", "paraphrase", "other_view", "image_", "quant_", "relearn", "logit_lens", "mia")
DEFAULT_QUESTIONS = 40
SAMPLES_KEPT = 3


def suite_attacks(suite: str, names: Sequence[str] | None = None) -> list[str]:
    """The attacks of a suite (``default``: the entries marked ``default``; ``full``: all), in
    :data:`ORDER`, or the given ``names`` (each checked against the registry) as given."""
    if names:
        for n in names:
            ATTACKS.get(n)
        return list(names)
    if suite not in SUITES:
        raise SmfaError(f"--suite {suite}: must be one of {', '.join(SUITES)}")
    names = [n for n, cls in ATTACKS.items() if suite == "full" or cls.default]

    def rank(name: str) -> int:
        return next((i for i, p in enumerate(ORDER) if name.startswith(p)), len(ORDER))

    return sorted(names, key=rank)  # stable: registration order within a group


def pair(unattacked: float | None, attacked: float | None) -> dict:
    """``{"unattacked", "attacked", "recovery"}`` (recovery None if either is missing)."""
    rec = None if unattacked is None or attacked is None else attacked - unattacked
    return {"unattacked": unattacked, "attacked": attacked, "recovery": rec}


def compare(base: dict[str, dict], attacked: list[dict], best_of: bool) -> dict:
    """Fact and leak of the attacked records vs the unattacked ones of the same questions.

    ``base``: unattacked record by question id; ``attacked``: records (several per id when
    several rewrites were tried: the attacker keeps the best per id; ``best_of`` also counts
    the unattacked answer as one of the tries)."""
    by_id: dict[str, list[dict]] = {}
    for r in attacked:
        by_id.setdefault(r["id"], []).append(r)
    ids = sorted(by_id)
    if not ids:
        return {"n": 0, "fact": pair(None, None), "score": pair(None, None)}

    def best(i: str, field: str) -> float:
        tries = by_id[i] + ([base[i]] if best_of else [])
        return max(float(r[field]) for r in tries)

    fact_u = fmean(float(base[i]["fact"]) for i in ids)
    leak_u = fmean(float(base[i]["leaked"]) for i in ids)
    return {
        "n": len(ids),
        "fact": pair(fact_u, fmean(best(i, "fact") for i in ids)),
        "score": pair(leak_u, fmean(best(i, "leaked") for i in ids)),
        "answer_classes": class_shares([r["answer_class"] for r in attacked]),
    }


def forget_questions(bench, forget: str, max_questions: int | None, seed: int) -> list[dict]:
    """The forget split's memory questions (both views), a seeded subset of at most
    ``max_questions``."""
    rows = [r for r in bench.split(forget) if r["qtype"] in MEMORY_QTYPES]
    return select_rows(rows, max_questions, seed)


def run_suite(
    net,
    processor,
    bench,
    rows: list[dict],
    scoring: Scoring,
    names: Sequence[str],
    *,
    forget: str,
    seed: int = 0,
    full: bool = False,
    options: dict | None = None,
    batch_size: int = 64,
    max_new_tokens: int = 32,
) -> tuple[dict[str, dict], dict]:
    """``({attack: result}, unattacked)`` for one model (module docstring); ``unattacked`` =
    :func:`plain_summary` of the plain answers to ``rows``."""
    images = row_images(bench, rows, scoring.images)
    base_recs = evaluate_rows(
        net, processor, bench, rows, forget, scoring, batch_size, max_new_tokens, imgs=images
    )
    base = {r["id"]: r for r in base_recs}
    opts = {"forget": forget, **(options or {})}
    results: dict[str, dict] = {}
    for name in names:
        attack = ATTACKS.get(name)()
        say(f"[attack] {name}")
        target = Target(net, processor, bench, rows, images, seed, full, opts)
        if attack.kind == "probe":
            p = attack.measure(target)
            res = {
                "n": p.n,
                "fact": None,
                "score": pair(p.unattacked, p.attacked),
                "details": p.details,
            }
        else:
            a = attack.apply(target)
            model = a.net if a.net is not None else net
            recs = evaluate_rows(
                model,
                processor,
                bench,
                a.rows,
                forget,
                scoring,
                batch_size,
                max_new_tokens,
                questions=a.questions,
                imgs=a.images,
            )
            res = {**compare(base, recs, a.best_of), "details": a.details}
            res["samples"] = [
                {
                    "question": r["question"],
                    "answer": r["answer"],
                    "gold": r["gold"],
                    "class": r["answer_class"],
                }
                for r in recs[:SAMPLES_KEPT]
            ]
            del a, model
            gc.collect()
        results[name] = {"title": attack.title or name, "kind": attack.kind, **res}
    return results, plain_summary(base_recs)


def plain_summary(records: list[dict]) -> dict:
    """Of the unattacked answers: ``n``, mean Fact Score, leak rate and answer-class shares."""
    if not records:
        return {"n": 0, "fact": None, "leak_rate": None, "answer_classes": None}
    return {
        "n": len(records),
        "fact": fmean(float(r["fact"]) for r in records),
        "leak_rate": fmean(float(r["leaked"]) for r in records),
        "answer_classes": class_shares([r["answer_class"] for r in records]),
    }
