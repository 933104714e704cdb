"""Read a benchmark folder: `load(dir) -> Bench` (plain rows) and `load_hf(dir)` (datasets)."""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path

from PIL import Image

from smfa.bench.config import SPLITS
from smfa.errors import SmfaError
from smfa.io import read_json, read_jsonl


class Bench:
    """A benchmark folder on disk (docs/architecture.md). Tables are read on first use."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        if not self.root.is_dir():
            raise SmfaError(f"{self.root}: benchmark folder not found")
        self.manifest: dict = read_json(self.root / "manifest.json")
        self._tables: dict[str, list[dict]] = {}

    @property
    def splits(self) -> tuple[str, ...]:
        """Names of the question tables."""
        return SPLITS

    def split(self, name: str) -> list[dict]:
        """Rows of one question table (``forget05``, ``retain``, ``scenes_eval``, ...)."""
        if name not in SPLITS:
            raise SmfaError(f"unknown split {name!r}; known splits: {', '.join(SPLITS)}")
        if name not in self._tables:
            self._tables[name] = read_jsonl(self.root / "data" / f"{name}.jsonl")
        return self._tables[name]

    def profiles(self) -> list[dict]:
        """One row per person or patient, sorted by id."""
        return self._profiles

    @cached_property
    def _profiles(self) -> list[dict]:
        return read_jsonl(self.root / "profiles.jsonl")

    def profile(self, key: str) -> dict:
        """A profile by id (``p0007``) or by name."""
        for p in self._profiles:
            if key in (p["id"], p["name"]):
                return p
        raise SmfaError(f"{self.root / 'profiles.jsonl'}: no profile with id or name {key!r}")

    def refusals(self) -> list[str]:
        """The refusal pool."""
        return read_json(self.root / "refusals.json")

    def attributes(self) -> dict[str, list[str]]:
        """Every value each attribute can take."""
        return read_json(self.root / "attributes.json")

    def image_path(self, row: dict) -> Path | None:
        """Absolute image path of a question or profile row; None for text-only questions."""
        return self.root / row["image"] if row.get("image") else None

    def open_image(self, row: dict) -> Image.Image | None:
        """The row's image as an RGB PIL image (fully loaded), or None."""
        path = self.image_path(row)
        if path is None:
            return None
        if not path.is_file():
            raise SmfaError(f"{path}: image not found")
        try:
            with Image.open(path) as img:
                return img.convert("RGB")
        except (OSError, ValueError) as e:  # truncated or not an image
            raise SmfaError(f"{path}: not a readable image ({' '.join(str(e).split())})") from None

    def __repr__(self) -> str:
        return f"Bench({str(self.root)!r}, seed={self.manifest.get('seed')})"


def load(path: str | os.PathLike) -> Bench:
    """Open a benchmark folder written by ``smfa bench build``."""
    return Bench(path)


def load_hf(path: str | os.PathLike, splits: list[str] | None = None):
    """The question tables as a ``datasets.DatasetDict`` with a decoded ``image`` column.

    Image paths are resolved against the benchmark root (``datasets``' own json builder
    would resolve them against the working directory); text-only rows get ``None``.
    """
    import datasets

    from smfa.bench.questions import COLUMNS

    bench = Bench(path)

    def feature(t):
        return datasets.List(datasets.Value("string")) if isinstance(t, list) else datasets.Value(t)

    features = datasets.Features({k: feature(t) for k, t in COLUMNS.items()})
    features["image"] = datasets.Image()
    out = {}
    for name in splits or SPLITS:
        rows = [
            {k: r[k] for k in COLUMNS} | {"image": str(bench.image_path(r)) if r["image"] else None}
            for r in bench.split(name)
        ]
        out[name] = datasets.Dataset.from_list(rows, features=features)
    return datasets.DatasetDict(out)
