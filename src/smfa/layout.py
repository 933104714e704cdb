"""The run folder layout (SPEC §8), defined once for the pipeline that writes it and the report
that reads it::

    <run>/config.yaml  manifest.json  bench/  report.md  report.html  plots/*.png
    <run>/original/  retain_only/                      # models (save_pretrained)
    <run>/methods/<label>/  methods/sweep/k_<k>/        # deltas, adapters, mask stats
    <run>/eval/<label>.json  eval/sweep/k_<k>.json     # one eval JSON per model
    <run>/attacks/<label>.json                         # robustness suite per model

With several seeds, everything from ``original/`` down moves under ``seed_<s>/``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

REFERENCES = ("original", "retain_only")
REPORT_FILES = ("report.md", "report.html")


def format_k(k: float) -> str:
    """5.0 -> ``5``, 0.5 -> ``0.5``, inf -> ``inf`` (file names and labels)."""
    if math.isinf(k):
        return "inf"
    return str(int(k)) if float(k).is_integer() else f"{k:g}"


def parse_k(text: str) -> float:
    """``5`` -> 5.0, ``0.5`` -> 0.5, ``inf`` -> inf (raises ValueError otherwise)."""
    return float(text)


def sweep_label(k: float) -> str:
    """The folder / file stem of one k-sweep point: ``k_5``, ``k_inf``."""
    return f"k_{format_k(k)}"


@dataclass(frozen=True)
class SeedLayout:
    """Paths of one seed's models, methods and results."""

    root: Path

    @property
    def original(self) -> Path:
        return self.root / "original"

    @property
    def retain_only(self) -> Path:
        return self.root / "retain_only"

    def method(self, label: str) -> Path:
        return self.root / "methods" / label

    def sweep(self, k: float) -> Path:
        return self.root / "methods" / "sweep" / sweep_label(k)

    @property
    def eval_dir(self) -> Path:
        return self.root / "eval"

    def eval(self, label: str) -> Path:
        return self.eval_dir / f"{label}.json"

    @property
    def sweep_eval_dir(self) -> Path:
        return self.eval_dir / "sweep"

    def sweep_eval(self, k: float) -> Path:
        return self.sweep_eval_dir / f"{sweep_label(k)}.json"

    @property
    def attacks_dir(self) -> Path:
        return self.root / "attacks"

    def attacks(self, label: str) -> Path:
        return self.attacks_dir / f"{label}.json"


@dataclass(frozen=True)
class RunLayout:
    """Paths of a run folder; ``seeds`` decides whether seeds get sub-folders."""

    root: Path
    seeds: tuple = ()

    @property
    def config(self) -> Path:
        return self.root / "config.yaml"

    @property
    def manifest(self) -> Path:
        return self.root / "manifest.json"

    @property
    def bench(self) -> Path:
        return self.root / "bench"

    @property
    def plots(self) -> Path:
        return self.root / "plots"

    def report(self, name: str = "report.html") -> Path:
        return self.root / name

    def seed(self, seed) -> SeedLayout:
        """The folder of one seed: the run root itself for a single-seed run."""
        return SeedLayout(self.root if len(self.seeds) <= 1 else self.root / f"seed_{seed}")

    def seed_tag(self, seed) -> str:
        """Prefix of stage names in the manifest: ``""`` or ``"seed_<s>/"``."""
        return "" if len(self.seeds) <= 1 else f"seed_{seed}/"
