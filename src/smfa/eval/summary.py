"""Per-sample records → the per-split summary and the paper's aggregates (docs/metrics.md §7).

Which values each record holds, and how a group of them is reduced, is decided by the metric
registry (:mod:`smfa.eval.per_sample`); the aggregates are the pure functions of
:mod:`smfa.eval.metrics`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from smfa.eval.classify import class_shares
from smfa.eval.metrics import (
    MEMORY_QTYPES,
    UNDERSTANDING_QTYPE,
    forget_quality,
    model_utility,
    overall_image_understanding,
    overall_memory,
)
from smfa.eval.per_sample import registered


def _mean(values: Iterable[Any]) -> float | None:
    vals = [float(v) for v in values if v is not None]
    return float(np.mean(vals)) if vals else None


def is_forget(split: str) -> bool:
    """Forget splits are named ``forget*``."""
    return split.startswith("forget")


def _by_split(records: Iterable[Mapping]) -> dict[str, list[Mapping]]:
    out: dict[str, list[Mapping]] = {}
    for r in records:
        out.setdefault(r["split"], []).append(r)
    return dict(sorted(out.items()))


def _of_split(records: Iterable[Mapping], split: str) -> list[Mapping]:
    return [r for r in records if r["split"] == split]


def _field_values(records: Iterable[Mapping], field: str) -> list:
    return [r.get(field) for r in records if r.get(field) is not None]


def _qtype_mean(groups: Mapping[str, list], qtypes: Sequence[str], metric, forget: bool):
    """Mean over ``qtypes`` of the metric's per-question-type value (as the main table)."""
    vals = []
    for q in qtypes:
        v = _field_values(groups.get(q, []), metric.name)
        if v:
            vals.append(metric.reduce(v, forget))
    return _mean(vals)


def domain_means(
    records: Sequence[Mapping[str, Any]],
    forget_split: str | None,
    retain_split: str,
    metrics=None,
) -> dict[str, dict[str, dict]]:
    """The forget/retain columns of the main table per image domain (docs/metrics.md §7):
    ``{domain: {score: {...}}}`` with the same reduction as the main table (per question type,
    then the mean over the memory types), for every main metric."""
    metrics = registered() if metrics is None else metrics
    roles = {forget_split: "forget", retain_split: "retain"}
    by: dict[str, dict[str, dict[str, list]]] = {}
    for r in records:
        role, dom = roles.get(r.get("split")), r.get("domain")
        if role is None or dom in (None, "", "scenes"):
            continue
        by.setdefault(dom, {}).setdefault(role, {}).setdefault(r["qtype"], []).append(r)
    out: dict[str, dict[str, dict]] = {}
    for dom in sorted(by):
        out[dom] = {}
        for metric in metrics:
            if not metric.main:
                continue
            cell: dict[str, Any] = {}
            for role in ("forget", "retain"):
                groups = by[dom].get(role, {})
                cell[f"n_{role}"] = sum(len(v) for v in groups.values())

                forget = role == "forget"
                cell[f"{role}_und"] = _qtype_mean(groups, [UNDERSTANDING_QTYPE], metric, forget)
                cell[f"{role}_mem"] = _qtype_mean(groups, MEMORY_QTYPES, metric, forget)
            f, r_ = cell["forget_mem"], cell["retain_mem"]
            cell["overall_mem"] = None if None in (f, r_) else overall_memory(r_, f)
            out[dom][metric.group_key] = cell
    return out


def summarize(
    records: Sequence[Mapping[str, Any]],
    *,
    forget_split: str | None = None,
    retain_split: str = "retain",
    scenes_split: str = "scenes_eval",
    reference: Sequence[Mapping[str, Any]] | None = None,
) -> dict:
    """Group per-sample records into per-(split, qtype) values and the paper's aggregates.

    Each record has ``split``, ``qtype`` and the fields of the registered metrics (``rouge``,
    ``fact``, ``meaningful``, ``refusal`` (bool), ``mc_correct``, ``truth_ratio`` (raw ``R``),
    ...); missing or ``None`` fields are skipped. ``forget_split`` defaults to the one split
    named ``forget*``. ``reference`` = the retain-only model's records, for forget quality.
    Returns::

        {"groups": {split: {qtype: {"n", "rouge", "fact", "meaningful", "refusal",
                                    "mc_accuracy", "truth_ratio", ...}}},
         "main": {"rouge": {...}, "fact": {...}},   # forget_und, forget_mem, retain_und,
                                                    # retain_mem, overall_und, overall_mem,
                                                    # meaningful, scenes, model_utility
         "domains": {domain: {score: {"n_forget", "n_retain", "forget_und", "forget_mem",
                                      "retain_und", "retain_mem", "overall_mem"}}},
         "forget_quality": float | None, "splits": {"forget", "retain", "scenes"},
         "answer_classes": {split: {class: share} | None},   # eval.classify.CLASSES
         "over_refusal": {"retain": float | None, "scenes": float | None}}

    ``over_refusal`` = refusal rate over every retain / scenes record (all question types):
    these should be answered, so each refusal there is benign knowledge lost.

    ``domains`` splits the forget/retain columns by image domain (``faces`` = portraits,
    ``fundus``), from each record's ``domain`` (records without one are left out).

    Means over nothing are ``None``; see docs/metrics.md §7.
    """
    metrics = registered()
    by_group: dict[str, dict[str, list[Mapping]]] = {}
    for i, r in enumerate(records):
        if "split" not in r or "qtype" not in r:
            raise ValueError(f"summarize: record {i} lacks 'split' or 'qtype'")
        by_group.setdefault(r["split"], {}).setdefault(r["qtype"], []).append(r)

    if forget_split is None:
        forgets = sorted(s for s in by_group if is_forget(s))
        if len(forgets) > 1:
            raise ValueError(f"summarize: several forget splits {forgets}; pass forget_split")
        forget_split = forgets[0] if forgets else None

    groups: dict[str, dict[str, dict]] = {}
    for split in sorted(by_group):
        groups[split] = {}
        for qtype in sorted(by_group[split]):
            rs = by_group[split][qtype]
            g: dict[str, Any] = {"n": len(rs)}
            for metric in metrics:
                vals = _field_values(rs, metric.name)
                g[metric.group_key] = metric.reduce(vals, is_forget(split)) if vals else None
            groups[split][qtype] = g

    def group_mean(split: str | None, qtypes: Sequence[str] | None, score: str) -> float | None:
        if split not in groups:
            return None
        means = [g.get(score) for q, g in groups[split].items() if qtypes is None or q in qtypes]
        return _mean(means)

    main: dict[str, dict[str, float | None]] = {}
    table_recs = [
        r
        for r in records
        if forget_split is not None and r["split"] in (forget_split, retain_split)
    ]
    meaningful = _mean(_field_values(table_recs, "meaningful"))
    for metric in metrics:
        if not metric.main:
            continue
        score = metric.group_key
        f_und = group_mean(forget_split, [UNDERSTANDING_QTYPE], score)
        r_und = group_mean(retain_split, [UNDERSTANDING_QTYPE], score)
        f_mem = group_mean(forget_split, MEMORY_QTYPES, score)
        r_mem = group_mean(retain_split, MEMORY_QTYPES, score)
        scenes = group_mean(scenes_split, None, score)
        und = None if None in (f_und, r_und) else overall_image_understanding(f_und, r_und)
        main[score] = {
            "forget_und": f_und,
            "forget_mem": f_mem,
            "retain_und": r_und,
            "retain_mem": r_mem,
            "overall_und": und,
            "overall_mem": None if None in (r_mem, f_mem) else overall_memory(r_mem, f_mem),
            "meaningful": meaningful,
            "scenes": scenes,
            "model_utility": (
                None if None in (r_mem, und, scenes) else model_utility(r_mem, und, scenes)
            ),
        }

    domains = domain_means(records, forget_split, retain_split, metrics)

    fq = None
    if reference is not None and forget_split is not None:

        def forget_ratios(recs: Iterable[Mapping]) -> list:
            mem = [r for r in recs if r["split"] == forget_split and r["qtype"] in MEMORY_QTYPES]
            return _field_values(mem, "truth_ratio")

        a, b = forget_ratios(records), forget_ratios(reference)
        fq = forget_quality(a, b) if a and b else None

    return {
        "groups": groups,
        "main": main,
        "domains": domains,
        "forget_quality": fq,
        "answer_classes": {
            s: class_shares(_field_values(recs, "answer_class"))
            for s, recs in _by_split(records).items()
        },  # fmt: skip
        "over_refusal": {
            "retain": _mean(_field_values(_of_split(records, retain_split), "refusal")),
            "scenes": _mean(_field_values(_of_split(records, scenes_split), "refusal")),
        },
        "splits": {"forget": forget_split, "retain": retain_split, "scenes": scenes_split},
    }
