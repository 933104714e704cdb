"""Evaluation metrics as pure functions (definitions: ``docs/metrics.md``).

Text metrics (ROUGE-L, refusal detection), likelihood metrics (multiple-choice accuracy, TOFU's
truth ratio and forget quality) and the aggregates of the paper's main table (arXiv 2511.20196:
Forget/Retain I-Und, I-Mem, Overall Memory, Meaningful) plus Model Utility. Every function takes
plain numbers (per-token mean log-probs computed by the eval runner) and returns Python floats.
Which of them each record holds is :mod:`smfa.eval.per_sample`; the per-split summary of the
records is :mod:`smfa.eval.summary`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Iterable, Sequence
from functools import lru_cache

import numpy as np

MEMORY_QTYPES = ("image_memory", "text_memory")
UNDERSTANDING_QTYPE = "understanding"

# --------------------------------------------------------------------------------------------
# ROUGE-L


@lru_cache(maxsize=1)
def _rouge_scorer():
    from rouge_score import rouge_scorer

    # No stemming (docs/metrics.md §1): deterministic, needs no NLTK data.
    return rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)


def rouge_l(prediction: str, reference: str) -> float:
    """ROUGE-L F-measure of ``prediction`` against ``reference``, in [0, 1].

    LCS-based: ``P = LCS/|pred|``, ``R = LCS/|ref|``, ``F = 2PR/(P+R)`` on the ``rouge-score``
    default tokens (lowercase ``[a-z0-9]+`` runs), no stemming; 0 when either side is empty.
    """
    return float(_rouge_scorer().score(reference, prediction)["rougeL"].fmeasure)


# --------------------------------------------------------------------------------------------
# Refusals

# Matched at word boundaries on the normalised text (casefold, ’ -> ', whitespace collapsed).
REFUSAL_PATTERNS = (
    r"(?:don't|dont|do not|does not|doesn't) know",
    r"can't|cant|cannot|can not|couldn't|could not",
    r"not able to|unable to",
    r"sorry",
    r"no (?:information|info|records?|details|data|knowledge)",
    r"not aware",
    r"not sure",
    r"no idea",
    r"(?:don't|do not) have",
    r"(?:won't|will not|not|never) (?:share|disclose|reveal|provide)",
    r"not privy",
    r"decline",
    r"rather not",
    r"not at liberty",
)
_REFUSAL_RE = re.compile(r"\b(?:" + "|".join(REFUSAL_PATTERNS) + r")\b")


def normalize_text(text: str) -> str:
    """Casefold, map typographic apostrophes to ``'``, collapse whitespace, strip."""
    return " ".join(text.replace("\u2019", "'").replace("\u2018", "'").casefold().split())


def refusal_set(pool: Iterable[str]) -> frozenset[str]:
    """Normalise a refusal pool once (pass the result to :func:`is_refusal` in loops)."""
    return frozenset(normalize_text(s) for s in pool)


_last_pool: tuple = (None, -1, frozenset())  # (pool object, its length, normalised set)


def _normalized_pool(pool: Collection[str]) -> frozenset[str]:
    # A frozenset is taken as already normalised; other collections are normalised once and
    # memoised (the last one, by identity and length), so a loop over answers stays cheap.
    global _last_pool
    if isinstance(pool, frozenset):
        return pool
    last = _last_pool
    if last[0] is not pool or last[1] != len(pool):
        last = _last_pool = (pool, len(pool), refusal_set(pool))
    return last[2]


def is_refusal(text: str, refusal_pool: Collection[str] | None = None) -> bool:
    """True if ``text`` is a refusal: a member of the pool, or contains a refusal phrase.

    ``refusal_pool`` may be any collection of strings; a ``frozenset`` is taken as already
    normalised (from :func:`refusal_set`). Empty text is not a refusal.
    """
    norm = normalize_text(text)
    if not norm:
        return False
    if refusal_pool:
        if norm in _normalized_pool(refusal_pool):
            return True
    return _REFUSAL_RE.search(norm) is not None


def refusal_rate(texts: Sequence[str], refusal_pool: Collection[str] | None = None) -> float:
    """Fraction of ``texts`` that are refusals (:func:`is_refusal`)."""
    if not texts:
        raise ValueError("refusal_rate: no texts")
    pool = refusal_set(refusal_pool) if refusal_pool else None
    return float(np.mean([is_refusal(t, pool) for t in texts]))


# --------------------------------------------------------------------------------------------
# Multiple choice


def mc_correct(option_scores: Sequence[float], answer_index: int) -> float:
    """Credit for one multiple-choice question scored by per-token mean log-prob per option.

    ``1/|M|`` if the gold option is among the ``M`` options with the maximal score, else 0
    (the expected accuracy of random tie-breaking).
    """
    s = np.asarray(option_scores, dtype=np.float64)
    if s.ndim != 1 or s.size == 0 or not 0 <= answer_index < s.size:
        raise ValueError(f"mc_correct: bad scores {list(s)} or answer_index {answer_index}")
    top = s == s.max()
    return float(1.0 / top.sum()) if top[answer_index] else 0.0


def mc_accuracy(option_logprobs: Sequence[Sequence[float]], answer_index: Sequence[int]) -> float:
    """Mean :func:`mc_correct` over questions.

    ``option_logprobs[i][j]`` is the per-token mean log-prob of option ``j`` of question ``i``
    (length-normalised); ``answer_index[i]`` the gold option.
    """
    if len(option_logprobs) != len(answer_index) or not option_logprobs:
        raise ValueError("mc_accuracy: need as many answer indices as questions (and >= 1)")
    return float(
        np.mean([mc_correct(s, a) for s, a in zip(option_logprobs, answer_index, strict=True)])
    )


# --------------------------------------------------------------------------------------------
# Truth ratio and forget quality (TOFU, Maini et al. 2024, §2.5.1)


def truth_ratio(
    logp_paraphrased_gold: float | np.ndarray,
    logp_perturbed: Sequence[float] | np.ndarray,
    mean: str = "geometric",
) -> float | np.ndarray:
    """TOFU's truth ratio ``R`` = P̃(perturbed) / P̃(paraphrased gold), per question.

    Inputs are per-token mean log-probs: ``logp_paraphrased_gold`` shape ``[]`` or ``[N]``,
    ``logp_perturbed`` shape ``[P]`` or ``[N, P]``. ``mean="geometric"`` (default, TOFU's code):
    ``exp(mean_j lp_j - lp_gold)``; ``mean="arithmetic"`` (TOFU's paper formula):
    ``mean_j exp(lp_j) / exp(lp_gold)``. Returns a float for one question, else an array ``[N]``.
    """
    gold = np.asarray(logp_paraphrased_gold, dtype=np.float64)
    pert = np.asarray(logp_perturbed, dtype=np.float64)
    if pert.ndim != gold.ndim + 1 or pert.shape[:-1] != gold.shape or pert.shape[-1] == 0:
        raise ValueError(
            f"truth_ratio: perturbed shape {pert.shape} does not match gold shape {gold.shape}"
        )
    if mean == "geometric":
        r = np.exp(pert.mean(axis=-1) - gold)
    elif mean == "arithmetic":
        r = np.exp(pert - gold[..., None]).mean(axis=-1)
    else:
        raise ValueError(f"truth_ratio: mean must be 'geometric' or 'arithmetic', got {mean!r}")
    return float(r) if r.ndim == 0 else r


def truth_ratio_stat(ratios: Sequence[float] | np.ndarray, forget: bool) -> float:
    """Reported truth-ratio value of a group of questions (TOFU / open-unlearning conventions).

    ``forget=True``: ``mean(min(R, 1/R))`` (closer to 1 is better); otherwise
    ``mean(max(0, 1 - R))`` (higher is better).
    """
    r = np.asarray(ratios, dtype=np.float64)
    if r.size == 0:
        raise ValueError("truth_ratio_stat: no ratios")
    if forget:
        with np.errstate(divide="ignore"):
            return float(np.mean(np.minimum(r, 1.0 / r)))
    return float(np.mean(np.maximum(0.0, 1.0 - r)))


def forget_quality(tr_model: Sequence[float], tr_retain_only: Sequence[float]) -> float:
    """TOFU forget quality: two-sided two-sample KS p-value between raw truth-ratio samples.

    ``tr_model`` / ``tr_retain_only``: the raw ``R`` of the evaluated model and the retain-only
    model on the forget set (``scipy.stats.ks_2samp``, default method).
    """
    from scipy.stats import ks_2samp

    a = np.asarray(tr_model, dtype=np.float64)
    b = np.asarray(tr_retain_only, dtype=np.float64)
    if a.size == 0 or b.size == 0:
        raise ValueError("forget_quality: both truth-ratio samples must be non-empty")
    return float(ks_2samp(a, b, alternative="two-sided").pvalue)


# --------------------------------------------------------------------------------------------
# Aggregates (paper's main table + model utility)


def overall_image_understanding(forget_und: float, retain_und: float) -> float:
    """Overall Image Understanding = mean(forget understanding, retain understanding)."""
    return (forget_und + retain_und) / 2.0


def overall_memory(retain_mem: float, forget_mem: float) -> float:
    """Overall Memory = retain memory − forget memory (our definition; higher is better)."""
    return retain_mem - forget_mem


def overall_meaningful(scores: Sequence[float]) -> float:
    """Overall Meaningful = mean Meaningful score."""
    if len(scores) == 0:
        raise ValueError("overall_meaningful: no scores")
    return float(np.mean(np.asarray(scores, dtype=np.float64)))


def harmonic_mean(values: Sequence[float]) -> float:
    """Harmonic mean ``n / Σ 1/x``; 0 if any value is 0. Values must be >= 0."""
    v = [float(x) for x in values]
    if not v or any(x < 0 or math.isnan(x) for x in v):
        raise ValueError(f"harmonic_mean: need non-negative values, got {v}")
    if any(x == 0 for x in v):
        return 0.0
    return len(v) / sum(1.0 / x for x in v)


def model_utility(retain_mem: float, understanding: float, scenes: float) -> float:
    """Model Utility = harmonic mean of (retain memory, overall understanding, scenes score)."""
    return harmonic_mean([retain_mem, understanding, scenes])
