"""Evaluate a loaded model on question rows: answers, judge scores, log-likelihoods → records.

Shared by ``smfa eval`` (the benchmark's own questions) and the attack suite (the same questions
rewritten, perturbed or asked of a changed model). One record per question holds the question,
the answer, the gold answer and one field per registered metric (:mod:`smfa.eval.per_sample`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from smfa.data import ImageCache
from smfa.eval.generate import answer_logprobs, generate_answers, grouped_answer_logprobs
from smfa.eval.per_sample import Evidence, registered


@dataclass
class Scoring:
    """What turns answers into scores: the judge, the benchmark's refusals and attributes."""

    judge: object
    refusals: frozenset
    attributes: dict
    images: ImageCache = field(default_factory=ImageCache)


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


def row_images(bench, rows: list[dict], images: ImageCache) -> list:
    """Each row's image (PIL, opened once per file) or None."""
    return [images.of(bench, r) for r in rows]


def judge_items(rows: list[dict], answers: list[str], attributes: dict) -> list[dict]:
    """The judge's view of each answer: question, answer, gold, key values, attribute values."""
    return [
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


def logprob_evidence(net, processor, rows, imgs, batch_size, shared_prefix=True) -> list[dict]:
    """Per row: option, gold and perturbed answer log-likelihoods (per-token means).

    ``shared_prefix`` runs each question's prompt (and image) once and scores all its answers
    from the prompt's KV cache (:func:`grouped_answer_logprobs`); ``False`` scores every
    (question, answer) pair as its own full sequence (the former path, same values).
    """
    groups, spans = [], []
    for r, im in zip(rows, imgs):
        opts = option_sentences(r)
        groups.append((im, r["question"], [*opts, r["answer"], *r["perturbed"]]))
        spans.append((len(opts), len(r["perturbed"])))
    if shared_prefix:
        lps = grouped_answer_logprobs(net, processor, groups, batch_size)
    else:
        flat = iter(
            answer_logprobs(
                net, processor, [(im, q, a) for im, q, ans in groups for a in ans], batch_size
            )
        )
        lps = [[next(flat) for _ in ans] for _, _, ans in groups]
    return [
        {
            "option_logprobs": lp[:n_opt],
            "gold_logprob": lp[n_opt],
            "perturbed_logprobs": lp[n_opt + 1 : n_opt + 1 + n_pert],
        }
        for lp, (n_opt, n_pert) in zip(lps, spans)
    ]


def evaluate_rows(
    net,
    processor,
    bench,
    rows: list[dict],
    split: str,
    scoring: Scoring,
    batch_size: int = 64,
    max_new_tokens: int = 32,
    logprobs: bool = False,
    questions: list[str] | None = None,
    imgs: list | None = None,
    shared_prefix: bool = True,
) -> list[dict]:
    """One record per row: greedy answer, gold, and every registered metric.

    ``questions`` / ``imgs`` replace the rows' own question texts and images (attacks);
    ``logprobs`` adds multiple choice and the truth ratio (scored on the rows' own questions
    unless replaced); ``shared_prefix`` as in :func:`logprob_evidence`.
    """
    if not rows:
        return []
    imgs = row_images(bench, rows, scoring.images) if imgs is None else imgs
    questions = [r["question"] for r in rows] if questions is None else questions
    answers = generate_answers(
        net,
        processor,
        list(zip(imgs, questions)),
        batch_size,
        max_new_tokens,
        desc=f"eval {split}",
    )
    scores = scoring.judge.score_many(judge_items(rows, answers, scoring.attributes))
    if logprobs:
        asked = [dict(r, question=q) for r, q in zip(rows, questions)]
        lps = logprob_evidence(net, processor, asked, imgs, batch_size, shared_prefix)
    else:
        lps = [{}] * len(rows)
    metrics = registered()
    records = []
    for r, q, a, sc, lp in zip(rows, questions, answers, scores, lps):
        ev = Evidence(
            row=r,
            answer=a,
            judge=sc,
            refusals=scoring.refusals,
            values=scoring.attributes.get(r["attribute"], ()),
            **lp,
        )
        rec = {
            "split": split,
            "qtype": r["qtype"],
            "domain": r.get("domain"),
            "id": r["id"],
            "attribute": r["attribute"],
            "question": q,
            "answer": a,
            "gold": r["answer"],
        }
        rec.update({metric.name: metric.compute(ev) for metric in metrics})
        records.append(rec)
    return records
