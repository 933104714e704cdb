"""The PRE-CHANGE rule-judge Fact algorithm (per-token key matching), kept ONLY so that
tests/test_judge_golden.py can show where it differs from the current judge on the golden file.
Not used by smfa; do not import it from src/. Copied verbatim from
src/smfa/eval/judges/rule.py before issue 13 (item 5) replaced it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from smfa.eval.metrics import is_refusal, normalize_text

_TOKEN_RE = re.compile(r"\w+(?:[+\-](?!\w))?")


def _tokens(text: str) -> list[str]:
    return _TOKEN_RE.findall(normalize_text(text))


def _spans(hay: Sequence[str], needle: Sequence[str]) -> list[tuple[int, int]]:
    n = len(needle)
    return [(i, i + n) for i in range(len(hay) - n + 1) if tuple(hay[i : i + n]) == tuple(needle)]


def _inside(inner: tuple[int, int], outer: tuple[int, int]) -> bool:
    return outer[0] <= inner[0] and inner[1] <= outer[1]


def legacy_fact(
    answer: str, gold: str, keys: Sequence[str], values: Sequence[str], pool=frozenset()
) -> float:
    """Fact score: all keys stated → 10; refusal or a different value → 0; else key recall."""
    toks = _tokens(answer)
    if not toks:
        return 0.0
    key_toks = [t for t in (_tokens(k) for k in keys) if t] or [t for t in [_tokens(gold)] if t]
    if not key_toks:
        return 0.0
    value_toks = {tuple(t) for t in (_tokens(v) for v in values) if t} - {
        tuple(k) for k in key_toks
    }
    present = set(toks)

    credits, full, contradicted = [], [], False
    for key in key_toks:
        other_spans = [s for v in value_toks for s in _spans(toks, v)]
        valid = [
            g
            for g in _spans(toks, key)
            if not any(_inside(g, o) and o[1] - o[0] > g[1] - g[0] for o in other_spans)
        ]
        full.append(bool(valid))
        if valid:
            credits.append(1.0)
            continue
        if other_spans:
            contradicted = True
        distinct = set(key)
        credits.append(len(distinct & present) / len(distinct))

    if all(full):
        return 10.0
    if is_refusal(answer, pool) or contradicted:
        return 0.0
    return 10.0 * sum(credits) / len(credits)
