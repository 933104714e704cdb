"""The S-MLLMUn-style benchmark: generate, validate, inspect and load (docs/benchmark.md).

Fictitious people with procedural portraits and private facts, synthetic fundus patients,
and general shape scenes, split into nested forget sets, retain, retain_few, unseen, holdout
and strangers (Zeng et al., arXiv 2511.20196, S-MLLMUn Bench).
"""

from smfa.bench.build import build, build_from_config
from smfa.bench.config import SPLITS, BenchConfig
from smfa.bench.load import Bench, load, load_hf
from smfa.bench.show import show
from smfa.bench.validate import find_problems, load_valid, validate

__all__ = [
    "SPLITS",
    "Bench",
    "BenchConfig",
    "build",
    "build_from_config",
    "find_problems",
    "load",
    "load_hf",
    "load_valid",
    "show",
    "validate",
]
