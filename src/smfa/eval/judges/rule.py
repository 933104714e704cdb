"""The ``rule`` judge: deterministic and offline (definitions: docs/metrics.md §6.1).

Fact: which key values the answer states, read by :mod:`mentions` (whole values, numbers by
value, the benchmark's synonyms; negated, hedged and off-topic mentions do not count);
Meaningful: 10 minus deductions for repetition, non-words and truncation.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Iterable, Sequence
from itertools import pairwise

from smfa.eval.judges import mentions
from smfa.eval.judges.base import Judge
from smfa.eval.judges.values import phrase
from smfa.eval.metrics import is_refusal, normalize_text, refusal_set
from smfa.registry import JUDGES

_WORD_RE = re.compile(r"\w+(?:'\w+)*")
_ANY_WORD_RE = re.compile(r"\w")
_FINAL_RE = re.compile(r"[.!?\u2026][\"'\u201d\u2019)\]]*\s*$")
_TRIPLE_RE = re.compile(r"(.)\1\1")
_VOWEL_RE = re.compile(r"[aeiouy]")
TRUNCATION_DEDUCTION = 3

# Vowelless tokens that are real words or common abbreviations.
VOWELLESS_OK = frozenset(
    "mr mrs ms dr st rd nd th jr sr hmm hm pm km kg cm mm ml lb lbs mg hrs tv pc cd dvd bbq "
    "nyc dj ft sq vs ct pt nw ne sw se".split()
)


def _round_half_up(x: float) -> int:
    return math.floor(x + 0.5)


def _ends_sentence(text: str) -> bool:
    return _FINAL_RE.search(text) is not None


@JUDGES.register("rule")
class RuleJudge(Judge):
    """Deterministic offline judge: stated key values for Fact, degeneracy deductions for
    Meaningful.

    ``refusal_pool``: the benchmark's refusal strings (exact members are refusals and score
    Meaningful 10); ``vocabulary``: optional set of known words for the non-word check (without
    it a vowel/letter-run heuristic is used). Definitions: docs/metrics.md §6.1.
    """

    name = "rule"

    def __init__(
        self,
        refusal_pool: Iterable[str] | None = None,
        vocabulary: Collection[str] | None = None,
    ):
        self.pool = refusal_set(refusal_pool) if refusal_pool else frozenset()
        self.vocabulary = frozenset(w.casefold() for w in vocabulary) if vocabulary else None

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
        """Return ``(fact, meaningful)`` as floats: Fact in [0, 10], Meaningful an integer 0..10."""
        return (
            self.fact(answer, gold, keys, values, question=question),
            float(self.meaningful(answer, gold, truncated=truncated)),
        )

    def fact(
        self,
        answer: str,
        gold: str,
        keys: Sequence[str],
        values: Sequence[str],
        *,
        question: str = "",
    ) -> float:
        """Fact score (docs/metrics.md §6.1): 10 × the share of key values the answer states
        (affirmed, whole values, numbers by value, synonyms of the benchmark vocabulary); 0 if
        it affirms another value of the attribute, or is a refusal that does not state them all.
        ``question`` (optional) tells which feature a one-word value describes."""
        key_list = tuple(k for k in keys if phrase(k)) or ((gold,) if phrase(gold) else ())
        if not key_list or not _ANY_WORD_RE.search(answer):
            return 0.0
        found = mentions.find(answer, key_list, tuple(values), question=question, gold=gold)
        affirmed = [m.owner for m in found if m.status == "affirmed"]
        if any(not (isinstance(o, tuple) and o and o[0] == "key") for o in affirmed):
            return 0.0  # another value of the attribute: a contradiction
        stated = {o[1] for o in affirmed}
        if len(stated) == len(key_list):
            return 10.0
        if is_refusal(answer, self.pool):
            return 0.0
        return 10.0 * len(stated) / len(key_list)

    def _is_nonword(self, word: str) -> bool:
        if len(word) == 1 or any(c.isdigit() for c in word):
            return False
        low = word.casefold()
        if self.vocabulary is not None:
            if low in self.vocabulary:
                return False
            return any(len(p) > 1 and p not in self.vocabulary for p in low.split("'"))
        for part in word.split("'"):
            if len(part) < 2 or not (part.isascii() and part.isalpha()):
                continue
            p = part.casefold()
            if _TRIPLE_RE.search(p):
                return True
            if not _VOWEL_RE.search(p) and p not in VOWELLESS_OK and not part.isupper():
                return True
        return False

    def meaningful(self, answer: str, gold: str, truncated: bool = False) -> int:
        """Meaningful score: 10 minus repetition, non-word and truncation deductions (>= 0)."""
        text = answer.replace("\u2019", "'").replace("\u2018", "'")
        words = _WORD_RE.findall(text)
        if not words:
            return 0
        if self.pool and normalize_text(answer) in self.pool:
            return 10
        low = [w.casefold() for w in words]
        stutter = sum(a == b for a, b in pairwise(low)) / (len(low) - 1) if len(low) > 1 else 0.0
        bigrams = list(pairwise(low))
        loops = 1.0 - len(set(bigrams)) / len(bigrams) if len(bigrams) > 1 else 0.0
        deduction = _round_half_up(10.0 * max(stutter, loops))
        if not is_refusal(answer, self.pool):
            nonwords = sum(self._is_nonword(w) for w in words) / len(words)
            deduction += _round_half_up(10.0 * nonwords)
            if (truncated or _ends_sentence(gold)) and not _ends_sentence(answer):
                deduction += TRUNCATION_DEDUCTION
        return max(0, 10 - deduction)
