"""The judge interface: Fact and Meaningful scores (0–10) of one answer (docs/metrics.md §6).

Every judge implements one interface::

    judge.score(question, answer, gold, keys, attribute, values, *, truncated=False)
        -> (fact, meaningful)
    judge.score_many(items: Sequence[JudgeItem]) -> list[(fact, meaningful)]

and is registered by name in :data:`smfa.registry.JUDGES`: ``rule`` (default, deterministic,
offline; ``rule.py``), ``openai`` (any OpenAI-compatible endpoint; ``openai.py``) and ``hf``
(a local causal LM; ``hf.py``). ``get_judge(name, **options)`` builds one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from string import Template
from typing import Any

from smfa.registry import JUDGES

RUBRICS = ("fact", "meaningful")


@dataclass(frozen=True)
class JudgeItem:
    """One answer to score: the question row's fields plus the model's answer.

    ``keys``: the row's key values; ``values``: every value of ``attribute``
    (``attributes.json[attribute]``, may be empty); ``truncated``: generation hit
    ``max_new_tokens``.
    """

    question: str
    answer: str
    gold: str
    keys: Sequence[str] = ()
    attribute: str = ""
    values: Sequence[str] = field(default=())
    truncated: bool = False


def as_items(items: Iterable[JudgeItem | Mapping[str, Any]]) -> list[JudgeItem]:
    """Accept :class:`JudgeItem` objects or mappings with the same field names."""
    out = []
    for i, it in enumerate(items):
        if isinstance(it, JudgeItem):
            out.append(it)
            continue
        try:
            out.append(
                JudgeItem(
                    question=str(it["question"]),
                    answer=str(it["answer"]),
                    gold=str(it["gold"]),
                    keys=tuple(it.get("keys") or ()),
                    attribute=str(it.get("attribute") or ""),
                    values=tuple(it.get("values") or ()),
                    truncated=bool(it.get("truncated", False)),
                )
            )
        except KeyError as e:
            raise ValueError(f"judge item {i}: field {e.args[0]!r} is missing") from None
    return out


class Judge:
    """Base class: subclasses override :meth:`score` or :meth:`score_many` (or both)."""

    name = "judge"

    def score(
        self,
        question: str,
        answer: str,
        gold: str,
        keys: Sequence[str],
        attribute: str,
        values: Sequence[str],
        *,
        truncated: bool = False,
    ) -> tuple[float, float]:
        """Return ``(fact, meaningful)``, both in [0, 10], for one answer."""
        item = JudgeItem(question, answer, gold, tuple(keys), attribute, tuple(values), truncated)
        return self.score_many([item])[0]

    def score_many(
        self, items: Sequence[JudgeItem | Mapping[str, Any]]
    ) -> list[tuple[float, float]]:
        """Score a batch (JudgeItems or dicts with their fields), in order."""
        if type(self).score is Judge.score:
            raise NotImplementedError(f"{type(self).__name__} must override score or score_many")
        return [
            self.score(
                it.question,
                it.answer,
                it.gold,
                it.keys,
                it.attribute,
                it.values,
                truncated=it.truncated,
            )
            for it in as_items(items)
        ]


def get_judge(name: str = "rule", **options) -> Judge:
    """Build the judge registered as ``name`` (unknown names raise SmfaError listing known ones)."""
    return JUDGES.get(name)(**options)


def load_rubric(name: str) -> str:
    """Text of the rubric prompt ``smfa/resources/prompts/<name>.txt`` (``fact``/``meaningful``)."""
    if name not in RUBRICS:
        raise ValueError(f"unknown rubric {name!r}; known: {', '.join(RUBRICS)}")
    return (resources.files("smfa") / "resources" / "prompts" / f"{name}.txt").read_text("utf-8")


def fill_rubric(rubric: str, item: JudgeItem) -> str:
    """Fill ``$question $gold $keys $answer $attribute`` (values are inserted verbatim)."""
    keys = "; ".join(item.keys) if item.keys else item.gold
    text = Template(rubric).safe_substitute(
        question=item.question,
        gold=item.gold,
        keys=keys,
        answer=item.answer,
        attribute=item.attribute,
    )
    return text.rstrip()
