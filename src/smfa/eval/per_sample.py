"""The per-sample metrics, registered in :data:`smfa.registry.METRICS` (docs/metrics.md).

A :class:`Metric` turns the :class:`Evidence` gathered for one question (the question row, the
model's greedy answer, the judge's scores, option and answer log-likelihoods) into one value.
Its entry decides everything downstream: the field of every per-sample record in the eval JSON,
the per-(split, question type) value in the summary (``reduce``), and, for ``main`` metrics,
the paper-layout table of the report. Adding a metric is one registration::

    register(Metric("length", lambda ev: len(ev.answer.split()), title="Answer length"))
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

import numpy as np

from smfa.eval import metrics as m
from smfa.eval.classify import class_shares, classify_answer
from smfa.registry import METRICS


@dataclass(frozen=True)
class Evidence:
    """What was measured for one question.

    ``judge`` is ``(fact, meaningful)``; the log-likelihood fields are per-token mean
    log-probs, ``None`` when log-likelihood metrics were not computed for the split.
    """

    row: dict
    answer: str
    judge: tuple[float, float]
    refusals: Collection[str] = frozenset()
    option_logprobs: Sequence[float] | None = None
    gold_logprob: float | None = None
    perturbed_logprobs: Sequence[float] | None = None
    values: Sequence[str] = ()  # every value of the row's attribute (attributes.json)


def mean(values: Sequence, forget: bool) -> float:
    """Group value of most metrics: the mean (booleans count as 0/1)."""
    return float(np.mean([float(v) for v in values]))


@dataclass(frozen=True)
class Metric:
    """One registered per-sample metric.

    Attributes:
        name: field of the per-sample record.
        compute: ``Evidence -> value`` (``None``: not measured for this sample).
        title: column / table title in the report.
        group: key of the summary group value (default: ``name``).
        reduce: ``(values, is_forget_split) -> group value`` over the non-missing values.
        main: also aggregate it like the paper's main table (Forget/Retain I-Und, I-Mem,
            Overall Memory, ...) in ``summary["main"][name]`` and give it a report table.
        scale: the report multiplies main-table cells by this (ROUGE-L: 100).
    """

    name: str
    compute: Callable[[Evidence], float | bool | None]
    title: str = ""
    group: str | None = None
    reduce: Callable[[Sequence, bool], float] = mean
    main: bool = False
    scale: float = 1.0

    @property
    def group_key(self) -> str:
        return self.group or self.name

    def describe(self) -> dict:
        """What the report needs to know about the metric (written into each eval JSON)."""
        return {
            "title": self.title or self.name,
            "group": self.group_key,
            "main": self.main,
            "scale": self.scale,
        }


def register(metric: Metric) -> Metric:
    """Add ``metric`` to :data:`METRICS` under its name."""
    METRICS.add(metric.name, metric)
    return metric


def registered() -> list[Metric]:
    """The registered metrics, in registration order."""
    return [metric for _, metric in METRICS.items()]


def _mc(ev: Evidence) -> float | None:
    if ev.option_logprobs is None:
        return None
    return m.mc_correct(ev.option_logprobs, ev.row["answer_index"])


def _truth_ratio(ev: Evidence) -> float | None:
    if ev.gold_logprob is None or not ev.perturbed_logprobs:
        return None
    return m.truth_ratio(ev.gold_logprob, ev.perturbed_logprobs)


def _truth_ratio_stat(values: Sequence, forget: bool) -> float:
    return m.truth_ratio_stat(values, forget)


register(
    Metric(
        "rouge",
        lambda ev: m.rouge_l(ev.answer, ev.row["answer"]),
        "ROUGE-L F-measure (×100; Meaningful 0–10)",
        main=True,
        scale=100.0,
    )
)
register(Metric("fact", lambda ev: ev.judge[0], "Fact Score (0–10)", main=True))
register(Metric("meaningful", lambda ev: ev.judge[1], "Meaningful Score (0–10)"))
register(Metric("refusal", lambda ev: m.is_refusal(ev.answer, ev.refusals), "Refusal rate"))
register(Metric("mc_correct", _mc, "Multiple-choice accuracy", group="mc_accuracy"))
register(Metric("truth_ratio", _truth_ratio, "Truth ratio", reduce=_truth_ratio_stat))


def _answer_class(ev: Evidence) -> str:
    return classify_answer(
        ev.answer,
        ev.row["keys"],
        ev.values,
        question=ev.row["question"],
        gold=ev.row["answer"],
        refusal_pool=ev.refusals,
    )


def _shares(values: Sequence, forget: bool) -> dict | None:
    return class_shares(list(values))


register(Metric("answer_class", _answer_class, "Answer class shares", reduce=_shares))
register(
    Metric(
        "leaked",
        lambda ev: _answer_class(ev) == "leaked",
        "Leak rate (a key value stated)",
        group="leak_rate",
    )
)
