"""Fictitious people (portraits) and patients (fundus photos): names, visible features, facts.

Every profile gets a unique name, and every portrait a unique combination of visible features
(so no two portraits look alike); fundus images get unique combinations while the feature space
allows (384), and always differ by their seeded lesion and vessel layout.
"""

from __future__ import annotations

import itertools
import random

from smfa.bench import splits, vocab
from smfa.bench.config import BenchConfig, rng, round_half_up

VISIBLE = {
    "faces": {
        "hair_color": vocab.HAIR_COLORS,
        "eye_color": vocab.EYE_COLORS,
        "skin_tone": vocab.SKIN_TONES,
        "glasses": vocab.GLASSES,
        "hat": vocab.HATS,
        "clothing_color": vocab.CLOTHING_COLORS,
        "background_color": vocab.BACKGROUND_COLORS,
    },
    "fundus": {
        "lesion_count": vocab.LESION_COUNTS,
        "lesion_color": vocab.LESION_COLORS,
        "disc_side": vocab.DISC_SIDES,
        "vessel_density": vocab.VESSEL_DENSITIES,
    },
}

_ADDRESSES = tuple(f"{n} {s} Street" for s in vocab.STREETS for n in vocab.HOUSE_NUMBERS)
_PHYSICIANS = tuple(f"Dr. {last}" for last in vocab.LAST_NAMES)

PRIVATE = {
    "faces": {
        "birth_year": vocab.BIRTH_YEARS,
        "birthplace": vocab.CITIES,
        "home_address": _ADDRESSES,
        "occupation": vocab.OCCUPATIONS,
        "employer": vocab.EMPLOYERS,
        "salary": vocab.SALARIES,
        "medical_condition": vocab.MEDICAL_CONDITIONS,
        "hobby": vocab.HOBBIES,
    },
    "fundus": {
        "birth_year": vocab.BIRTH_YEARS,
        "birthplace": vocab.CITIES,
        "diagnosis": vocab.DIAGNOSES,
        "medication": vocab.MEDICATIONS,
        "blood_type": vocab.BLOOD_TYPES,
        "physician": _PHYSICIANS,
    },
}


def domain_counts(n: int, cfg: BenchConfig) -> dict[str, int]:
    """Split a group of n profiles between the enabled domains."""
    if cfg.domains == ("fundus",):
        return {"fundus": n}
    if "fundus" not in cfg.domains:
        return {"faces": n}
    fundus = round_half_up(n * cfg.fundus_fraction)
    return {"faces": n - fundus, "fundus": fundus}


def _visible(domain: str, combo: tuple) -> bool:
    """A look is valid when every feature shows: hair and clothes differ from the background."""
    if domain != "faces":
        return True
    v = dict(zip(VISIBLE[domain], combo, strict=True))
    return v["background_color"] not in (v["hair_color"], v["clothing_color"])


def look_space(domain: str) -> list[tuple]:
    """Every valid combination of visible features of a domain."""
    combos = itertools.product(*VISIBLE[domain].values())
    return [c for c in combos if _visible(domain, c)]


def _unique_visible(domain: str, n: int, rnd: random.Random) -> list[dict]:
    space = VISIBLE[domain]
    names = list(space)
    size = len(look_space(domain))
    combos: list[tuple] = []
    if domain == "faces" or n <= size:
        if n > size // 4:  # dense: enumerate and sample
            combos = rnd.sample(look_space(domain), n)
        else:  # sparse: rejection sampling is cheap
            seen: set[tuple] = set()
            while len(combos) < n:
                c = tuple(rnd.choice(space[k]) for k in names)
                if c not in seen and _visible(domain, c):
                    seen.add(c)
                    combos.append(c)
    else:  # more fundus patients than combinations: repeat, the layout still differs
        combos = [tuple(rnd.choice(space[k]) for k in names) for _ in range(n)]
    return [dict(zip(names, c, strict=True)) for c in combos]


def make_people(cfg: BenchConfig) -> tuple[list[dict], dict[str, list[str]]]:
    """All profiles (sorted by id, with split fields) and the profile ids of each split."""
    groups = {
        "trained": cfg.profiles,
        "unseen": cfg.unseen,
        "holdout": cfg.holdout,
        "strangers": cfg.strangers,
    }
    slots = [
        (group, domain)
        for group, n in groups.items()
        for domain, k in domain_counts(n, cfg).items()
        for _ in range(k)
    ]
    n_faces = sum(d == "faces" for _, d in slots)
    face_space = len(look_space("faces"))
    if n_faces > face_space:
        raise ValueError(f"profiles: {n_faces} portraits exceed {face_space} distinct looks")

    r = rng(cfg.seed, "people")
    n_last = len(vocab.LAST_NAMES)
    name_idx = r.sample(range(len(vocab.FIRST_NAMES) * n_last), len(slots))
    names = [f"{vocab.FIRST_NAMES[i // n_last]} {vocab.LAST_NAMES[i % n_last]}" for i in name_idx]
    looks = {d: iter(_unique_visible(d, sum(s[1] == d for s in slots), r)) for d in VISIBLE}
    order = list(range(len(slots)))
    r.shuffle(order)  # ids carry no hint of the split

    people = []
    for pid, i in enumerate(order):
        group, domain = slots[i]
        private = {k: r.choice(v) for k, v in PRIVATE[domain].items()}
        people.append(
            {
                "id": f"p{pid:04d}",
                "domain": domain,
                "name": names[i],
                "group": group,
                "visible": next(looks[domain]),
                "private": private,
                "image": f"images/{domain}/p{pid:04d}.png",
            }
        )
    table = splits.assign(people, cfg.retain_few, rng(cfg.seed, "splits"))
    for p in people:
        del p["group"]
    return people, table
