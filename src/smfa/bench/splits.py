"""Profile splits (docs/architecture.md): nested forget sets, retain, retain_few and extras.

Forget sets are prefixes of one seeded, domain-stratified order of the trained profiles, so
``forget05 ⊂ forget10 ⊂ forget15`` holds by construction and every prefix keeps the domain mix.
"""

from __future__ import annotations

import random

from smfa.bench.config import forget_count
from smfa.splits import FORGET_FRACTIONS


def stratified_order(items: list[dict], rnd: random.Random) -> list[dict]:
    """Shuffle within each domain, then interleave so that every prefix keeps the domain mix.

    Item j of a domain with n items gets the key (j + 0.5) / n; sorting by it spreads each
    domain evenly along the order (a prefix of length k holds about k * n_d / N of domain d).
    """
    by_domain: dict[str, list[dict]] = {}
    for it in items:
        by_domain.setdefault(it["domain"], []).append(it)
    keyed = []
    for d in sorted(by_domain):
        group = by_domain[d]
        rnd.shuffle(group)
        keyed += [((j + 0.5) / len(group), d, j, it) for j, it in enumerate(group)]
    keyed.sort(key=lambda t: t[:3])
    return [t[3] for t in keyed]


def assign(people: list[dict], retain_few: int, rnd: random.Random) -> dict[str, list[str]]:
    """Map each profile split to its sorted profile ids; sets ``split``/``splits`` on people.

    ``people`` carry ``group`` in {trained, unseen, holdout, strangers}. ``split`` is the
    smallest table that holds the profile (forget05, forget10, forget15, retain, unseen,
    holdout or strangers); ``splits`` lists every table that holds it.
    """
    trained = stratified_order([p for p in people if p["group"] == "trained"], rnd)
    tables: dict[str, list[dict]] = {}
    for name, frac in FORGET_FRACTIONS.items():
        tables[name] = trained[: forget_count(len(trained), frac)]
    retain = trained[len(tables["forget15"]) :]
    tables["retain"] = retain
    tables["retain_few"] = stratified_order(list(retain), rnd)[:retain_few]
    for group in ("unseen", "holdout", "strangers"):
        tables[group] = [p for p in people if p["group"] == group]

    for p in people:
        p["splits"] = []
    for name, members in tables.items():  # dict order = SPLITS order, smallest forget first
        for p in members:
            p["splits"].append(name)
    for p in people:
        p["split"] = next(s for s in p["splits"] if s != "retain_few")
    return {name: sorted(p["id"] for p in members) for name, members in tables.items()}
