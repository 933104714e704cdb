"""Typed configuration of a generated benchmark (every field is recorded in manifest.json)."""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass

from smfa.bench import vocab
from smfa.splits import FORGET_FRACTIONS, PROFILE_SPLITS, SCENE_SPLITS, SPLITS  # noqa: F401

DOMAINS = ("faces", "fundus")


def round_half_up(x: float) -> int:
    return int(x + 0.5)


def forget_count(profiles: int, fraction: float) -> int:
    """Number of forget profiles for a forget fraction (at least 1)."""
    return max(1, round_half_up(fraction * profiles))


def rng(seed: int, *parts: object) -> random.Random:
    """An independent, reproducible random stream for one purpose (``parts`` name it).

    ``random.Random`` seeded with a str is stable across runs and platforms (it hashes the
    string with SHA-512), so adding a stream never shifts the values of another one.
    """
    return random.Random(":".join([str(seed), *map(str, parts)]))


@dataclass
class BenchConfig:
    """What to generate. Counts are numbers of profiles unless noted."""

    profiles: int = 200
    """Trained profiles (forget15 + retain); forget05/10/15 are 5/10/15% of them."""
    seed: int = 0
    """One seed for everything: same seed, same bytes."""
    image_size: int = 64
    """Side of every square PNG, in pixels."""
    domains: tuple[str, ...] = ("faces", "fundus")
    """Profile image domains: portraits (``faces``) and retinal photos (``fundus``)."""
    fundus_fraction: float = 0.2
    """Share of fundus patients among profiles of every split when both domains are on."""
    scenes_train: int = 500
    """Number of general scenes for training (shapes with VQA)."""
    scenes_eval: int = 100
    """Number of general scenes for evaluation (never trained)."""
    unseen: int | None = None
    """Never-trained portraits, understanding questions only; None = max(4, profiles // 10)."""
    holdout: int | None = None
    """Never-trained profiles with every question type; None = max(4, profiles // 10)."""
    strangers: int | None = None
    """Profiles trained to be refused (memory questions answered from the refusal pool);
    None = max(4, profiles // 10)."""
    retain_few: int | None = None
    """Size of the retain sample D_r^few used by SMFA; None = 5% of retain, at least 4."""

    def __post_init__(self):
        self.domains = tuple(self.domains)
        if not self.domains or len(set(self.domains)) != len(self.domains):
            raise ValueError(f"domains: expected distinct values of {DOMAINS}, got {self.domains}")
        for d in self.domains:
            if d not in DOMAINS:
                raise ValueError(f"domains: unknown domain {d!r} (known: {', '.join(DOMAINS)})")
        _check_int("profiles", self.profiles, 10)
        _check_int("seed", self.seed, 0)
        _check_int("image_size", self.image_size, 32, 1024)
        if not 0.0 <= float(self.fundus_fraction) < 1.0:
            raise ValueError(
                f"fundus_fraction: expected 0 <= value < 1, got {self.fundus_fraction}"
            )
        _check_int("scenes_train", self.scenes_train, 1)
        _check_int("scenes_eval", self.scenes_eval, 1)
        default_extra = max(4, self.profiles // 10)
        for name in ("unseen", "holdout", "strangers"):
            if getattr(self, name) is None:
                setattr(self, name, default_extra)
            _check_int(name, getattr(self, name), 1)
        n_retain = self.profiles - forget_count(self.profiles, FORGET_FRACTIONS["forget15"])
        if self.retain_few is None:
            self.retain_few = max(4, round_half_up(0.05 * n_retain))
        _check_int("retain_few", self.retain_few, 1, n_retain)
        capacity = len(vocab.FIRST_NAMES) * len(vocab.LAST_NAMES)
        if self.total_profiles > capacity:
            raise ValueError(
                f"profiles: {self.total_profiles} profiles in all splits exceed the "
                f"{capacity} unique names the pools can make"
            )

    @property
    def total_profiles(self) -> int:
        """Every person and patient, trained or not."""
        return self.profiles + self.unseen + self.holdout + self.strangers

    def to_dict(self) -> dict:
        d = asdict(self)
        d["domains"] = list(self.domains)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> BenchConfig:
        """Build from a plain dict (a YAML file); unknown keys raise ValueError naming them."""
        unknown = sorted(set(d) - set(cls.__dataclass_fields__))
        if unknown:
            raise ValueError(f"{unknown[0]}: unknown BenchConfig field")
        return cls(**d)


def _check_int(name: str, value, lo: int, hi: int | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name}: expected an integer, got {value!r}")
    if value < lo or (hi is not None and value > hi):
        rng_txt = f">= {lo}" if hi is None else f"in [{lo}, {hi}]"
        raise ValueError(f"{name}: expected a value {rng_txt}, got {value}")
