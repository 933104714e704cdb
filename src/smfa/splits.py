"""Split names, defined once: the benchmark's tables, the forget sets, the evaluated splits.

Every stage that takes a ``--forget`` or ``--splits`` argument checks it here, so the names and
the error message are the same everywhere.
"""

from __future__ import annotations

from smfa.errors import SmfaError

#: Forget sets and the share of trained profiles each holds (nested: 05 ⊂ 10 ⊂ 15).
FORGET_FRACTIONS = {"forget05": 0.05, "forget10": 0.10, "forget15": 0.15}
FORGET_SPLITS = tuple(FORGET_FRACTIONS)
#: Every table of a benchmark, in the order of the dataset card.
SPLITS = (
    *FORGET_SPLITS,
    "retain",
    "retain_few",
    "unseen",
    "holdout",
    "strangers",
    "scenes_train",
    "scenes_eval",
)
PROFILE_SPLITS = SPLITS[:8]
SCENE_SPLITS = SPLITS[8:]
#: Splits ``smfa eval`` evaluates; ``forget`` stands for the chosen forget set.
EVAL_SPLITS = ("forget", "retain", "unseen", "holdout", "scenes_eval")


def check_forget(name: str, option: str = "--forget") -> str:
    """``name`` if it is a forget split, else :class:`SmfaError` naming ``option``."""
    if name not in FORGET_SPLITS:
        raise SmfaError(f"{option} {name}: must be one of {', '.join(FORGET_SPLITS)}")
    return name


def check_eval_splits(names, option: str = "--splits") -> list[str]:
    """The evaluated splits (default: all), each checked against :data:`EVAL_SPLITS`."""
    names = list(names or EVAL_SPLITS)
    bad = [s for s in names if s not in EVAL_SPLITS]
    if bad:
        raise SmfaError(f"{option} {bad[0]}: unknown split (known: {', '.join(EVAL_SPLITS)})")
    return names
