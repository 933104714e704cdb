"""The interface of an attack on forgetting (docs/metrics.md §10).

An attack gets a :class:`Target` (a loaded model, its processor, the benchmark, the forget
questions it attacks and their images) and either

- rewrites what the model is asked, or changes the model (``kind = "inputs"``):
  :meth:`Attack.apply` returns :class:`Attacked` rows/questions/images and optionally a changed
  copy of the model; the suite answers them and compares Fact Score and leak rate with the
  unattacked answers to the same rows; or
- measures the model directly (``kind = "probe"``: logit lens, membership inference):
  :meth:`Attack.measure` returns a :class:`Probe` with an unattacked and an attacked value.

Adding an attack is one decorated class in a new module of this package::

    @ATTACKS.register("my_attack")
    class MyAttack(Attack):
        def apply(self, t): ...
"""

from __future__ import annotations

import random
import zlib
from dataclasses import dataclass, field


@dataclass
class Target:
    """What an attack works on. ``rows``: forget-set memory questions; ``images[i]``: the PIL
    image of ``rows[i]`` or None; ``full``: the full suite (every template, more steps)."""

    net: object
    processor: object
    bench: object
    rows: list[dict]
    images: list
    seed: int = 0
    full: bool = False
    options: dict = field(default_factory=dict)


@dataclass
class Attacked:
    """Attacked inputs: ``questions[i]`` / ``images[i]`` replace those of ``rows[i]``; ``net``
    (if not None) is a changed copy of the model. ``best_of``: the attacker keeps, per row, the
    better of the unattacked and the attacked answer (an extra view of the same fact)."""

    rows: list[dict]
    questions: list[str]
    images: list
    net: object = None
    best_of: bool = False
    details: dict = field(default_factory=dict)


@dataclass
class Probe:
    """A measured attack: ``unattacked`` / ``attacked`` share in [0, 1] (higher = more of the
    fact recoverable) over ``n`` questions, plus attack-specific ``details``."""

    unattacked: float | None
    attacked: float | None
    n: int
    details: dict = field(default_factory=dict)


class Attack:
    """Base class; see the module docstring. ``default``: part of the default (cheap) suite."""

    kind = "inputs"
    default = True
    title = ""

    def apply(self, t: Target) -> Attacked:  # pragma: no cover - interface
        raise NotImplementedError

    def measure(self, t: Target) -> Probe:  # pragma: no cover - interface
        raise NotImplementedError


def row_rng(seed: int, name: str, row: dict) -> random.Random:
    """A generator seeded by (seed, attack name, row id): the same attack gives the same
    rewrite of the same question whatever else is in the batch."""
    return random.Random(zlib.crc32(f"{seed}/{name}/{row['id']}".encode()))


def unchanged(t: Target, rows: list[dict] | None = None) -> Attacked:
    """The target's rows as they are (the starting point of attacks that change the model)."""
    rows = t.rows if rows is None else rows
    index = {id(r): i for i, r in enumerate(t.rows)}
    return Attacked(rows, [r["question"] for r in rows], [t.images[index[id(r)]] for r in rows])
