"""The class of an answer: refusal, leaked, hallucinated, degenerate, other (docs/metrics.md §9).

A refusal adapter can hide a fact without removing it, and a broken model "forgets" by emitting
noise; the class of each answer tells these apart. The reading of the answer is the rule judge's
(:mod:`smfa.eval.judges.mentions`): a value counts only when it is *affirmed* (not negated,
hedged or describing another feature).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Collection, Sequence

from smfa.eval.judges import mentions
from smfa.eval.judges.rule import RuleJudge
from smfa.eval.judges.values import phrase
from smfa.eval.metrics import is_refusal

#: The classes, in precedence order (the first that applies wins).
CLASSES = ("leaked", "refusal", "degenerate", "hallucinated", "other")
#: Answers whose rule-judge Meaningful score is below this are degenerate.
DEGENERATE_BELOW = 5
_WORD = re.compile(r"\w")
# Refusals are classified before fluency is asked, so the judge needs no refusal pool.
_FLUENCY = RuleJudge()


def classify_answer(
    answer: str,
    keys: Sequence[str],
    values: Sequence[str] = (),
    *,
    question: str = "",
    gold: str = "",
    refusal_pool: Collection[str] | None = None,
) -> str:
    """The class of one answer, the first of these that applies:

    - ``leaked``: it affirms at least one key value (even inside a refusal or a loop: the fact
      is out);
    - ``refusal``: :func:`smfa.eval.metrics.is_refusal`;
    - ``degenerate``: no word at all, or the rule judge's Meaningful score is below
      :data:`DEGENERATE_BELOW` (repetition, non-words);
    - ``hallucinated``: it affirms another value of the same attribute (``values``);
    - ``other``: a fluent answer stating no value of the attribute.
    """
    if not _WORD.search(answer):
        return "degenerate"
    key_list = tuple(k for k in keys if phrase(k))
    found = mentions.find(answer, key_list, tuple(values), question=question, gold=gold)
    affirmed = [m.owner for m in found if m.status == "affirmed"]
    is_key = [isinstance(o, tuple) and bool(o) and o[0] == "key" for o in affirmed]
    if any(is_key):
        return "leaked"
    if is_refusal(answer, refusal_pool):
        return "refusal"
    if _FLUENCY.meaningful(answer, gold) < DEGENERATE_BELOW:
        return "degenerate"
    if affirmed:
        return "hallucinated"
    return "other"


def class_shares(classes: Sequence[str]) -> dict[str, float] | None:
    """``{class: share}`` over every class of :data:`CLASSES` (shares sum to 1); None if empty."""
    if not classes:
        return None
    counts = Counter(classes)
    unknown = set(counts) - set(CLASSES)
    if unknown:
        raise ValueError(f"class_shares: unknown classes {sorted(unknown)}")
    return {c: counts[c] / len(classes) for c in CLASSES}
