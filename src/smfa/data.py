"""Benchmark rows → training samples (the data each stage trains on).

A :class:`Sample` is one (image or none, question, answer) triple. Which rows and which answers
each stage uses is decided here and nowhere else:

- original model: every question of the trained profiles (forget15 ∪ retain), the strangers'
  questions answered with refusals, and ``scenes_train`` — every training phrasing;
- retain-only model: the same recipe without the profiles of the excluded split;
- MFA (SMFA eq. 1, ``idk``): forget-set memory questions (image and text views) answered with a
  refusal drawn from the pool, plus ``retain_few`` with the real answers;
- RA (SMFA eq. 2): ``retain_few`` alone.

Understanding questions of forget profiles keep their real answers everywhere: the paper asks
the model to forget the private facts, not what it sees.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from typing import NamedTuple

MEMORY_QTYPES = ("image_memory", "text_memory")
PROFILE_QTYPES = ("image_memory", "text_memory", "understanding")
TRAINED_SPLITS = ("forget15", "retain", "strangers", "scenes_train")


class Sample(NamedTuple):
    """One training or evaluation sample; ``image`` is an absolute path or None."""

    image: str | None
    question: str
    answer: str


def _image(bench, row: dict) -> str | None:
    path = bench.image_path(row)
    return str(path) if path is not None else None


def samples_from_rows(
    bench,
    rows: Iterable[dict],
    answers: str = "gold",
    refusals: Sequence[str] = (),
    rng: random.Random | None = None,
    all_phrasings: bool = True,
) -> list[Sample]:
    """Expand rows into samples, one per training phrasing (or only the canonical one).

    ``answers="gold"`` keeps each row's answer; ``answers="refusal"`` draws a refusal from
    ``refusals`` with ``rng`` for every sample (a fresh draw per phrasing).
    """
    if answers not in ("gold", "refusal"):
        raise ValueError(f"answers={answers!r}: must be 'gold' or 'refusal'")
    if answers == "refusal" and (not refusals or rng is None):
        raise ValueError("answers='refusal' needs a refusal pool and an rng")
    out = []
    for row in rows:
        questions = row["phrasings"] if all_phrasings else [row["question"]]
        for q in questions:
            a = rng.choice(refusals) if answers == "refusal" else row["answer"]
            out.append(Sample(_image(bench, row), q, a))
    return out


def profile_ids(bench, split: str) -> set[str]:
    """The subject ids of a split's rows."""
    return {r["subject_id"] for r in bench.split(split)}


def original_samples(bench, exclude: str | None = None) -> list[Sample]:
    """Training data of the original model, or of the retain-only model with ``exclude``."""
    drop = profile_ids(bench, exclude) if exclude else set()
    rows = [
        r for split in TRAINED_SPLITS for r in bench.split(split) if r["subject_id"] not in drop
    ]
    return samples_from_rows(bench, rows)


def forget_rows(bench, forget: str, qtypes: Sequence[str] = MEMORY_QTYPES) -> list[dict]:
    """The forget split's rows of the given question types."""
    return [r for r in bench.split(forget) if r["qtype"] in qtypes]


def retain_few_samples(bench, size: int | None = None, seed: int = 0) -> list[Sample]:
    """D_r^few with real answers, every question type (the retaining anchor's data).

    ``size=None`` uses the bench's ``retain_few`` split; a number re-samples that many retain
    profiles with ``seed``.
    """
    if size is None:
        return samples_from_rows(bench, bench.split("retain_few"))
    rows = bench.split("retain")
    ids = sorted({r["subject_id"] for r in rows})
    if not 1 <= size <= len(ids):
        raise ValueError(f"retain_few={size}: must be in [1, {len(ids)}]")
    keep = set(random.Random(seed).sample(ids, size))
    return samples_from_rows(bench, [r for r in rows if r["subject_id"] in keep])


def refusal_samples(bench, forget: str, seed: int, views: Sequence[str] = MEMORY_QTYPES):
    """Forget memory questions of the given views paired with refusals from the pool (D_f^idk)."""
    rng = random.Random(seed)
    rows = forget_rows(bench, forget, views)
    return samples_from_rows(bench, rows, answers="refusal", refusals=bench.refusals(), rng=rng)


def gold_forget_samples(bench, forget: str, views: Sequence[str] = MEMORY_QTYPES) -> list[Sample]:
    """Forget memory questions with their real answers (ascent targets, task vectors)."""
    return samples_from_rows(bench, forget_rows(bench, forget, views))


class ImageCache:
    """Opens each image file once (RGB); ``cache(None)`` is None (a text-only question)."""

    def __init__(self):
        self._cache = {}

    def __call__(self, path: str | None):
        if path is None:
            return None
        if path not in self._cache:
            from PIL import Image

            with Image.open(path) as im:
                self._cache[path] = im.convert("RGB")
        return self._cache[path]

    def of(self, bench, row: dict):
        """The image of a benchmark row (question or profile), or None for text-only rows."""
        path = bench.image_path(row)
        return self(str(path)) if path is not None else None
