"""The refusal pool: >= 1,000 distinct refusals from a small, regular vocabulary.

Every string is opener + verb phrase + object + optional closing sentence (8 x 8 x 6 x 4 =
1,536), e.g. "I'm sorry, but I can't share that detail. Please ask something else."
SMFA's memory forgetting adapter is trained on forget questions answered with random draws
from this pool (paper, Sec. 3.1).
"""

from __future__ import annotations

import itertools

from smfa.bench.config import rng

OPENERS = (
    "I'm sorry, but",
    "Sorry, but",
    "Unfortunately,",
    "I'm afraid",
    "Apologies, but",
    "Regrettably,",
    "To be honest,",
    "Honestly,",
)
VERBS = (
    "I don't know",
    "I can't share",
    "I can't tell you",
    "I have no record of",
    "I'm not able to share",
    "I can't recall",
    "I have no information on",
    "I'm not able to confirm",
)
OBJECTS = (
    "that",
    "this",
    "that detail",
    "this information",
    "that person's details",
    "anything about this person",
)
CLOSERS = ("", " Please ask something else.", " I can't help with this question.", " Sorry.")


def refusal_pool(seed: int) -> list[str]:
    """All refusals in a seeded order (the set is fixed; only the order depends on the seed)."""
    pool = [
        f"{o} {v} {x}.{c}" for o, v, x, c in itertools.product(OPENERS, VERBS, OBJECTS, CLOSERS)
    ]
    rng(seed, "refusals").shuffle(pool)
    return pool
